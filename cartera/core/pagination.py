"""Keyset ("cursor") pagination: page 20,000 costs what page 1 costs.

Offset pagination makes the database walk and discard every row before the page; with a million
customers that is seconds. Here a page is "the next N rows after this sort key", which an index
answers directly. The cursor is the sort key of the last (or first) row, encoded in the URL.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Model, Q, QuerySet


@dataclass(frozen=True)
class Page:
    """One page of rows plus the cursors of its neighbours (``None`` at either end)."""

    rows: list[Any]
    next_cursor: str | None
    previous_cursor: str | None


def _encode(values: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values), default=str).encode()).decode().rstrip("=")


def _decode(cursor: str) -> list[Any] | None:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError):
        return None
    return values if isinstance(values, list) else None


def _after(fields: Sequence[str], values: Sequence[Any]) -> Q:
    """Rows strictly after ``values`` in the order given by ``fields`` (``-name`` = descending)."""
    condition = Q()
    for i, field in enumerate(fields):
        name = field.lstrip("-")
        op = "lt" if field.startswith("-") else "gt"
        step = Q(**{f"{name}__{op}": values[i]})
        for prev_field, prev_value in zip(fields[:i], values[:i], strict=True):
            step &= Q(**{prev_field.lstrip("-"): prev_value})
        condition |= step
    return condition


def _reverse(fields: Sequence[str]) -> list[str]:
    return [f[1:] if f.startswith("-") else f"-{f}" for f in fields]


def paginate(
    queryset: QuerySet[Any],
    *,
    ordering: Sequence[str],
    cursor: str | None,
    size: int,
    backwards: bool = False,
) -> Page:
    """One page of ``queryset`` ordered by ``ordering`` (which must end with a unique field, e.g. ``id``)."""
    values = _decode(cursor) if cursor else None
    if values is not None and len(values) != len(ordering):
        values = None
    order = _reverse(ordering) if backwards else list(ordering)
    qs = queryset.order_by(*order)
    if values is not None:
        qs = qs.filter(_after(order, values))
    rows = list(qs[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()

    def key(row: Model) -> list[Any]:
        return [getattr(row, f.lstrip("-")) for f in ordering]

    has_next = more if not backwards else values is not None
    has_previous = values is not None if not backwards else more
    return Page(
        rows=rows,
        next_cursor=_encode(key(rows[-1])) if rows and has_next else None,
        previous_cursor=_encode(key(rows[0])) if rows and has_previous else None,
    )
