"""An order import and an order typed in at the same moment, both naming a single-use promotion code:
one gets it, the other is told it has been used. The import plans and writes each batch of orders in
one transaction that locks the codes it checked, so it waits for the typed order and then counts
its use. PostgreSQL: two connections (SQLite takes the write lock at the start of each transaction,
so there the two never overlap)."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone, translation

from tests.shared_db import race


@pytest.mark.django_db(transaction=True)
def test_an_import_and_a_typed_order_cannot_both_use_a_single_use_code(owner, manager, tmp_path, settings):
    if connection.vendor != "postgresql":
        pytest.skip("two connections at once: PostgreSQL")
    from cartera.customers.services import customer_create
    from cartera.imports.models import ImportJob, ImportRowError
    from cartera.sales.models import Order, PromotionCode
    from cartera.sales.services import order_create

    settings.VAR_DIR = tmp_path
    buyer = customer_create(
        actor=owner, fields={"first_name": "Rápida", "email": "rapida@example.es", "stage": "customer"}
    )
    code = PromotionCode.objects.create(
        code="VUELVE-IMP22",
        customer=buyer,
        discount_percent=Decimal("15"),
        valid_from=timezone.localdate() - dt.timedelta(days=1),
        valid_until=timezone.localdate() + dt.timedelta(days=30),
        max_uses=1,
        source="campaigns.campaign:0",
    )
    path = tmp_path / "pedidos.csv"
    path.write_text(
        f"Nº pedido;Fecha;Email;Importe;Código promocional\r\n"
        f"R-1;{timezone.localdate():%d/%m/%Y};rapida@example.es;25,00;vuelve-imp22\r\n",
        encoding="utf-8",
    )

    def import_orders() -> None:
        with translation.override("en"):
            call_command(
                "import", str(path), "--user", "manager", "--kind", "orders", "--lang", "en",
                stdout=io.StringIO(),
            )  # fmt: skip

    def type_order() -> Any:  # checked and used, not committed until the import waits
        return order_create(
            actor=owner,
            customer=buyer,
            fields={"ordered_on": timezone.localdate(), "amount": "20", "promo_code": "VUELVE-IMP22"},
        )

    # The import's check reads the code's row for update, so it must wait for the typed order's
    # transaction. Without the lock it would count no use yet and take the code too.
    ended = race(type_order, import_orders)
    typed = ended.first
    assert ended.error is None, repr(ended.error)
    assert ended.waited, "the import did not wait for the typed order"
    assert list(Order.objects.filter(promotion=code).values_list("pk", flat=True)) == [typed.pk]
    job = ImportJob.objects.latest("pk")
    reasons = list(ImportRowError.objects.filter(job=job).values_list("reason", flat=True))
    assert any("already been used" in reason for reason in reasons), reasons
    assert not Order.objects.filter(external_ref="R-1").exists()
