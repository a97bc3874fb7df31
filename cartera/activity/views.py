""" "My tasks": what is due, ticked off in place. (The quick forms of the customer page are in web.)"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cartera.activity import selectors, services
from cartera.activity.forms import SnoozeForm, TaskForm
from cartera.activity.models import Task
from cartera.core.http import HtmxHttpRequest, redirect_to_next
from cartera.core.pagination import paginate
from cartera.core.scoping import get_for_user, require

TASK_ORDER = ("done", "due_at", "id")
TASK_PAGE_SIZE = 100
NEW_TASKS_SHOWN = 50


def my_tasks(request: HttpRequest) -> HttpResponse:
    show_done = request.GET.get("done") == "1"
    # Pages of 100 in due order (keyset, like the customer list): nobody's list stops without saying so.
    page = paginate(
        selectors.task_list(user=request.user, assignee=request.user, include_done=show_done),
        ordering=TASK_ORDER,
        cursor=request.GET.get("cursor"),
        size=TASK_PAGE_SIZE,
        backwards=request.GET.get("dir") == "prev",
    )
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
    # Tasks colleagues gave you that you had not seen: listed first this time, then no longer "new".
    fresh = list(selectors.new_tasks(user=request.user)[:NEW_TASKS_SHOWN])
    services.tasks_mark_seen(actor=request.user, task_ids=[t.pk for t in fresh])  # type: ignore[arg-type]
    context = {"tasks": page.rows, "page": page, "form": form, "show_done": show_done,
               "base_query": "done=1" if show_done else "", "fresh": fresh,
               "counts": selectors.task_counts(user=request.user)}  # fmt: skip
    return render(request, "activity/my_tasks.html", context)


@require_POST
def task_toggle(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    task = get_for_user(Task.objects.select_related("customer"), request.user, "change", pk=pk)
    services.task_set_done(actor=request.user, task=task, done=not task.done)  # type: ignore[arg-type]
    if request.htmx:
        return render(request, "activity/task_row.html", {"task": task})
    return redirect_to_next(request, "activity:my_tasks")


@require_POST
def task_snooze(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Postpone a task in one tap: to tomorrow, to next week, or to the date picked."""
    task = get_for_user(Task.objects.select_related("customer"), request.user, "change", pk=pk)
    form = SnoozeForm(request.POST)
    error = ""
    if form.is_valid():
        try:
            services.task_reschedule(actor=request.user, task=task, when=form.target())  # type: ignore[arg-type]
        except ValidationError as exc:
            error = " ".join(exc.messages)
    else:
        error = " ".join(str(e) for errors in form.errors.values() for e in errors)
    if request.htmx:
        return render(request, "activity/task_row.html", {"task": task, "snooze_error": error})
    if error:
        messages.error(request, error)
    else:
        messages.success(
            request,
            _("Task moved to %(when)s.")
            % {"when": formats.date_format(timezone.localtime(task.due_at), "SHORT_DATETIME_FORMAT")},
        )
    return redirect_to_next(request, "activity:my_tasks")
