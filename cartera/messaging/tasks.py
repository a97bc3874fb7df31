"""Background work: the delivery run that sends the outbox, woken by every message queued."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import Min, Q
from django.utils import timezone

from cartera.core.tasks import task
from cartera.messaging.models import OutboxMessage, OutboxState
from cartera.messaging.services import deliver_pending


@task()
def deliver_outbox() -> str:
    """Send what is due; then make sure the next run is queued (for retries waiting their back-off).

    Before sending, a watchdog run is queued for after the stale period: if this worker is killed
    with ``kill -9``, that run takes back the rows it left ``sending`` and finishes the job once a
    worker runs again.
    """
    if _has_work():
        outbox_schedule(at=timezone.now() + dt.timedelta(seconds=2 * settings.CARTERA_OUTBOX_STALE_SECONDS))
    report = deliver_pending()
    following = OutboxMessage.objects.filter(state=OutboxState.QUEUED).aggregate(at=Min("next_attempt_at"))[
        "at"
    ]
    if following is not None:
        outbox_schedule(at=following)
    return report.summary()


def _has_work() -> bool:
    return OutboxMessage.objects.filter(Q(state=OutboxState.QUEUED) | Q(state=OutboxState.SENDING)).exists()


def outbox_schedule(at: dt.datetime | None = None) -> bool:
    """Queue a delivery run for ``at`` (now by default) unless one is already waiting to run by then;
    whether one was queued."""
    from django_tasks_db.models import DBTaskResult

    when = at or timezone.now()
    waiting = DBTaskResult.objects.filter(task_path=deliver_outbox.module_path, status="READY").filter(
        Q(run_after__isnull=True) | Q(run_after__lte=when + dt.timedelta(seconds=1))
    )
    if waiting.exists():
        return False
    if at is None:
        deliver_outbox.enqueue()
    else:
        deliver_outbox.using(run_after=when).enqueue()
    return True
