"""Reads for the analysis: all orders as numpy arrays, fast; metrics and snapshots for the pages."""

from __future__ import annotations

import contextlib
import sqlite3
from typing import Any

import numpy as np
import numpy.typing as npt
from django.db import connection, transaction
from django.db.models import QuerySet

from cartera.core.scoping import restrict
from cartera.customers.models import Customer
from cartera.insights.analysis import OrderArrays
from cartera.insights.models import CustomerMetrics, PortfolioSnapshot, RefreshRun


def order_arrays() -> OrderArrays:
    """Every order as (customer id, day, amount) arrays, read without building model objects.

    Rows come in the table's physical order, as a plain scan returns them (the analysis merges
    same-day orders with an unstable sort, so a different order could move sums by a rounding unit).
    PostgreSQL packs them into a few large binary values that numpy reads as they are; SQLite hands over texts
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


# Orders per PostgreSQL query: a range of heap pages (a TID range scan, in the table's order).
_PG_PAGES_PER_QUERY = 20_000
_PG_ORDER_ROW = np.dtype([("customer", ">i8"), ("day", ">i4"), ("amount", ">f8")])


def _binary_cursor() -> Any:
    """A psycopg cursor on Django's connection that can fetch binary results (bytea as raw bytes,
    not as hex text twice the size); Django's own cursors bind parameters on the client, which
    psycopg allows with text results only."""
    import psycopg

    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


def _order_arrays_postgres() -> OrderArrays:
    """Orders as packed big-endian binary, a range of heap pages per query.

    The server packs each order into 20 bytes (``int8send`` and friends) and concatenates a chunk
    into one ``bytea``, which numpy views as a structured array: a handful of values cross the
    driver instead of one COPY message (a Python call) per order. Amounts go through float8 as
    before (PostgreSQL converts numeric to float8 by its decimal text: the correctly rounded doubles).
    """
    chunk_sql = (
        "SELECT string_agg(int8send(customer_id::int8) || int4send((ordered_on - DATE '1970-01-01')::int4)"
        " || float8send(amount::float8), ''::bytea) FROM sales_order WHERE ctid >= %s::tid"
    )
    parts: list[npt.NDArray[Any]] = []
    # The page ranges are read by several queries: one snapshot for all of them, or an order updated
    # meanwhile (its new version on another page) could be read twice or not at all.
    own_transaction = not connection.in_atomic_block
    with transaction.atomic() if own_transaction else contextlib.nullcontext(), _binary_cursor() as cursor:
        if own_transaction:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cursor.execute("SELECT pg_relation_size('sales_order') / current_setting('block_size')::int")
        pages = int(cursor.fetchone()[0])
        starts = list(range(0, pages, _PG_PAGES_PER_QUERY)) or [0]
        for k, start in enumerate(starts):
            # The last range is open, so that pages added since the size was read are read too.
            if k + 1 < len(starts):
                params = [f"({start},0)", f"({starts[k + 1]},0)"]
                cursor.execute(chunk_sql + " AND ctid < %s::tid", params, binary=True)
            else:
                cursor.execute(chunk_sql, [f"({start},0)"], binary=True)
            data = cursor.fetchone()[0]
            if data:
                parts.append(np.frombuffer(data, dtype=_PG_ORDER_ROW))
    if not parts:
        return _empty_orders()
    table = np.concatenate(parts)
    return OrderArrays(
        customer_ids=table["customer"].astype(np.int64),
        days=table["day"].astype(np.int64).astype("datetime64[D]"),
        amounts=table["amount"].astype(np.float64),
    )


def customer_ids() -> npt.NDArray[np.int64]:
    """Every customer id, sorted."""
    if connection.vendor == "postgresql":
        with _binary_cursor() as cursor:
            sql = "SELECT string_agg(int8send(id::int8), ''::bytea ORDER BY id) FROM customers_customer"
            cursor.execute(sql, binary=True)
            data = cursor.fetchone()[0]
        return np.frombuffer(data, dtype=">i8").astype(np.int64) if data else np.empty(0, np.int64)
    connection.ensure_connection()
    cursor = connection.connection.cursor()
    try:
        # One-column rows: numpy takes the first field of each tuple through a structured dtype.
        rows = cursor.execute("SELECT id FROM customers_customer ORDER BY id")
        return np.fromiter(rows, dtype=[("id", np.int64)])["id"].copy()
    finally:
        cursor.close()


def customer_stages(ids: npt.NDArray[np.int64]) -> list[str]:
    """The current stage of each customer of ``ids`` (sorted), "" for one that no longer exists."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, stage FROM customers_customer ORDER BY id")
        rows = cursor.fetchall()
    if not rows or not ids.shape[0]:
        return [""] * int(ids.shape[0])
    known = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    stages = np.array([r[1] for r in rows] + [""], dtype=object)
    pos = np.minimum(np.searchsorted(known, ids), len(rows) - 1)
    pos[known[pos] != ids] = len(rows)  # the "" at the end
    result: list[str] = stages[pos].tolist()
    return result


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
