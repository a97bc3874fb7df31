"""Running a job: the dry run (read and check every row, write nothing but the rejected rows and the
counts) and the commit (batch by batch, resumable), both driven by :class:`Run`."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from cartera.accounts.models import User
from cartera.core import hooks
from cartera.core.scoping import can
from cartera.customers.models import Customer
from cartera.imports.models import ImportJob, ImportKind, ImportRowError, JobStatus
from cartera.imports.parsers import ParseError, open_table
from cartera.imports.rows import CleanRow
from cartera.imports.selectors import ignored_columns
from cartera.imports.services.common import FUZZY_THRESHOLD, Pending, Progress, RowNote
from cartera.imports.services.jobs import (
    import_job_discard_file,
    import_job_failed_dry_run,
    import_job_require,
)
from cartera.imports.services.matching import FileIndex, Matching
from cartera.imports.services.origin import FitRows, purchased_list_notice
from cartera.imports.services.reading import read_rows
from cartera.imports.services.writing import Writing, bulk_writes, insert_row_notes

BATCH_SIZE = 1000
# Orders and interactions go in bigger batches: their rows are small, and each batch pays a fixed
# round of reads, writes and a commit. On PostgreSQL, 100,000 orders that bring their customers took
# 11.2-12.1 s in batches of 1,000 and 9.1-9.3 s in batches of 5,000 (docs/benchmarks.md). Customer
# files keep 1,000: their rows are wider, and a million of them must import in at most 500 MB.
LINKED_BATCH_SIZE = 5000


def batch_size(kind: str) -> int:
    """Rows per batch (and per transaction) of a commit of this kind of file."""
    return BATCH_SIZE if kind == ImportKind.CUSTOMERS else LINKED_BATCH_SIZE


# A dry run of a file up to this size answers in the request (about 15,000 rows, a second or two); a
# bigger file is checked by the task worker while the page shows its progress.
DRY_RUN_INLINE_BYTES = 2 * 2**20


class Run(Matching, Writing):
    """One dry run or commit of a job, batch by batch."""

    def __init__(self, job: ImportJob, dry_run: bool, progress: Progress | None) -> None:
        self.job = job
        self.dry_run = dry_run
        self.progress = progress
        actor = job.created_by
        if actor is None:
            raise PermissionDenied
        self.actor = actor
        self.policy = job.duplicate_policy
        self.threshold = int(job.options.get("fuzzy_threshold") or FUZZY_THRESHOLD)
        self.resume_after = 0 if dry_run else job.committed_row
        self.counts = {
            "create": 0, "update": 0, "unchanged": 0, "duplicate": 0, "skip": 0, "error": 0, "customers": 0
        }  # fmt: skip
        if not dry_run and self.resume_after:
            self.counts = {
                "create": job.created_count,
                "update": job.updated_count,
                "unchanged": int(job.report.get("unchanged") or 0),
                "duplicate": job.duplicate_count,
                "skip": job.skipped_count,
                "error": job.error_count,
                "customers": int(job.report.get("customers") or 0),
            }
        self.processed = job.processed_rows if self.resume_after else 0
        self.file_index = FileIndex()
        self.errors: list[RowNote] = []
        self.samples: list[dict[str, Any]] = []
        self.tag_cache: dict[str, int] = {}
        self.company_cache: dict[str, int] = {}
        self.occurrences: dict[str, int] = {}
        self.how: dict[int, str] = {}
        # Checked when the run starts, not only when the option was set: rights can change meanwhile.
        self.create_customers = bool(job.options.get("create_customers")) and can(actor, Customer, "add")
        self.new_customers: dict[str, int] = {}
        # Uses of each promotion code accepted by this dry run's earlier batches (code id -> uses).
        self.promo_taken: dict[int, int] = {}
        self.ordered = False
        # Most files name no company and no tags: then no row needs to be looked at for them.
        mapped = set(job.columns.values())
        self.with_companies = bool(mapped & {"company_name", "tax_id"})
        self.with_tags = "tags" in mapped
        # The dry run of a customer file also scores its rows against the portfolio (services/origin.py).
        self.fit_rows = FitRows(job.source) if dry_run and job.kind == ImportKind.CUSTOMERS else None

    # -- driving ------------------------------------------------------------------------------------------

    def run(self) -> None:
        job = self.job
        with open_table(Path(job.stored_path), job.file_name) as table:
            batch: list[CleanRow] = []
            source = (job.stored_path, job.file_name)
            size = batch_size(job.kind)
            for row in read_rows(table, job.kind, job.columns, job.options, source, size):
                number = row.number
                if number <= self.resume_after:
                    self._replay(row)
                    continue
                batch.append(row)
                if len(batch) >= size:
                    self._batch(batch)
                    batch = []
            if batch:
                self._batch(batch)

    def _replay(self, row: CleanRow) -> None:
        """Rows written before an interruption: only the keys that later rows depend on."""
        if row.ok and self.job.kind != ImportKind.CUSTOMERS:
            self._linked_key(row)

    def _without_suppressed(self, rows: list[CleanRow]) -> list[CleanRow]:
        """Rows of people who were erased or objected are rejected, so a re-import does not bring them
        back (the privacy app answers the ``suppressed_emails`` hook)."""
        emails = [str(row.data["email"]) for row in rows if row.data.get("email")]
        suppressed = hooks.fire("suppressed_emails", emails=emails) or set() if emails else set()
        if not suppressed:
            return rows
        kept = []
        for row in rows:
            if row.data.get("email") in suppressed:
                self._reject(
                    row, _("this person's data was erased at their request; they are not imported again")
                )
            else:
                kept.append(row)
        return kept

    def _batch(self, rows: list[CleanRow]) -> None:
        good = []
        for row in rows:
            if row.ok:
                good.append(row)
            else:
                self._reject(row)
        if self.job.kind == ImportKind.CUSTOMERS:
            good = self._without_suppressed(good)
            if self.fit_rows is not None:
                self.fit_rows.add(good)
            self._settle(rows, self._plan_customers(good), self._write_customers)
        elif self.dry_run:
            self._settle(rows, self._plan_linked(good), self._write_linked)
        else:
            # Planned and written in one transaction: the promotion codes the plan checked stay
            # locked (promotions_check_many) until their uses are written, so an order typed in
            # meanwhile cannot also take the last use of a code this batch takes.
            with transaction.atomic():
                self._settle(rows, self._plan_linked(good), self._write_linked)

    def _settle(
        self, rows: list[CleanRow], pending: list[Pending], write: Callable[[list[Pending]], None]
    ) -> None:
        """Record the batch's warnings and progress, and write it (a commit) or check it (a dry run)."""
        for item in pending:
            if item.row.warnings:
                self._warn(item.row)
        self.processed += len(rows)
        if self.dry_run:
            if self.job.kind == ImportKind.CUSTOMERS:
                self._check_updates(pending)
            insert_row_notes(self.errors)
            self.errors = []
        else:
            self._commit(pending, write, rows[-1].number)
        if self.progress:
            self.progress(self.processed, self.job.total_rows)

    def _commit(self, pending: list[Pending], write: Callable[[list[Pending]], None], last: int) -> None:
        try:
            with transaction.atomic():
                write(pending)
                self._save_progress(last)
        except IntegrityError:
            # Someone saved a conflicting record since the batch was planned: write row by row,
            # each in its own savepoint, and reject only the rows that conflict.
            with transaction.atomic():
                for item in pending:
                    try:
                        with transaction.atomic():
                            write([item])
                    except IntegrityError:
                        self.counts[item.action] -= 1
                        self._reject(item.row, _("conflicts with a record saved while the import ran"))
                self._save_progress(last)

    def _save_progress(self, last: int) -> None:
        insert_row_notes(self.errors)
        self.errors = []
        c = self.counts
        ImportJob.objects.filter(pk=self.job.pk).update(
            committed_row=last,
            processed_rows=self.processed,
            created_count=c["create"],
            updated_count=c["update"],
            duplicate_count=c["duplicate"],
            skipped_count=c["skip"],
            error_count=c["error"],
            report=self.report(),
            updated_at=timezone.now(),
        )

    def report(self) -> dict[str, Any]:
        """The counts, and the columns the file has that nothing reads."""
        return {**self.counts, "rows": self.processed, "ignored": ignored_columns(self.job)}


def import_job_run(*, job: ImportJob, dry_run: bool, progress: Progress | None = None) -> ImportJob:
    """Check (``dry_run``) or write the file; a commit resumes after the last written batch."""
    if not dry_run:
        _start_commit(job)
    run = Run(job, dry_run, progress)
    if dry_run or not job.committed_row:
        ImportRowError.objects.filter(job=job).delete()
    # Everything alive now (the app, its modules) will outlive the run: frozen, the garbage collector
    # stops walking it again and again while the run allocates a few objects per row.
    gc.freeze()
    try:
        with bulk_writes(dry_run):
            run.run()
    except ParseError as exc:
        _mark_failed(job, str(exc))
        job.refresh_from_db()
        raise ValidationError(str(exc)) from exc
    finally:
        gc.unfreeze()
    c = run.counts
    report = run.report()
    if dry_run:
        job.report = report
        job.total_rows = run.processed
        job.status = JobStatus.CHECKED
        job.fit = run.fit_rows.distribution() if run.fit_rows is not None else None
        job.save(update_fields=["report", "total_rows", "status", "fit", "updated_at"])
    else:
        insert_row_notes(run.errors)
        ImportJob.objects.filter(pk=job.pk).update(
            status=JobStatus.DONE,
            finished_at=timezone.now(),
            total_rows=max(job.total_rows, run.processed),
            processed_rows=run.processed,
            created_count=c["create"],
            updated_count=c["update"],
            duplicate_count=c["duplicate"],
            skipped_count=c["skip"],
            error_count=c["error"],
            report=report,
        )
        job.refresh_from_db()
        purchased_list_notice(job=job)
        # The personal data in the upload is not kept once every row is written or rejected (the
        # rejected rows are kept, with their reasons, for the download).
        import_job_discard_file(job=job)
    return job


def import_job_fail(*, job: ImportJob, message: str) -> None:
    """Mark a job that stopped on an unexpected error (its written batches stay, ready to resume)."""
    _mark_failed(job, message)


def _mark_failed(job: ImportJob, message: str) -> None:
    # Only a job that is checking or writing can fail: a finished or rolled-back job stays as it is.
    ImportJob.objects.filter(
        pk=job.pk,
        status__in=(
            JobStatus.UPLOADED,
            JobStatus.CHECKING,
            JobStatus.CHECKED,
            JobStatus.QUEUED,
            JobStatus.RUNNING,
        ),
    ).update(status=JobStatus.FAILED, message=message[:2000])


def _count_rows(job: ImportJob) -> int:
    """The file's data rows (up to the first it cannot read: the commit stops there too)."""
    count = 0
    with contextlib.suppress(ParseError), open_table(Path(job.stored_path), job.file_name) as table:
        for _row in table.rows:
            count += 1
    return count


def _start_commit(job: ImportJob) -> None:
    """Refuse a commit that must not run, then mark the job running with its number of rows known.

    A file whose dry run failed is never written, and a finished or rolled-back job never again. The
    total is counted before any row is written (a dry run counted it already; the command line may
    commit without one), so progress reads "17,000 of 60,000", never "of 0"."""
    job.refresh_from_db()
    if import_job_failed_dry_run(job=job):
        raise ValidationError(
            _("This file did not pass its dry run, so it cannot be imported. Fix it and upload it again.")
        )
    if job.status in (JobStatus.DONE, JobStatus.ROLLED_BACK):
        raise ValidationError(_("This import cannot be started again."))
    if not Path(job.stored_path).exists():
        raise ValidationError(_("The uploaded file is no longer here. Upload it again."))
    if not job.total_rows:
        job.total_rows = _count_rows(job)
    started = (
        ImportJob.objects.filter(pk=job.pk)
        .exclude(status__in=(JobStatus.DONE, JobStatus.ROLLED_BACK))
        .update(
            status=JobStatus.RUNNING,
            started_at=job.started_at or timezone.now(),
            total_rows=job.total_rows,
            message="",
            updated_at=timezone.now(),
        )
    )
    if not started:
        raise ValidationError(_("This import cannot be started again."))
    job.refresh_from_db()


def import_job_check(*, actor: User, job: ImportJob) -> ImportJob:
    """The dry run: at once for a small file, in the task worker for a big one (the job shows
    "checking" with its progress until it is done). Queued once: a second click is refused."""
    from cartera.imports.tasks import run_check

    import_job_require(actor=actor, job=job)
    path = Path(job.stored_path)
    if not path.exists():
        raise ValidationError(_("The uploaded file is no longer here. Upload it again."))
    if path.stat().st_size <= DRY_RUN_INLINE_BYTES:
        return import_job_run(job=job, dry_run=True)
    with transaction.atomic():
        started = ImportJob.objects.filter(
            pk=job.pk, status__in=(JobStatus.UPLOADED, JobStatus.CHECKED)
        ).update(status=JobStatus.CHECKING, processed_rows=0, total_rows=0, updated_at=timezone.now())
        if not started:
            raise ValidationError(_("This import has already started."))
        job_id, language = job.pk, translation.get_language() or ""
        transaction.on_commit(lambda: run_check.enqueue(job_id, language))
    job.refresh_from_db()
    return job


def import_job_check_in_worker(*, job_id: int) -> ImportJob | None:
    """The worker's half of :func:`import_job_check`: count the rows (so the page shows "x of y"),
    then check them, recording progress after every batch. None when the job is not waiting for it."""
    job = ImportJob.objects.select_related("created_by").filter(pk=job_id, status=JobStatus.CHECKING).first()
    if job is None:
        return None
    job.total_rows = _count_rows(job)
    ImportJob.objects.filter(pk=job.pk).update(total_rows=job.total_rows, updated_at=timezone.now())

    def progress(done: int, total: int) -> None:
        ImportJob.objects.filter(pk=job_id, status=JobStatus.CHECKING).update(
            processed_rows=done, updated_at=timezone.now()
        )

    return import_job_run(job=job, dry_run=True, progress=progress)
