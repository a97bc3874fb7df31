"""Exports: the log of exports, and export jobs (a file written by the task worker, downloaded from
My exports by whoever asked for it, deleted when its hours pass by the worker's sweep, queued for
that moment, or by the download attempt that finds it expired).

Which exports run where (docs/import-export.md): a CSV or vCard export of at most
``CARTERA_EXPORT_STREAM_MAX_ROWS`` rows streams straight to the browser, as it always did; a bigger
one, and every XLSX (built whole before it can be sent), becomes an :class:`ExportJob`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from cartera.accounts.models import User
from cartera.activity.models import Interaction
from cartera.core import hooks
from cartera.core.database import reset_if_lost
from cartera.core.scoping import can
from cartera.customers.models import Customer
from cartera.imports import exporting
from cartera.imports.models import ExportFormat, ExportJob, ExportLog, ExportStatus, ImportKind
from cartera.sales.models import Order

# The row counter on the job is written every this many rows (what the progress bar reads).
PROGRESS_EVERY = 2000

EXPORTED_MODEL: dict[str, type[models.Model]] = {
    ImportKind.CUSTOMERS: Customer,
    ImportKind.ORDERS: Order,
    ImportKind.INTERACTIONS: Interaction,
}
# Query parameters that only page or sort the list (or say how the CSV is written), never filter it.
NOT_FILTERS = ("cursor", "dir", "excel", "sort")


def export_record(
    *,
    user: User,
    what: str,
    file_format: str,
    filters: Mapping[str, Any],
    row_count: int,
    job: int | None = None,
) -> ExportLog:
    """Write down an export: who, when, what, in which format and how many rows.

    It goes to the export log and, as one "exported" line (not one per row), to the audit log, which
    no one can delete (the privacy app answers the hook). An export written by the worker names its
    job (``job``), and each download of its file is one more audit line (:func:`export_job_download`).
    """
    log = ExportLog.objects.create(
        user=user, what=what, file_format=file_format, filters=dict(filters), row_count=row_count
    )
    detail: dict[str, Any] = {"format": file_format, "filters": dict(filters), "rows": row_count}
    if job is not None:
        detail["job"] = job
    hooks.fire(
        "audited",
        actor=user,
        action="exported",
        target_type=f"imports.export.{what}",
        target_id=log.pk,
        label=f"{what} ({row_count})",
        detail=detail,
    )
    return log


def export_filters_clean(*, kind: str, filters: Mapping[str, Any]) -> dict[str, str]:
    """The filters of an export as they will be stored and read again by the worker: the customer
    list's query parameters (``q``, ``stage``, ``owner``, ``tag``, ``cf_<key>``...), checked by the
    list's own form; orders and interactions take none. A parameter that is not a filter, or a value
    the form refuses, is a :class:`ValidationError` (an export never silently widens)."""
    from cartera.customers.forms import CustomerFilterForm

    params = {str(k): str(v) for k, v in filters.items() if k not in NOT_FILTERS and v not in (None, "")}
    if kind != ImportKind.CUSTOMERS:
        if params:
            raise ValidationError(_("Only the customer export can be filtered."))
        return {}
    form = CustomerFilterForm(params)
    unknown = sorted(set(params) - set(form.fields))
    if unknown:
        raise ValidationError(
            _("Unknown filter: %(names)s. Filters: %(known)s.")
            % {"names": ", ".join(unknown), "known": ", ".join(form.fields)}
        )
    if not form.is_valid():
        problems = [f"{name}: {' '.join(str(e) for e in errors)}" for name, errors in form.errors.items()]
        raise ValidationError(
            _("These filters are not valid: %(problems)s") % {"problems": "; ".join(problems)}
        )
    return params


def export_source(
    *, user: User, kind: str, filters: Mapping[str, str]
) -> tuple[Any, list[str], Callable[[Any], list[Any]]]:
    """The rows ``user`` may export now (the same selectors and scoping as the streamed export),
    the header and the row writer."""
    from cartera.customers.forms import CustomerFilterForm
    from cartera.customers.selectors import CustomerFilters
    from cartera.imports import selectors

    if kind == ImportKind.CUSTOMERS:
        form = CustomerFilterForm(dict(filters) or None)
        customer_filters = form.filters() if form.is_bound else CustomerFilters()
        header, row = exporting.customer_export()
        return selectors.customers_for_export(user=user, filters=customer_filters), header, row
    if kind == ImportKind.ORDERS:
        return selectors.orders_for_export(user=user), exporting.order_columns(), exporting.order_row
    return (
        selectors.interactions_for_export(user=user),
        exporting.interaction_columns(),
        exporting.interaction_row,
    )


def export_allowed(*, user: Any, kind: str, file_format: str) -> None:
    """Refuse (403) a user without the export permission of ``kind``; a format ``kind`` has not (vCard
    is for customers) is a :class:`ValidationError`."""
    if kind not in EXPORTED_MODEL:
        raise ValidationError(_("Unknown kind of export."))
    if not can(user, EXPORTED_MODEL[kind], "export"):
        raise PermissionDenied
    if file_format not in ExportFormat.values or (
        file_format == ExportFormat.VCF and kind != ImportKind.CUSTOMERS
    ):
        raise ValidationError(_("This export cannot be written in that format."))


def export_dir() -> Path:
    path = Path(settings.VAR_DIR) / "exports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def export_job_create(
    *, actor: User, kind: str, file_format: str, filters: Mapping[str, Any], language: str = ""
) -> ExportJob:
    """Ask for an export written by the worker: checked, logged (export log and audit log: who asked
    for what, with which filters) and queued once the request's transaction commits."""
    from cartera.imports.tasks import run_export

    export_allowed(user=actor, kind=kind, file_format=file_format)
    clean = export_filters_clean(kind=kind, filters=filters)
    qs, _header, _row = export_source(user=actor, kind=kind, filters=clean)
    with transaction.atomic():
        job = ExportJob.objects.create(
            requested_by=actor,
            kind=kind,
            file_format=file_format,
            filters=clean,
            language=(language or translation.get_language() or "")[:8],
            total_rows=qs.count(),
        )
        job.log = export_record(
            user=actor,
            what=kind,
            file_format=file_format,
            filters=clean,
            row_count=job.total_rows,
            job=job.pk,
        )
        job.save(update_fields=["log"])
        job_id = job.pk
        transaction.on_commit(lambda: run_export.enqueue(job_id))
    return job


def _counted(rows: Iterator[Any], job: ExportJob) -> Iterator[Any]:
    """``rows`` unchanged, writing how many went by on the job every :data:`PROGRESS_EVERY` rows."""
    n = 0
    for item in rows:
        yield item
        n += 1
        if n % PROGRESS_EVERY == 0:
            ExportJob.objects.filter(pk=job.pk).update(row_count=n, updated_at=timezone.now())
    job.row_count = n


def export_job_run(*, job_id: int) -> ExportJob | None:
    """Write a queued job's file (the worker's part), with its requester's rights as they are now.

    queued → running in one conditional update, so a task run twice writes once. The file is written
    under a temporary name and renamed when complete: a download never sees half a file."""
    # The file being written is named on the job (``stored_path``, never served before "done"), so
    # that the sweep can delete it if this worker is killed half way (export_abandoned_sweep).
    part = export_dir() / f"{uuid.uuid4().hex}.part"
    claimed = ExportJob.objects.filter(pk=job_id, status=ExportStatus.QUEUED).update(
        status=ExportStatus.RUNNING,
        started_at=timezone.now(),
        updated_at=timezone.now(),
        stored_path=str(part),
    )
    if not claimed:
        return None
    job = ExportJob.objects.select_related("requested_by").get(pk=job_id)
    try:
        with translation.override(job.language or None):
            user = job.requested_by
            if not user.is_active:
                return _export_job_fail(job, _("The person who asked for it can no longer sign in."))
            try:
                export_allowed(user=user, kind=job.kind, file_format=job.file_format)
            except (PermissionDenied, ValidationError):
                return _export_job_fail(job, _("You may no longer export this."))
            qs, header, row = export_source(user=user, kind=job.kind, filters=job.filters)
            job.total_rows = qs.count()
            ExportJob.objects.filter(pk=job.pk).update(total_rows=job.total_rows)
            objects = _counted(exporting.export_objects(qs), job)
            with part.open("wb") as out:
                if job.file_format == ExportFormat.XLSX:
                    exporting.xlsx_write(header, (row(o) for o in objects), out)
                elif job.file_format == ExportFormat.VCF:
                    for chunk in exporting.vcard_stream(objects):
                        out.write(chunk)
                else:
                    spanish = job.file_format == ExportFormat.CSV_ES
                    for chunk in exporting.csv_stream(header, (row(o) for o in objects), spanish):
                        out.write(chunk)
        target = part.with_suffix("." + job.extension)
        part.rename(target)
    except BaseException:
        part.unlink(missing_ok=True)
        job.stored_path = ""
        reset_if_lost()  # a lost database connection: record the failure on a new one
        # What went wrong is in the task's result (the worker's log); the requester reads a sentence.
        with translation.override(job.language or None):
            _export_job_fail(job, _("The file could not be written. Try again, or ask an administrator."))
        raise
    now = timezone.now()
    job.status = ExportStatus.DONE
    job.stored_path = str(target)
    job.file_size = target.stat().st_size
    job.finished_at = now
    job.expires_at = now + dt.timedelta(hours=settings.CARTERA_RETENTION["export_files_hours"])
    job.save()
    if job.log_id:
        ExportLog.objects.filter(pk=job.log_id).update(row_count=job.row_count)
    # The file goes when it expires, not at the next nightly retention run: a sweep waits for then.
    expires_at = job.expires_at
    transaction.on_commit(lambda: _sweep_at(expires_at))
    return job


def _sweep_at(at: dt.datetime) -> None:
    from cartera.imports.tasks import export_sweep_schedule

    export_sweep_schedule(at=at)


def _export_job_fail(job: ExportJob, message: str) -> ExportJob:
    job.status = ExportStatus.FAILED
    job.message = message[:2000]
    job.finished_at = timezone.now()
    job.stored_path = "" if job.stored_path.endswith(".part") else job.stored_path
    job.save(update_fields=["status", "message", "finished_at", "stored_path", "updated_at"])
    return job


def export_abandoned_sweep(*, now: dt.datetime | None = None) -> int:
    """Clean up after export writers that died half way (a worker killed with ``kill -9``, a machine
    restarted): each job still "running" but silent for longer than ``EXPORT_STALE_AFTER`` is marked
    failed with a message for its requester and its half-written file deleted; any ``.part`` file in
    the export folder that no running job is writing, and older than that, goes too (the personal data
    in it would otherwise stay for ever). How many files were deleted."""
    from cartera.imports.models import EXPORT_STALE_AFTER

    now = now or timezone.now()
    silent_since = now - EXPORT_STALE_AFTER
    deleted = 0
    for job in ExportJob.objects.filter(status=ExportStatus.RUNNING, updated_at__lt=silent_since):
        # Conditional, like the claim: a writer that wakes up meanwhile keeps its job.
        with translation.override(job.language or None):
            message = _("The export stopped half way (the background worker was stopped). Export again.")
        failed = ExportJob.objects.filter(
            pk=job.pk, status=ExportStatus.RUNNING, updated_at__lt=silent_since
        ).update(status=ExportStatus.FAILED, message=message, finished_at=now, stored_path="", updated_at=now)
        if failed and job.stored_path.endswith(".part") and Path(job.stored_path).exists():
            Path(job.stored_path).unlink(missing_ok=True)
            deleted += 1
    writing = set(ExportJob.objects.filter(status=ExportStatus.RUNNING).values_list("stored_path", flat=True))
    folder = export_dir()
    for part in folder.glob("*.part") if folder.exists() else ():
        try:
            old = dt.datetime.fromtimestamp(part.stat().st_mtime, tz=dt.UTC) < silent_since
        except FileNotFoundError:
            continue  # renamed by its writer meanwhile
        if old and str(part) not in writing:
            part.unlink(missing_ok=True)
            deleted += 1
    return deleted


def export_job_download(*, actor: User, job: ExportJob) -> Path:
    """The file of ``actor``'s own job, while it may still be downloaded; each download is one audit
    line ("downloaded": who, which export, how many rows). Anyone but the requester gets a 404, as if
    the job did not exist; the requester of an expired or unfinished job a :class:`ValidationError`."""
    from django.http import Http404

    if job.requested_by_id != actor.pk:
        raise Http404
    now = timezone.now()
    if not job.is_downloadable(now):
        if job.is_expired(now):
            # Past its hours: deleted now, whether or not the sweep has come by yet.
            if job.file_deleted_at is None and job.stored_path:
                export_files_delete(jobs=[job], now=now)
            raise ValidationError(_("This file has expired and was deleted. Export again."), code="expired")
        raise ValidationError(_("This file is not ready yet."), code="not_ready")
    path = Path(job.stored_path)
    if not path.exists():
        raise ValidationError(_("This file has expired and was deleted. Export again."), code="expired")
    hooks.fire(
        "audited",
        actor=actor,
        action="downloaded",
        target_type=f"imports.export.{job.kind}",
        target_id=job.log_id,
        label=f"{job.kind} ({job.row_count})",
        detail={"format": job.file_format, "filters": job.filters, "rows": job.row_count, "job": job.pk},
    )
    return path


def export_job_file_name(job: ExportJob) -> str:
    """The download's name: ``customers-2026-12-03.xlsx`` (the day it was written)."""
    day = timezone.localtime(job.finished_at or job.created_at).date().isoformat()
    return f"{job.kind}-{day}.{job.extension}"


def export_files_expired(*, now: dt.datetime) -> list[ExportJob]:
    """Jobs whose file is past its expiry and not deleted yet (the retention rule "export files")."""
    jobs = ExportJob.objects.filter(expires_at__lte=now, file_deleted_at__isnull=True).exclude(stored_path="")
    return list(jobs.only("pk", "stored_path"))


def export_files_delete(*, jobs: list[ExportJob], now: dt.datetime) -> int:
    """Delete the files of ``jobs``; each row stays, with when its file went."""
    for job in jobs:
        Path(job.stored_path).unlink(missing_ok=True)
        job.file_deleted_at = now
    return ExportJob.objects.filter(pk__in=[j.pk for j in jobs]).update(file_deleted_at=now, updated_at=now)


def export_files_sweep(*, now: dt.datetime | None = None) -> int:
    """Delete every export file past its expiry now (the worker's sweep); how many went."""
    now = now or timezone.now()
    return export_files_delete(jobs=export_files_expired(now=now), now=now)


def export_files_next_expiry() -> dt.datetime | None:
    """When the next export file still on disk expires (None: no file waits)."""
    pending = ExportJob.objects.filter(
        status=ExportStatus.DONE, file_deleted_at__isnull=True, expires_at__isnull=False
    ).exclude(stored_path="")
    at: dt.datetime | None = pending.aggregate(at=models.Min("expires_at"))["at"]
    return at
