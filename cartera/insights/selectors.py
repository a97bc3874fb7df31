"""Reads for the analysis: all orders as numpy arrays, fast; metrics and snapshots for the pages."""

from __future__ import annotations

import sqlite3
from typing import Any

import numpy as np
import numpy.typing as npt
from django.db import connection
from django.db.models import QuerySet

from cartera.core.scoping import restrict
from cartera.customers.models import Customer
from cartera.insights.analysis import OrderArrays
from cartera.insights.models import CustomerMetrics, PortfolioSnapshot, RefreshRun

# One COPY row in PostgreSQL's binary format for (int8, int4, float8), all NOT NULL: a 2-byte field
# count, then each field as a 4-byte length and its big-endian value. Every row has the same size, so
# numpy reads the whole stream as one structured array.
_PG_ORDER_ROW = np.dtype(
    [
        ("n", ">i2"),
        ("l1", ">i4"),
        ("customer", ">i8"),
        ("l2", ">i4"),
        ("day", ">i4"),
        ("l3", ">i4"),
        ("amount", ">f8"),
    ]
)
_PG_ID_ROW = np.dtype([("n", ">i2"), ("l1", ">i4"), ("id", ">i8")])
_PG_BINARY_HEADER = 19  # signature (11), flags (4), header extension length (4, zero)
_PG_BINARY_TRAILER = 2  # field count -1


def order_arrays() -> OrderArrays:
    """Every order as (customer id, day, amount) arrays, read without building model objects.

    Rows come in the table's physical order, as a plain scan returns them (the analysis merges
    same-day orders with an unstable sort, so a different order could move sums by a rounding unit).
    PostgreSQL streams them with a binary COPY that numpy reads in one go; SQLite hands over texts
    of integers that numpy parses (see :func:`_order_arrays_sqlite`).
    """
    if connection.vendor == "postgresql":
        return _order_arrays_postgres()
    return _order_arrays_sqlite()


def _sqlite_day_expr() -> str:
    # unixepoch() (SQLite 3.38+) is about twice as fast as julianday() arithmetic; midnight of a
    # date is an exact multiple of 86,400 s, so the integer division is exact, negative days too.
    if sqlite3.sqlite_version_info >= (3, 38, 0):
        return "unixepoch(ordered_on) / 86400"
    return "CAST(julianday(ordered_on) - 2440587.5 AS INTEGER)"


# The SQLite reader packs customer and day into one integer: the day (every date from year 1 to
# 9999, shifted to be positive) in the low 23 bits, the customer id above it.
_DAY_BITS = 23
_DAY_SHIFT = 1 << 22
_SQLITE_ROWIDS_PER_QUERY = 250_000


def _order_arrays_sqlite() -> OrderArrays:
    """Orders in rowid order (a plain scan's), in chunks of rowids.

    Each chunk comes back as two comma-separated texts of integers built by SQLite itself (one
    packed customer-and-day key per order; the amount in cents), which numpy parses in C. That is
    about twice as fast as one Python tuple per order. Amounts are the stored doubles exactly: each
    chunk also counts the orders whose stored amount differs from its cents over 100 in floating
    point (the same division numpy does), and such a chunk is read again as plain rows.
    """
    connection.ensure_connection()
    cursor = connection.connection.cursor()
    try:
        bounds = [
            cursor.execute(f"SELECT {agg} FROM sales_order").fetchone()[0]  # noqa: S608
            for agg in ("min(id)", "max(id)", "min(customer_id)", "max(customer_id)")
        ]
        if bounds[0] is None:
            return _empty_orders()
        first, last, low_id, high_id = (int(b) for b in bounds)
        if sqlite3.sqlite_version_info < (3, 38, 0) or low_id < 0 or high_id >= 1 << (62 - _DAY_BITS):
            return _order_rows_sqlite(cursor, "")
        key = f"customer_id * {1 << _DAY_BITS} + (unixepoch(ordered_on) / 86400 + {_DAY_SHIFT})"
        chunk_sql = (
            f"SELECT group_concat({key}, ','), group_concat(CAST(round(amount * 100) AS INTEGER), ','), "  # noqa: S608
            "sum(CAST(amount AS REAL) <> round(amount * 100) / 100.0), count(*) "
            "FROM sales_order WHERE id >= ? AND id < ?"
        )
        keys, amounts = [], []
        for start in range(first, last + 1, _SQLITE_ROWIDS_PER_QUERY):
            end = start + _SQLITE_ROWIDS_PER_QUERY
            packed, cents, inexact, count = cursor.execute(chunk_sql, (start, end)).fetchone()
            if not count:
                continue
            chunk_keys = np.fromstring(packed, dtype=np.int64, sep=",")
            if inexact or chunk_keys.shape[0] != count:
                rows = _order_rows_sqlite(cursor, f"WHERE id >= {start} AND id < {end}")
                keys.append((rows.customer_ids << _DAY_BITS) + rows.days.astype(np.int64) + _DAY_SHIFT)
                amounts.append(rows.amounts)
                continue
            keys.append(chunk_keys)
            amounts.append(np.fromstring(cents, dtype=np.int64, sep=",") / 100.0)
    finally:
        cursor.close()
    if not keys:
        return _empty_orders()
    key_array = np.concatenate(keys)
    return OrderArrays(
        customer_ids=key_array >> _DAY_BITS,
        days=((key_array & ((1 << _DAY_BITS) - 1)) - _DAY_SHIFT).astype("datetime64[D]"),
        amounts=np.concatenate(amounts),
    )


def _order_rows_sqlite(cursor: sqlite3.Cursor, where: str) -> OrderArrays:
    """Orders as plain rows that numpy consumes from the driver (the general, slower way)."""
    sql = f"SELECT customer_id, {_sqlite_day_expr()}, CAST(amount AS REAL) FROM sales_order {where}"  # noqa: S608
    row = np.dtype([("customer", np.int64), ("day", np.int64), ("amount", np.float64)])
    table = np.fromiter(cursor.execute(sql), dtype=row)
    return OrderArrays(
        customer_ids=table["customer"].copy(),
        days=table["day"].astype("datetime64[D]"),
        amounts=table["amount"].copy(),
    )


def _empty_orders() -> OrderArrays:
    return OrderArrays(np.empty(0, np.int64), np.empty(0, "datetime64[D]"), np.empty(0, np.float64))


def _copy_binary(sql: str) -> bytes:
    """The whole output of ``COPY (sql) TO STDOUT (FORMAT binary)`` as bytes."""
    chunks: list[bytes] = []
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper
        with raw.copy(f"COPY ({sql}) TO STDOUT (FORMAT binary)") as copy:
            chunks.extend(bytes(block) for block in copy)
    return b"".join(chunks)


def _binary_rows(data: bytes, row: np.dtype[Any]) -> npt.NDArray[Any]:
    body = memoryview(data)[_PG_BINARY_HEADER : len(data) - _PG_BINARY_TRAILER]
    if len(data) < _PG_BINARY_HEADER + _PG_BINARY_TRAILER or len(body) % row.itemsize:
        raise ValueError("unexpected COPY binary stream")
    return np.frombuffer(body, dtype=row)


def _order_arrays_postgres() -> OrderArrays:
    # Explicit casts fix each field's width; amounts go through float8 as the text path did (PostgreSQL
    # converts numeric to float8 by its decimal text, so the doubles are the correctly rounded ones).
    table = _binary_rows(
        _copy_binary(
            "SELECT customer_id::int8, (ordered_on - DATE '1970-01-01')::int4, amount::float8 FROM sales_order"
        ),
        _PG_ORDER_ROW,
    )
    return OrderArrays(
        customer_ids=table["customer"].astype(np.int64),
        days=table["day"].astype(np.int64).astype("datetime64[D]"),
        amounts=table["amount"].astype(np.float64),
    )


def customer_ids() -> npt.NDArray[np.int64]:
    """Every customer id, sorted."""
    if connection.vendor == "postgresql":
        data = _copy_binary("SELECT id::int8 FROM customers_customer ORDER BY id")
        return _binary_rows(data, _PG_ID_ROW)["id"].astype(np.int64)
    connection.ensure_connection()
    cursor = connection.connection.cursor()
    try:
        # One-column rows: numpy takes the first field of each tuple through a structured dtype.
        rows = cursor.execute("SELECT id FROM customers_customer ORDER BY id")
        return np.fromiter(rows, dtype=[("id", np.int64)])["id"].copy()
    finally:
        cursor.close()


def metrics_for(*, user: Any, customer: Customer) -> CustomerMetrics | None:
    """The customer's metrics, if a refresh has computed them (the customer is already scoped)."""
    return CustomerMetrics.objects.filter(customer=customer).first()


def snapshots(*, user: Any, limit: int = 730) -> QuerySet[PortfolioSnapshot]:
    """Portfolio snapshots, newest first (for trends). Only users who see customers see them."""
    if not restrict(Customer.objects.all(), user, "view").exists():
        return PortfolioSnapshot.objects.none()
    return PortfolioSnapshot.objects.order_by("-taken_on")[:limit]


def last_run() -> RefreshRun | None:
    """The most recent refresh."""
    return RefreshRun.objects.order_by("-started_at").first()
