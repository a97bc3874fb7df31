"""The analysis's database-driver code: reading every order fast, and rewriting every metrics row.

What the refresh needs from the database in bulk, kept apart from its logic (services) and from the
pages' reads (selectors): the driver-specific fast paths (packed binary from PostgreSQL, texts of
integers from SQLite, ``COPY`` and the table swap) and, next to each, its plain twin (the ORM), which
``CARTERA_BULK_PLAIN=1`` forces (:func:`cartera.core.bulk.fast_paths`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sqlite3
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
from django.db import connection, transaction
from django.db.models import Count, FloatField, Max, Min, Sum
from django.db.models.functions import Cast

from cartera.core import bulk
from cartera.core.database import update_planner_statistics
from cartera.core.money import base_currency
from cartera.customers.models import Customer
from cartera.insights.analysis import OrderArrays
from cartera.insights.models import CustomerMetrics
from cartera.sales.models import Order

# --- reading --------------------------------------------------------------------------------------


def read_orders() -> OrderArrays:
    """Every order in the base currency as (customer id, day, amount) arrays, read without building
    model objects. Orders in other currencies are left out: the analysis adds amounts up, and adding
    dollars to euros is wrong (docs/analytics.md, "Currencies"; :func:`other_currencies` counts them).

    Rows come in the table's physical order, as a plain scan returns them (the analysis merges
    same-day orders with an unstable sort, so a different order could move sums by a rounding unit).
    PostgreSQL packs them into a few large binary values that numpy reads as they are; SQLite hands over texts
    of integers that numpy parses (see :func:`_order_arrays_sqlite`). The plain twin reads them
    through the ORM, in id order.
    """
    if not bulk.fast_paths():
        return _order_arrays_plain()
    if connection.vendor == "postgresql":
        return _order_arrays_postgres()
    return _order_arrays_sqlite()


def _order_arrays_plain() -> OrderArrays:
    # The amount as the database's own double (as the fast paths read it), not a Decimal rounded to cents.
    amount = Cast("amount", FloatField())
    rows = list(
        Order.objects.filter(currency=base_currency())
        .order_by("id")
        .values_list("customer_id", "ordered_on", amount)
    )
    if not rows:
        return _empty_orders()
    customers, days, amounts = zip(*rows, strict=True)
    return OrderArrays(
        customer_ids=np.array(customers, dtype=np.int64),
        days=np.array(days, dtype="datetime64[D]"),
        amounts=np.array(amounts, dtype=np.float64),
    )


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
        currency = base_currency()
        if sqlite3.sqlite_version_info < (3, 38, 0) or low_id < 0 or high_id >= 1 << (62 - _DAY_BITS):
            return _order_rows_sqlite(cursor, "WHERE currency = ?", (currency,))
        key = f"customer_id * {1 << _DAY_BITS} + (unixepoch(ordered_on) / 86400 + {_DAY_SHIFT})"
        chunk_sql = (
            f"SELECT group_concat({key}, ','), group_concat(CAST(round(amount * 100) AS INTEGER), ','), "  # noqa: S608
            "sum(CAST(amount AS REAL) <> round(amount * 100) / 100.0), count(*) "
            "FROM sales_order WHERE id >= ? AND id < ? AND currency = ?"
        )
        keys, amounts = [], []
        for start in range(first, last + 1, _SQLITE_ROWIDS_PER_QUERY):
            end = start + _SQLITE_ROWIDS_PER_QUERY
            packed, cents, inexact, count = cursor.execute(chunk_sql, (start, end, currency)).fetchone()
            if not count:
                continue
            chunk_keys = np.fromstring(packed, dtype=np.int64, sep=",")
            if inexact or chunk_keys.shape[0] != count:
                rows = _order_rows_sqlite(
                    cursor, f"WHERE id >= {start} AND id < {end} AND currency = ?", (currency,)
                )
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


def _order_rows_sqlite(cursor: sqlite3.Cursor, where: str, params: tuple[Any, ...]) -> OrderArrays:
    """Orders as plain rows that numpy consumes from the driver (the general, slower way)."""
    sql = f"SELECT customer_id, {_sqlite_day_expr()}, CAST(amount AS REAL) FROM sales_order {where}"  # noqa: S608
    row = np.dtype([("customer", np.int64), ("day", np.int64), ("amount", np.float64)])
    table = np.fromiter(cursor.execute(sql, params), dtype=row)
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
        " || float8send(amount::float8), ''::bytea) FROM sales_order WHERE currency = %s AND ctid >= %s::tid"
    )
    currency = base_currency()
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
                params = [currency, f"({start},0)", f"({starts[k + 1]},0)"]
                cursor.execute(chunk_sql + " AND ctid < %s::tid", params, binary=True)
            else:
                cursor.execute(chunk_sql, [currency, f"({start},0)"], binary=True)
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


def order_date_bounds() -> tuple[dt.date, dt.date] | None:
    """The first and last day of the orders :func:`read_orders` reads (base currency); ``None``
    without any. One aggregate query, without reading the orders."""
    bounds = Order.objects.filter(currency=base_currency()).aggregate(
        first=Min("ordered_on"), last=Max("ordered_on")
    )
    if bounds["first"] is None:
        return None
    return bounds["first"], bounds["last"]


def other_currencies() -> list[dict[str, Any]]:
    """The orders the analysis leaves out, per currency: ``[{"currency", "orders", "customers",
    "amount"}]``, most orders first; empty when every order is in the base currency."""
    rows = (
        Order.objects.exclude(currency=base_currency())
        .values("currency")
        .annotate(orders=Count("id"), customers=Count("customer_id", distinct=True), amount=Sum("amount"))
        .order_by("-orders", "currency")
    )
    return [
        {
            "currency": r["currency"],
            "orders": r["orders"],
            "customers": r["customers"],
            "amount": str(Decimal(r["amount"] or 0).quantize(Decimal("0.01"))),
        }
        for r in rows
    ]


def read_customer_ids() -> npt.NDArray[np.int64]:
    """Every customer id, sorted."""
    if not bulk.fast_paths():
        return np.array(Customer.objects.order_by("id").values_list("id", flat=True), dtype=np.int64)
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


def read_customer_stages(ids: npt.NDArray[np.int64]) -> list[str]:
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


# --- writing the metrics --------------------------------------------------------------------------

METRICS_TABLE = CustomerMetrics._meta.db_table


def write_metrics(
    *, columns: list[list[Any]], names: Sequence[str], customer_ids: npt.NDArray[np.int64]
) -> None:
    """Replace every metrics row: readers see the old rows until the new ones are all there.

    ``columns`` are the computed values, column by column, in the order of ``names``, ready for the
    database (``computed_at`` as a datetime); the customer's stage is added here, copied from the
    customer file as it is when the rows go in. PostgreSQL builds a fresh table and swaps it in
    (readers never wait for the rewrite); SQLite rewrites the table in one transaction, which its
    readers do not wait for either (write-ahead log: they read the old rows until the commit). The
    plain twin deletes and recreates the rows through the ORM in one transaction.
    """
    if not bulk.fast_paths() or (connection.vendor == "postgresql" and bulk.swap_blockers(METRICS_TABLE)):
        _write_metrics_plain(columns, names)
    elif connection.vendor == "postgresql":
        _write_metrics_postgres(columns, names, customer_ids)
    else:
        _write_metrics_sqlite(columns, names, customer_ids)
    # Fresh statistics for the planner (SQLite's were refreshed inside the rewrite). On PostgreSQL
    # the vacuum also marks any pages not written frozen all-visible, for index-only counts. None
    # of it keeps readers waiting.
    if connection.vendor != "sqlite" or not bulk.fast_paths():
        update_planner_statistics([METRICS_TABLE])


def _write_metrics_postgres(
    columns: list[list[Any]], names: Sequence[str], customer_ids: npt.NDArray[np.int64]
) -> None:
    def fill(cursor: Any, table: str) -> None:
        # Read outside any lock: a stage changed from here to the swap is caught up before it.
        stages = read_customer_stages(customer_ids)
        bulk.copy_rows(cursor, table, [*names, "stage"], zip(*columns, stages, strict=True), freeze=True)

    bulk.swap_in_new_table(METRICS_TABLE, fill=fill, before_swap=catch_up_stages)


def catch_up_stages(cursor: Any, table: str) -> None:
    """Copy onto ``table``'s rows the stages changed in the customer file since they were read.

    Runs once the new table's foreign key keeps the customer file from changing until the commit,
    so the copy then stays right: from the swap on, the trigger on the customer file (which names
    the table) updates this table.
    """
    cursor.execute(
        f"UPDATE {bulk.qn(table)} m SET stage = c.stage FROM customers_customer c "  # noqa: S608
        "WHERE c.id = m.customer_id AND m.stage IS DISTINCT FROM c.stage"
    )


def _write_metrics_sqlite(
    columns: list[list[Any]], names: Sequence[str], customer_ids: npt.NDArray[np.int64]
) -> None:
    # sqlite3 stores a datetime as its own text; Django's reads back what Django writes.
    at = list(names).index("computed_at")
    stamp = connection.ops.adapt_datetimefield_value(columns[at][0]) if columns[at] else None
    columns = [*columns[:at], [stamp] * len(columns[at]), *columns[at + 1 :]]
    table = METRICS_TABLE
    # A refresh that raced with a customer's deletion fails (one key check at the end).
    with bulk.atomic_with_keys_checked_at_end(table), connection.cursor() as cursor:
        with bulk.without_secondary_indexes(table):
            cursor.execute(f"DELETE FROM {bulk.qn(table)}")  # noqa: S608
            # The stage copy, read inside the write transaction (no stage can change meanwhile).
            stages = read_customer_stages(customer_ids)
            bulk.insert_rows(cursor, table, [*names, "stage"], zip(*columns, stages, strict=True))
        # Statistics for the rebuilt indexes in the same transaction: readers switch to the new
        # rows and to plans made for them at the same moment.
        update_planner_statistics([table])


def _write_metrics_plain(columns: list[list[Any]], names: Sequence[str]) -> None:
    """The plain twin: the ORM deletes every row and creates the new ones, in one transaction."""
    fields = {f.attname: f for f in CustomerMetrics._meta.concrete_fields}
    converters = [_to_python(fields[name]) for name in names]
    with transaction.atomic():
        stages = dict(Customer.objects.values_list("id", "stage"))
        rows = [
            CustomerMetrics(
                **{name: convert(value) for name, convert, value in zip(names, converters, row, strict=True)},
                stage=stages.get(row[0], ""),
            )
            for row in zip(*columns, strict=True)
        ]
        CustomerMetrics.objects.all().delete()
        CustomerMetrics.objects.bulk_create(rows, batch_size=2000)


def _to_python(field: Any) -> Any:
    """How a database-ready value of ``field`` becomes the Python value the model holds."""
    if field.get_internal_type() == "JSONField":
        return lambda v: json.loads(v) if isinstance(v, str) else v
    if field.get_internal_type() == "DateField":
        return lambda v: dt.date.fromisoformat(v) if isinstance(v, str) else v
    return lambda v: None if v is None else field.to_python(v)
