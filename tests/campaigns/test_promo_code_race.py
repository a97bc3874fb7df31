"""A unique promotion code with one use, given by two orders at the same moment: one order gets it,
the other is told it has been used. The check and the use happen in one transaction that locks the
code's row (``promotion_check`` in ``order_create``), so the second order waits for the first and
then counts its use. PostgreSQL: two connections (SQLite takes the write lock at the start of each
transaction, so there the two orders never overlap)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone, translation

from tests.shared_db import race


@pytest.mark.django_db(transaction=True)
def test_two_orders_at_once_cannot_both_use_a_single_use_code(owner):
    if connection.vendor != "postgresql":
        pytest.skip("two connections at once: PostgreSQL")
    from cartera.customers.services import customer_create
    from cartera.sales.models import Order, PromotionCode
    from cartera.sales.services import order_create

    buyer = customer_create(actor=owner, fields={"first_name": "Rápida", "stage": "customer"})
    code = PromotionCode.objects.create(
        code="VUELVE-RACE22",
        customer=buyer,
        discount_percent=Decimal("15"),
        valid_from=timezone.localdate() - dt.timedelta(days=1),
        valid_until=timezone.localdate() + dt.timedelta(days=30),
        max_uses=1,
        source="campaigns.campaign:0",
    )
    fields = {"ordered_on": timezone.localdate(), "amount": "25", "promo_code": "vuelve-race22"}

    def second_order() -> Any:
        with translation.override("en"):
            return order_create(actor=owner, customer=buyer, fields=fields)

    # The second order must wait for the first's transaction (its check reads the code's row for
    # update). Without the lock it would count no use yet and take the code too.
    ended = race(lambda: order_create(actor=owner, customer=buyer, fields=fields), second_order, patience=10)
    first = ended.first
    assert ended.waited, "the second order did not wait for the first"
    assert ended.second is None
    assert isinstance(ended.error, ValidationError) and "already been used" in " ".join(ended.error.messages)
    assert list(Order.objects.filter(promotion=code).values_list("pk", flat=True)) == [first.pk]
