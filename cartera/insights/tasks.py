"""Background work: the refresh of the analysis, queued by new orders and imports."""

from __future__ import annotations

from django.db import transaction
from django.tasks import TaskContext, task

from cartera.insights.services import RefreshAlreadyRunning, describe_holder, insights_refresh


@task(takes_context=True)
def refresh_insights(context: TaskContext[[str], str], trigger: str = "task") -> str:
    """Recompute the metrics in the worker; a refresh already running makes this one a no-op.

    The run records this task's id as its holder, so that "already running" says which task holds it.
    """
    try:
        run = insights_refresh(trigger=trigger, task_id=str(context.task_result.id))
    except RefreshAlreadyRunning as exc:
        return f"skipped: a refresh is already running ({describe_holder(exc.run)})"
    return f"{run.customers} customers in {run.seconds:.1f} s"


def schedule_refresh(*, trigger: str) -> None:
    """Queue a refresh once the current transaction commits, unless one is already waiting."""
    from django_tasks_db.models import DBTaskResult

    def enqueue() -> None:
        waiting = DBTaskResult.objects.filter(task_path=refresh_insights.module_path, status="READY").exists()
        if not waiting:
            refresh_insights.enqueue(trigger=trigger)

    transaction.on_commit(enqueue)
