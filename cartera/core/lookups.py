"""``field__any_of=[...]``: membership in a long list of integers, sent as one parameter.

``field__in=ids`` writes one placeholder per id. With a search resolved to 7,000 ids, that list is
compiled by Django, bound by the driver and parsed by the database once per query of the page (the
page, its rows, the capped count): 200 ms of a 480 ms typo search at 1,000,000 customers on
PostgreSQL (docs/benchmarks.md). ``any_of`` sends the list as one value: an array on PostgreSQL
(``= ANY(%s)``, which the planner still answers from the primary key), a JSON array on SQLite
(``IN (SELECT value FROM json_each(%s))``). Other databases get the plain ``IN``.

Beware of ``= ANY`` beside another list on the same column: asked for ``id = ANY(7,000 ids) AND id
IN (51 ids)``, PostgreSQL costs the array as 7,000 index probes and scans the table (190 ms); the
page's rows are therefore read by id alone (``core.pagination``).

On integer columns (ids) the values are checked to be integers; on text columns (e-mails, phones,
order numbers: the import's matching, a thousand keys per batch, where psycopg spent 4.8 s of a
100,000-order import splitting the statements' placeholders) they are made strings. Either way the
list reaches the database as one JSON or array value, never as SQL text.
"""

from __future__ import annotations

import json
from typing import Any

from django.db.models import Lookup
from django.db.models.fields import CharField, IntegerField, TextField


class AnyOf(Lookup):
    lookup_name = "any_of"
    prepare_rhs = False
    array_type = "bigint[]"

    def get_prep_lookup(self) -> list[Any]:
        values: list[Any] = list(self.rhs)
        if any(isinstance(value, bool) or int(value) != value for value in values):
            raise TypeError("any_of takes integers")
        return [int(value) for value in values]

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        ids: list[Any] = self.rhs
        if not ids:
            # Nothing matches; written so on every database (an empty array or JSON list would do too).
            return "1 = 0", ()
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY(%s::{self.array_type})", (*lhs_params, self.array_literal(ids))
        if connection.vendor == "sqlite":
            sql = f"{lhs} IN (SELECT value FROM json_each(%s))"  # noqa: S608  # lhs: the compiled column
            return sql, (*lhs_params, json.dumps(ids))
        placeholders = ", ".join(["%s"] * len(ids))
        return f"{lhs} IN ({placeholders})", (*lhs_params, *ids)

    @staticmethod
    def array_literal(values: list[Any]) -> str:
        """PostgreSQL's text form of the array (``{1,2,3}``), sent as one string parameter and cast on
        the server: psycopg adapts a Python list element by element in Python, 5 ms for 5,000 values
        (an import batch's lists), against 0.5 ms for this join."""
        return "{" + ",".join(map(str, values)) + "}"


class TextAnyOf(AnyOf):
    """``any_of`` on a text column: the values as strings (PostgreSQL compares them as ``text``, which
    the column's b-tree indexes answer)."""

    array_type = "text[]"

    def get_prep_lookup(self) -> list[Any]:
        return [str(value) for value in self.rhs]

    @staticmethod
    def array_literal(values: list[Any]) -> str:
        # Every element double-quoted with its backslashes and double quotes escaped: PostgreSQL's
        # array syntax, in which commas, braces, spaces and the word NULL inside quotes are text.
        return "{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"


def register() -> None:
    """Make ``any_of`` available on every integer field, primary keys included, and every text field
    (not on foreign keys: filter on ``<name>_id`` there)."""
    IntegerField.register_lookup(AnyOf)
    CharField.register_lookup(TextAnyOf)
    TextField.register_lookup(TextAnyOf)
