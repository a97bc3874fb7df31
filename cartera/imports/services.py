"""Writes of imports and exports: upload, mapping, dry run, commit (batch by batch), rollback, export log.

The commit reads the file in batches of ``BATCH_SIZE`` rows. Every row is read and checked fully
before anything is written, so a bad row is never half-written; each batch is written in one
transaction together with the job's progress counter, so a job killed half way has written whole
batches only and resumes after the last one (or is rolled back through its ``ImportRecord`` rows).
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import gc
import hashlib
import multiprocessing
import operator
import os
import queue as queues
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connections, router, transaction
from django.db.models import (
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    DecimalField,
    ForeignKey,
    IntegerField,
    Model,
    Q,
    TextField,
)
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from rapidfuzz import fuzz

from cartera.accounts.models import User
from cartera.activity.models import Interaction, Task
from cartera.core.scoping import ALL_RECORDS_PERMISSION, can, restrict
from cartera.core.text import fold
from cartera.customers.models import Company, Customer, Stage
from cartera.customers.services import tags_get_or_create
from cartera.imports.fields import suggest_columns
from cartera.imports.models import (
    DuplicatePolicy,
    ExportLog,
    ImportJob,
    ImportKind,
    ImportMapping,
    ImportRecord,
    ImportRowError,
    JobStatus,
)
from cartera.imports.parsers import ParseError, Table, open_table
from cartera.imports.rows import CleanRow, RowProblem, RowReader
from cartera.insights.tasks import schedule_refresh
from cartera.sales.models import Order

BATCH_SIZE = 1000
FUZZY_THRESHOLD = 90
ORDER_SOURCE = "import"
CUSTOMER_FIELDS = (
    "first_name", "last_name", "email", "phone", "job_title", "profession", "address", "city", "region",
    "postal_code", "country", "birth_date", "sector", "stage", "notes",
)  # fmt: skip
Progress = Callable[[int, int], None]


def upload_dir() -> Path:
    path = Path(settings.VAR_DIR) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def import_job_create(*, actor: User, upload: IO[bytes], file_name: str, kind: str) -> ImportJob:
    """Store an uploaded file and read its header; a file that cannot be read leaves nothing behind."""
    if kind not in ImportKind.values:
        raise ValidationError(_("Unknown kind of import."))
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
        options={"date_order": "dmy", "decimal_comma": True, "phone_region": "", "format": file_format},
        created_by=actor,
    )


def import_job_create_from_path(*, actor: User, path: Path, kind: str) -> ImportJob:
    """The CLI's way in: the same checks as an upload."""
    with path.open("rb") as handle:
        return import_job_create(actor=actor, upload=handle, file_name=path.name, kind=kind)


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
) -> ImportJob:
    """Set how the file is read and what happens to duplicates; optionally save the mapping by name."""
    if job.status not in (JobStatus.UPLOADED, JobStatus.CHECKED):
        raise ValidationError(_("This import has already started."))
    job.columns = {h: f for h, f in columns.items() if f and h in job.headers}
    job.options = {**job.options, **dict(options)}
    job.duplicate_policy = duplicate_policy or DuplicatePolicy.SKIP
    job.source = source or job.source
    job.source_detail = source_detail.strip()[:200]
    job.lawful_basis = lawful_basis.strip()
    job.status = JobStatus.UPLOADED
    job.save()
    if save_as.strip():
        import_mapping_save(
            actor=actor, name=save_as, kind=job.kind, columns=job.columns, options=job.options
        )
    return job


def import_mapping_save(
    *, actor: User, name: str, kind: str, columns: Mapping[str, str], options: Mapping[str, Any]
) -> ImportMapping:
    """Save a named mapping, or replace one the actor may change (their own; any, for roles that act
    on every record). A name taken by someone else's mapping is refused: it is theirs."""
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
        existing.columns, existing.options = dict(columns), dict(options)
        existing.save(update_fields=["columns", "options"])
        return existing


def import_mapping_apply(*, job: ImportJob, mapping: ImportMapping) -> ImportJob:
    """Use a saved mapping for a new file: the columns it knows, and its options."""
    job.columns = {h: f for h, f in mapping.columns.items() if h in job.headers}
    job.options = {**job.options, **mapping.options}
    job.save(update_fields=["columns", "options", "updated_at"])
    return job


STALE_AFTER = datetime.timedelta(minutes=2)


def import_job_is_alive(*, job: ImportJob) -> bool:
    """Whether a running job is still writing (it records progress after every batch); a job silent
    for longer than ``STALE_AFTER`` was interrupted and may be resumed or rolled back."""
    return job.status == JobStatus.RUNNING and timezone.now() - job.updated_at < STALE_AFTER


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


def import_job_claim(*, job_id: int) -> ImportJob | None:
    """The worker takes a queued job: queued → running in one conditional update. A second task for
    the same job (two clicks that both got through, a task run twice) finds it taken and does nothing."""
    claimed = ImportJob.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING, updated_at=timezone.now()
    )
    if not claimed:
        return None
    return ImportJob.objects.select_related("created_by").get(pk=job_id)


# --- the engine -------------------------------------------------------------------------------------------


@dataclass
class _Pending:
    """A row that will create or update a record once its batch is written."""

    row: CleanRow
    action: str  # "create" or "update"
    target_id: int | None = None
    merged: list[CleanRow] = field(default_factory=list)


@dataclass
class _Index:
    """Rows already seen in the file, by the keys that make two rows the same customer."""

    emails: dict[str, int] = field(default_factory=dict)
    phones: dict[str, int] = field(default_factory=dict)
    names: dict[str, list[tuple[str, str, str, str, int]]] = field(default_factory=dict)

    def add(self, row: CleanRow) -> None:
        data = row.data
        if data.get("email"):
            self.emails.setdefault(data["email"], row.number)
        if data.get("phone"):
            self.phones.setdefault(data["phone"], row.number)
        block = self.names.setdefault(row.last_key, [])
        if len(block) < 50:
            block.append(
                (row.name_key, row.context_key, data.get("email") or "", data.get("phone") or "", row.number)
            )

    def find(self, row: CleanRow, threshold: int) -> int | None:
        data = row.data
        if data.get("email") and data["email"] in self.emails:
            return self.emails[data["email"]]
        if data.get("phone") and data["phone"] in self.phones:
            return self.phones[data["phone"]]
        for name, context, email, phone, number in self.names.get(row.last_key, ()):
            if _fuzzy_same(row, name, context, email, phone, threshold):
                return number
        return None


def _fuzzy_same(row: CleanRow, name: str, context: str, email: str, phone: str, threshold: int) -> bool:
    """Same folded name (within ``threshold``) and same company or city; different emails or phones
    on both sides mean different people."""
    data = row.data
    if data.get("email") and email and data["email"] != email:
        return False
    if data.get("phone") and phone and data["phone"] != phone:
        return False
    if fuzz.token_sort_ratio(row.name_key, name) < threshold:
        return False
    mine = row.context_key
    if mine and context:
        return bool(fuzz.ratio(mine, context) >= 85)
    return not mine and not context and row.name_key == name


class _Run:
    def __init__(self, job: ImportJob, dry_run: bool, progress: Progress | None) -> None:
        self.job = job
        self.dry_run = dry_run
        self.progress = progress
        actor = job.created_by
        if actor is None:
            raise PermissionDenied
        self.actor: User = actor
        self.all_records = actor.has_perm(ALL_RECORDS_PERMISSION)
        self.policy = job.duplicate_policy
        self.threshold = int(job.options.get("fuzzy_threshold") or FUZZY_THRESHOLD)
        self.resume_after = 0 if dry_run else job.committed_row
        self.counts = {"create": 0, "update": 0, "duplicate": 0, "skip": 0, "error": 0}
        if not dry_run and self.resume_after:
            self.counts = {
                "create": job.created_count,
                "update": job.updated_count,
                "duplicate": job.duplicate_count,
                "skip": job.skipped_count,
                "error": job.error_count,
            }
        self.processed = job.processed_rows if self.resume_after else 0
        self.file_index = _Index()
        self.errors: list[ImportRowError] = []
        self.samples: list[dict[str, Any]] = []
        self.tag_cache: dict[str, int] = {}
        self.company_cache: dict[str, int] = {}
        self.occurrences: dict[str, int] = {}
        self.ordered = False
        # Most files name no company and no tags: then no row needs to be looked at for them.
        mapped = set(job.columns.values())
        self.with_companies = bool(mapped & {"company_name", "tax_id"})
        self.with_tags = "tags" in mapped

    # -- driving ------------------------------------------------------------------------------------------

    def run(self) -> None:
        job = self.job
        with open_table(Path(job.stored_path), job.file_name) as table:
            batch: list[CleanRow] = []
            source = (job.stored_path, job.file_name)
            for row in read_rows(table, job.kind, job.columns, job.options, source):
                number = row.number
                if number <= self.resume_after:
                    self._replay(row)
                    continue
                batch.append(row)
                if len(batch) >= BATCH_SIZE:
                    self._batch(batch)
                    batch = []
            if batch:
                self._batch(batch)

    def _replay(self, row: CleanRow) -> None:
        """Rows written before an interruption: only the keys that later rows depend on."""
        if row.ok and self.job.kind != ImportKind.CUSTOMERS:
            self._linked_key(row)

    def _batch(self, rows: list[CleanRow]) -> None:
        good = []
        for row in rows:
            if row.ok:
                good.append(row)
            else:
                self._reject(row)
        if self.job.kind == ImportKind.CUSTOMERS:
            pending = self._plan_customers(good)
            write: Callable[[list[_Pending]], None] = self._write_customers
        else:
            pending = self._plan_linked(good)
            write = self._write_linked
        self.processed += len(rows)
        if self.dry_run:
            ImportRowError.objects.bulk_create(self.errors)
            self.errors = []
        else:
            self._commit(pending, write, rows[-1].number)
        if self.progress:
            self.progress(self.processed, self.job.total_rows)

    def _commit(self, pending: list[_Pending], write: Callable[[list[_Pending]], None], last: int) -> None:
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
        ImportRowError.objects.bulk_create(self.errors)
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
            updated_at=timezone.now(),
        )

    def _reject(self, row: CleanRow, reason: str = "") -> None:
        self.counts["error"] += 1
        problems = row.problems or []
        if reason:
            self.errors.append(
                ImportRowError(job=self.job, row_number=row.number, reason=reason, raw=_jsonable(row.raw))
            )
        for problem in problems:
            self.errors.append(
                ImportRowError(
                    job=self.job,
                    row_number=row.number,
                    column=problem.column[:255],
                    value=problem.value,
                    reason=problem.reason,
                    raw=_jsonable(row.raw),
                )
            )

    # -- customers --------------------------------------------------------------------------------------

    def _plan_customers(self, rows: list[CleanRow]) -> list[_Pending]:
        found = self._existing_customers(rows)
        batch_index = _Index() if not self.dry_run else self.file_index
        pending_by_row: dict[int, _Pending] = {}
        result: list[_Pending] = []
        for row in rows:
            match, exact_email = found.get(row.number), False
            if match is not None:
                exact_email = bool(row.data.get("email")) and match.get("email") == row.data["email"]
            if match is not None:
                self.counts["duplicate"] += 1
                item = self._on_existing(row, match, exact_email)
            else:
                earlier = batch_index.find(row, self.threshold)
                if earlier is not None:
                    self.counts["duplicate"] += 1
                    item = self._on_file_duplicate(row, pending_by_row.get(earlier))
                else:
                    item = _Pending(row, "create")
                    self.counts["create"] += 1
                batch_index.add(row)
            if item is not None:
                pending_by_row[row.number] = item
                result.append(item)
        return result

    def _on_existing(self, row: CleanRow, match: dict[str, Any], exact_email: bool) -> _Pending | None:
        policy = self.policy
        if policy == DuplicatePolicy.SKIP:
            self.counts["skip"] += 1
            return None
        if policy == DuplicatePolicy.CREATE:
            if exact_email:
                self._reject(row, _("this email already belongs to another customer"))
                return None
            self.counts["create"] += 1
            return _Pending(row, "create")
        if not self.all_records and match["owner_id"] != self.actor.pk:
            self.counts["skip"] += 1
            return None
        self.counts["update"] += 1
        return _Pending(row, "update", target_id=match["id"])

    def _on_file_duplicate(self, row: CleanRow, earlier: _Pending | None) -> _Pending | None:
        policy = self.policy
        if policy == DuplicatePolicy.CREATE and not (
            row.data.get("email") and earlier and earlier.row.data.get("email") == row.data["email"]
        ):
            self.counts["create"] += 1
            return _Pending(row, "create")
        if earlier is not None and policy in (DuplicatePolicy.UPDATE_EMPTY, DuplicatePolicy.OVERWRITE):
            earlier.merged.append(row)
        else:
            self.counts["skip"] += 1
        return None

    def _existing_customers(self, rows: list[CleanRow]) -> dict[int, dict[str, Any]]:
        """The customer of the database each row of the batch duplicates, by row number: same email,
        else same phone, else same tax id or folded last name with a fuzzy match on the full name and
        company or city (see ``_fuzzy_same``).

        One query per key for the whole batch, each only for the rows the previous keys left unmatched
        (an email match makes the phone and name irrelevant)."""
        matched: dict[int, dict[str, Any]] = {}
        emails = {r.data["email"] for r in rows if r.data.get("email")}
        by_email = self._customers_where("c.email", emails, keys_only=True)
        for row in rows:
            email = row.data.get("email")
            if email and email in by_email:
                matched[row.number] = by_email[email][0]
        left = [r for r in rows if r.number not in matched]
        phones = {r.data["phone"] for r in left if r.data.get("phone")}
        by_phone = self._customers_where("c.phone", phones, keys_only=True)
        for row in left:
            phone = row.data.get("phone")
            if phone and phone in by_phone:
                matched[row.number] = by_phone[phone][0]
        if matched and self.policy in (DuplicatePolicy.UPDATE_EMPTY, DuplicatePolicy.OVERWRITE):
            # Only an update needs to know whose customer it is.
            owners = self._customers_where("c.id", {c["id"] for c in matched.values()}, keys_only=True)
            for c in matched.values():
                c["owner_id"] = owners[c["id"]][0]["owner_id"]
        left = [r for r in left if r.number not in matched]
        if not left:
            return matched
        by_tax = self._customers_where("co.tax_id", {r.data["tax_id"] for r in left if r.data.get("tax_id")})
        # A candidate whose email (or phone) differs from the row's is another person, so the
        # name query only asks for customers that have none where the row has one.
        groups: dict[tuple[bool, bool], set[str]] = {}
        for r in left:
            groups.setdefault((bool(r.data.get("email")), bool(r.data.get("phone"))), set()).add(r.last_key)
        by_last_id: dict[str, dict[int, dict[str, Any]]] = {}
        for (has_email, has_phone), lasts in groups.items():
            extra = (" AND c.email IS NULL" if has_email else "") + (" AND c.phone = ''" if has_phone else "")
            for key, customers in self._customers_where("c.last_name_key", lasts, extra).items():
                known = by_last_id.setdefault(key, {})
                for c in customers:
                    known.setdefault(c["id"], c)
        by_last = {key: [known[i] for i in sorted(known)] for key, known in by_last_id.items()}
        for row in left:
            candidates = by_tax.get(row.data.get("tax_id") or "", []) + by_last.get(row.last_key, [])
            for c in candidates:
                if "name" not in c:  # folded once per candidate, only for those compared
                    c["name"] = f"{c['first_name_key']} {c['last_name_key']}".strip()
                    c["context"] = fold(c["company__name"] or c["city"] or "")
                if _fuzzy_same(
                    row, c["name"], c["context"], c["email"] or "", c["phone"] or "", self.threshold
                ):
                    matched[row.number] = c
                    break
        return matched

    def _customers_where(
        self, column: str, values: set[Any], extra: str = "", keys_only: bool = False
    ) -> dict[Any, list[dict[str, Any]]]:
        """Customers whose ``column`` is one of ``values``, grouped by it, in id order. ``keys_only``:
        just the id and that column (and the owner when looking up ids), which for the email and
        phone an index answers without reading the table."""
        result: dict[Any, list[dict[str, Any]]] = {}
        if not values:
            return result
        # Plain SQL: compiling a thousand-value IN list through the ORM costs more than running it.
        customer_table, company_table = Customer._meta.db_table, Company._meta.db_table
        keys: tuple[str, ...]
        if keys_only:
            keys = ("id", "owner_id") if column == "c.id" else ("id",)
            joined = f"{customer_table} c"
        else:
            keys = ("id", "email", "phone", "first_name_key", "last_name_key", "city", "owner_id",
                    "company__name", "company__tax_id")  # fmt: skip
            joined = f"{customer_table} c LEFT JOIN {company_table} co ON co.id = c.company_id"
        columns = ", ".join("co." + k[9:] if k.startswith("company__") else "c." + k for k in keys)
        select = f"SELECT {columns}, {column} FROM {joined}"  # noqa: S608  # names come from the models
        found: list[tuple[Any, ...]] = []
        items = sorted(values)
        with connections[router.db_for_read(Customer)].cursor() as cursor:
            for start in range(0, len(items), 900):
                part = items[start : start + 900]
                marks = ", ".join(["%s"] * len(part))
                cursor.execute(f"{select} WHERE {column} IN ({marks}){extra}", part)  # noqa: S608  # fixed names
                found.extend(cursor.fetchall())
        found.sort(key=operator.itemgetter(0))
        for values_row in found:
            customer = dict(zip(keys, values_row, strict=False))
            if keys_only and column != "c.id":
                customer[column[2:]] = values_row[-1]  # "c.email" -> "email"
            result.setdefault(values_row[-1], []).append(customer)
        return result

    def _write_customers(self, pending: list[_Pending]) -> None:
        job, actor = self.job, self.actor
        records: list[_RecordRow] = []
        companies = self._companies([p.row for p in pending], records)
        creates = [item for item in pending if item.action == "create"]
        if creates:
            rows = _CustomerRows(connections[router.db_for_write(Customer)], actor.pk, job.source)
            for item in creates:
                values = _combined(item, self.policy)
                if item.merged:
                    first_key = fold(values.get("first_name"))[:100]
                    last_key = fold(values.get("last_name"))[:150]
                else:
                    first_key, last_key = item.row.first_key, item.row.last_key
                company = companies.get(_company_key(values)) if self.with_companies else None
                rows.add(values, company, first_key, last_key)
            created_ids = rows.insert()
        else:
            created_ids = []
        for item, pk in zip(creates, created_ids, strict=True):
            records.append(self._record("customers.customer", pk, "created", item.row))
        updates = [p for p in pending if p.action == "update" and p.target_id]
        targets = Customer.objects.in_bulk([p.target_id for p in updates if p.target_id])
        changed_fields: set[str] = set()
        changed: list[Customer] = []
        for item in updates:
            target = targets.get(item.target_id or 0)
            if target is None:
                continue
            customer = target
            values = _combined(item, self.policy)
            company_id = companies.get(_company_key(values))
            previous: dict[str, Any] = {}
            for name in (*CUSTOMER_FIELDS, "company_id"):
                new = company_id if name == "company_id" else values.get(name)
                old = getattr(customer, name)
                if new in (None, "") or new == old:
                    continue
                if self.policy == DuplicatePolicy.UPDATE_EMPTY and old not in (None, ""):
                    continue
                previous[name] = _jsonable_value(old)
                setattr(customer, name, new)
                changed_fields.add(name)
            if previous:
                customer.first_name_key = fold(customer.first_name)[:100]
                customer.last_name_key = fold(customer.last_name)[:150]
                customer.updated_at = timezone.now()
                changed.append(customer)
            records.append(self._record("customers.customer", customer.pk, "updated", item.row, previous))
        if changed:
            Customer.objects.bulk_update(
                changed,
                [*sorted(changed_fields), "first_name_key", "last_name_key", "updated_at"],
                batch_size=500,
            )
        if self.with_tags:
            self._tags(list(zip(creates, created_ids, strict=True)), updates)
        _insert_records(self.job.pk, records)

    def _record(
        self, model: str, pk: Any, action: str, row: CleanRow, previous: dict[str, Any] | None = None
    ) -> _RecordRow:
        ref = str(row.data.get("external_id") or row.data.get("_key") or "")[:100]
        return (model, int(pk), action, row.number, ref, previous)

    def _companies(self, rows: list[CleanRow], records: list[_RecordRow]) -> dict[str, int]:
        """Company ids by name key or tax id, creating the companies the file names for the first time."""
        wanted: dict[str, CleanRow] = {}
        for row in rows if self.with_companies else ():
            key = _company_key(row.data)
            if key and key not in self.company_cache:
                wanted.setdefault(key, row)
        if wanted:
            taxes = [k[4:] for k in wanted if k.startswith("tax:")]
            names = [k[5:] for k in wanted if k.startswith("name:")]
            for c in Company.objects.filter(Q(tax_id__in=taxes) | Q(name_key__in=names)).values(
                "id", "tax_id", "name_key"
            ):
                if c["tax_id"]:
                    self.company_cache.setdefault(f"tax:{c['tax_id']}", c["id"])
                self.company_cache.setdefault(f"name:{c['name_key']}", c["id"])
            new = []
            for key, row in wanted.items():
                if key in self.company_cache:
                    continue
                data = row.data
                name = (data.get("company_name") or data.get("tax_id") or "")[:200]
                new.append(
                    (key, row, Company(name=name, name_key=fold(name)[:200], tax_id=data.get("tax_id") or ""))
                )
            Company.objects.bulk_create([c for _k, _r, c in new])
            for key, row, company in new:
                self.company_cache[key] = company.pk
                if company.tax_id:
                    self.company_cache.setdefault(f"name:{company.name_key}", company.pk)
                records.append(self._record("customers.company", company.pk, "created", row))
        return self.company_cache

    def _tags(self, creates: list[tuple[_Pending, int]], updates: list[_Pending]) -> None:
        links: list[Any] = []
        through = Customer.tags.through
        pairs: list[tuple[int, list[str]]] = [
            (pk, _combined(i, self.policy).get("tags") or []) for i, pk in creates
        ]
        pairs += [(i.target_id or 0, _combined(i, self.policy).get("tags") or []) for i in updates]
        for customer_id, names in pairs:
            for name in names:
                key = name.strip().lower()[:60]
                if key not in self.tag_cache:
                    self.tag_cache[key] = tags_get_or_create(names=[name])[0].pk
                links.append(through(customer_id=customer_id, tag_id=self.tag_cache[key]))
        if links:
            through.objects.bulk_create(links, ignore_conflicts=True)

    # -- orders and interactions ------------------------------------------------------------------------

    def _linked_key(self, row: CleanRow) -> str:
        """The key that makes re-importing a row a no-op: the order number, or a digest of the row
        (with how many identical rows came before it, so two real identical purchases stay two)."""
        data = row.data
        if self.job.kind == ImportKind.ORDERS and data.get("external_ref"):
            return str(data["external_ref"])
        parts = [str(data.get(k) or "") for k in sorted(data) if not k.startswith("_")]
        digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]
        self.occurrences[digest] = self.occurrences.get(digest, 0) + 1
        return f"h:{digest}:{self.occurrences[digest]}"

    def _plan_linked(self, rows: list[CleanRow]) -> list[_Pending]:
        for row in rows:
            row.data["_key"] = self._linked_key(row)
        customers = self._resolve_customers(rows)
        model = "sales.order" if self.job.kind == ImportKind.ORDERS else "activity.interaction"
        keys = [r.data["_key"] for r in rows]
        if self.job.kind == ImportKind.ORDERS:
            seen = set(
                Order.objects.filter(source=ORDER_SOURCE, external_ref__in=keys).values_list(
                    "external_ref", flat=True
                )
            )
        else:
            seen = set(
                ImportRecord.objects.filter(model=model, external_ref__in=keys).values_list(
                    "external_ref", flat=True
                )
            )
        result = []
        batch_seen: set[str] = set()
        for row in rows:
            key = row.data["_key"]
            target = customers.get(row.number)
            if isinstance(target, str):
                self._reject(row, target)
                continue
            if key in seen or key in batch_seen or (self.dry_run and key in self.file_index.emails):
                self.counts["duplicate"] += 1
                self.counts["skip"] += 1
                continue
            batch_seen.add(key)
            if self.dry_run:
                self.file_index.emails[key] = row.number
            self.counts["create"] += 1
            result.append(_Pending(row, "create", target_id=target))
        return result

    def _resolve_customers(self, rows: list[CleanRow]) -> dict[int, int | str]:
        emails = {r.data["customer_email"] for r in rows if r.data.get("customer_email")}
        phones = {r.data["customer_phone"] for r in rows if r.data.get("customer_phone")}
        refs = {r.data["customer_external_id"] for r in rows if r.data.get("customer_external_id")}
        owner: dict[int, int | None] = {}
        by_email: dict[str, int] = {}
        by_phone: dict[str, list[int]] = {}
        for c in Customer.objects.filter(Q(email__in=emails) | Q(phone__in=phones)).values(
            "id", "email", "phone", "owner_id"
        ):
            owner[c["id"]] = c["owner_id"]
            if c["email"]:
                by_email[c["email"]] = c["id"]
            if c["phone"]:
                by_phone.setdefault(c["phone"], []).append(c["id"])
        by_ref: dict[str, int] = {}
        for ref, object_id in (
            ImportRecord.objects.filter(model="customers.customer", external_ref__in=refs)
            .values_list("external_ref", "object_id")
            .order_by("id")
        ):
            by_ref[ref] = object_id
        for pk, owner_id in Customer.objects.filter(id__in=set(by_ref.values())).values_list(
            "id", "owner_id"
        ):
            owner[pk] = owner_id
        result: dict[int, int | str] = {}
        needs_change = self.job.kind == ImportKind.ORDERS and not self.all_records
        for row in rows:
            data = row.data
            found: int | str | None = None
            if data.get("customer_external_id"):
                found = by_ref.get(data["customer_external_id"])
            if found is None and data.get("customer_email"):
                found = by_email.get(data["customer_email"])
            if found is None and data.get("customer_phone"):
                ids = by_phone.get(data["customer_phone"], [])
                found = ids[0] if len(ids) == 1 else (_("several customers have this phone") if ids else None)
            if found is None or (isinstance(found, int) and found not in owner):
                found = _("no customer matches this email, phone or id")
            elif isinstance(found, int) and needs_change and owner[found] != self.actor.pk:
                found = _("you cannot record orders for a customer you do not own")
            result[row.number] = found
        return result

    def _write_linked(self, pending: list[_Pending]) -> None:
        records: list[_RecordRow] = []
        if self.job.kind == ImportKind.ORDERS:
            orders = []
            for item in pending:
                data = item.row.data
                orders.append(
                    Order(
                        customer_id=item.target_id or 0,
                        ordered_on=data["ordered_on"],
                        amount=data["amount"],
                        currency=data.get("currency") or settings.CARTERA_DEFAULT_CURRENCY,
                        channel=data.get("channel") or "",
                        category=data.get("category") or "",
                        source=ORDER_SOURCE,
                        external_ref=data["_key"][:100],
                        created_by=self.actor,
                    )
                )
            fast_insert(Order, orders)
            for item, order in zip(pending, orders, strict=True):
                records.append(self._record("sales.order", order.pk, "created", item.row))
            buyers = {o.customer_id for o in orders}
            Customer.objects.filter(id__in=buyers).exclude(stage=Stage.CUSTOMER).update(stage=Stage.CUSTOMER)
            if orders:
                self.ordered = True
                schedule_refresh(trigger="import")
        else:
            interactions = []
            for item in pending:
                data = item.row.data
                interactions.append(
                    Interaction(
                        customer_id=item.target_id or 0,
                        author=self.actor,
                        kind=data.get("kind") or "note",
                        direction=data.get("direction") or "outbound",
                        occurred_at=data.get("occurred_at") or timezone.now(),
                        subject=(data.get("subject") or "")[:200],
                        body=data.get("body") or "",
                        outcome=data.get("outcome") or "",
                    )
                )
            fast_insert(Interaction, interactions)
            for item, interaction in zip(pending, interactions, strict=True):
                records.append(self._record("activity.interaction", interaction.pk, "created", item.row))
        _insert_records(self.job.pk, records)


# --- speed ------------------------------------------------------------------------------------------------

# Reading a row (email-validator, phonenumbers, dates) costs about as much as writing it, so big files
# are read by worker processes, a few batches ahead of the writer; small files are read in-process.
# Each worker opens the file itself and reads (parses) all of it, but checks only its own batches
# (batch k goes to worker k mod n): the writer then neither parses the file nor sends any cell to a
# worker, and gets back rows ready to plan. Parsing costs a tenth of checking, so parsing n times in n
# processes is cheaper for the writer, which is the bottleneck, than parsing once and shipping cells.
PARALLEL_AFTER_ROWS = 2 * BATCH_SIZE
READ_AHEAD = 4
WORKER_TIMEOUT = 5.0

# What a worker sends for a row: number, cells, values, problems (None when fine), folded name keys.
_ReadRow = tuple[int, list[Any], dict[str, Any], list[RowProblem] | None, str, str, str]


def _read_share(
    source: tuple[str, str],
    reading: tuple[str, dict[str, str], dict[str, Any], str],
    after: int,
    share: tuple[int, int, int],
    out: Any,
) -> None:
    """A reading worker: the rows after ``after``, in batches of ``size``; batch k is checked and put on
    ``out`` when k mod ``count`` is ``index``. Ends with ("end", "") or ("error", message)."""
    kind, columns, options, language = reading
    index, count, size = share
    translation.activate(language)
    parent = os.getppid()

    def send(message: tuple[str, Any]) -> None:
        # A writer that was killed never takes the rest: stop then, instead of waiting forever.
        while True:
            try:
                out.put(message, timeout=WORKER_TIMEOUT)
                return
            except queues.Full:
                if os.getppid() != parent:
                    # (Not SystemExit: exiting would wait for the queue's buffer to be flushed.)
                    os._exit(1)

    batch: list[_ReadRow] = []
    number_in_batch = batch_number = 0
    try:
        with open_table(Path(source[0]), source[1]) as table:
            reader = RowReader(kind, table.headers, columns, options)
            mine = index == 0
            for number, raw in table.rows:
                if number <= after:
                    continue
                if mine:
                    row = reader.read(number, raw)
                    batch.append(
                        (
                            number,
                            raw,
                            row.data,
                            row.problems or None,
                            row.first_key,
                            row.last_key,
                            row.context_key,
                        )
                    )
                number_in_batch += 1
                if number_in_batch == size:
                    if mine:
                        send(("rows", batch))
                        batch = []
                    batch_number += 1
                    number_in_batch = 0
                    mine = batch_number % count == index
        if batch:
            send(("rows", batch))
        send(("end", ""))
    except ParseError as exc:
        # Every worker stops at the same row; the owner of its batch sends the rows before it first.
        if batch:
            send(("rows", batch))
        send(("error", str(exc)))


def _from_worker(queue: Any, process: Any) -> tuple[str, Any]:
    """The worker's next message; a worker that died (killed, out of memory) is an error, not a hang."""
    while True:
        try:
            return cast(tuple[str, Any], queue.get(timeout=WORKER_TIMEOUT))
        except queues.Empty:
            if not process.is_alive():
                raise RuntimeError(f"a reading worker stopped (exit code {process.exitcode})") from None


def read_rows(
    table: Table,
    kind: str,
    columns: dict[str, str],
    options: dict[str, Any],
    source: tuple[str, str] | None = None,
) -> Iterator[CleanRow]:
    """Every row of ``table`` read and checked, in file order, in bounded memory. With ``source`` (the
    stored path and the file name) big files are read by worker processes."""
    reader = RowReader(kind, table.headers, columns, options)
    cpus = os.cpu_count() or 1
    last = 0
    for seen, (number, raw) in enumerate(table.rows, start=1):
        last = number
        yield reader.read(number, raw)
        # Forking a process that runs other threads (a threaded web server) is unsafe, so only
        # single-threaded processes (the task worker, the CLI) read in parallel.
        if (
            seen >= PARALLEL_AFTER_ROWS
            and source is not None
            and cpus > 1
            and options.get("parallel", True)
            and threading.active_count() == 1
        ):
            break
    else:
        return
    # The writer keeps one core busy, so the readers get the others.
    count = max(1, min(cpus - 1, 4))
    context = multiprocessing.get_context("fork")
    reading = (kind, columns, options, translation.get_language() or "es")
    workers = []
    try:
        for index in range(count):
            queue = context.Queue(maxsize=READ_AHEAD)
            process = context.Process(
                target=_read_share,
                args=(source, reading, last, (index, count, BATCH_SIZE), queue),
                daemon=True,
            )
            process.start()
            workers.append((queue, process))
        batch_number = 0
        while True:
            queue, process = workers[batch_number % count]
            what, payload = _from_worker(queue, process)
            if what == "end":
                return
            if what == "error":
                raise ParseError(payload)
            for number, raw, data, problems, first, last_key, context_key in payload:
                yield CleanRow(number, raw, data, problems or [], first, last_key, context_key)
            batch_number += 1
    finally:
        for _queue, process in workers:
            process.terminate()
        for _queue, process in workers:
            process.join()


# SQLite copies its write-ahead log into the database (and syncs both) whenever the log passes
# ``wal_autocheckpoint`` pages, 1,000 by default: with a dozen indexes on the customer table nearly
# every batch did that. During a commit the log may grow to this many pages (4 KiB each) first.
WAL_CHECKPOINT_PAGES = 25_000


@contextlib.contextmanager
def _bulk_writes(dry_run: bool) -> Iterator[None]:
    """Fewer SQLite checkpoints while an import writes (a connection setting, put back afterwards).

    Durability and atomicity are unchanged: each batch still commits on its own, and a killed process
    leaves whole batches in the log, which SQLite replays or checkpoints on the next open."""
    connection = connections[router.db_for_write(Customer)]
    if dry_run or connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        (previous,) = cursor.fetchone()
        cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES:d}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA wal_autocheckpoint={int(previous):d}")


def fast_insert(model: type[Model], objs: list[Any]) -> None:
    """``bulk_create`` for plain rows, without its per-value preparation (the slowest part of an
    import): one multi-row ``INSERT ... RETURNING id`` per chunk; primary keys are set on ``objs``."""
    if not objs:
        return
    connection = connections[router.db_for_write(model)]
    if not connection.features.can_return_rows_from_bulk_insert:
        model._default_manager.bulk_create(objs, batch_size=500)
        return
    now = timezone.now()
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    plain = (CharField, TextField, BooleanField, IntegerField, ForeignKey)
    getters: list[Callable[[Any], Any]] = []
    for f in fields:
        getters.append(_getter(f, connection, now, plain))
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(f.column)) for f in fields)
    row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
    size = max(1, min(500, connection.ops.bulk_batch_size(fields, objs)))
    table = quote(model._meta.db_table)
    pk_column = quote(str(model._meta.pk.column))
    with connection.cursor() as cursor:
        for start in range(0, len(objs), size):
            part = objs[start : start + size]
            params = [getter(obj) for obj in part for getter in getters]
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES "  # noqa: S608  # names come from the model
                + ", ".join([row_sql] * len(part))
                + f" RETURNING {pk_column}",
                params,
            )
            for obj, (pk,) in zip(part, cursor.fetchall(), strict=True):
                obj.pk = pk
                obj._state.adding = False
                obj._state.db = connection.alias


def _getter(f: Any, connection: Any, now: Any, plain: tuple[type, ...]) -> Callable[[Any], Any]:
    """How ``fast_insert`` reads one field of an object as a database value."""
    if isinstance(f, DateTimeField) and (f.auto_now or f.auto_now_add):
        stamp = connection.ops.adapt_datetimefield_value(now)

        def stamped(obj: Any) -> Any:
            setattr(obj, f.attname, now)
            return stamp

        return stamped
    if isinstance(f, DateField) and not isinstance(f, DateTimeField):
        return lambda obj: connection.ops.adapt_datefield_value(getattr(obj, f.attname))
    name: str = f.attname
    if isinstance(f, plain) and not isinstance(f, DecimalField):
        return operator.attrgetter(name)
    return lambda obj: f.get_db_prep_save(getattr(obj, f.attname), connection)


# (model, object id, action, row number, id in the source system, previous values) of an ImportRecord.
_RecordRow = tuple[str, int, str, int, str, dict[str, Any] | None]


def _insert_records(job_id: int, records: list[_RecordRow]) -> None:
    """One ``ImportRecord`` per created or changed record, inserted with ``executemany`` (no ids are
    needed back, and building a model instance per row cost more than the insert)."""
    if not records:
        return
    connection = connections[router.db_for_write(ImportRecord)]
    previous_field = ImportRecord._meta.get_field("previous")
    quote = connection.ops.quote_name
    # After every write of the batch: a record changed later has a later ``updated_at``.
    written_at = connection.ops.adapt_datetimefield_value(timezone.now())
    names = (
        "job_id",
        "model",
        "object_id",
        "action",
        "row_number",
        "external_ref",
        "previous",
        "written_at",
        "conflict",
    )
    column_of = {f.attname: str(f.column) for f in ImportRecord._meta.concrete_fields}
    columns = ", ".join(quote(column_of[n]) for n in names)
    params = [
        (
            job_id,
            model,
            object_id,
            action,
            number,
            ref,
            None if previous is None else previous_field.get_db_prep_save(previous, connection),
            written_at,
            "",
        )
        for model, object_id, action, number, ref, previous in records
    ]
    table = quote(ImportRecord._meta.db_table)
    marks = ", ".join(["%s"] * len(names))
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", params)  # noqa: S608  # model names


class _CustomerRows:
    """Database rows for new customers, built straight from the checked values of the file.

    Every value was read and checked by :class:`RowReader` (lengths, email, phone, date, choices), so
    what is left is putting it in its column: each row starts as a copy of a template customer's
    database values (the model's defaults, the job's owner and source, one timestamp per batch), which
    is much cheaper than building and preparing a model instance per row.
    """

    def __init__(self, connection: Any, owner_id: int | None, source: str) -> None:
        self.connection = connection
        fields = [f for f in Customer._meta.concrete_fields if not f.primary_key]
        template = Customer(owner_id=owner_id, source=source)
        now = timezone.now()
        plain = (CharField, TextField, BooleanField, IntegerField, ForeignKey)
        self.base = [_getter(f, connection, now, plain)(template) for f in fields]
        self.columns = [str(f.column) for f in fields]
        position = {f.attname: i for i, f in enumerate(fields)}
        self.slots: dict[str, tuple[int, Callable[[Any], Any] | None]] = {}
        for name in CUSTOMER_FIELDS:
            model_field = Customer._meta.get_field(name)
            adapt = connection.ops.adapt_datefield_value if isinstance(model_field, DateField) else None
            self.slots[name] = (position[name], adapt)
        self.company = position["company_id"]
        self.first_key = position["first_name_key"]
        self.last_key = position["last_name_key"]
        self.rows: list[list[Any]] = []

    def add(self, values: Mapping[str, Any], company_id: int | None, first_key: str, last_key: str) -> None:
        row = self.base.copy()
        slots = self.slots
        # A row holds only the fields its file maps, usually fewer than the customer has.
        for name, value in values.items():
            slot = slots.get(name)
            if slot is not None and value is not None and value != "":
                index, adapt = slot
                row[index] = adapt(value) if adapt else value
        row[self.company] = company_id
        row[self.first_key] = first_key
        row[self.last_key] = last_key
        self.rows.append(row)

    def insert(self) -> list[int]:
        """Insert the rows; their new ids, in order."""
        return _insert_returning(self.connection, Customer, self.columns, self.rows)


def _insert_returning(
    connection: Any, model: type[Model], columns: list[str], rows: list[list[Any]]
) -> list[int]:
    """Multi-row ``INSERT ... RETURNING id`` (SQLite 3.35+ and PostgreSQL), 500 rows a statement."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    names = ", ".join(quote(c) for c in columns)
    sqlite = connection.vendor == "sqlite"
    row_sql = "(" + ", ".join(["?" if sqlite else "%s"] * len(columns)) + ")"
    # PostgreSQL sets no limit in Django's features but its protocol allows 65,535 parameters.
    limit = connection.features.max_query_params or 65535
    size = max(1, min(500, limit // len(columns)))
    ids: list[int] = []
    with connection.cursor() as cursor:
        # Django's SQLite cursor turns each "%s" into "?" with a regular expression, which on a
        # 15,000-parameter statement costs a fifth of the insert: its DB-API cursor gets "?" directly.
        execute = functools.partial(sqlite3.Cursor.execute, cursor.cursor) if sqlite else cursor.execute
        for start in range(0, len(rows), size):
            part = rows[start : start + size]
            execute(
                f"INSERT INTO {table} ({names}) VALUES "  # noqa: S608  # names come from the model
                + ", ".join([row_sql] * len(part))
                + f" RETURNING {quote(str(model._meta.pk.column))}",
                [value for row in part for value in row],
            )
            ids.extend(pk for (pk,) in cursor.fetchall())
    return ids


def _chunks(condition: Q, size: int = 900) -> Iterable[Q]:
    """Split an ``__in`` lookup so no query passes SQLite's variable limit."""
    ((lookup, values),) = condition.children  # type: ignore[misc]
    items = list(values)
    for start in range(0, len(items), size):
        yield Q(**{lookup: items[start : start + size]})


def _company_key(data: Mapping[str, Any]) -> str:
    if data.get("tax_id"):
        return f"tax:{data['tax_id']}"
    if data.get("company_name"):
        return f"name:{fold(data['company_name'])[:200]}"
    return ""


def _combined(item: _Pending, policy: str) -> dict[str, Any]:
    """The row's values, with later duplicate rows of the same file folded in by the policy."""
    if not item.merged:
        return item.row.data
    values = dict(item.row.data)
    for other in item.merged:
        for key, value in other.data.items():
            if value in (None, "", []):
                continue
            if policy == DuplicatePolicy.OVERWRITE or values.get(key) in (None, "", []):
                values[key] = value
    return values


def _jsonable_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _jsonable(raw: list[Any]) -> list[Any]:
    return [_jsonable_value(v) for v in raw]


def import_job_run(*, job: ImportJob, dry_run: bool, progress: Progress | None = None) -> ImportJob:
    """Check (``dry_run``) or write the file; a commit resumes after the last written batch."""
    if not dry_run:
        _start_commit(job)
    run = _Run(job, dry_run, progress)
    if dry_run or not job.committed_row:
        ImportRowError.objects.filter(job=job).delete()
    # Everything alive now (the app, its modules) will outlive the run: frozen, the garbage collector
    # stops walking it again and again while the run allocates a few objects per row.
    gc.freeze()
    try:
        with _bulk_writes(dry_run):
            run.run()
    except ParseError as exc:
        _mark_failed(job, str(exc))
        job.refresh_from_db()
        raise ValidationError(str(exc)) from exc
    finally:
        gc.unfreeze()
    c = run.counts
    report = {
        "create": c["create"],
        "update": c["update"],
        "duplicate": c["duplicate"],
        "skip": c["skip"],
        "error": c["error"],
        "rows": run.processed,
    }
    if dry_run:
        job.report = report
        job.total_rows = run.processed
        job.status = JobStatus.CHECKED
        job.save(update_fields=["report", "total_rows", "status", "updated_at"])
    else:
        ImportRowError.objects.bulk_create(run.errors)
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
        pk=job.pk, status__in=(JobStatus.UPLOADED, JobStatus.CHECKED, JobStatus.QUEUED, JobStatus.RUNNING)
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


ROLLBACK_CHUNK = 500


@dataclass
class _Undo:
    """What a rollback did: the records it undid and, for each one it kept, why."""

    undone: list[int] = field(default_factory=list)
    conflicts: dict[int, str] = field(default_factory=dict)


def import_job_rollback(*, actor: User, job: ImportJob) -> ImportJob:
    """Undo an import as far as ``actor`` may, now: delete what it created, restore what it changed.

    Each record is checked when the rollback runs, through the scoping helper: a record the actor may
    no longer delete or change (reassigned to a colleague, say), a record edited after the import, and
    a customer with orders, interactions or tasks the import did not bring are kept, and listed on the
    job with the reason. Everything else is undone, in one transaction with the job's new status.
    """
    with transaction.atomic():
        # Locked, then read again: a second click waits here and then finds the job rolled back.
        ImportJob.objects.select_for_update().filter(pk=job.pk).values_list("pk").get()
        job.refresh_from_db()
        if job.status not in (JobStatus.DONE, JobStatus.FAILED, JobStatus.RUNNING) or import_job_is_alive(
            job=job
        ):
            raise ValidationError(_("This import cannot be rolled back now."))
        undo = _Undo()
        records = list(
            job.records.filter(conflict="")
            .order_by("id")
            .values_list("id", "model", "object_id", "action", "previous", "written_at")
        )
        fallback = job.finished_at or job.updated_at
        by_model: dict[tuple[str, str], list[tuple[int, int, Any, Any]]] = {}
        for record_id, model, object_id, action, previous, written_at in records:
            by_model.setdefault((model, action), []).append(
                (record_id, object_id, previous, written_at or fallback)
            )
        created_here = {
            model: {object_id for _r, object_id, _p, _w in items}
            for (model, action), items in by_model.items()
            if action == ImportRecord.Action.CREATED
        }
        own_undo = actor.pk == job.created_by_id
        for model_name in ("activity.interaction", "sales.order"):
            for part in _parts(by_model.get((model_name, ImportRecord.Action.CREATED), [])):
                _undo_linked(actor, own_undo, model_name, part, undo)
        for part in _parts(by_model.get(("customers.customer", ImportRecord.Action.UPDATED), [])):
            _undo_customer_updates(actor, part, undo)
        for part in _parts(by_model.get(("customers.customer", ImportRecord.Action.CREATED), [])):
            _undo_customer_creations(actor, own_undo, part, created_here, undo)
        for part in _parts(by_model.get(("customers.company", ImportRecord.Action.CREATED), [])):
            _undo_companies(actor, own_undo, part, undo)
        for start in range(0, len(undo.undone), ROLLBACK_CHUNK):
            ImportRecord.objects.filter(pk__in=undo.undone[start : start + ROLLBACK_CHUNK]).delete()
        by_reason: dict[str, list[int]] = {}
        for record_id, reason in undo.conflicts.items():
            by_reason.setdefault(reason[:300], []).append(record_id)
        for reason, record_ids in by_reason.items():
            for start in range(0, len(record_ids), ROLLBACK_CHUNK):
                ImportRecord.objects.filter(pk__in=record_ids[start : start + ROLLBACK_CHUNK]).update(
                    conflict=reason
                )
        import_job_discard_file(job=job)
        job.status = JobStatus.ROLLED_BACK
        kept = job.records.exclude(conflict="").count()
        job.report = {**job.report, "rollback": {"undone": len(undo.undone), "kept": kept}}
        if kept:
            job.message = _(
                "Rolled back by %(user)s: %(undone)s records undone, %(kept)s kept (see the list below)."
            ) % {"user": actor, "undone": len(undo.undone), "kept": kept}
        else:
            job.message = _("Rolled back by %(user)s.") % {"user": actor}
        job.save(update_fields=["status", "message", "report", "updated_at"])
    return job


def _parts(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), ROLLBACK_CHUNK):
        yield items[start : start + ROLLBACK_CHUNK]


def _undoable(actor: User, own_undo: bool, queryset: Any) -> set[int]:
    """The rows of ``queryset`` the actor may remove now: those they may delete, and, undoing their
    own import, those they may still change (a sales rep may not delete customers in general, but
    may take back the ones her own import added while they are still hers)."""
    allowed = set(restrict(queryset, actor, "delete").values_list("pk", flat=True))
    if own_undo:
        allowed |= set(restrict(queryset, actor, "change").values_list("pk", flat=True))
    return allowed


def _owned_elsewhere(actor: User, owner: Any) -> str:
    if owner is not None and owner.pk != actor.pk:
        return _("now owned by %(user)s") % {"user": owner}
    return _("you may not undo it")


def _edited(updated_at: Any, written_at: Any) -> bool:
    return bool(written_at is not None and updated_at is not None and updated_at > written_at)


def _undo_linked(
    actor: User, own_undo: bool, model_name: str, part: list[tuple[int, int, Any, Any]], undo: _Undo
) -> None:
    """Orders or interactions the import created."""
    model: type[Order] | type[Interaction] = Order if model_name == "sales.order" else Interaction
    ids = [object_id for _r, object_id, _p, _w in part]
    rows = {row.pk: row for row in model.objects.filter(pk__in=ids).select_related("customer__owner")}
    allowed = _undoable(actor, own_undo, model.objects.filter(pk__in=ids))
    delete: list[int] = []
    for record_id, object_id, _previous, written_at in part:
        row = rows.get(object_id)
        if row is None:  # already gone: nothing left to undo
            undo.undone.append(record_id)
        elif object_id not in allowed:
            undo.conflicts[record_id] = _owned_elsewhere(actor, row.customer.owner)
        elif _edited(row.updated_at, written_at):
            undo.conflicts[record_id] = _("edited after the import")
        else:
            delete.append(object_id)
            undo.undone.append(record_id)
    model.objects.filter(pk__in=delete).delete()


def _undo_customer_updates(actor: User, part: list[tuple[int, int, Any, Any]], undo: _Undo) -> None:
    """Customers the import changed get their earlier values back, unless changed again since."""
    ids = [object_id for _r, object_id, _p, _w in part]
    customers = Customer.objects.in_bulk(ids)
    allowed = set(restrict(Customer.objects.filter(pk__in=ids), actor, "change").values_list("pk", flat=True))
    owners = User.objects.in_bulk({c.owner_id for c in customers.values() if c.owner_id})
    now = timezone.now()
    for record_id, object_id, previous, written_at in part:
        customer = customers.get(object_id)
        if customer is None or not previous:
            undo.undone.append(record_id)
        elif object_id not in allowed:
            undo.conflicts[record_id] = _owned_elsewhere(actor, owners.get(customer.owner_id or 0))
        elif _edited(customer.updated_at, written_at):
            undo.conflicts[record_id] = _("edited after the import")
        else:
            values = dict(previous)
            first = values.get("first_name", customer.first_name)
            last = values.get("last_name", customer.last_name)
            values.update(first_name_key=fold(first)[:100], last_name_key=fold(last)[:150], updated_at=now)
            Customer.objects.filter(pk=object_id).update(**values)
            undo.undone.append(record_id)


def _undo_customer_creations(
    actor: User,
    own_undo: bool,
    part: list[tuple[int, int, Any, Any]],
    created_here: Mapping[str, set[int]],
    undo: _Undo,
) -> None:
    """Customers the import created are deleted, unless they now belong to someone the actor may not
    act for, were edited since, or have orders, interactions or tasks the import did not bring."""
    ids = [object_id for _r, object_id, _p, _w in part]
    customers = Customer.objects.select_related("owner").in_bulk(ids)
    allowed = _undoable(actor, own_undo, Customer.objects.filter(pk__in=ids))
    busy: set[int] = set()
    for model, name in (
        (Order, "sales.order"),
        (Interaction, "activity.interaction"),
        (Task, "activity.task"),
    ):
        ours = created_here.get(name, set())
        for pk, customer_id in model.objects.filter(customer_id__in=ids).values_list("pk", "customer_id"):
            if pk not in ours:
                busy.add(customer_id)
    delete: list[int] = []
    for record_id, object_id, _previous, written_at in part:
        customer = customers.get(object_id)
        if customer is None:
            undo.undone.append(record_id)
        elif object_id not in allowed:
            undo.conflicts[record_id] = _owned_elsewhere(actor, customer.owner)
        elif _edited(customer.updated_at, written_at):
            undo.conflicts[record_id] = _("edited after the import")
        elif object_id in busy:
            undo.conflicts[record_id] = _("has orders, interactions or tasks added after the import")
        else:
            delete.append(object_id)
            undo.undone.append(record_id)
    Customer.objects.filter(pk__in=delete).delete()


def _undo_companies(actor: User, own_undo: bool, part: list[tuple[int, int, Any, Any]], undo: _Undo) -> None:
    """Companies the import created go once no customer names them, unless edited since. A company
    has no owner: whoever may roll the job back may remove the ones it created, unused."""
    ids = [object_id for _r, object_id, _p, _w in part]
    companies = Company.objects.in_bulk(ids)
    used = set(Customer.objects.filter(company_id__in=ids).values_list("company_id", flat=True))
    may = own_undo or can(actor, Company, "delete")
    delete: list[int] = []
    for record_id, object_id, _previous, written_at in part:
        company = companies.get(object_id)
        if company is None:
            undo.undone.append(record_id)
        elif not may:
            undo.conflicts[record_id] = _("you may not undo it")
        elif object_id in used:
            undo.conflicts[record_id] = _("customers kept by this rollback or added since belong to it")
        elif _edited(company.updated_at, written_at):
            undo.conflicts[record_id] = _("edited after the import")
        else:
            delete.append(object_id)
            undo.undone.append(record_id)
    Company.objects.filter(pk__in=delete).delete()


def import_job_discard_file(*, job: ImportJob) -> None:
    """Remove the stored upload (the job and its records stay as history)."""
    Path(job.stored_path).unlink(missing_ok=True)


def export_record(
    *, user: User, what: str, file_format: str, filters: Mapping[str, Any], row_count: int
) -> ExportLog:
    """Write down an export: who, when, what, in which format and how many rows."""
    return ExportLog.objects.create(
        user=user, what=what, file_format=file_format, filters=dict(filters), row_count=row_count
    )
