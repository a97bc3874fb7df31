"""``task``: Django's task decorator, for tasks that survive a lost database connection.

When a task fails because the database connection was lost, the worker then records the failure
on that same connection; it fails again and the worker process stops (django-tasks-db's
``db_worker``), so nothing more runs until someone restarts it. Every Cartera task is declared with
this decorator instead of ``django.tasks.task``: a database error first closes a connection that no
longer works (``core.database.reset_if_lost``), so the failure is recorded on a new one and the
worker goes on with the next task (tests/imports/test_import_kill9.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.db import DatabaseError
from django.tasks import task as django_task

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
