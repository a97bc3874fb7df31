"""Survey pages for the team: the list, a new survey, one survey (its results, its counter link and
QR code, inviting one customer or a segment), the results across surveys and the verbatims."""

from __future__ import annotations

import csv

import segno
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cartera.core.scoping import get_for_user, require, restrict
from cartera.customers.models import Customer
from cartera.imports.exporting import neutralize
from cartera.segments.models import Segment
from cartera.segments.selectors.segments import segment_members
from cartera.surveys.forms import SurveyForm
from cartera.surveys.models import Invitation, InvitationChannel, Survey, SurveyKind, SurveyResponse, Trigger
from cartera.surveys.selectors import breakdowns as breakdown_selectors
from cartera.surveys.selectors import surveys as selectors
from cartera.surveys.services import figures
from cartera.surveys.services import surveys as services

VERBATIM_ROWS = 100
RECENT_INVITATIONS = 10


def survey_list(request: HttpRequest) -> HttpResponse:
    require(request.user, Survey, "view")
    return render(request, "surveys/survey_list.html", {"surveys": selectors.surveys_for(user=request.user)})


def survey_new(request: HttpRequest) -> HttpResponse:
    require(request.user, Survey, "add")
    form = SurveyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            survey = services.survey_create(actor=request.user, fields=form.cleaned_data)  # type: ignore[arg-type]
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Survey created."))
            return redirect("surveys:detail", pk=survey.pk)
    return render(request, "surveys/survey_form.html", {"form": form}, status=400 if form.errors else 200)


def _version(request: HttpRequest, survey: Survey) -> int:
    raw = request.GET.get("version", "")
    return (
        int(raw) if raw.isdigit() and 0 < int(raw) <= survey.questions_version else survey.questions_version
    )


def _answer_url(request: HttpRequest, invitation: Invitation) -> str:
    return request.build_absolute_uri(reverse("survey_answer", args=[services.signed_token(invitation)]))


def survey_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One survey: its results, its links (counter and personal) and how to send it."""
    survey = get_for_user(Survey.objects.all(), request.user, "view", pk=pk)
    if request.method == "POST":
        survey = get_for_user(Survey.objects.all(), request.user, "change", pk=pk)
        services.survey_update(actor=request.user, survey=survey, fields={"active": not survey.active})  # type: ignore[arg-type]
        return redirect("surveys:detail", pk=survey.pk)
    invitations = restrict(Invitation.objects.all(), request.user, "view").filter(survey=survey)
    counter = invitations.filter(open=True).first()
    recent = invitations.filter(open=False).select_related("customer")[:RECENT_INVITATIONS]
    context = {
        "survey": survey,
        "question": survey.question_es if request.LANGUAGE_CODE == "es" else survey.question_en,
        "results": None
        if survey.custom
        else selectors.results(
            user=request.user,
            survey=survey,
            figures=figures.figures_current(user=request.user, survey=survey),
        ),
        "questionnaire": selectors.question_results(
            user=request.user,
            survey=survey,
            version=_version(request, survey),
            language=request.LANGUAGE_CODE,
        )
        if survey.custom
        else None,
        "counter": counter,
        "counter_url": _answer_url(request, counter) if counter else "",
        "recent": [(i, _answer_url(request, i)) for i in recent],
        "segments": restrict(Segment.objects.all(), request.user, "view").order_by("name")[:200],
        "can_invite": request.user.has_perm("surveys.add_invitation"),
    }
    return render(request, "surveys/survey_detail.html", context)


@require_POST
def invitation_create(request: HttpRequest, pk: int) -> HttpResponse:
    """A personal link for one customer (read out on a call, or shown as a QR code), or the survey's
    open counter link when no customer is given."""
    survey = get_for_user(Survey.objects.all(), request.user, "view", pk=pk)
    require(request.user, Invitation, "add")
    raw = request.POST.get("customer", "").strip()
    customer = None
    if raw:
        if not raw.isdigit():
            messages.error(request, _("Give the customer's number."))
            return redirect("surveys:detail", pk=survey.pk)
        customer = get_for_user(Customer.objects.all(), request.user, "view", pk=int(raw))
    elif not request.user.has_perm("surveys.change_survey"):
        messages.error(request, _("Only managers make the counter link."))
        return redirect("surveys:detail", pk=survey.pk)
    channel = request.POST.get("channel", InvitationChannel.LINK)
    if channel not in InvitationChannel.values:
        channel = InvitationChannel.LINK
    try:
        invitation = services.invitation_create(
            actor=request.user,  # type: ignore[arg-type]
            survey=survey,
            customer=customer,
            channel=InvitationChannel.COUNTER if customer is None else channel,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("surveys:detail", pk=survey.pk)
    if invitation.channel != InvitationChannel.EMAIL:
        messages.success(request, _("Link ready."))
    elif services.invitations_send(invitations=[invitation], sender_user=request.user)["queued"]:  # type: ignore[arg-type]
        messages.success(request, _("The invitation is on its way by e-mail."))
    else:
        messages.error(
            request,
            _("The invitation could not be e-mailed (no address, no consent for surveys, or unsubscribed)."),
        )
    return redirect("surveys:detail", pk=survey.pk)


@require_POST
def survey_send_segment(request: HttpRequest, pk: int) -> HttpResponse:
    """Invite every member of a segment (by hand), within the survey's frequency cap."""
    survey = get_for_user(Survey.objects.all(), request.user, "change", pk=pk)
    require(request.user, Invitation, "add")
    raw = request.POST.get("segment", "")
    segment = get_for_user(Segment.objects.all(), request.user, "view", pk=int(raw) if raw.isdigit() else 0)
    if not survey.active:
        messages.error(request, _("This survey is switched off."))
        return redirect("surveys:detail", pk=survey.pk)
    ids = list(segment_members(user=request.user, segment=segment).values_list("pk", flat=True))
    rows = services.invitations_create_bulk(survey=survey, customer_ids=ids, trigger=Trigger.MANUAL)
    sent = services.invitations_send(invitations=rows, sender_user=request.user)  # type: ignore[arg-type]
    messages.success(
        request,
        _(
            "%(sent)d invitations queued; %(capped)d customers were asked recently and left out; "
            "%(refused)d could not be e-mailed (no address, no consent for surveys, or unsubscribed)."
        )
        % {"sent": sent["queued"], "capped": len(ids) - len(rows), "refused": sent["refused"]},
    )
    return redirect("surveys:detail", pk=survey.pk)


def invitation_qr(request: HttpRequest, pk: int) -> HttpResponse:
    """The QR code (SVG) of one of the survey's links, to print for a counter or show on a screen."""
    survey = get_for_user(Survey.objects.all(), request.user, "view", pk=pk)
    raw = request.GET.get("i", "")
    invitation = get_for_user(
        restrict(Invitation.objects.all(), request.user, "view").filter(survey=survey),
        request.user,
        "view",
        pk=int(raw) if raw.isdigit() else 0,
    )
    svg = segno.make(_answer_url(request, invitation), error="m").svg_inline(scale=4, border=2)
    response = HttpResponse(svg, content_type="image/svg+xml")
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def results(request: HttpRequest) -> HttpResponse:
    """Every survey's score with its interval and response rate, lapse reasons ranked, the effect of
    following up unhappy customers, and the promoters to ask for a referral."""
    require(request.user, SurveyResponse, "view")
    surveys = list(selectors.surveys_for(user=request.user))
    # Surveys with many answers are read from what the worker counted (cartera/surveys/services/figures.py).
    stored = {s.pk: figures.figures_current(user=request.user, survey=s) for s in surveys if not s.custom}
    counted = [f for f in stored.values() if f is not None]
    context = {
        "blocks": [
            (s, selectors.results(user=request.user, survey=s, figures=stored.get(s.pk)))
            for s in surveys
            if s.asks_score
        ],
        "questionnaires": [
            (s, selectors.question_results(user=request.user, survey=s, language=request.LANGUAGE_CODE))
            for s in surveys
            if s.custom
        ],
        "reasons": selectors.lapse_reasons(user=request.user, stored=counted),
        "effect": selectors.follow_up_effect(user=request.user, stored=counted),
        "counted": counted,
        "promoters": selectors.referral_candidates(user=request.user, limit=20),
    }
    return render(request, "surveys/results.html", context)


def verbatims(request: HttpRequest) -> HttpResponse:
    require(request.user, SurveyResponse, "view")
    q = request.GET.get("q", "")[:200]
    raw_survey = request.GET.get("survey", "")
    mood = request.GET.get("mood", "")
    rows = selectors.verbatims(
        user=request.user, q=q, survey_id=int(raw_survey) if raw_survey.isdigit() else None, mood=mood
    )
    return render(
        request,
        "surveys/verbatims.html",
        {
            "rows": rows[:VERBATIM_ROWS],
            "limit": VERBATIM_ROWS,
            "q": q,
            "mood": mood,
            "survey_id": raw_survey,
            "surveys": selectors.surveys_for(user=request.user),
        },
    )


def breakdowns(request: HttpRequest, pk: int) -> HttpResponse:
    """One survey's score by status, segment, persona and product category, and the NPS next to the
    service-audit scores month by month; ``?format=csv`` gives both tables as one CSV file."""
    require(request.user, SurveyResponse, "view")
    survey = get_for_user(Survey.objects.all(), request.user, "view", pk=pk)
    stored = figures.figures_current(user=request.user, survey=survey) if survey.asks_score else None
    groups = (
        breakdown_selectors.breakdowns(user=request.user, survey=survey, figures=stored)
        if survey.asks_score
        else {}
    )
    # The portfolio's NPS tables take the surveys with many answers from what the worker counted.
    counted = [
        f
        for s in selectors.surveys_for(user=request.user).filter(kind=SurveyKind.NPS)
        if (f := stored if s.pk == survey.pk else figures.figures_current(user=request.user, survey=s))
    ]
    months = breakdown_selectors.nps_and_audits_by_month(user=request.user, stored=counted)
    channels = breakdown_selectors.nps_and_audits_by_channel(user=request.user, stored=counted)
    titles = {
        "status": _("By status"),
        "segment": _("By segment"),
        "persona": _("By persona"),
        "category": _("By product category"),
    }
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="survey-{survey.pk}-breakdowns.csv"'
        writer = csv.writer(response)
        writer.writerow(
            [_("Breakdown"), _("Group"), _("Answers"), _("Score"), _("Low"), _("High"), _("Small group")]
        )
        for key, rows in groups.items():
            for row in rows:
                s = row["score"]
                writer.writerow(
                    [
                        titles[key],
                        neutralize(row["group"]),
                        row["n"],
                        s.value,
                        s.low,
                        s.high,
                        int(row["small"]),
                    ]
                )
        writer.writerow([])
        writer.writerow(
            [
                _("Month"),
                "NPS",
                _("NPS answers"),
                _("Audit score"),
                _("Audits"),
                _("Location"),
                _("Location score"),
            ]
        )
        for m in months:
            audit = m["audits"]
            writer.writerow([m["month"], m["nps"].value, m["nps"].n, audit["mean"], audit["n"], "", ""])
            for place in audit["locations"]:
                writer.writerow(
                    [m["month"], "", "", "", place["n"], neutralize(place["location"]), place["mean"]]
                )
        writer.writerow([])
        writer.writerow([_("Channel"), "NPS", _("NPS answers"), _("Audit score"), _("Audits")])
        for c in channels:
            writer.writerow([c["label"], c["nps"].value, c["nps"].n, c["audit_mean"], c["audits"]])
        return response
    context = {
        "survey": survey,
        "groups": [(titles[key], rows) for key, rows in groups.items()],
        "months": months,
        "channels": channels,
        "counted": {"as_of": stored.computed_at, "pending": stored.stale()} if stored else None,
        "small": breakdown_selectors.SMALL_GROUP,
    }
    return render(request, "surveys/breakdowns.html", context)
