"""What the parts of an import run share: its settings, a planned write, and the run's state."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cartera.accounts.models import User
from cartera.customers.fields import field_names
from cartera.customers.models import Company
from cartera.imports.fields import text_of
from cartera.imports.models import ImportJob, RowOutcome
from cartera.imports.rows import CleanRow

if TYPE_CHECKING:
    from cartera.imports.services.matching import FileIndex

FUZZY_THRESHOLD = 90
ORDER_SOURCE = "import"
# The model fields a customer file fills directly (company and tags are resolved by name elsewhere).
CUSTOMER_FIELDS = tuple(name for name in field_names(importable=True) if name not in ("company", "tags"))
Progress = Callable[[int, int], None]

# (model, object id, action, row number, id in the source system, previous values) of an ImportRecord.
RecordRow = tuple[str, int, str, int, str, dict[str, Any] | None]


@dataclass(slots=True)
class RowNote:
    """An ``ImportRowError`` row waiting for its batch to be written: a plain object, because a
    re-import notes every row that matched a customer and a model instance per row cost more."""

    job_id: int
    row_number: int
    reason: str
    outcome: str = RowOutcome.REJECTED
    customer_id: int | None = None
    column: str = ""
    value: str = ""
    raw: list[Any] = field(default_factory=list)


@dataclass
class Pending:
    """A row that will create or update a record once its batch is written."""

    row: CleanRow
    action: str  # "create" or "update"
    target_id: int | None = None
    merged: list[CleanRow] = field(default_factory=list)
    # The "matched customer #id" note of an update, completed once the write knows what changed.
    note: RowNote | None = None
    # Whether the write has counted this update as changed or unchanged (a batch retried row by row
    # after a conflict writes it twice, and must count it once).
    settled: bool = False
    # An order whose customer is created from the row ("id:C-001", "email:..."): the customer's key.
    new_customer: str = ""


class RunState:
    """The state of one run (a dry run or a commit) that the matching and writing steps share; the
    run itself (:class:`cartera.imports.services.running.Run`) sets it up and drives the batches."""

    job: ImportJob
    dry_run: bool
    actor: User
    policy: str
    threshold: int
    counts: dict[str, int]
    file_index: FileIndex
    errors: list[RowNote]
    tag_cache: dict[str, int]
    company_cache: dict[str, int]
    occurrences: dict[str, int]
    how: dict[int, str]  # row number -> how it matched an existing customer ("same email"...)
    create_customers: bool  # an order file brings the customers it names
    new_customers: dict[str, int]  # their key ("id:C-001") -> customer id (a row number in a dry run)
    promo_taken: dict[int, int]  # promotion code id -> uses accepted by a dry run's earlier batches
    ordered: bool
    with_companies: bool
    with_tags: bool

    def _reject(self, row: CleanRow, reason: str = "", column: str = "", value: Any = "") -> None:
        self.counts["error"] += 1
        problems = row.problems or []
        if reason:
            self.errors.append(
                RowNote(
                    job_id=self.job.pk,
                    row_number=row.number,
                    column=column[:255],
                    value=text_of(value)[:500],
                    reason=reason,
                    raw=jsonable(row.raw),
                )
            )
        for problem in problems:
            self.errors.append(
                RowNote(
                    job_id=self.job.pk,
                    row_number=row.number,
                    column=problem.column[:255],
                    value=problem.value,
                    reason=problem.reason,
                    raw=jsonable(row.raw),
                )
            )

    def _note(
        self, row: CleanRow, outcome: str, reason: str, customer_id: int | None = None, column: str = ""
    ) -> None:
        """Say what happened to a row that was not simply created (it is listed on the result page,
        by the command line, and, when it was not written as itself, in the rejected-rows file)."""
        # A matched or warned row was written: its values are in the database, not needed again here.
        kept = outcome in (RowOutcome.SKIPPED, RowOutcome.MERGED)
        self.errors.append(
            RowNote(
                job_id=self.job.pk,
                row_number=row.number,
                outcome=outcome,
                reason=reason,
                customer_id=customer_id,
                column=column[:255],
                raw=jsonable(row.raw) if kept else [],
            )
        )

    def _warn(self, row: CleanRow) -> None:
        """Report the cells of a written row that were left out (an unknown stage)."""
        for problem in row.warnings:
            self.errors.append(
                RowNote(
                    job_id=self.job.pk,
                    row_number=row.number,
                    outcome=RowOutcome.WARNING,
                    column=problem.column[:255],
                    value=problem.value,
                    reason=problem.reason,
                )
            )

    def _record(
        self, model: str, pk: Any, action: str, row: CleanRow, previous: dict[str, Any] | None = None
    ) -> RecordRow:
        ref = str(row.data.get("external_id") or row.data.get("_key") or "")[:100]
        return (model, int(pk), action, row.number, ref, previous)


def company_key(data: Mapping[str, Any]) -> str:
    if data.get("tax_id"):
        return f"tax:{data['tax_id']}"
    if data.get("company_name"):
        return f"name:{Company.key_for(data['company_name'])}"
    return ""


def combined(item: Pending, policy: str) -> dict[str, Any]:
    """The row's values, with the other rows of the file that are the same person folded in: they
    fill the kept row's empty cells (the kept row is the better one, so its values stand whatever the
    policy, which says what happens to the values already in the database)."""
    if not item.merged:
        return item.row.data
    values = dict(item.row.data)
    for other in item.merged:
        for key, value in other.data.items():
            if value in (None, "", []):
                continue
            if key == "custom_fields":  # one value per custom field: the kept row's stand, others fill in
                values[key] = {**value, **(values.get(key) or {})}
                continue
            if values.get(key) in (None, "", []):
                values[key] = value
    return values


def jsonable_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def jsonable(raw: list[Any]) -> list[Any]:
    return [jsonable_value(v) for v in raw]
