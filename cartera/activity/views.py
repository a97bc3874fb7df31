"""Quick forms on the customer page (htmx, with a plain-POST fallback) and "My tasks"."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cartera.activity import selectors, services
from cartera.activity.forms import InteractionForm, TaskForm
from cartera.activity.models import Interaction, Task
from cartera.core.http import HtmxHttpRequest, redirect_to_next
from cartera.core.scoping import get_for_user, require
from cartera.customers.models import Customer
from cartera.customers.views import detail_context


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
            services.interaction_create(actor=request.user, customer=customer, fields=form.cleaned_data)  # type: ignore[arg-type]
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
            services.task_create(actor=request.user, fields={**form.cleaned_data, "customer": customer})  # type: ignore[arg-type]
        except ValidationError as exc:
            form.add_error(None, exc)
    return quick_form_response(request, customer, "task_form", form)


def my_tasks(request: HttpRequest) -> HttpResponse:
    show_done = request.GET.get("done") == "1"
    tasks = selectors.task_list(user=request.user, assignee=request.user, include_done=show_done)[:500]
    form = TaskForm(request.POST or None, user=request.user)  # type: ignore[arg-type]
    if request.method == "POST":
        require(request.user, Task, "add")
        if form.is_valid():
            try:
                services.task_create(actor=request.user, fields=form.cleaned_data)  # type: ignore[arg-type]
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, _("Task added."))
                return redirect("activity:my_tasks")
    return render(request, "activity/my_tasks.html", {"tasks": tasks, "form": form, "show_done": show_done})


@require_POST
def task_toggle(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    task = get_for_user(Task.objects.select_related("customer"), request.user, "change", pk=pk)
    services.task_set_done(actor=request.user, task=task, done=not task.done)  # type: ignore[arg-type]
    if request.htmx:
        return render(request, "activity/task_row.html", {"task": task})
    return redirect_to_next(request, "activity:my_tasks")
