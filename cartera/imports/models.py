"""Imports and exports of the customer file: jobs, saved column mappings, the link from every imported
record back to its job, rejected rows, and the log of exports."""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cartera.core.money import base_currency
from cartera.customers.models import Source


class ImportKind(models.TextChoices):
    CUSTOMERS = "customers", _("Customers")
    ORDERS = "orders", _("Orders")
    INTERACTIONS = "interactions", _("Interactions")


class DuplicatePolicy(models.TextChoices):
    SKIP = "skip", _("Skip the row")
    UPDATE_EMPTY = "update_empty", _("Fill in the empty fields")
    OVERWRITE = "overwrite", _("Overwrite with the file's values")
    CREATE = "create", _("Create anyway")


class ListOrigin(models.TextChoices):
    """Where a customer file's people come from: a purchased list brings duties of its own (the lawful
    basis must be written down, and the people told within a month: GDPR Art. 14)."""

    OWN = "own", _("Our own data")
    PURCHASED = "purchased", _("A purchased or rented list")
    EVENT = "event", _("An event or fair")
    OTHER = "other", _("Other")


class JobStatus(models.TextChoices):
    UPLOADED = "uploaded", _("Uploaded")
    CHECKING = "checking", _("Checking (dry run)…")
    CHECKED = "checked", _("Checked (dry run)")
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Importing")
    DONE = "done", _("Done")
    FAILED = "failed", _("Stopped with an error")
    ROLLING_BACK = "rolling_back", _("Rolling back")
    ROLLED_BACK = "rolled_back", _("Rolled back")


class ImportMapping(models.Model):
    """A saved column mapping (header → field, plus options) reused for files of the same shape.

    Everyone who imports may use any saved mapping; only its author (or a role that acts on every
    record) may replace it."""

    scope_owner_fields = ("created_by",)

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("what"), max_length=12, choices=ImportKind.choices)
    columns = models.JSONField(_("columns"), default=dict)
    options = models.JSONField(_("options"), default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Its saved state ("version", cartera/core/concurrency.py): a replace based on an older one is refused.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("saved mapping")
        verbose_name_plural = _("saved mappings")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["kind", "name"], name="import_mapping_kind_name")]

    def __str__(self) -> str:
        return self.name


class ImportJob(models.Model):
    """One file brought in: who, when, what, how it was read, where it came from and what it did.

    Private to whoever brought it in (and to roles that act on every record): the file, its rejected
    rows and its records hold personal data that person chose to import."""

    scope_owner_fields = ("created_by",)
    scope_private = True

    kind = models.CharField(_("what"), max_length=12, choices=ImportKind.choices)
    status = models.CharField(
        _("status"), max_length=12, choices=JobStatus.choices, default=JobStatus.UPLOADED
    )
    file_name = models.CharField(_("file name"), max_length=255)
    stored_path = models.CharField(_("stored file"), max_length=500, editable=False)
    file_sha256 = models.CharField(max_length=64, editable=False, default="")
    headers = models.JSONField(default=list, editable=False)
    columns = models.JSONField(_("column mapping"), default=dict, blank=True)
    options = models.JSONField(_("options"), default=dict, blank=True)
    duplicate_policy = models.CharField(
        _("when a record already exists"),
        max_length=12,
        choices=DuplicatePolicy.choices,
        default=DuplicatePolicy.SKIP,
    )
    source = models.CharField(_("source"), max_length=20, choices=Source.choices, default=Source.IMPORT)
    source_detail = models.CharField(_("source detail (provider, event...)"), max_length=200, blank=True)
    lawful_basis = models.TextField(_("lawful basis"), blank=True)
    # Orders: the currency of every amount whose row names none (a currency column overrides it).
    currency = models.CharField(_("currency"), max_length=3, default=base_currency)
    list_origin = models.CharField(
        _("where the list comes from"), max_length=10, choices=ListOrigin.choices, default=ListOrigin.OWN
    )
    # The dry run's fit distribution of a customer file's rows (imports/services/origin.py); kept
    # apart from ``report`` (the counts), and kept after the commit.
    fit = models.JSONField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="import_jobs",
        verbose_name=_("imported by"),
    )
    created_at = models.DateTimeField(_("uploaded"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    total_rows = models.PositiveIntegerField(default=0)
    # Rows up to this spreadsheet row number are written (batches commit with this counter), so an
    # interrupted job resumes after it and never writes a row twice.
    committed_row = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    duplicate_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=dict, blank=True, editable=False)
    message = models.TextField(blank=True)

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_status_display()})"

    @property
    def percent(self) -> int:
        if not self.total_rows:
            return 100 if self.status == JobStatus.DONE else 0
        return min(100, round(100 * self.processed_rows / self.total_rows))

    @property
    def is_active(self) -> bool:
        return self.status in (
            JobStatus.CHECKING,
            JobStatus.QUEUED,
            JobStatus.RUNNING,
            JobStatus.ROLLING_BACK,
        )


class ImportRecord(models.Model):
    """A record created or changed by an import: its source, and what it was before (for rollback)."""

    scope_owner_fields = ("job__created_by",)
    scope_private = True

    class Action(models.TextChoices):
        CREATED = "created", _("created")
        UPDATED = "updated", _("updated")

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="records")
    model = models.CharField(max_length=40)  # "customers.customer", "sales.order"...
    object_id = models.BigIntegerField()
    action = models.CharField(max_length=8, choices=Action.choices)
    row_number = models.PositiveIntegerField()
    # The record's id in the system the file came from (HubSpot "Record ID"...), so that orders and
    # interactions imported later can name the customer by it.
    external_ref = models.CharField(max_length=100, blank=True)
    previous = models.JSONField(_("values before the import"), null=True, blank=True)
    # When the import wrote the record: a record whose ``updated_at`` is later was edited since, and
    # a rollback leaves it alone. (Empty on records written before this was kept: then the job's end.)
    written_at = models.DateTimeField(null=True, blank=True)
    # Why a rollback kept this record ("now owned by ...", "edited after the import"...); empty
    # while the record was never rolled back. Undone records are deleted, kept ones stay with this.
    conflict = models.CharField(_("why a rollback kept it"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("imported record")
        verbose_name_plural = _("imported records")
        indexes = [
            models.Index(fields=["model", "object_id"], name="import_record_object"),
            # Looked up by kind and id together (the customers an order file names by their id in the
            # other system, an interaction already imported): one index, where a plain ``db_index``
            # made two on PostgreSQL (the second for LIKE, which nothing asks) and every record of
            # an import paid for both.
            models.Index(fields=["model", "external_ref"], name="import_record_ref"),
        ]

    def __str__(self) -> str:
        return f"{self.model}#{self.object_id} {self.action}"


class RowOutcome(models.TextChoices):
    """What happened to a row, beyond "created" (which needs no note)."""

    REJECTED = "rejected", _("rejected")
    SKIPPED = "skipped", _("skipped")
    MERGED = "merged", _("merged")
    MATCHED = "matched", _("matched")
    WARNING = "warning", _("imported with a warning")


class ImportRowError(models.Model):
    """A row the import rejected, with why, so it can be downloaded, fixed and imported again; or,
    with another ``outcome``, a note on a row that was not simply created: skipped or merged as a
    duplicate of another row of the file, matched to an existing customer, or written with a cell
    left out (an unknown stage)."""

    scope_owner_fields = ("job__created_by",)
    scope_private = True

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="row_errors")
    row_number = models.PositiveIntegerField()
    outcome = models.CharField(
        _("outcome"), max_length=10, choices=RowOutcome.choices, default=RowOutcome.REJECTED
    )
    # The existing customer the row matched (an update, a skip, or the customer an order went to).
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("matched customer"),
    )
    column = models.CharField(_("column"), max_length=255, blank=True)
    value = models.TextField(_("value"), blank=True)
    reason = models.TextField(_("reason"))
    raw = models.JSONField(_("row as read"), default=list)

    class Meta:
        verbose_name = _("rejected row")
        verbose_name_plural = _("rejected rows")
        ordering = ["row_number", "id"]

    def __str__(self) -> str:
        return f"{self.row_number}: {self.reason}"


class ExportLog(models.Model):
    """Every export: who took which data out, when, in what format and how many rows."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    what = models.CharField(max_length=20)
    file_format = models.CharField(max_length=10)
    filters = models.JSONField(default=dict, blank=True)
    row_count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("export")
        verbose_name_plural = _("exports")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.what} {self.file_format} ({self.row_count})"


class ExportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    CSV_ES = "csv_es", _("CSV for Spanish Excel")
    XLSX = "xlsx", "XLSX"
    VCF = "vcf", "vCard"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Writing the file")
    DONE = "done", _("Ready")
    FAILED = "failed", _("Stopped with an error")


# An export's worker writes its row counter every few thousand rows; one silent this long was stopped.
EXPORT_STALE_AFTER = datetime.timedelta(minutes=10)
# A worker takes a queued export within seconds; one still queued after this long means no worker is
# running (or it is busy with something long): My exports says so and polls less often.
EXPORT_QUEUED_TOO_LONG = datetime.timedelta(minutes=2)


class ExportJob(models.Model):
    """An export written by the task worker: who asked, for what, and the file, kept for a while.

    The file holds what its requester could export when the worker ran, read with their rights; so
    it is theirs alone: nobody else, whatever their role, lists or downloads it (the selectors filter
    on ``requested_by`` on top of the scoping rule). After ``expires_at`` the file can no longer be
    downloaded and the worker's sweep (``imports.tasks.sweep_export_files``) deletes it; the row
    stays as the record of the export."""

    scope_owner_fields = ("requested_by",)
    scope_private = True

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="export_jobs",
        verbose_name=_("requested by"),
    )
    kind = models.CharField(_("what"), max_length=12, choices=ImportKind.choices)
    file_format = models.CharField(_("format"), max_length=8, choices=ExportFormat.choices)
    # The list's filters as asked (the customer list's query parameters), read again when it runs.
    filters = models.JSONField(_("filters"), default=dict, blank=True)
    language = models.CharField(_("language"), max_length=8, blank=True)
    status = models.CharField(
        _("status"), max_length=8, choices=ExportStatus.choices, default=ExportStatus.QUEUED
    )
    total_rows = models.PositiveIntegerField(_("rows to write"), default=0)
    row_count = models.PositiveIntegerField(_("rows written"), default=0)
    stored_path = models.CharField(_("stored file"), max_length=500, blank=True, editable=False)
    file_size = models.PositiveBigIntegerField(_("file size"), default=0)
    message = models.TextField(_("message"), blank=True)
    # The export log's line for this export (the audit log's lines name it too).
    log = models.ForeignKey(ExportLog, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(_("requested"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    expires_at = models.DateTimeField(_("available until"), null=True, blank=True)
    file_deleted_at = models.DateTimeField(_("file deleted"), null=True, blank=True)

    class Meta:
        verbose_name = _("export file")
        verbose_name_plural = _("export files")
        ordering = ["-id"]
        indexes = [models.Index(fields=["requested_by", "-id"], name="export_job_requester")]

    def __str__(self) -> str:
        return f"{self.kind}.{self.file_format} ({self.get_status_display()})"

    @property
    def percent(self) -> int:
        if not self.total_rows:
            return 100 if self.status == ExportStatus.DONE else 0
        return min(100, round(100 * self.row_count / self.total_rows))

    @property
    def is_active(self) -> bool:
        return self.status in (ExportStatus.QUEUED, ExportStatus.RUNNING) and not self.is_stale

    @property
    def is_stale(self) -> bool:
        """Running, but silent for longer than :data:`EXPORT_STALE_AFTER` (the worker writes the row
        counter every few thousand rows): the worker was stopped half way; export again."""
        return self.status == ExportStatus.RUNNING and timezone.now() - self.updated_at > EXPORT_STALE_AFTER

    @property
    def is_waiting_for_worker(self) -> bool:
        """Still queued :data:`EXPORT_QUEUED_TOO_LONG` after it was asked for: the background worker
        seems not to be running."""
        return (
            self.status == ExportStatus.QUEUED and timezone.now() - self.created_at > EXPORT_QUEUED_TOO_LONG
        )

    @property
    def extension(self) -> str:
        return "csv" if self.file_format == ExportFormat.CSV_ES else self.file_format

    def is_downloadable(self, now: Any = None) -> bool:
        """Done, its file still there, and not past its expiry."""
        now = now or timezone.now()
        return (
            self.status == ExportStatus.DONE
            and bool(self.stored_path)
            and self.file_deleted_at is None
            and self.expires_at is not None
            and now < self.expires_at
        )

    def is_expired(self, now: Any = None) -> bool:
        """Done, but its file is gone or past its expiry."""
        return self.status == ExportStatus.DONE and (
            self.file_deleted_at is not None
            or (self.expires_at is not None and (now or timezone.now()) >= self.expires_at)
        )
