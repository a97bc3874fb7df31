"""The CDNOW sample loaded into the database as customers and orders."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

CDNOW = Path(__file__).resolve().parents[1] / "data" / "cdnow" / "CDNOW_sample.txt"


@pytest.fixture
def cdnow_portfolio(db, owner):
    """2,357 customers and 6,919 orders of the CDNOW sample (ids 1..2357 map to customer_index)."""
    from cartera.customers.models import Customer, Stage
    from cartera.sales.models import Order

    rows = [line.split() for line in CDNOW.read_text().splitlines() if line.strip()]
    indexes = sorted({int(r[1]) for r in rows})
    Customer.objects.bulk_create(
        [
            Customer(
                id=i,
                first_name=f"Cliente {i}",
                first_name_key=f"cliente {i}",
                stage=Stage.CUSTOMER,
                owner=owner,
            )
            for i in indexes
        ]  # fmt: skip
    )
    Order.objects.bulk_create(
        [
            Order(
                customer_id=int(r[1]),
                ordered_on=dt.datetime.strptime(r[2], "%Y%m%d").date(),
                amount=Decimal(r[4]),
                source="cdnow",
                external_ref=f"{n}",
            )
            for n, r in enumerate(rows)
        ],
        batch_size=2000,
    )
    # Explicit ids do not move PostgreSQL's sequence: move it so later customers get new ids.
    from django.core.management.color import no_style
    from django.db import connection

    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), [Customer]):
            cursor.execute(sql)
    return {"customers": len(indexes), "orders": len(rows)}
