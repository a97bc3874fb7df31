"""What the parts of an import run share: its settings, a planned write, and the run's state."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cartera.accounts.models import User
from cartera.customers.fields import field_names
from cartera.customers.models import Company
from cartera.imports.models import DuplicatePolicy, ImportJob, ImportRowError
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


@dataclass
class Pending:
    """A row that will create or update a record once its batch is written."""

    row: CleanRow
    action: str  # "create" or "update"
    target_id: int | None = None
    merged: list[CleanRow] = field(default_factory=list)


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
    errors: list[ImportRowError]
    tag_cache: dict[str, int]
    company_cache: dict[str, int]
    occurrences: dict[str, int]
    ordered: bool
    with_companies: bool
    with_tags: bool

    def _reject(self, row: CleanRow, reason: str = "") -> None:
        self.counts["error"] += 1
        problems = row.problems or []
        if reason:
            self.errors.append(
                ImportRowError(job=self.job, row_number=row.number, reason=reason, raw=jsonable(row.raw))
            )
        for problem in problems:
            self.errors.append(
                ImportRowError(
                    job=self.job,
                    row_number=row.number,
                    column=problem.column[:255],
                    value=problem.value,
                    reason=problem.reason,
                    raw=jsonable(row.raw),
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
    """The row's values, with later duplicate rows of the same file folded in by the policy."""
    if not item.merged:
        return item.row.data
    values = dict(item.row.data)
    for other in item.merged:
        for key, value in other.data.items():
            if value in (None, "", []):
                continue
            if key == "custom_fields":  # one value per custom field, merged like the other fields
                earlier = values.get(key) or {}
                overwrite = policy == DuplicatePolicy.OVERWRITE
                values[key] = {**earlier, **value} if overwrite else {**value, **earlier}
                continue
            if policy == DuplicatePolicy.OVERWRITE or values.get(key) in (None, "", []):
                values[key] = value
    return values


def jsonable_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def jsonable(raw: list[Any]) -> list[Any]:
    return [jsonable_value(v) for v in raw]
