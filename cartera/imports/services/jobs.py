"""A job's life before and around its run: upload, mapping (and saved mappings), the queue, the file."""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from cartera.accounts.models import User
from cartera.core.concurrency import check_version
from cartera.core.money import read_currency
from cartera.core.scoping import can, restrict
from cartera.customers.models import Customer, Source
from cartera.imports.fields import suggest_columns
from cartera.imports.models import (
    DuplicatePolicy,
    ImportJob,
    ImportKind,
    ImportMapping,
    JobStatus,
    ListOrigin,
)
from cartera.imports.parsers import ParseError, open_table
from cartera.imports.selectors import check_columns
from cartera.imports.services.origin import check_list_origin

# The customers' source a list's origin suggests (the mapping page can change it).
ORIGIN_SOURCE = {ListOrigin.PURCHASED: Source.PURCHASED_LIST, ListOrigin.EVENT: Source.EVENT}


def upload_dir() -> Path:
    path = Path(settings.VAR_DIR) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def import_job_create(
    *, actor: User, upload: IO[bytes], file_name: str, kind: str, list_origin: str = ListOrigin.OWN
) -> ImportJob:
    """Store an uploaded file and read its header; a file that cannot be read leaves nothing behind.
    ``list_origin`` says where a customer list comes from (a purchased list has duties of its own,
    services/origin.py)."""
    if kind not in ImportKind.values:
        raise ValidationError(_("Unknown kind of import."))
    if list_origin not in ListOrigin.values:
        raise ValidationError(_("Unknown origin of the list."))
    target = upload_dir() / f"{uuid.uuid4().hex}.upload"
    digest = hashlib.sha256()
    size = 0
    limit = int(settings.CARTERA_MAX_UPLOAD_BYTES)
    try:
        with target.open("wb") as out:
            while chunk := upload.read(1024 * 1024):
                size += len(chunk)
                if size > limit:
                    raise ValidationError(
                        _("The file is larger than %(mb)s MB, the most an import accepts.")
                        % {"mb": limit // 2**20}
                    )
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise ValidationError(_("The file is empty."))
        try:
            with open_table(target, file_name) as table:
                headers = table.headers
                file_format = table.file_format
                # The rejected-rows file is written back in the file's own dialect.
                dialect = {"encoding": table.encoding, "delimiter": table.delimiter}
        except ParseError as exc:
            raise ValidationError(str(exc)) from exc
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return ImportJob.objects.create(
        kind=kind,
        file_name=Path(file_name).name[:255] or "upload",
        stored_path=str(target),
        file_sha256=digest.hexdigest(),
        headers=headers,
        columns=suggest_columns(headers, kind),
        options={
            "date_order": "dmy",
            "decimal_comma": True,
            "phone_region": "",
            "format": file_format,
            **dialect,
            # For what the import writes in words later, in the worker (the Art. 14 task).
            "language": translation.get_language() or "",
        },
        list_origin=list_origin,
        source=ORIGIN_SOURCE.get(ListOrigin(list_origin), Source.IMPORT),
        created_by=actor,
    )


def import_job_create_from_path(
    *, actor: User, path: Path, kind: str, list_origin: str = ListOrigin.OWN
) -> ImportJob:
    """The CLI's way in: the same checks as an upload."""
    with path.open("rb") as handle:
        return import_job_create(
            actor=actor, upload=handle, file_name=path.name, kind=kind, list_origin=list_origin
        )


def import_job_configure(
    *,
    actor: User,
    job: ImportJob,
    columns: Mapping[str, str],
    options: Mapping[str, Any],
    duplicate_policy: str = DuplicatePolicy.SKIP,
    source: str = "",
    source_detail: str = "",
    lawful_basis: str = "",
    save_as: str = "",
    mapping_read: tuple[int, str] | None = None,
    currency: str = "",
    list_origin: str = "",
) -> ImportJob:
    """Set how the file is read and what happens to duplicates; optionally save the mapping by name
    (``mapping_read``: the saved mapping the editor started from and its version, see
    :func:`import_mapping_save`). ``currency`` (orders): the ISO 4217 code of amounts whose row
    names none; empty keeps the job's (the base currency, unless a saved mapping said otherwise)."""
    if not import_job_configurable(job=job):
        raise ValidationError(_("This import has already started."))
    check_columns(kind=job.kind, headers=job.headers, columns=columns)
    if currency:
        try:
            job.currency = read_currency(currency)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc
    if options.get("create_customers") and not can(actor, Customer, "add"):
        raise ValidationError(_("You may not create customers, so an import cannot create them for you."))
    job.columns = {h: f for h, f in columns.items() if f and h in job.headers}
    job.options = {**job.options, **dict(options)}
    job.duplicate_policy = duplicate_policy or DuplicatePolicy.SKIP
    job.source = source or job.source
    job.source_detail = source_detail.strip()[:200]
    job.lawful_basis = lawful_basis.strip()
    if list_origin:
        if list_origin not in ListOrigin.values:
            raise ValidationError(_("Unknown origin of the list."))
        job.list_origin = list_origin
    check_list_origin(job)
    job.status = JobStatus.UPLOADED
    job.save()
    if save_as.strip():
        saved_options = dict(job.options)
        if job.kind == ImportKind.ORDERS:
            saved_options["currency"] = job.currency
        import_mapping_save(
            actor=actor,
            name=save_as,
            kind=job.kind,
            columns=job.columns,
            options=saved_options,
            read=mapping_read,
        )
    return job


def import_mapping_save(
    *,
    actor: User,
    name: str,
    kind: str,
    columns: Mapping[str, str],
    options: Mapping[str, Any],
    read: tuple[int, str] | None = None,
) -> ImportMapping:
    """Save a named mapping, or replace one the actor may change (their own; any, for roles that act
    on every record). A name taken by someone else's mapping is refused: it is theirs.

    ``read`` is the saved mapping the editor started from and the version it was read at
    (cartera/core/concurrency.py): replacing that mapping after someone else saved it is refused with
    :class:`StaleEditError`, and nothing is written (the editor's columns stay on their import)."""
    clean = name.strip()[:100]
    with transaction.atomic():
        existing = ImportMapping.objects.select_for_update().filter(kind=kind, name=clean).first()
        if existing is None:
            try:
                with transaction.atomic():
                    return ImportMapping.objects.create(
                        kind=kind, name=clean, columns=dict(columns), options=dict(options), created_by=actor
                    )
            except IntegrityError:  # saved by someone else a moment ago
                existing = ImportMapping.objects.select_for_update().get(kind=kind, name=clean)
        if not restrict(ImportMapping.objects.filter(pk=existing.pk), actor, "change").exists():
            raise ValidationError(
                _("A saved mapping named “%(name)s” belongs to %(user)s. Choose another name.")
                % {"name": clean, "user": existing.created_by or "—"}
            )
        if read is not None and read[0] == existing.pk:
            check_version(
                existing,
                read[1],
                _(
                    "Someone else saved the mapping “%(name)s” after you opened it, so it was not "
                    "replaced. Apply it again to see their version, or save yours under another name."
                )
                % {"name": clean},
            )
        existing.columns, existing.options = dict(columns), dict(options)
        existing.save(update_fields=["columns", "options", "updated_at"])
        return existing


def import_mapping_apply(*, job: ImportJob, mapping: ImportMapping) -> ImportJob:
    """Use a saved mapping for a new file: the columns it knows, and its options (an order mapping's
    currency too)."""
    job.columns = {h: f for h, f in mapping.columns.items() if h in job.headers}
    options = dict(mapping.options)
    saved_currency = str(options.pop("currency", "") or "")
    job.options = {**job.options, **options}
    if job.kind == ImportKind.ORDERS and saved_currency:
        with contextlib.suppress(ValueError):
            job.currency = read_currency(saved_currency)
    job.save(update_fields=["columns", "options", "currency", "updated_at"])
    return job


STALE_AFTER = datetime.timedelta(minutes=2)


def import_job_is_alive(*, job: ImportJob) -> bool:
    """Whether a running job is still writing (it records progress after every batch); a job silent
    for longer than ``STALE_AFTER`` was interrupted and may be resumed or rolled back."""
    return job.status == JobStatus.RUNNING and timezone.now() - job.updated_at < STALE_AFTER


def import_job_configurable(*, job: ImportJob) -> bool:
    """Whether the mapping may still change: nothing written yet, and no dry run under way (one
    silent for longer than ``STALE_AFTER`` was interrupted: the mapping may be changed and checked again)."""
    if job.status == JobStatus.CHECKING:
        return timezone.now() - job.updated_at >= STALE_AFTER
    return job.status in (JobStatus.UPLOADED, JobStatus.CHECKED)


def _startable() -> Q:
    """Jobs whose commit may be queued: checked by a dry run that went through the whole file, or
    stopped half way through a commit (failed, or silent for longer than ``STALE_AFTER``)."""
    return (
        Q(status=JobStatus.CHECKED)
        | Q(status=JobStatus.FAILED, started_at__isnull=False)
        | Q(status=JobStatus.RUNNING, updated_at__lt=timezone.now() - STALE_AFTER)
    )


def import_job_failed_dry_run(*, job: ImportJob) -> bool:
    """Whether the job's dry run stopped on a file it cannot read to the end (nothing was written)."""
    return job.status == JobStatus.FAILED and job.started_at is None


def import_job_enqueue(*, actor: User, job: ImportJob) -> ImportJob:
    """Queue the commit in the background worker (once the request's transaction commits).

    The status goes to "queued" in one conditional update, so of two clicks on "Import now" (or
    "Resume") only the first queues anything; the second is refused and changes nothing."""
    from cartera.imports.tasks import run_import

    import_job_require(actor=actor, job=job)
    now = timezone.now()
    with transaction.atomic():
        queued = ImportJob.objects.filter(_startable(), pk=job.pk).update(
            status=JobStatus.QUEUED, updated_at=now
        )
        job.refresh_from_db()
        if not queued:
            if import_job_failed_dry_run(job=job):
                raise ValidationError(
                    _(
                        "This file did not pass its dry run, so it cannot be imported. Fix it and upload it again."
                    )
                )
            if job.status == JobStatus.UPLOADED:
                raise ValidationError(_("Check the file with a dry run before importing it."))
            raise ValidationError(_("This import cannot be started again."))
        job_id = job.pk
        transaction.on_commit(lambda: run_import.enqueue(job_id))
    return job


def import_job_require(*, actor: User, job: ImportJob) -> None:
    """Refuse (403) an actor who may not act on the job: only its author, or a role that acts on every
    record, starts, resumes or rolls back a job (the pages give others a 404 before this)."""
    if not restrict(ImportJob.objects.filter(pk=job.pk), actor, "change").exists():
        raise PermissionDenied


def import_job_claim(*, job_id: int) -> ImportJob | None:
    """The worker takes a queued job: queued → running in one conditional update. A second task for
    the same job (two clicks that both got through, a task run twice) finds it taken and does nothing."""
    claimed = ImportJob.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING, updated_at=timezone.now()
    )
    if not claimed:
        return None
    return ImportJob.objects.select_related("created_by").get(pk=job_id)


def import_job_abandon(*, actor: User, job: ImportJob) -> None:
    """Forget a job whose mapping was refused before anything ran (the command line's way out, so a
    mistyped ``--map`` leaves no job and no stored file behind)."""
    import_job_require(actor=actor, job=job)
    if job.status != JobStatus.UPLOADED or job.processed_rows:
        raise ValidationError(_("This import has already started."))
    import_job_discard_file(job=job)
    job.delete()


def import_job_discard_file(*, job: ImportJob) -> None:
    """Remove the stored upload (the job and its records stay as history)."""
    Path(job.stored_path).unlink(missing_ok=True)
