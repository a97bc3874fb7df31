"""Background work of imports: the commit runs in the task worker, batch by batch, and so do the dry
run of a big file and a rollback (each may take seconds on a big import: too long for a web request)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from cartera.core.database import reset_if_lost
from cartera.core.tasks import task

# While export files wait on disk, the sweep comes by at least this often (besides at each expiry).
SWEEP_EVERY = dt.timedelta(hours=1)


@task()
def run_import(job_id: int) -> str:
    """Write an import job's file (resuming after its last written batch)."""
    from django.core.exceptions import ValidationError

    from cartera.imports.services import import_job_claim, import_job_fail, import_job_run

    job = import_job_claim(job_id=job_id)
    if job is None:
        return "skipped: the import is not queued (already taken, finished or rolled back)"
    try:
        job = import_job_run(job=job, dry_run=False)
    except ValidationError as exc:
        return f"failed: {exc.messages[0]}"
    except Exception as exc:
        reset_if_lost()  # a lost database connection: record the failure on a new one
        import_job_fail(job=job, message=repr(exc))
        raise
    return f"{job.created_count} created, {job.updated_count} updated, {job.error_count} errors"


@task()
def run_rollback(job_id: int) -> str:
    """Roll a job back for whoever asked (``import_job_rollback_enqueue``), in their language."""
    from django.core.exceptions import ValidationError
    from django.utils import translation

    from cartera.accounts.models import User
    from cartera.imports.models import ImportJob, JobStatus
    from cartera.imports.services import import_job_rollback, import_job_rollback_fail

    job = ImportJob.objects.get(pk=job_id)
    asked = job.report.get("rollback") or {}
    if job.status != JobStatus.ROLLING_BACK:
        return "skipped: the import is not waiting to be rolled back"
    actor = User.objects.filter(pk=int(asked.get("by") or 0), is_active=True).first()
    with translation.override(asked.get("language") or None):
        if actor is None:
            import_job_rollback_fail(
                job=job, message=translation.gettext("the person who asked for it is gone")
            )
            return "failed: no actor"
        try:
            job = import_job_rollback(actor=actor, job=job)
        except ValidationError as exc:
            import_job_rollback_fail(job=job, message=exc.messages[0])
            return f"failed: {exc.messages[0]}"
        except Exception as exc:
            reset_if_lost()
            import_job_rollback_fail(job=job, message=repr(exc))
            raise
    return job.message


@task()
def run_check(job_id: int, language: str = "") -> str:
    """The dry run of a big file, in the language of whoever started it (row errors are stored)."""
    from django.core.exceptions import ValidationError
    from django.utils import translation

    from cartera.imports.services import import_job_check_in_worker, import_job_fail

    with translation.override(language or None):
        try:
            job = import_job_check_in_worker(job_id=job_id)
        except ValidationError as exc:
            return f"failed: {exc.messages[0]}"
        except Exception as exc:
            from cartera.imports.models import ImportJob

            reset_if_lost()
            import_job_fail(job=ImportJob.objects.get(pk=job_id), message=repr(exc))
            raise
    if job is None:
        return "skipped: the import is not waiting for a dry run"
    return f"checked: {job.report}"


@task()
def run_export(job_id: int) -> str:
    """Write an export job's file (an XLSX, or a CSV too big to stream in the request)."""
    from cartera.imports.services import export_job_run

    job = export_job_run(job_id=job_id)
    if job is None:
        return "skipped: the export is not queued"
    return f"{job.status}: {job.row_count} rows {job.message}".strip()


@task()
def sweep_export_files() -> str:
    """Delete the export files past their hours (``CARTERA_RETAIN_EXPORT_FILES_HOURS``), then queue
    the next sweep: at the next file's expiry, and at least hourly while any file waits or any export
    is being written. Exports whose writer died half way are failed and their files deleted too."""
    from cartera.imports.models import ExportJob, ExportStatus
    from cartera.imports.services import export_abandoned_sweep, export_files_next_expiry, export_files_sweep

    deleted = export_files_sweep()
    abandoned = export_abandoned_sweep()
    following = export_files_next_expiry()
    if ExportJob.objects.filter(status=ExportStatus.RUNNING).exists():
        following = min(following or timezone.now() + SWEEP_EVERY, timezone.now() + SWEEP_EVERY)
    if following is not None:
        export_sweep_schedule(at=min(following, timezone.now() + SWEEP_EVERY))
    return f"{deleted} export files deleted, {abandoned} half-written files deleted"


def export_sweep_schedule(at: dt.datetime | None = None) -> bool:
    """Queue a sweep of expired export files for ``at`` (now by default) unless one already waits to
    run by then; whether one was queued. Called when an export file is written (for its expiry), by
    ``make run`` and by ``cartera privacy retention --schedule`` (to pick up after a restart)."""
    from django.db.models import Q
    from django_tasks_db.models import DBTaskResult, get_date_max

    backend = sweep_export_files.get_backend()
    when = at or timezone.now()
    waiting = DBTaskResult.objects.filter(task_path=sweep_export_files.module_path, status="READY").filter(
        Q(run_after=get_date_max()) | Q(run_after__lte=when + dt.timedelta(seconds=1))
    )
    if waiting.exists():
        return False
    if at is None or not backend.supports_defer:
        # A backend that runs tasks at once (tests, development) cannot wait: it sweeps now, and
        # the download refuses and deletes an expired file anyway.
        if at is not None and at > timezone.now():
            return False
        sweep_export_files.enqueue()
    else:
        sweep_export_files.using(run_after=when).enqueue()
    return True
