"""Turning one row of a file into the values that will be stored, with every problem it has.

Pure: no database access, so the preview, the dry run and the commit read rows the same way.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from cartera.core.text import fold as _fold
from cartera.customers.fields import CUSTOM_PREFIX
from cartera.customers.models import Customer
from cartera.imports.fields import FieldDef, field_map, read_cell, text_of

# Names and cities repeat all through a file, and folding (Unicode decomposition) is a tenth of reading
# a row; the cache is bounded.
fold = functools.lru_cache(maxsize=65536)(_fold)


_FORMULA_STARTS = frozenset("=+-@\t\r")


@dataclass
class RowProblem:
    column: str
    value: str
    reason: str


@dataclass
class CleanRow:
    """A row read and checked: ``data`` maps field keys to stored values; ``problems`` says what is wrong."""

    number: int
    raw: list[Any]
    data: dict[str, Any] = field(default_factory=dict)
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def fail(self, reason: str, column: str = "", value: Any = "") -> None:
        self.problems.append(RowProblem(column, text_of(value)[:500], reason))

    # Folded keys for de-duplication, computed once where the row is read (often a worker process).
    first_key: str = ""
    last_key: str = ""
    context_key: str = ""
    # Cells left out without rejecting the row (an unknown stage): reported, the rest is written.
    warnings: list[RowProblem] = field(default_factory=list)

    @property
    def name_key(self) -> str:
        return f"{self.first_key} {self.last_key}".strip()


class RowReader:
    """Reads rows of one file shape: ``columns`` maps headers to field keys, ``options`` how to read them."""

    def __init__(
        self,
        kind: str,
        headers: list[str],
        columns: dict[str, str],
        options: dict[str, Any],
        definitions: dict[str, FieldDef] | None = None,
    ) -> None:
        self.kind = kind
        self.options = options
        # A reading worker gets the definitions of the reader that forked it: it never reads the
        # database (custom fields are rows there).
        self.definitions = definitions = field_map(kind) if definitions is None else definitions
        self.header_of: dict[str, str] = {}
        self.plan: list[tuple[int, str, FieldDef]] = []
        for index, header in enumerate(headers):
            key = columns.get(header)
            if key and key in definitions:
                self.plan.append((index, header, definitions[key]))
                self.header_of.setdefault(key, header)

    def read(self, number: int, raw: list[Any]) -> CleanRow:
        row = CleanRow(number, raw)
        width = len(raw)
        for index, header, definition in self.plan:
            value = raw[index] if index < width else None
            if value.__class__ is str and value[:1] == "'" and value[1:2] in _FORMULA_STARTS:
                # The apostrophe our own files (rejected rows, exports) put before a formula-like cell.
                value = value[1:]
            try:
                cleaned = read_cell(definition, value, self.options)
            except ValueError as exc:
                if definition.kind == "stage":
                    # A stage word of another system says nothing about who the person is: the row
                    # is written without it (the stage stays as it is) and the cell is reported.
                    row.warnings.append(RowProblem(header, text_of(value)[:500], str(exc)))
                else:
                    row.fail(str(exc), header, value)
                continue
            if cleaned is not None:
                row.data[definition.key] = cleaned
        if self.kind == "customers":
            self._customer(row)
        else:
            self._linked(row)
        return row

    def _customer(self, row: CleanRow) -> None:
        data = row.data
        full = data.pop("full_name", "")
        if full and not data.get("first_name"):
            first, _sep, rest = full.partition(" ")
            data["first_name"] = first[:100]
            if rest and not data.get("last_name"):
                data["last_name"] = rest[:150]
        custom = {
            key.removeprefix(CUSTOM_PREFIX): data.pop(key)
            for key in [k for k in data if k.startswith(CUSTOM_PREFIX)]
        }
        if custom:
            data["custom_fields"] = custom
        mobile = data.pop("mobile", None)
        if mobile and not data.get("phone"):
            data["phone"] = mobile
        if not data.get("first_name") and row.ok:
            column = self.header_of.get("first_name") or self.header_of.get("full_name", "")
            row.fail(_("a first name is needed"), column)
        if "tax_id" in data:
            data["tax_id"] = data["tax_id"].upper().replace(" ", "").replace("-", "").replace(".", "")
        row.first_key, row.last_key = Customer.name_keys(data.get("first_name"), data.get("last_name"))
        row.context_key = fold(data.get("company_name") or data.get("city") or "")

    def _linked(self, row: CleanRow) -> None:
        data = row.data
        if (
            not any(data.get(k) for k in ("customer_email", "customer_phone", "customer_external_id"))
            and row.ok
        ):
            row.fail(_("the row does not say which customer it belongs to (email, phone or id)"))
        if self.kind == "orders":
            for key in ("ordered_on", "amount"):
                if data.get(key) is None and row.ok:
                    row.fail(
                        _("this value is required"),
                        self.header_of.get(key, str(field_map("orders")[key].label)),
                    )
            if "promo_code" in data:
                data["promo_code"] = data["promo_code"].upper().replace(" ", "")
        else:
            data.setdefault("kind", "note")
            if not (data.get("subject") or data.get("body")) and row.ok:
                row.fail(_("an interaction needs a subject or a text"), self.header_of.get("subject", ""))
