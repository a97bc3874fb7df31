"""Pages of the pipeline: the board (and its list view), an opportunity, the bottleneck report and the
managers' settings. Each view parses input, calls one service or selector, renders."""

from __future__ import annotations

import csv
import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.csp import CSP
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from cartera.core.concurrency import StaleEditError
from cartera.core.http import HtmxHttpRequest, redirect_to_next
from cartera.core.money import base_currency
from cartera.core.pagination import capped_count, paginate
from cartera.core.ratelimit import over_limit
from cartera.core.scoping import can, get_for_user, require
from cartera.customers.models import Customer
from cartera.imports.exporting import neutralize
from cartera.pipeline import selectors, services
from cartera.pipeline.forms import (
    CallListBuildForm,
    CallOutcomeForm,
    FilterForm,
    LeadFormSettingsForm,
    LoseForm,
    LostReasonsForm,
    MoveForm,
    OpportunityForm,
    PipelineForm,
    PublicLeadForm,
    QualificationForm,
    SheetForm,
    StagesForm,
    WinForm,
)
from cartera.pipeline.models import CallList, LeadForm, LostReason, Opportunity, Pipeline, PipelineStage

logger = logging.getLogger(__name__)

PAGE_SIZE = 50


def _filters(request: HttpRequest) -> tuple[FilterForm, selectors.OpportunityFilters]:
    form = FilterForm(request.GET or None)
    return form, form.filters() if form.is_bound else selectors.OpportunityFilters()


def _pipeline(request: HttpRequest) -> Pipeline:
    try:
        pk = int(request.GET.get("pipeline") or 0)
    except ValueError:
        pk = 0
    pipeline = selectors.pipeline_get(pk or None)
    if pipeline is None:
        raise Http404
    return pipeline


def _messages(exc: ValidationError) -> str:
    return " ".join(exc.messages)


def board(request: HttpRequest) -> HttpResponse:
    require(request.user, Opportunity, "view")
    pipeline = _pipeline(request)
    form, filters = _filters(request)
    query = request.GET.copy()
    query.pop("offset", None)
    return render(
        request,
        "pipeline/board.html",
        {
            "pipeline": pipeline,
            "pipelines": selectors.pipelines_for_menu(),
            "columns": selectors.board(user=request.user, pipeline=pipeline, filters=filters),
            "open_other_currencies": selectors.board_left_out_currencies(
                user=request.user, pipeline=pipeline, filters=filters
            ),
            "stages": selectors.stages_of(pipeline),
            "form": form,
            "base_query": query.urlencode(),
            "can_add": can(request.user, Opportunity, "add"),
            "can_manage": request.user.has_perm(services.MANAGE_PERMISSION),
        },
    )


def column(request: HttpRequest, stage_pk: int) -> HttpResponse:
    """More cards of one column (htmx "more" button, or a plain link without JavaScript)."""
    require(request.user, Opportunity, "view")
    stage = PipelineStage.objects.select_related("pipeline").filter(pk=stage_pk).first()
    if stage is None:
        raise Http404
    _form, filters = _filters(request)
    try:
        offset = max(0, int(request.GET.get("offset") or 0))
    except ValueError:
        offset = 0
    cards, next_offset = selectors.column_cards(
        user=request.user, pipeline=stage.pipeline, stage=stage, filters=filters, offset=offset
    )
    query = request.GET.copy()
    query.pop("offset", None)
    return render(
        request,
        "pipeline/_cards.html" if getattr(request, "htmx", False) else "pipeline/column.html",
        {"cards": cards, "next_offset": next_offset, "stage": stage, "pipeline": stage.pipeline,
         "base_query": query.urlencode(), "stages": selectors.stages_of(stage.pipeline)},
    )  # fmt: skip


def opportunity_list(request: HttpRequest) -> HttpResponse:
    require(request.user, Opportunity, "view")
    form, filters = _filters(request)
    qs = selectors.opportunity_list(user=request.user, filters=filters).select_related(
        "stage", "pipeline", "customer", "company", "owner", "lost_reason"
    )
    page = paginate(qs, ordering=("-id",), cursor=request.GET.get("cursor"), size=PAGE_SIZE,
                    backwards=request.GET.get("dir") == "prev")  # fmt: skip
    total, more = capped_count(qs, 10_000)
    query = request.GET.copy()
    for key in ("cursor", "dir"):
        query.pop(key, None)
    return render(
        request,
        "pipeline/list.html",
        {"form": form, "page": page, "total": total, "more_than_total": more, "base_query": query.urlencode(),
         "can_add": can(request.user, Opportunity, "add"), "pipelines": selectors.pipelines_for_menu()},
    )  # fmt: skip


def opportunity_create(request: HttpRequest) -> HttpResponse:
    require(request.user, Opportunity, "add")
    customer = None
    customer_pk = request.GET.get("customer") or request.POST.get("customer")
    if customer_pk:
        if not str(customer_pk).isdigit():
            raise Http404
        customer = get_for_user(Customer.objects.all(), request.user, "view", pk=int(customer_pk))
    user: Any = request.user
    initial = {"owner": user.pk}
    if customer is not None:
        initial.update(source=customer.source, customer=customer.pk)
    form = OpportunityForm(request.POST or None, user=user, customer=customer, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            opportunity = services.opportunity_create(actor=user, fields=form.service_fields())
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Opportunity opened."))
            return redirect("pipeline:detail", pk=opportunity.pk)
    return render(request, "pipeline/form.html", {"form": form, "customer": customer})


def opportunity_edit(request: HttpRequest, pk: int) -> HttpResponse:
    opportunity = selectors.opportunity_get(user=request.user, pk=pk, action="change")
    user: Any = request.user
    form = OpportunityForm(
        request.POST or None, instance=opportunity, user=user, customer=opportunity.customer
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.opportunity_update(
                actor=user, opportunity=opportunity, fields=form.service_fields(),
                expected_version=form.expected_version(),
            )  # fmt: skip
        except StaleEditError as exc:
            # Nothing was saved: the typed values stay, the colleague's are shown next to them.
            form.add_error(None, exc)
            form.show_stale_edit(exc.current)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("pipeline:detail", pk=pk)
    return render(request, "pipeline/form.html", {"form": form, "opportunity": opportunity,
                                                  "customer": opportunity.customer})  # fmt: skip


def opportunity_detail(request: HttpRequest, pk: int) -> HttpResponse:
    opportunity = selectors.opportunity_get(user=request.user, pk=pk)
    can_change = can(request.user, Opportunity, "change") and _may(request, opportunity, "change")
    return render(
        request,
        "pipeline/detail.html",
        {
            "o": opportunity,
            "history": selectors.opportunity_history(user=request.user, opportunity=opportunity),
            "can_change": can_change,
            "can_delete": _may(request, opportunity, "delete"),
            "move_form": MoveForm(pipeline=opportunity.pipeline, initial={"stage": opportunity.stage_id}),
            "win_form": WinForm(initial={"amount": opportunity.value}),
            "lose_form": LoseForm(),
            "qualification_form": QualificationForm(instance=opportunity),
        },
    )


def _may(request: HttpRequest, opportunity: Opportunity, action: Any) -> bool:
    from cartera.core.scoping import restrict

    return restrict(Opportunity.objects.filter(pk=opportunity.pk), request.user, action).exists()


def _back(request: HttpRequest, opportunity: Opportunity) -> HttpResponse:
    """Where a board action returns: the board (when it came from there) or the opportunity."""
    return redirect_to_next(request, "pipeline:detail", pk=opportunity.pk)


@require_POST
def opportunity_move(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Move to another stage: the "move to" select (a form post) or a drop on the board (fetch, JSON)."""
    opportunity = selectors.opportunity_get(user=request.user, pk=pk, action="change")
    form = MoveForm(request.POST, pipeline=opportunity.pipeline)
    wants_json = request.headers.get("Accept", "").startswith("application/json")
    if not form.is_valid():
        message = _("Choose a stage of this pipeline.")
        if wants_json:
            return JsonResponse({"detail": message}, status=422)
        messages.error(request, message)
        return _back(request, opportunity)
    actor: Any = request.user
    try:
        services.opportunity_move(actor=actor, opportunity=opportunity, stage=form.cleaned_data["stage"])
    except (ValidationError, PermissionDenied) as exc:
        message = _messages(exc) if isinstance(exc, ValidationError) else str(exc)
        if wants_json:
            return JsonResponse({"detail": message}, status=422 if isinstance(exc, ValidationError) else 403)
        messages.error(request, message)
        return _back(request, opportunity)
    stage = form.cleaned_data["stage"]
    if wants_json:
        return JsonResponse({"stage": stage.pk, "stage_name": stage.name})
    messages.success(
        request, _("“%(title)s” moved to %(stage)s.") % {"title": opportunity.title, "stage": stage.name}
    )
    return _back(request, opportunity)


@require_POST
def opportunity_win(request: HttpRequest, pk: int) -> HttpResponse:
    opportunity = selectors.opportunity_get(user=request.user, pk=pk, action="change")
    form = WinForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect("pipeline:detail", pk=pk)
    data = form.cleaned_data
    try:
        services.opportunity_win(
            actor=request.user,  # type: ignore[arg-type]
            opportunity=opportunity,
            create_order=data["create_order"],
            ordered_on=data["ordered_on"],
            amount=data["amount"],
        )
    except ValidationError as exc:
        messages.error(request, _messages(exc))
        return redirect("pipeline:detail", pk=pk)
    messages.success(request, _("Won! The order was recorded.") if data["create_order"] else _("Won!"))
    return redirect("pipeline:detail", pk=pk)


@require_POST
def opportunity_lose(request: HttpRequest, pk: int) -> HttpResponse:
    opportunity = selectors.opportunity_get(user=request.user, pk=pk, action="change")
    form = LoseForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Say why it was lost."))
        return redirect("pipeline:detail", pk=pk)
    try:
        services.opportunity_lose(
            actor=request.user,  # type: ignore[arg-type]
            opportunity=opportunity,
            reason=form.cleaned_data["lost_reason"],
            note=form.cleaned_data["note"],
        )
    except ValidationError as exc:
        messages.error(request, _messages(exc))
    else:
        messages.success(request, _("Marked as lost."))
    return redirect("pipeline:detail", pk=pk)


@require_POST
def opportunity_reopen(request: HttpRequest, pk: int) -> HttpResponse:
    opportunity = selectors.opportunity_get(user=request.user, pk=pk, action="change")
    services.opportunity_reopen(actor=request.user, opportunity=opportunity)  # type: ignore[arg-type]
    messages.success(request, _("Opened again."))
    return redirect("pipeline:detail", pk=pk)


@require_POST
def opportunity_qualify(request: HttpRequest, pk: int) -> HttpResponse:
    opportunity = selectors.opportunity_get(user=request.user, pk=pk, action="change")
    form = QualificationForm(request.POST, instance=opportunity)
    if form.is_valid():
        fields = {k: v for k, v in form.cleaned_data.items() if k != "version"}
        try:
            services.opportunity_update(
                actor=request.user,  # type: ignore[arg-type]
                opportunity=opportunity, fields=fields, expected_version=form.expected_version(),
            )  # fmt: skip
        except ValidationError as exc:  # a StaleEditError too: nothing saved, the page says why
            messages.error(request, _messages(exc))
        else:
            messages.success(request, _("Qualification saved."))
    else:
        messages.error(request, _("The notes are too long."))
    return redirect("pipeline:detail", pk=pk)


@require_POST
def opportunity_delete(request: HttpRequest, pk: int) -> HttpResponse:
    opportunity = selectors.opportunity_get(user=request.user, pk=pk, action="delete")
    services.opportunity_delete(actor=request.user, opportunity=opportunity)  # type: ignore[arg-type]
    messages.success(request, _("Opportunity deleted."))
    return redirect("pipeline:board")


def report(request: HttpRequest) -> HttpResponse:
    require(request.user, Opportunity, "view")
    pipeline = _pipeline(request)
    form, filters = _filters(request)
    # With a big pipeline or a big file the worker counts the costly halves and the page reads them
    # back with their time (services.report_history_current); the open opportunities are read now.
    history = services.report_history_current(user=request.user, pipeline=pipeline, owner_id=filters.owner_id)
    data = selectors.bottleneck_report(
        user=request.user, pipeline=pipeline, owner_id=filters.owner_id, history=history.figures
    )
    attribution = services.attribution_current(user=request.user)
    return render(
        request,
        "pipeline/report.html",
        {"report": data, "pipeline": pipeline, "pipelines": selectors.pipelines_for_menu(), "form": form,
         "funnel": data.funnel(), "list_url": reverse("pipeline:list"), "history_counted": history,
         "attribution": selectors.source_attribution(user=request.user, figures=attribution.figures),
         "attribution_counted": attribution},
    )  # fmt: skip


class _Echo:
    def write(self, value: str) -> str:
        return value


def report_sources_csv(request: HttpRequest) -> StreamingHttpResponse:
    """The source attribution of the report as CSV: one line per source, lead form and campaign."""
    require(request.user, Opportunity, "view")
    counted = services.attribution_current(user=request.user)
    data = selectors.source_attribution(user=request.user, figures=counted.figures)
    writer = csv.writer(_Echo())
    sections = [
        (_("Source"), data.by_source),
        (_("Lead form"), data.by_form),
        (_("Campaign, first touch"), data.by_first_campaign),
        (_("Campaign, last touch"), data.by_last_campaign),
    ]

    def lines() -> Any:
        # The sums add up the base currency only (docs/analytics.md, Currencies): the headers say which.
        base = {"currency": base_currency()}
        yield writer.writerow([_("Grouped by"), _("Name"), _("People"), _("Became customers"), _("Conversion (%)"),
                               _("Median days to the first order"), _("Revenue in their first 12 months (%(currency)s)") % base,
                               _("Revenue (%(currency)s)") % base, _("Won opportunities"),
                               _("Won value (%(currency)s)") % base])  # fmt: skip
        for title, rows in sections:
            for row in rows:
                conversion = "" if row.conversion is None else f"{100 * row.conversion:.1f}"
                waited = "" if row.days_to_first_order is None else f"{row.days_to_first_order:g}"
                yield writer.writerow(
                    [title, neutralize(row.label), row.leads, row.converted, conversion, waited,
                     f"{row.revenue_12m:.2f}", f"{row.revenue:.2f}", row.won, f"{row.won_value:.2f}"]
                )  # fmt: skip

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="sources.csv"'
    return response


def settings_page(request: HttpRequest) -> HttpResponse:
    """Managers: pipelines with their stages (probability, rotting days), and the lost reasons."""
    user: Any = request.user
    if not user.has_perm(services.MANAGE_PERMISSION):
        raise PermissionDenied
    pipelines = list(Pipeline.objects.prefetch_related("stages").order_by("position", "id"))
    forms_by_pipeline = {
        p.pk: StagesForm(
            request.POST if request.POST.get("pipeline") == str(p.pk) else None,
            prefix=f"p{p.pk}",
            initial={
                "name": p.name,
                "active": p.active,
                "stages": "\n".join(
                    f"{s.name} | {s.probability} | {s.rotting_days or ''}".rstrip(" |")
                    for s in p.stages.all()
                ),
            },
        )  # fmt: skip
        for p in pipelines
    }
    new_form = PipelineForm(request.POST if request.POST.get("pipeline") == "new" else None, prefix="new")
    reasons_form = LostReasonsForm(
        request.POST if request.POST.get("pipeline") == "reasons" else None,
        initial={"names": "\n".join(r.name for r in LostReason.objects.filter(active=True))},
    )
    if request.method == "POST":
        target = request.POST.get("pipeline", "")
        try:
            if target == "new" and new_form.is_valid():
                services.pipeline_create(actor=user, name=new_form.cleaned_data["name"],
                                         stages=new_form.cleaned_data["stages"])  # fmt: skip
            elif target == "reasons" and reasons_form.is_valid():
                services.lost_reasons_update(actor=user, names=reasons_form.cleaned_data["names"])
            elif (
                target.isdigit()
                and int(target) in forms_by_pipeline
                and forms_by_pipeline[int(target)].is_valid()
            ):
                pipeline = next(p for p in pipelines if p.pk == int(target))
                data = forms_by_pipeline[int(target)].cleaned_data
                services.pipeline_rename(
                    actor=user, pipeline=pipeline, name=data["name"], active=data["active"]
                )
                services.pipeline_stages_update(actor=user, pipeline=pipeline, stages=data["stages"])
            else:
                raise ValidationError(_("Check the fields marked below."))
        except ValidationError as exc:
            messages.error(request, _messages(exc))
        else:
            messages.success(request, _("Saved."))
            return redirect("pipeline:settings")
    return render(
        request,
        "pipeline/settings.html",
        {"pipelines": [(p, forms_by_pipeline[p.pk]) for p in pipelines], "new_form": new_form,
         "reasons_form": reasons_form},
    )  # fmt: skip


# --- call lists ------------------------------------------------------------------------------------


def calls(request: HttpRequest) -> HttpResponse:
    """A rep's calls for today, most at stake first, with tap-to-call and one-tap outcomes."""
    require(request.user, CallList, "view")
    return render(
        request,
        "pipeline/calls.html",
        {"rows": selectors.calls_today(user=request.user, min_fit=_min_fit(request)), "min_fit": _min_fit(request),
         "fit_choices": FIT_CHOICES, "lists": selectors.call_lists_for(user=request.user)[:20],
         "outcome_form": CallOutcomeForm(), "today": timezone.localdate(),
         "can_build": request.user.has_perm("pipeline.add_calllist")},
    )  # fmt: skip


@require_POST
def call_log(request: HtmxHttpRequest, customer_pk: int) -> HttpResponse:
    """Log how a call went (reached / no answer / call back on a day)."""
    require(request.user, CallList, "view")
    customer = get_for_user(Customer.objects.all(), request.user, "view", pk=customer_pk)
    form = CallOutcomeForm(request.POST)
    error = ""
    if form.is_valid():
        try:
            services.call_outcome_log(
                actor=request.user,  # type: ignore[arg-type]
                customer=customer,
                outcome=form.cleaned_data["outcome"],
                call_back_on=form.cleaned_data["call_back_on"],
                note=form.cleaned_data["note"],
            )
        except ValidationError as exc:
            error = _messages(exc)
    else:
        error = _("Choose how the call went; for “call back”, the day.")
    if request.htmx:
        return render(
            request, "pipeline/_call_done.html",
            {"customer": customer, "error": error, "outcome": form.cleaned_data.get("outcome") if not error else "",
             "outcome_form": form if error else CallOutcomeForm()},
        )  # fmt: skip
    if error:
        messages.error(request, error)
    else:
        messages.success(request, _("Call logged for %(name)s.") % {"name": customer.full_name})
    return redirect("pipeline:calls")


def call_list_detail(request: HttpRequest, pk: int) -> HttpResponse:
    call_list = get_for_user(CallList.objects.select_related("assignee"), request.user, "view", pk=pk)
    entries = call_list.entries.select_related("customer").order_by("position", "id")
    return render(request, "pipeline/call_list.html", {"call_list": call_list, "entries": entries,
                                                       "outcome_form": CallOutcomeForm()})  # fmt: skip


def team(request: HttpRequest) -> HttpResponse:
    """Managers: build and assign call lists from a segment, and see each rep's activity."""
    user: Any = request.user
    if not user.has_perm("pipeline.add_calllist"):
        raise PermissionDenied
    from cartera.segments.selectors import segment_list, segment_members

    form = CallListBuildForm(request.POST or None, segments=segment_list(user=user),
                             initial={"for_date": timezone.localdate()})  # fmt: skip
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            members = segment_members(user=user, segment=data["segment"])
            made = services.call_lists_from_segment(
                actor=user,
                members=members,
                name=data["name"],
                for_date=data["for_date"],
                assignee=data["assignee"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                ngettext("%(n)d call list assigned.", "%(n)d call lists assigned.", len(made))
                % {"n": len(made)},
            )
            return redirect("pipeline:team")
    try:
        days = int(request.GET.get("days") or 7)
    except ValueError:
        days = 7
    days = days if days in (1, 7, 30, 90) else 7
    return render(
        request,
        "pipeline/team.html",
        {"form": form, "lists": selectors.call_lists_for(user=user)[:50], "days": days,
         "activity": selectors.team_activity(user=user, since=timezone.localdate() - dt.timedelta(days=days - 1))},
    )  # fmt: skip


# --- lead capture ---------------------------------------------------------------------------------

# At most this many answers per address and form in the window: a family or an office sharing a
# connection gets through, a script filling the form in a loop does not.
LEAD_RATE_LIMIT = 5
LEAD_RATE_WINDOW_SECONDS = 600


def lead_forms(request: HttpRequest) -> HttpResponse:
    """Managers: the lead forms, with their answers, new leads and confirmed consents."""
    require(request.user, LeadForm, "view")
    return render(
        request, "pipeline/lead_forms.html", {"lead_forms": selectors.lead_forms(user=request.user)}
    )


def lead_form_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Managers: build or change a lead form; the page gives the embed code and the latest answers."""
    user: Any = request.user
    lead_form = selectors.lead_form_get(user=user, pk=pk, action="change") if pk else None
    if lead_form is None:
        require(user, LeadForm, "add")
    form = LeadFormSettingsForm(
        request.POST or None, instance=lead_form or LeadForm(), choices=services.lead_field_choices()
    )
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.lead_form_save(
                actor=user,
                lead_form=lead_form,
                settings_values=form.settings_values(),
                fields=form.cleaned_data["fields_asked"],
                required=form.cleaned_data["fields_required"],
                round_robin_users=list(form.cleaned_data["round_robin_users"]),
                expected_version=form.expected_version(),
            )
        except StaleEditError as exc:
            # Another manager saved the form after this page was opened: nothing saved, theirs shown.
            form.add_error(None, exc)
            form.show_stale_edit(exc.current)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("pipeline:lead_form", pk=saved.pk)
    context: dict[str, Any] = {"form": form, "lead_form": lead_form}
    if lead_form is not None:
        public = settings.CARTERA_PUBLIC_URL.rstrip("/")
        context.update(
            page_url=public + reverse("pipeline:lead_public", args=[lead_form.slug]),
            script_url=public + static("pipeline/lead-embed.js"),
            submissions=selectors.lead_submissions(user=user, lead_form=lead_form),
        )
    return render(request, "pipeline/lead_form.html", context)


def _form_errors(form: Any, exc: ValidationError) -> None:
    items = exc.message_dict.items() if hasattr(exc, "error_dict") else [(None, exc.messages)]
    aliases = {"fields": "fields_asked"}
    for name, errors in items:
        target = aliases.get(name or "", name)
        for message in errors:
            form.add_error(target if target in form.fields else None, message)


def _lead_over_limit(request: HttpRequest, lead_form: LeadForm) -> bool:
    return over_limit(
        request, f"lead:{lead_form.pk}", limit=LEAD_RATE_LIMIT, window_seconds=LEAD_RATE_WINDOW_SECONDS
    )


def _framed(response: HttpResponse, lead_form: LeadForm) -> HttpResponse:
    """Only the websites the manager listed may show the page in a frame (CSP ``frame-ancestors``);
    without any, no site may."""
    origins = lead_form.origin_list()
    if origins:
        response._csp_config = {**settings.SECURE_CSP, "frame-ancestors": [CSP.SELF, *origins]}  # type: ignore[attr-defined]
        response.xframe_options_exempt = True
    response["X-Robots-Tag"] = "noindex"
    return response


def _lead_language(request: HttpRequest, lead_form: LeadForm) -> str:
    asked = request.POST.get("lang") or request.GET.get("lang") or ""
    return asked if asked in ("es", "en") else lead_form.language


@login_not_required
@csrf_exempt  # inside another site's iframe the browser sends no CSRF cookie; the signed token stands in
@never_cache
@require_http_methods(["GET", "POST"])
def lead_public(request: HttpRequest, slug: str) -> HttpResponse:
    """The public lead form (also what the iframe shows). Whatever was sent, the answer page is the
    same: nobody learns from it whether a person is already in the file."""
    lead_form = selectors.lead_public_form(slug)
    if lead_form is None:
        raise Http404
    language = _lead_language(request, lead_form)
    with translation.override(language):
        status = 200
        sent = False
        if request.method == "POST":
            if _lead_over_limit(request, lead_form):
                response = render(request, "pipeline/lead_limited.html", {"language": language}, status=429)
                response["Retry-After"] = str(LEAD_RATE_WINDOW_SECONDS)
                return _framed(response, lead_form)
            form = PublicLeadForm(request.POST, lead_form=lead_form)
            if form.is_spam():
                sent = True
            elif form.is_valid() and not services.lead_page_token_ok(lead_form, form.cleaned_data["token"]):
                form.add_error(None, _("This page was open too long: reload it and send the form again."))
                status = 400
            elif form.is_valid():
                try:
                    services.lead_submit(
                        lead_form=lead_form,
                        answers=form.answers(),
                        consent=bool(form.cleaned_data.get("consent")),
                        language=language,
                        page_url=form.cleaned_data.get("page_url") or "",
                        utm=form.utm(),
                    )
                except ValidationError:
                    # The visitor's values were checked by the form above; what the service refuses
                    # here is about the file (a closed form, a value another record holds), and its
                    # message may name that record: a stranger is told only that it did not go through.
                    logger.warning(
                        "lead form %s: an answer was refused by the service", lead_form.pk, exc_info=True
                    )
                    form.add_error(
                        None,
                        _(
                            "Your answer could not be taken. Please check it and send it again, or contact us another way."
                        ),
                    )
                    status = 400
                else:
                    sent = True
            else:
                status = 400
        else:
            initial = {key: request.GET.get(key, "")[:100] for key in services.UTM_KEYS}
            initial["page_url"] = (request.GET.get("page_url") or request.META.get("HTTP_REFERER", ""))[:500]
            initial["lang"] = language
            initial["token"] = services.lead_page_token(lead_form)
            form = PublicLeadForm(initial=initial, lead_form=lead_form)
        context = {"lead_form": lead_form, "form": form, "sent": sent, "language": language}
        response = render(request, "pipeline/lead_public.html", context, status=status)
        response["Content-Language"] = language
    return _framed(response, lead_form)


@login_not_required
@csrf_exempt  # reached from an e-mail: the signed link is the proof, as for unsubscribing
@never_cache
@require_http_methods(["GET", "POST"])
def lead_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """The double opt-in link: GET asks (a link scanner opening it confirms nothing), POST confirms."""
    submission = services.lead_for_token(token)
    if submission is None:
        raise Http404
    language = submission.language if submission.language in ("es", "en") else "es"
    with translation.override(language):
        done = submission.confirmed_at is not None
        refused = False
        if request.method == "POST" and not done:
            done = services.lead_consent_confirm(submission=submission)
            refused = not done
        context = {"submission": submission, "done": done, "refused": refused, "language": language}
        response = render(request, "pipeline/lead_confirm.html", context)
        response["Content-Language"] = language
    response["X-Robots-Tag"] = "noindex"
    return response


# --- prospect fit score ---------------------------------------------------------------------------


FIT_CHOICES = (80, 60, 40)


def _min_fit(request: HttpRequest) -> int | None:
    raw = request.GET.get("fit", "")
    return max(0, min(100, int(raw))) if raw.isdigit() else None


def prospects(request: HttpRequest) -> HttpResponse:
    """Suspects and prospects with how much they look like the best customers, and why; sortable and
    filtered by a minimum fit."""
    require(request.user, Customer, "view")
    sort = request.GET.get("sort", "fit")
    rows = selectors.prospects(user=request.user, min_fit=_min_fit(request), sort=sort)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    for customer in page.object_list:
        fit = getattr(customer, "prospect_fit", None)
        customer.fit_why = selectors.fit_reasons(fit.reasons) if fit is not None else []
    return render(
        request,
        "pipeline/prospects.html",
        {
            "page": page,
            "sort": sort if sort in selectors.PROSPECT_SORTS else "fit",
            "min_fit": _min_fit(request),
        },
    )


# --- field sheets ---------------------------------------------------------------------------------


def _sheet_context(request: HttpRequest) -> dict[str, Any]:
    """What the prospecting sheet shows, from the page's query: the people of a call list or a
    segment (the user's own view of them), and the blank rows to fill by hand."""
    from cartera.pipeline import sheets
    from cartera.segments.selectors import segment_list, segment_members

    query = request.GET.copy()
    query.setdefault("blank", "12")
    form = SheetForm(
        query if request.GET else None,
        call_lists=selectors.call_lists_for(user=request.user),
        segments=segment_list(user=request.user),
    )
    people: list[Any] = []
    blank = 12
    heading = ""
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        if data["call_list"] is not None:
            heading = str(data["call_list"])
            people = selectors.sheet_people(user=request.user, call_list=data["call_list"])
        elif data["segment"] is not None:
            heading = str(data["segment"])
            members = segment_members(user=request.user, segment=data["segment"])
            people = selectors.sheet_people(user=request.user, members=members)
        blank = data["blank"] if data["blank"] is not None else blank
    return {
        "form": form, "people": people, "blank_rows": range(len(people) + 1, len(people) + blank + 1),
        "heading": heading, "columns": sheets.sheet_columns(), "stages": sheets.stage_labels(),
        "sources": sheets.source_labels(), "consent_wording": sheets.consent_wording(),
        "today": timezone.localdate(), "max_people": selectors.SHEET_MAX_PEOPLE,
    }  # fmt: skip


def sheet(request: HttpRequest) -> HttpResponse:
    """The printable prospecting sheet: the import's columns, a consent box and the qualification
    checklist per person, blank rows to fill by hand, optionally pre-filled from a call list or a
    segment. Printed from the browser (A4, cartera/pipeline/static/pipeline/sheet.css), or downloaded
    as a PDF (:func:`sheet_pdf`)."""
    require(request.user, Customer, "view")
    context = _sheet_context(request)
    context["pdf_query"] = request.GET.urlencode()
    return render(request, "pipeline/sheet.html", context)


def sheet_pdf(request: HttpRequest) -> HttpResponse:
    """The same sheet as an A4 PDF made on the server (WeasyPrint): for a phone, which prints a web
    page badly, and for sending the sheet to whoever goes out with it. A form that does not validate
    (a call list or segment the user cannot see, a silly number of rows) gets the page with its
    messages instead."""
    require(request.user, Customer, "view")
    from cartera.pipeline import sheets

    context = _sheet_context(request)
    if context["form"].is_bound and not context["form"].is_valid():
        context["pdf_query"] = request.GET.urlencode()
        return render(request, "pipeline/sheet.html", context, status=400)
    html = render_to_string("pipeline/sheet_pdf.html", context, request=request)
    name = slugify(f"{_('prospecting-sheet')} {context['heading']}".strip()) or "sheet"
    response = HttpResponse(sheets.sheet_pdf(html), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{name}-{context["today"].isoformat()}.pdf"'
    return response


def sheet_template(request: HttpRequest) -> FileResponse:
    """The Excel template of prospects, headed as the customer import reads it (pipeline/sheets.py)."""
    require(request.user, Customer, "view")
    from cartera.pipeline import sheets

    handle = sheets.template_workbook(sectors=selectors.sectors_in_use(user=request.user))
    name = _("prospects-template")
    return FileResponse(
        handle,
        as_attachment=True,
        filename=f"{name}.xlsx",
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
