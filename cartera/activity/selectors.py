"""Reads of tasks and interactions. (The timeline, which joins orders too, is composed in web.)"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from cartera.activity.models import Interaction, Task
from cartera.core.scoping import restrict


def task_list(*, user: Any, assignee: Any | None = None, include_done: bool = False) -> QuerySet[Task]:
    """Tasks the user may see, open ones first by due date."""
    qs = restrict(Task.objects.all(), user, "view").select_related("customer", "assignee", "created_by")
    if assignee is not None:
        qs = qs.filter(assignee=assignee)
    if not include_done:
        qs = qs.filter(done=False)
    return qs.order_by("done", "due_at", "id")


def interaction_list(*, user: Any) -> QuerySet[Interaction]:
    """Interactions the user may see, newest first."""
    return restrict(Interaction.objects.all(), user, "view").select_related("customer", "author")


@dataclass(frozen=True)
class TaskCounts:
    """How many open tasks a person has that are overdue, due today, and due later."""

    overdue: int
    today: int
    upcoming: int


def task_counts(*, user: Any, now: datetime.datetime | None = None) -> TaskCounts:
    """The open tasks assigned to ``user`` by when they are due (one query)."""
    now = now or timezone.now()
    today_end = timezone.make_aware(
        datetime.datetime.combine(timezone.localdate(now) + datetime.timedelta(days=1), datetime.time())
    )
    mine = restrict(Task.objects.all(), user, "view").filter(assignee=user, done=False)
    counts = mine.aggregate(
        overdue=Count("pk", filter=Q(due_at__lt=now)),
        today=Count("pk", filter=Q(due_at__gte=now, due_at__lt=today_end)),
        upcoming=Count("pk", filter=Q(due_at__gte=today_end)),
    )
    return TaskCounts(**counts)


def new_tasks(*, user: Any) -> QuerySet[Task]:
    """Open tasks colleagues gave ``user`` that they have not seen yet (the header badge)."""
    return (
        task_list(user=user, assignee=user)
        .filter(seen_at__isnull=True, created_by__isnull=False)
        .exclude(created_by=user)
        .select_related("created_by")
    )


def task_assignees(*, user: Any) -> QuerySet[Any]:
    """Who ``user`` may give a task to: active colleagues whose role works on tasks (the service checks
    the same rule); nobody but themselves without the right to assign."""
    from cartera.accounts.models import User

    if not user.has_perm("activity.assign_task"):
        return User.objects.filter(pk=user.pk)
    return (
        User.objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__permissions__codename="change_task"))
        .distinct()
        .order_by("username")
    )
