"""Retention: inactive prospects, old rejected import rows, finished import files, expired export
files and old audit lines are removed by `cartera privacy retention` (or the worker's task); a dry run only reports."""

from __future__ import annotations

import datetime as dt
import io

from django.core.management import call_command
from django.utils import timezone

from cartera.activity.services import interaction_create
from cartera.customers.models import Customer, Stage
from cartera.imports.models import ExportJob, ImportJob, ImportRowError
from cartera.privacy.models import AuditEntry
from cartera.privacy.retention import retention_run
from cartera.privacy.tasks import next_run, retention_schedule, run_retention
from cartera.sales.services import order_create

LONG_AGO = timezone.now() - dt.timedelta(days=3 * 365)


def _world(owner, tmp_path):
    old = Customer.objects.create(first_name="Viejo", stage=Stage.PROSPECT, owner=owner)
    talked = Customer.objects.create(first_name="Hablado", stage=Stage.PROSPECT, owner=owner)
    buyer = Customer.objects.create(first_name="Comprador", stage=Stage.PROSPECT, owner=owner)
    fresh = Customer.objects.create(first_name="Nuevo", stage=Stage.PROSPECT, owner=owner)
    Customer.objects.filter(pk__in=[old.pk, talked.pk, buyer.pk]).update(updated_at=LONG_AGO)
    interaction_create(actor=owner, customer=talked, fields={"kind": "call", "subject": "hola"})
    order_create(actor=owner, customer=buyer, fields={"ordered_on": "2023-01-01", "amount": "5"})
    Customer.objects.filter(pk=buyer.pk).update(updated_at=LONG_AGO, stage=Stage.PROSPECT)
    upload = tmp_path / "upload.csv"
    upload.write_text("nombre\nAna\n")
    done = ImportJob.objects.create(kind="customers", file_name="a.csv", stored_path=str(upload), status="done",
                                    created_by=owner)  # fmt: skip
    ImportJob.objects.filter(pk=done.pk).update(created_at=LONG_AGO)
    ImportRowError.objects.create(
        job=done, row_number=2, value="ana@", reason="bad e-mail", raw=["Ana", "ana@"]
    )
    recent = ImportJob.objects.create(kind="customers", file_name="b.csv", stored_path="", created_by=owner)
    ImportRowError.objects.create(job=recent, row_number=2, value="x", reason="bad")
    AuditEntry.objects.create(at=LONG_AGO - dt.timedelta(days=3 * 365), actor_name="x", action="viewed",
                              target_type="customers.customer")  # fmt: skip
    # Two export files: one past its hours (CARTERA_RETAIN_EXPORT_FILES_HOURS), one still downloadable.
    files = {}
    for name, hours_ago in (("expired", 25), ("current", 1)):
        files[name] = tmp_path / f"{name}.xlsx"
        files[name].write_bytes(b"PK")
        written = timezone.now() - dt.timedelta(hours=hours_ago)
        files[f"{name}_job"] = ExportJob.objects.create(
            requested_by=owner, kind="customers", file_format="xlsx", status="done", row_count=3,
            stored_path=str(files[name]), finished_at=written, expires_at=written + dt.timedelta(hours=24),
        )  # fmt: skip
    return {"old": old, "talked": talked, "buyer": buyer, "fresh": fresh, "upload": upload, **files}


def test_dry_run_reports_and_changes_nothing(owner, tmp_path):
    w = _world(owner, tmp_path)
    out = io.StringIO()
    audit_before = AuditEntry.objects.count()
    call_command("privacy", "retention", "--dry-run", lang="en", stdout=out)
    assert out.getvalue().splitlines() == [
        "prospects: dry run: would remove 1",
        "rejected_rows: dry run: would remove 1",
        "import_files: dry run: would remove 1",
        "export_files: dry run: would remove 1",
        "audit_log: dry run: would remove 1",
    ]
    assert Customer.objects.filter(pk=w["old"].pk).exists() and w["upload"].exists()
    assert w["expired"].exists() and not ExportJob.objects.filter(file_deleted_at__isnull=False).exists()
    assert AuditEntry.objects.count() == audit_before


def test_the_run_removes_what_is_past_its_period(owner, tmp_path, settings):
    w = _world(owner, tmp_path)
    call_command("privacy", "retention", stdout=io.StringIO())
    assert not Customer.objects.filter(pk=w["old"].pk).exists()
    assert Customer.objects.filter(pk__in=[w["talked"].pk, w["buyer"].pk, w["fresh"].pk]).count() == 3
    assert list(ImportRowError.objects.values_list("value", flat=True)) == ["x"]
    assert not w["upload"].exists()
    assert not AuditEntry.objects.filter(at__lt=LONG_AGO).exists()
    # The expired export's file is gone, its job stays as the record (no longer downloadable).
    assert not w["expired"].exists() and w["current"].exists()
    expired = ExportJob.objects.get(pk=w["expired_job"].pk)
    assert expired.file_deleted_at is not None and expired.row_count == 3 and not expired.is_downloadable()
    assert ExportJob.objects.get(pk=w["current_job"].pk).is_downloadable()
    assert AuditEntry.objects.filter(action="retention").get().detail == {
        "prospects": 1, "rejected_rows": 1, "import_files": 1, "export_files": 1, "audit_log": 1,
    }  # fmt: skip
    # Shorter periods from the settings reach more.
    settings.CARTERA_RETENTION = {**settings.CARTERA_RETENTION, "rejected_rows_days": 0}
    assert (
        retention_run(dry_run=True, now=timezone.now() + dt.timedelta(seconds=1)).counts["rejected_rows"] == 1
    )


def test_the_worker_task_runs_and_keeps_itself_scheduled(owner, tmp_path):
    from django_tasks_db.models import DBTaskResult

    w = _world(owner, tmp_path)
    result = run_retention.call(reschedule=True)
    assert "prospects: removed 1" in result
    assert not Customer.objects.filter(pk=w["old"].pk).exists()
    queued = DBTaskResult.objects.get(task_path=run_retention.module_path, status="READY")
    assert queued.run_after == next_run()
    assert retention_schedule() is False  # one waiting run is enough
    local = timezone.localtime(next_run())
    assert (local.hour, local.minute) == (3, 0) and next_run() > timezone.now()
