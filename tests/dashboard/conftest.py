"""The CDNOW sample (as in tests/insights) refreshed and backfilled, for the dashboard."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

CDNOW = Path(__file__).resolve().parents[1] / "data" / "cdnow" / "CDNOW_sample.txt"
END = dt.date(1998, 6, 30)


@pytest.fixture
def analysed_portfolio(db, owner):
    """2,357 CDNOW customers of ``owner``, refreshed on 1998-06-30 with 6 month-end snapshots."""
    from cartera.customers.models import Customer, Stage
    from cartera.insights.services import insights_backfill, insights_refresh
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
            )  # fmt: skip
            for n, r in enumerate(rows)
        ],
        batch_size=2000,
    )
    from django.core.management.color import no_style
    from django.db import connection

    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), [Customer]):
            cursor.execute(sql)
    insights_backfill(months=6, as_of=END)
    insights_refresh(as_of=END)
    return {"customers": len(indexes), "orders": len(rows)}
