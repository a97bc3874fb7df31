"""Reads of the timeline and of tasks."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from cartera.activity.models import Interaction, Task
from cartera.core.scoping import restrict
from cartera.customers.models import Customer
from cartera.sales.models import Order


@dataclass(frozen=True)
class TimelineEntry:
    """One line of a customer's timeline: an interaction, an order or a task."""

    kind: str  # "interaction" | "order" | "task"
    when: datetime.datetime
    item: Any


def _as_datetime(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(12, 0)))


def customer_timeline(*, user: Any, customer: Customer, limit: int = 100) -> list[TimelineEntry]:
    """Interactions, orders and tasks of ``customer``, newest first (three queries, whatever the size)."""
    interactions = (
        restrict(Interaction.objects.all(), user, "view")
        .filter(customer=customer)
        .select_related("author")[:limit]
    )
    orders = restrict(Order.objects.all(), user, "view").filter(customer=customer)[:limit]
    tasks = restrict(Task.objects.all(), user, "view").filter(customer=customer).select_related("assignee")
    tasks = tasks.order_by("-due_at", "-id")[:limit]
    entries = [TimelineEntry("interaction", i.occurred_at, i) for i in interactions]
    entries += [TimelineEntry("order", _as_datetime(o.ordered_on), o) for o in orders]
    entries += [TimelineEntry("task", t.due_at, t) for t in tasks]
    entries.sort(key=lambda e: e.when, reverse=True)
    return entries[:limit]


def task_list(*, user: Any, assignee: Any | None = None, include_done: bool = False) -> QuerySet[Task]:
    """Tasks the user may see, open ones first by due date."""
    qs = restrict(Task.objects.all(), user, "view").select_related("customer", "assignee")
    if assignee is not None:
        qs = qs.filter(assignee=assignee)
    if not include_done:
        qs = qs.filter(done=False)
    return qs.order_by("done", "due_at", "id")


def interaction_list(*, user: Any) -> QuerySet[Interaction]:
    """Interactions the user may see, newest first."""
    return restrict(Interaction.objects.all(), user, "view").select_related("customer", "author")
