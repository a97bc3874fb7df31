"""Retention: how long each kind of personal data is kept, and the job that removes what is past it.

The periods come from ``settings.CARTERA_RETENTION`` (environment variables, see docs/privacy.md):

* prospects and suspects with no activity (no order, interaction or task, and the record untouched)
  for N months are deleted;
* rejected import rows (their raw values) are deleted N days after the import;
* the stored file of an import is deleted N days after the import finished (0 = at once), and an
  upload left unfinished is deleted after 30 days;
* audit-log lines older than N years are deleted (through the audit unlock).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from cartera.activity.models import Interaction, Task
from cartera.customers.models import Customer, Stage
from cartera.imports.models import ImportJob, ImportRowError, JobStatus
from cartera.privacy.models import AuditEntry

ABANDONED_UPLOAD_DAYS = 30


def rules() -> list[dict[str, Any]]:
    """The rules in force, in words, for the records of processing and the report."""
    r = settings.CARTERA_RETENTION
    return [
        {
            "kind": "prospects",
            "what": _("Prospects and suspects without any activity"),
            "period": _("%(n)s months") % {"n": r["prospect_inactive_months"]},
            "action": _("deleted"),
        },
        {
            "kind": "rejected_rows",
            "what": _("Rejected rows of imports"),
            "period": _("%(n)s days") % {"n": r["rejected_rows_days"]},
            "action": _("deleted"),
        },
        {
            "kind": "import_files",
            "what": _("Imported files"),
            "period": _("%(n)s days after the import finished (unfinished uploads: %(m)s days)")
            % {"n": r["import_files_days"], "m": ABANDONED_UPLOAD_DAYS},
            "action": _("deleted"),
        },
        {
            "kind": "audit_log",
            "what": _("Audit log"),
            "period": _("%(n)s years") % {"n": r["audit_log_years"]},
            "action": _("deleted"),
        },
    ]


@dataclass
class RetentionReport:
    """What a retention run removed (or, in a dry run, would remove)."""

    dry_run: bool
    counts: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        mode = "dry run: would remove" if self.dry_run else "removed"
        return [f"{kind}: {mode} {n}" for kind, n in self.counts.items()]


def _inactive_prospects(now: dt.datetime) -> Any:
    cutoff = now - dt.timedelta(days=round(30.44 * settings.CARTERA_RETENTION["prospect_inactive_months"]))
    recent_interaction = Interaction.objects.filter(customer=OuterRef("pk"), occurred_at__gte=cutoff)
    open_task = Task.objects.filter(customer=OuterRef("pk")).filter(Q(done=False) | Q(due_at__gte=cutoff))
    return (
        Customer.objects.filter(
            stage__in=[Stage.SUSPECT, Stage.PROSPECT], updated_at__lt=cutoff, orders__isnull=True
        )
        .exclude(Exists(recent_interaction))
        .exclude(Exists(open_task))
    )


def _rejected_rows(now: dt.datetime) -> Any:
    cutoff = now - dt.timedelta(days=settings.CARTERA_RETENTION["rejected_rows_days"])
    return ImportRowError.objects.filter(job__created_at__lt=cutoff)


def _import_files(now: dt.datetime) -> list[ImportJob]:
    finished_cutoff = now - dt.timedelta(days=settings.CARTERA_RETENTION["import_files_days"])
    abandoned_cutoff = now - dt.timedelta(days=ABANDONED_UPLOAD_DAYS)
    jobs = ImportJob.objects.filter(
        Q(
            status__in=[JobStatus.DONE, JobStatus.ROLLED_BACK, JobStatus.FAILED],
            updated_at__lte=finished_cutoff,
        )
        | Q(status__in=[JobStatus.UPLOADED, JobStatus.CHECKED], updated_at__lt=abandoned_cutoff)
    ).exclude(stored_path="")
    return [job for job in jobs.only("pk", "stored_path") if Path(job.stored_path).exists()]


def _old_audit(now: dt.datetime) -> Any:
    cutoff = now - dt.timedelta(days=round(365.25 * settings.CARTERA_RETENTION["audit_log_years"]))
    return AuditEntry.objects.filter(at__lt=cutoff)


def retention_run(*, dry_run: bool = False, now: dt.datetime | None = None) -> RetentionReport:
    """Remove (or, with ``dry_run``, count) what is past its retention period."""
    from cartera.privacy.services import audit_record, audit_unlocked

    now = now or timezone.now()
    report = RetentionReport(dry_run=dry_run)
    prospects = _inactive_prospects(now)
    rows = _rejected_rows(now)
    files = _import_files(now)
    audit = _old_audit(now)
    report.counts = {
        "prospects": prospects.count(),
        "rejected_rows": rows.count(),
        "import_files": len(files),
        "audit_log": audit.count(),
    }
    if dry_run:
        return report
    with transaction.atomic():
        ids = list(prospects.values_list("pk", flat=True))
        for start in range(0, len(ids), 500):
            Customer.objects.filter(pk__in=ids[start : start + 500]).delete()
        rows.delete()
        with audit_unlocked("retention"):
            audit.delete()
        audit_record(actor=None, action="retention", target_type="privacy.retention", detail=report.counts)
    for job in files:
        Path(job.stored_path).unlink(missing_ok=True)
    return report
