"""Background work: the nightly retention run, which keeps itself scheduled in the worker."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from cartera.core.tasks import task
from cartera.privacy.retention import retention_run

RUN_AT_HOUR = 3  # local time


def next_run(now: dt.datetime | None = None) -> dt.datetime:
    """The next 03:00 (local time) after ``now``."""
    local = timezone.localtime(now or timezone.now())
    at = local.replace(hour=RUN_AT_HOUR, minute=0, second=0, microsecond=0)
    return at if at > local else at + dt.timedelta(days=1)


@task()
def run_retention(reschedule: bool = True) -> str:
    """Apply the retention rules; then queue tomorrow's run (so one ``--schedule`` keeps it nightly)."""
    report = retention_run()
    if reschedule:
        retention_schedule()
    return "; ".join(report.lines())


def retention_schedule() -> bool:
    """Queue the next nightly run unless one is already waiting; whether one was queued."""
    from django_tasks_db.models import DBTaskResult

    from cartera.imports.tasks import export_sweep_schedule

    # Export files expire by the hour, not nightly: their sweep is (re)started with the nightly chain.
    export_sweep_schedule()
    waiting = DBTaskResult.objects.filter(task_path=run_retention.module_path, status="READY").exists()
    if waiting:
        return False
    run_retention.using(run_after=next_run()).enqueue()
    return True
