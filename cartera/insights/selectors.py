"""Reads for the analysis: all orders as numpy arrays, fast; metrics and snapshots for the pages."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from django.db import connection
from django.db.models import QuerySet

from cartera.core.scoping import restrict
from cartera.customers.models import Customer
from cartera.insights.analysis import OrderArrays
from cartera.insights.models import CustomerMetrics, PortfolioSnapshot, RefreshRun

_CHUNK = 500_000


def order_arrays() -> OrderArrays:
    """Every order as (customer id, day, amount) arrays, read without building model objects.

    PostgreSQL streams the table with COPY and numpy parses the text in C; SQLite reads rows in large
    chunks with days already turned into integers by SQL. Both avoid one Python object per field.
    """
    if connection.vendor == "postgresql":
        return _order_arrays_postgres()
    return _order_arrays_dbapi()


def _order_arrays_dbapi() -> OrderArrays:
    if connection.vendor == "sqlite":
        day_expr = "CAST(julianday(ordered_on) - 2440587.5 AS INTEGER)"
    else:
        day_expr = "(ordered_on - DATE '1970-01-01')"
    sql = f"SELECT customer_id, {day_expr}, CAST(amount AS REAL) FROM sales_order"  # noqa: S608
    parts: list[np.ndarray[Any, Any]] = []
    with connection.cursor() as cursor:
        cursor.execute(sql)
        while rows := cursor.fetchmany(_CHUNK):
            parts.append(np.array(rows, dtype=np.float64))
    table = np.concatenate(parts) if parts else np.empty((0, 3))
    return OrderArrays(
        customer_ids=table[:, 0].astype(np.int64),
        days=table[:, 1].astype(np.int64).astype("datetime64[D]"),
        amounts=table[:, 2].copy(),
    )


def _order_arrays_postgres() -> OrderArrays:
    buffer = io.BytesIO()
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper
        copy_sql = (
            "COPY (SELECT customer_id, ordered_on - DATE '1970-01-01', amount FROM sales_order) "
            "TO STDOUT WITH (FORMAT csv)"
        )
        with raw.copy(copy_sql) as copy:
            for block in copy:
                buffer.write(block)
    text = buffer.getvalue()
    if not text:
        return OrderArrays(np.empty(0, np.int64), np.empty(0, "datetime64[D]"), np.empty(0, np.float64))
    flat = np.array(text.replace(b"\n", b",").rstrip(b",").split(b","), dtype=np.float64)
    table = flat.reshape(-1, 3)
    return OrderArrays(
        customer_ids=table[:, 0].astype(np.int64),
        days=table[:, 1].astype(np.int64).astype("datetime64[D]"),
        amounts=table[:, 2].copy(),
    )


def customer_ids() -> np.ndarray[Any, np.dtype[np.int64]]:
    """Every customer id, sorted."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM customers_customer ORDER BY id")
        parts = []
        while rows := cursor.fetchmany(_CHUNK):
            parts.append(np.array(rows, dtype=np.int64).ravel())
    return np.concatenate(parts) if parts else np.empty(0, np.int64)


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
