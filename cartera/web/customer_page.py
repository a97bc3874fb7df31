"""The customer page, composed from every app that has something to say about a customer.

The profile comes from ``customers``, the status card from ``insights``, the timeline joins
``activity`` (interactions, tasks) and ``sales`` (orders), and the quick forms post to those apps'
services. Composing it here, at the top of the import graph, keeps each of those apps free of the
others (docs/architecture.md). The URLs keep their names (``customers:detail``,
``activity:interaction_create``, ``sales:order_create``): the project's URL map mounts them.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cartera.activity import services as activity_services
from cartera.activity.forms import InteractionForm, TaskForm
from cartera.activity.models import Interaction, Outcome, Task
from cartera.core.http import HtmxHttpRequest
from cartera.core.money import base_currency
from cartera.core.scoping import Action, can, get_for_user, require, restrict, sees_every_row
from cartera.customers import selectors as customer_selectors
from cartera.customers import services as customer_services
from cartera.customers.classification import reason_text
from cartera.customers.forms import StageChangeForm
from cartera.customers.models import Customer, Stage
from cartera.customers.services import customer_viewed
from cartera.insights.selectors import metrics_for, prediction_hint
from cartera.pipeline.models import Opportunity
from cartera.pipeline.selectors import fit_reasons, opportunities_of_customer, prospect_fit_of
from cartera.privacy.selectors import privacy_panel
from cartera.sales import services as sales_services
from cartera.sales.forms import OrderForm
from cartera.sales.models import Order
from cartera.sales.selectors import other_currencies_of
from cartera.surveys.selectors.surveys import latest_answers, unhappy_reason
from cartera.web.selectors import customer_timeline


def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    customer = customer_selectors.customer_detail(user=request.user, pk=pk)
    # Only the whole page counts as a view; its htmx fragments (after a quick form) do not.
    customer_viewed(actor=request.user, customer=customer, where="page")  # type: ignore[arg-type]
    return render(request, "customers/detail.html", detail_context(request, customer))


def detail_context(request: HttpRequest, customer: Customer) -> dict[str, object]:
    """What the customer page and its htmx fragments render."""
    can_change, can_delete = _rights(request, customer, ("change", "delete"))
    return {
        "customer": customer,
        "timeline": customer_timeline(user=request.user, customer=customer),
        "custom_values": customer_selectors.custom_field_values(customer=customer),
        **_status_context(request, customer),
        **{name: make(request, customer) for name, make in QUICK_FORMS.items()},
        "can_change": can_change,
        "can_delete": can_delete,
        "can_order": can_change and can(request.user, Order, "add"),
        "privacy": privacy_panel(user=request.user, customer=customer, can_change=can_change),
        "opportunities": opportunities_of_customer(user=request.user, customer_id=customer.pk),
        "can_open_opportunity": can(request.user, Opportunity, "add"),
        **_fit_context(request, customer),
    }


def _fit_context(request: HttpRequest, customer: Customer) -> dict[str, object]:
    """A suspect's or prospect's fit with the best customers, and why (cartera/pipeline)."""
    if customer.stage not in (Stage.SUSPECT, Stage.PROSPECT):
        return {}
    fit = prospect_fit_of(user=request.user, customer_id=customer.pk)
    return {"prospect_fit": fit, "prospect_fit_why": fit_reasons(fit.reasons) if fit is not None else []}


# The customer page's quick forms, empty, by their name in the template.
QUICK_FORMS: dict[str, Callable[[HttpRequest, Customer], BaseForm]] = {
    "interaction_form": lambda request, customer: InteractionForm(),
    "order_form": lambda request, customer: OrderForm(initial={"currency": base_currency()}),
    "task_form": lambda request, customer: TaskForm(user=request.user),  # type: ignore[arg-type]
    "stage_form": lambda request, customer: StageChangeForm(initial={"stage": customer.stage}),
}


def _status_context(request: HttpRequest, customer: Customer) -> dict[str, object]:
    metrics = metrics_for(user=request.user, customer=customer)
    if metrics is None:
        return {"metrics": None}
    reason = reason_text(metrics.reason_code, metrics.reason_data)
    # The latest survey answer (cartera/surveys): an unhappy one adds to why the customer is at risk.
    latest = latest_answers(user=request.user, customer_ids=[customer.pk]).get(customer.pk)
    if latest is not None and latest.unhappy:
        reason = f"{reason} {unhappy_reason(latest)}".strip()
    return {
        "metrics": metrics,
        "status_reason": reason,
        "prediction_hint": prediction_hint(),
        "survey_answer": latest,
        "other_currencies": other_currencies_of(customer_id=customer.pk),
    }


def _rights(request: HttpRequest, customer: Customer, actions: tuple[Action, ...]) -> list[bool]:
    """Whether the user may do each of ``actions`` on ``customer``, in at most one query.

    For a user who holds an action's permission, ``restrict`` either keeps every row (acting on all
    records) or keeps the rows they own, by the same owner fields whatever the action: so "do they
    own this customer" is asked once for the whole page, and not at all for a manager.
    """
    owned: bool | None = None
    answers = []
    for action in actions:
        if not can(request.user, Customer, action):
            answers.append(False)
        elif sees_every_row(request.user, Customer, action):
            answers.append(True)
        else:
            if owned is None:
                owned = restrict(Customer.objects.filter(pk=customer.pk), request.user, action).exists()
            answers.append(owned)
    return answers


def quick_form_response(
    request: HtmxHttpRequest, customer: Customer, form_name: str, form: BaseForm, **extra: object
) -> HttpResponse:
    """After a quick form: for htmx the fresh form and timeline; without htmx the customer page.

    htmx only swaps 2xx responses, so a form with errors comes back as 200 to htmx and as 422 to a
    plain browser post.
    """
    if not form.errors and not request.htmx:
        messages.success(request, _("Saved."))
        return redirect("customers:detail", pk=customer.pk)
    if request.htmx:
        # The fragment is the form (fresh after a save) and, after a save, the timeline: nothing else
        # of the page is read (a call logged from the page costs half the queries of the whole page).
        context: dict[str, object] = {
            "customer": customer,
            form_name: form if form.errors else QUICK_FORMS[form_name](request, customer),
            "saved": not form.errors,
        }
        if not form.errors:
            context["timeline"] = customer_timeline(user=request.user, customer=customer)
        context.update(extra)
        return render(request, f"customers/detail.html#{form_name}", context)
    context = detail_context(request, customer)
    context[form_name] = form
    context["saved"] = False
    context.update(extra)
    return render(request, "customers/detail.html", context, status=422)


@require_POST
def interaction_create(request: HtmxHttpRequest, customer_pk: int) -> HttpResponse:
    require(request.user, Interaction, "add")
    customer = get_for_user(Customer.objects.all(), request.user, "view", pk=customer_pk)
    form = InteractionForm(request.POST)
    if form.is_valid():
        try:
            activity_services.interaction_create(
                actor=request.user,  # type: ignore[arg-type]
                customer=customer,
                fields=form.cleaned_data,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
    # "Needs follow-up": the follow-up task is offered right there, one tap away.
    follow_up = not form.errors and form.cleaned_data.get("outcome") == Outcome.FOLLOW_UP
    return quick_form_response(
        request,
        customer,
        "interaction_form",
        form,
        offer_follow_up=follow_up and can(request.user, Task, "add"),
    )


@require_POST
def task_create(request: HtmxHttpRequest, customer_pk: int) -> HttpResponse:
    require(request.user, Task, "add")
    customer = get_for_user(Customer.objects.all(), request.user, "view", pk=customer_pk)
    form = TaskForm(request.POST, user=request.user)  # type: ignore[arg-type]
    if form.is_valid():
        try:
            activity_services.task_create(
                actor=request.user,  # type: ignore[arg-type]
                fields={**form.cleaned_data, "customer": customer},
            )
        except ValidationError as exc:
            form.add_error(None, exc)
    return quick_form_response(request, customer, "task_form", form)


@require_POST
def order_create(request: HtmxHttpRequest, customer_pk: int) -> HttpResponse:
    require(request.user, Order, "add")
    # Recording a purchase changes the customer (stage, figures): it needs the right to change them.
    customer = get_for_user(Customer.objects.all(), request.user, "change", pk=customer_pk)
    form = OrderForm(request.POST)
    if form.is_valid():
        try:
            sales_services.order_create(actor=request.user, customer=customer, fields=form.cleaned_data)  # type: ignore[arg-type]
        except ValidationError as exc:
            form.add_error(None, exc)
    return quick_form_response(request, customer, "order_form", form)


@require_POST
def stage_change(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The customer page's stage control: move the relationship stage, with why, into the history."""
    customer = get_for_user(Customer.objects.all(), request.user, "change", pk=pk)
    form = StageChangeForm(request.POST)
    if form.is_valid():
        try:
            customer_services.customer_stage_change(
                actor=request.user,  # type: ignore[arg-type]
                customer=customer,
                stage=form.cleaned_data["stage"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            form = StageChangeForm(initial={"stage": customer.stage})
    return quick_form_response(request, customer, "stage_form", form)
