"""Background work: the refresh of the analysis, queued by new orders and imports."""

from __future__ import annotations

from django.db import transaction
from django.tasks import task

from cartera.insights.services import RefreshAlreadyRunning, insights_refresh


@task()
def refresh_insights(trigger: str = "task") -> str:
    """Recompute the metrics in the worker; a refresh already running makes this one a no-op."""
    try:
        run = insights_refresh(trigger=trigger)
    except RefreshAlreadyRunning:
        return "skipped: a refresh is already running"
    return f"{run.customers} customers in {run.seconds:.1f} s"


def schedule_refresh(*, trigger: str) -> None:
    """Queue a refresh once the current transaction commits, unless one is already waiting."""
    from django_tasks_db.models import DBTaskResult

    def enqueue() -> None:
        waiting = DBTaskResult.objects.filter(task_path=refresh_insights.module_path, status="READY").exists()
        if not waiting:
            refresh_insights.enqueue(trigger=trigger)

    transaction.on_commit(enqueue)
