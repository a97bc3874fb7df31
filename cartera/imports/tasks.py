"""Background work of imports: the commit runs in the task worker, batch by batch."""

from __future__ import annotations

from django.tasks import task


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
        import_job_fail(job=job, message=repr(exc))
        raise
    return f"{job.created_count} created, {job.updated_count} updated, {job.error_count} errors"
