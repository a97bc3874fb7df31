""" "My tasks" pages through every task in due order instead of stopping at 500 without a word (issue 10)."""

from __future__ import annotations

import datetime

from django.urls import reverse
from django.utils import timezone

from cartera.activity.models import Task


def test_my_tasks_pages_through_every_task(client, owner):
    now = timezone.now()
    Task.objects.bulk_create(
        [Task(title=f"Tarea {i:03d}", assignee=owner, created_by=owner, due_at=now + datetime.timedelta(minutes=i))
         for i in range(230)]
    )  # fmt: skip
    client.force_login(owner)
    seen: list[str] = []
    url = reverse("activity:my_tasks")
    for _ in range(5):
        response = client.get(url)
        seen += [t.title for t in response.context["tasks"]]
        cursor = response.context["page"].next_cursor
        if not cursor:
            break
        assert 'rel="next"' in response.content.decode()
        url = reverse("activity:my_tasks") + f"?cursor={cursor}"
    assert seen == [f"Tarea {i:03d}" for i in range(230)]
