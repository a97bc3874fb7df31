"""Background work: the refresh of the analysis, queued by new orders and imports, and the backtest
of the predictions that follows it."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.tasks import TaskContext
from django.utils import timezone, translation

from cartera.core.tasks import task
from cartera.insights import selectors
from cartera.insights.services import RefreshAlreadyRunning, backtest_run, describe_holder, insights_refresh

# The backtest re-checks the predictions at most once a day: the history it checks hardly moves in a
# day, and it refits every model.
BACKTEST_EVERY = dt.timedelta(hours=24)


@task(takes_context=True)
def refresh_insights(context: TaskContext[[str], str], trigger: str = "task") -> str:
    """Recompute the metrics in the worker; a refresh already running makes this one a no-op.

    The run records this task's id as its holder, so that "already running" says which task holds it.
    Afterwards the backtest is queued when the latest one is more than a day old.
    """
    try:
        run = insights_refresh(trigger=trigger, task_id=str(context.task_result.id))
    except RefreshAlreadyRunning as exc:
        # The worker's results are short English records for the operator, whatever the language of
        # the messages: the holder is described in English too, not in LANGUAGE_CODE's.
        with translation.override("en"):
            return f"skipped: a refresh is already running ({describe_holder(exc.run)})"
    schedule_backtest()
    return f"{run.customers} customers in {run.seconds:.1f} s"


@task(takes_context=True)
def check_predictions(
    context: TaskContext[[str, str | None, str | None], str],
    trigger: str = "task",
    cutoff: str | None = None,
    holdout_end: str | None = None,
) -> str:
    """Run the backtest in the worker; a history too short to check is reported, not raised.

    ``cutoff`` and ``holdout_end`` (ISO dates, default: the service's) are the ones asked through
    the API. The backtest row records this task's id, so that the API's job status finds what it
    produced.
    """
    try:
        row = backtest_run(
            cutoff=dt.date.fromisoformat(cutoff) if cutoff else None,
            holdout_end=dt.date.fromisoformat(holdout_end) if holdout_end else None,
            trigger=trigger,
            task_id=str(context.task_result.id),
        )
    except ValidationError as exc:
        return f"skipped: {' '.join(exc.messages)}"
    return f"{row.customers} customers, model {row.shown_model}, {row.seconds:.1f} s"


def schedule_backtest() -> None:
    """Queue the backtest unless one ran in the last day or one is already waiting."""
    latest = selectors.latest_backtest()
    if latest is not None and timezone.now() - latest.started_at < BACKTEST_EVERY:
        return
    queue_backtest(trigger="after refresh")


def queue_backtest(*, trigger: str, cutoff: dt.date | None = None, holdout_end: dt.date | None = None) -> str:
    """Queue the backtest unless one with the same dates is already waiting; the id of the queued
    (or waiting) task. ``None`` dates are the service's defaults."""
    from django_tasks_db.models import DBTaskResult

    dates = {
        "cutoff": cutoff.isoformat() if cutoff else None,
        "holdout_end": holdout_end.isoformat() if holdout_end else None,
    }
    for waiting in DBTaskResult.objects.filter(
        task_path=check_predictions.module_path, status="READY"
    ).order_by("enqueued_at"):
        kwargs = (waiting.args_kwargs or {}).get("kwargs", {})
        if all(kwargs.get(key) == value for key, value in dates.items()):
            return str(waiting.id)
    return str(check_predictions.enqueue(trigger=trigger, **dates).id)


def schedule_refresh(*, trigger: str) -> None:
    """Queue a refresh once the current transaction commits, unless one is already waiting."""
    from django_tasks_db.models import DBTaskResult

    def enqueue() -> None:
        waiting = DBTaskResult.objects.filter(task_path=refresh_insights.module_path, status="READY").exists()
        if not waiting:
            refresh_insights.enqueue(trigger=trigger)

    transaction.on_commit(enqueue)
