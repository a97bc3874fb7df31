"""Campaign pages: list, create, settings, messages, review (counts, exclusions, preview, test send),
send, progress, pause/resume and results. Each view parses input, calls one service or selector,
renders."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from cartera.campaigns import selectors, services
from cartera.campaigns.forms import (
    CampaignCreateForm,
    CampaignForm,
    MessageForm,
    ReplyForm,
    message_initial,
    variables_help,
)
from cartera.campaigns.models import Campaign, Group, Variant
from cartera.campaigns.personalisation import VARIABLES
from cartera.core.scoping import can, require, restrict
from cartera.customers.models import Customer
from cartera.segments.selectors.segments import segment_list

EXCLUDED_SHOWN = 50


def _error_text(exc: ValidationError) -> str:
    return " ".join(exc.messages)


def campaign_list(request: HttpRequest) -> HttpResponse:
    require(request.user, Campaign, "view")
    rows = [(c, selectors.shown_status(c)) for c in selectors.campaign_list(user=request.user)[:200]]
    return render(
        request, "campaigns/list.html", {"rows": rows, "can_add": can(request.user, Campaign, "add")}
    )


def campaign_create(request: HttpRequest) -> HttpResponse:
    require(request.user, Campaign, "add")
    segments = segment_list(user=request.user)
    if request.method == "POST":
        form = CampaignCreateForm(request.POST, segments=segments)
        if form.is_valid():
            data = dict(form.cleaned_data)
            chosen = list(data.pop("segments"))
            try:
                campaign = services.campaign_create(actor=request.user, fields=data, segments=chosen)  # type: ignore[arg-type]
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, _("Campaign created: now write the message for each segment."))
                return redirect("campaigns:detail", pk=campaign.pk)
    else:
        preselected = [s for s in request.GET.getlist("segment") if s.isdigit()]
        form = CampaignCreateForm(segments=segments, initial={"segments": preselected})
    return render(request, "campaigns/create.html", {"form": form})


def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = selectors.campaign_get(user=request.user, pk=pk)
    progress = None if campaign.is_draft else selectors.campaign_progress(campaign=campaign)
    can_change = restrict(Campaign.objects.filter(pk=pk), request.user, "change").exists()
    return render(
        request,
        "campaigns/detail.html",
        {
            "campaign": campaign,
            "status": selectors.shown_status(campaign, progress),
            "campaign_messages": selectors.campaign_messages(campaign=campaign),
            "progress": progress,
            "can_change": can_change,
            "form": CampaignForm(instance=campaign) if campaign.is_draft and can_change else None,
        },
    )


@require_POST
def campaign_update(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = selectors.campaign_get(user=request.user, pk=pk, action="change")
    form = CampaignForm(request.POST, instance=Campaign.objects.get(pk=pk))
    if form.is_valid():
        try:
            services.campaign_update(actor=request.user, campaign=campaign, fields=form.cleaned_data)  # type: ignore[arg-type]
        except ValidationError as exc:
            messages.error(request, _error_text(exc))
        else:
            messages.success(request, _("Campaign saved."))
    else:
        messages.error(request, " ".join(str(e) for errs in form.errors.values() for e in errs))
    return redirect("campaigns:detail", pk=pk)


def message_edit(request: HttpRequest, pk: int, message_pk: int) -> HttpResponse:
    campaign = selectors.campaign_get(user=request.user, pk=pk, action="change")
    # A message is part of its campaign: reaching the campaign is what counts.
    message = campaign.messages.select_related("segment").filter(pk=message_pk).first()
    if message is None:
        raise Http404
    problems: dict[str, list[str]] = {}
    if request.method == "POST":
        form = MessageForm(request.POST)
        if form.is_valid():
            try:
                services.message_update(
                    actor=request.user,  # type: ignore[arg-type]
                    message=message,
                    channel=form.cleaned_data["channel"],
                    talking_points=form.cleaned_data["talking_points"],
                    variants=form.variants(),
                )
            except ValidationError as exc:
                problems = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
            else:
                messages.success(request, _("Message saved."))
                return redirect("campaigns:detail", pk=pk)
    else:
        form = MessageForm(initial=message_initial(message))
    return render(
        request,
        "campaigns/message.html",
        {
            "campaign": campaign,
            "message": message,
            "form": form,
            "problems": problems,
            "variables": VARIABLES,
            "variables_help": variables_help(),
        },
    )


def campaign_review(request: HttpRequest, pk: int) -> HttpResponse:
    """Who would receive what now, who is left out and why, and a preview for a chosen recipient."""
    campaign = selectors.campaign_get(user=request.user, pk=pk, action="change")
    if not campaign.is_draft:
        return redirect("campaigns:results", pk=pk)
    plan = selectors.campaign_plan(campaign=campaign, user=request.user)
    excluded_ids = [r for r in plan.rows if r.group == Group.EXCLUDED][:EXCLUDED_SHOWN]
    names = Customer.objects.in_bulk([r.customer_id for r in excluded_ids])
    excluded = [
        (names[r.customer_id], selectors.reason_text(r.reason))
        for r in excluded_ids
        if r.customer_id in names
    ]
    variants = list(Variant.objects.filter(message__campaign=campaign).select_related("message__segment"))
    shown = None
    chosen_customer = None
    chosen_variant = None
    treated_ids = [r.customer_id for r in plan.rows if r.group == Group.TREATED and r.variant_id]
    customer_param = request.GET.get("customer", "")
    variant_param = request.GET.get("variant", "")
    if variants:
        chosen_variant = next((v for v in variants if str(v.pk) == variant_param), variants[0])
        wanted = int(customer_param) if customer_param.isdigit() else None
        # Someone who gets this variant, unless the user picked another customer of the message.
        candidates = [r for r in plan.rows if r.variant_id == chosen_variant.pk] or [
            r for r in plan.rows if r.message_id == chosen_variant.message_id
        ]
        if wanted is not None:
            candidates = [r for r in plan.rows if r.customer_id == wanted] + candidates
        pick = next((r for r in candidates if r.customer_id == wanted), candidates[0] if candidates else None)
        if pick is not None:
            chosen_customer = (
                restrict(Customer.objects.all(), request.user, "view").filter(pk=pick.customer_id).first()
            )
        if chosen_customer is not None:
            shown = services.preview(campaign=campaign, variant=chosen_variant, customer=chosen_customer)
    sample_ids = [r.customer_id for r in plan.rows if chosen_variant and r.variant_id == chosen_variant.pk][
        :30
    ]
    sample = Customer.objects.filter(pk__in=sample_ids or treated_ids[:30]).order_by(
        "first_name", "last_name"
    )
    return render(
        request,
        "campaigns/review.html",
        {
            "campaign": campaign,
            "plan": plan,
            "excluded": excluded,
            "excluded_reasons": [(selectors.reason_text(k), v) for k, v in plan.excluded.most_common()],
            "variants": variants,
            "preview": shown,
            "chosen_customer": chosen_customer,
            "chosen_variant": chosen_variant,
            "sample": sample,
        },
    )


@require_POST
def campaign_test_send(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = selectors.campaign_get(user=request.user, pk=pk, action="change")
    variant = Variant.objects.filter(message__campaign=campaign, pk=request.POST.get("variant") or 0).first()
    customer_id = request.POST.get("customer", "")
    customer = (
        restrict(Customer.objects.all(), request.user, "view").filter(pk=customer_id).first()
        if customer_id.isdigit()
        else None
    )
    if variant is None or customer is None:
        raise Http404
    try:
        services.campaign_test_send(actor=request.user, campaign=campaign, variant=variant, customer=customer)  # type: ignore[arg-type]
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, _("Test sent to %(address)s.") % {"address": request.user.email})  # type: ignore[union-attr]
    return redirect(f"{reverse('campaigns:review', args=[pk])}?customer={customer.pk}&variant={variant.pk}")


@require_POST
def campaign_send(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = selectors.campaign_get(user=request.user, pk=pk, action="change")
    try:
        services.campaign_send(actor=request.user, campaign=campaign)  # type: ignore[arg-type]
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
        return redirect("campaigns:review", pk=pk)
    messages.success(request, _("Sending: the e-mails go out in the background."))
    return redirect("campaigns:detail", pk=pk)


def _act(request: HttpRequest, pk: int, action: Callable[..., object]) -> HttpResponse:
    """Run ``action`` (pause, resume) on the campaign and come back to its page."""
    campaign = selectors.campaign_get(user=request.user, pk=pk, action="change")
    try:
        action(actor=request.user, campaign=campaign)
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
    return redirect("campaigns:detail", pk=pk)


@require_POST
def campaign_pause(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, services.campaign_pause)


@require_POST
def campaign_resume(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, services.campaign_resume)


@require_POST
def campaign_delete(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = selectors.campaign_get(user=request.user, pk=pk, action="delete")
    try:
        services.campaign_delete(actor=request.user, campaign=campaign)  # type: ignore[arg-type]
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
        return redirect("campaigns:detail", pk=pk)
    messages.success(request, _("Campaign deleted."))
    return redirect("campaigns:list")


def campaign_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress fragment (htmx polls it while the campaign is sending)."""
    campaign = selectors.campaign_get(user=request.user, pk=pk)
    if campaign.is_draft:
        raise Http404
    if not request.headers.get("HX-Request"):
        # Opened as an address (a bookmark, a copied link): the campaign's page shows the same progress.
        return redirect("campaigns:detail", pk=campaign.pk)
    progress = selectors.campaign_progress(campaign=campaign)
    return render(
        request,
        "campaigns/_progress.html",
        {"campaign": campaign, "progress": progress, "status": selectors.shown_status(campaign, progress)},
    )


def campaign_results(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = selectors.campaign_get(user=request.user, pk=pk)
    if campaign.is_draft:
        return redirect("campaigns:detail", pk=pk)
    results = selectors.campaign_results(campaign=campaign, user=request.user)
    return render(
        request,
        "campaigns/results.html",
        {"campaign": campaign, "results": results, "reply_form": ReplyForm()},
    )


@require_POST
def reply_log(request: HttpRequest, pk: int) -> HttpResponse:
    """Log a reply a customer sent to the campaign's e-mail (pasted by the user) on their timeline."""
    campaign = selectors.campaign_get(user=request.user, pk=pk)
    form = ReplyForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errs in form.errors.values() for e in errs))
        return redirect("campaigns:results", pk=pk)
    recipient = selectors.recipient_by_email(
        user=request.user, campaign=campaign, email=form.cleaned_data["email"]
    )
    if recipient is None:
        messages.error(
            request,
            _("Nobody who received this campaign has the address %(email)s.")
            % {"email": form.cleaned_data["email"]},
        )
        return redirect("campaigns:results", pk=pk)
    try:
        services.reply_record(actor=request.user, recipient=recipient, text=form.cleaned_data["text"])  # type: ignore[arg-type]
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _error_text(exc) if isinstance(exc, ValidationError) else str(exc))
    else:
        messages.success(
            request, _("Reply logged on the timeline of %(name)s.") % {"name": recipient.customer.full_name}
        )
    return redirect("campaigns:results", pk=pk)


@login_not_required
@require_GET
def click(request: HttpRequest, token: str) -> HttpResponse:
    """A tracked link of a campaign e-mail: count the click and open the original address (only the
    address signed into the token: no open redirect). No login: the recipient is not a user."""
    url = services.click_record(token=token)
    if url is None:
        raise Http404
    response = HttpResponseRedirect(url)
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex"
    response["Cache-Control"] = "no-store"
    return response
