"""Reads of tasks and interactions. (The timeline, which joins orders too, is composed in web.)"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from cartera.activity.models import Interaction, Task
from cartera.core.scoping import restrict


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
