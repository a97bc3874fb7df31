"""The customer page, composed from every app that has something to say about a customer.

The profile comes from ``customers``, the status card from ``insights``, the timeline joins
``activity`` (interactions, tasks) and ``sales`` (orders), and the quick forms post to those apps'
services. Composing it here, at the top of the import graph, keeps each of those apps free of the
others (docs/architecture.md). The URLs keep their names (``customers:detail``,
``activity:interaction_create``, ``sales:order_create``): the project's URL map mounts them.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cartera.activity import services as activity_services
from cartera.activity.forms import InteractionForm, TaskForm
from cartera.activity.models import Interaction, Task
from cartera.core.http import HtmxHttpRequest
from cartera.core.scoping import Action, can, get_for_user, require, restrict
from cartera.customers import selectors as customer_selectors
from cartera.customers.classification import reason_text
from cartera.customers.models import Customer
from cartera.insights.selectors import metrics_for
from cartera.privacy.selectors import privacy_panel
from cartera.sales import services as sales_services
from cartera.sales.forms import OrderForm
from cartera.sales.models import Order
from cartera.surveys.selectors.surveys import latest_answers, unhappy_reason
from cartera.web.selectors import customer_timeline


def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    customer = customer_selectors.customer_detail(user=request.user, pk=pk)
    return render(request, "customers/detail.html", detail_context(request, customer))


def detail_context(request: HttpRequest, customer: Customer) -> dict[str, object]:
    """What the customer page and its htmx fragments render."""
    return {
        "customer": customer,
        "timeline": customer_timeline(user=request.user, customer=customer),
        "custom_values": customer_selectors.custom_field_values(customer=customer),
        **_status_context(request, customer),
        "interaction_form": InteractionForm(),
        "order_form": OrderForm(initial={"currency": "EUR"}),
        "task_form": TaskForm(user=request.user),  # type: ignore[arg-type]
        "can_change": _can_act(request, customer, "change"),
        "can_delete": _can_act(request, customer, "delete"),
        "can_order": _can_act(request, customer, "change") and can(request.user, Order, "add"),
        "privacy": privacy_panel(user=request.user, customer=customer),
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
    return {"metrics": metrics, "status_reason": reason, "survey_answer": latest}


def _can_act(request: HttpRequest, customer: Customer, action: Action) -> bool:
    return restrict(Customer.objects.filter(pk=customer.pk), request.user, action).exists()


def quick_form_response(
    request: HtmxHttpRequest, customer: Customer, form_name: str, form: BaseForm
) -> HttpResponse:
    """After a quick form: for htmx the fresh form and timeline; without htmx the customer page.

    htmx only swaps 2xx responses, so a form with errors comes back as 200 to htmx and as 422 to a
    plain browser post.
    """
    if not form.errors and not request.htmx:
        messages.success(request, _("Saved."))
        return redirect("customers:detail", pk=customer.pk)
    context = detail_context(request, customer)
    if form.errors:
        context[form_name] = form
    context["saved"] = not form.errors
    if request.htmx:
        return render(request, f"customers/detail.html#{form_name}", context)
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
    return quick_form_response(request, customer, "interaction_form", form)


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
