"""``task``: Django's task decorator, for tasks that survive a lost database connection; and
``enqueue_once``, for work many events ask for and one run answers.

When a task fails because the database connection was lost, the worker then records the failure
on that same connection; it fails again and the worker process stops (django-tasks-db's
``db_worker``), so nothing more runs until someone restarts it. Every Cartera task is declared with
this decorator instead of ``django.tasks.task``: a database error first closes a connection that no
longer works (``core.database.reset_if_lost``), so the failure is recorded on a new one and the
worker goes on with the next task (tests/imports/test_import_kill9.py).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any

from django.db import DatabaseError, transaction
from django.db.models import Q
from django.tasks import task as django_task
from django.utils import timezone

from cartera.core.database import reset_if_lost


def task(**options: Any) -> Callable[[Callable[..., Any]], Any]:
    """``django.tasks.task(**options)`` around a function that resets a lost connection on failure."""

    def decorate(function: Callable[..., Any]) -> Any:
        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return function(*args, **kwargs)
            except DatabaseError:
                reset_if_lost()
                raise

        return django_task(**options)(run)

    return decorate


def enqueue_once(queued_task: Any, *, running_for_less_than: dt.timedelta | None = None) -> None:
    """Queue ``queued_task`` (no arguments) once the current transaction commits, unless one is already
    waiting; with ``running_for_less_than``, also unless one started running that recently (an older
    run was killed with its worker and no longer counts). A burst of asks queues one run."""
    from django_tasks_db.models import DBTaskResult

    def enqueue() -> None:
        busy = Q(status="READY")
        if running_for_less_than is not None:
            busy |= Q(status="RUNNING", started_at__gt=timezone.now() - running_for_less_than)
        if not DBTaskResult.objects.filter(busy, task_path=queued_task.module_path).exists():
            queued_task.enqueue()

    transaction.on_commit(enqueue)
