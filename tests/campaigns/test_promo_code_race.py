"""A unique promotion code with one use, given by two orders at the same moment: one order gets it,
the other is told it has been used. The check and the use happen in one transaction that locks the
code's row (``promotion_check`` in ``order_create``), so the second order waits for the first and
then counts its use. PostgreSQL: two connections (SQLite takes the write lock at the start of each
transaction, so there the two orders never overlap)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone, translation

from tests.shared_db import lock_probe, someone_waits_for_a_lock


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
    outcome: dict[str, Any] = {}
    first_done = threading.Event()

    def second_order() -> None:
        first_done.wait(10)
        try:
            with translation.override("en"):
                outcome["order"] = order_create(actor=owner, customer=buyer, fields=fields)
        except ValidationError as exc:
            outcome["refused"] = " ".join(exc.messages)
        finally:
            connection.close()

    probe = lock_probe()
    helper = threading.Thread(target=second_order)
    helper.start()
    with transaction.atomic():
        first = order_create(actor=owner, customer=buyer, fields=fields)  # checked and used, not committed
        first_done.set()
        # The second order runs now: it must wait for this transaction (its check reads the code's
        # row for update). Without the lock it would count no use yet and take the code too.
        deadline = time.monotonic() + 10
        while helper.is_alive() and not someone_waits_for_a_lock(probe) and time.monotonic() < deadline:
            time.sleep(0.02)
        waited = helper.is_alive()
    helper.join(20)
    probe.close()
    assert waited, "the second order did not wait for the first"
    assert "order" not in outcome
    assert "already been used" in outcome["refused"]
    assert list(Order.objects.filter(promotion=code).values_list("pk", flat=True)) == [first.pk]
