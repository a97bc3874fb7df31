"""Issue 11, item 10: the analysis never adds dollars to euros. It counts the orders in the base
currency (``CARTERA_DEFAULT_CURRENCY``) and lists the others as left out, on every page that sums."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse

from cartera.insights import selectors, storage
from cartera.insights.models import CustomerMetrics
from cartera.insights.services import insights_refresh

pytestmark = pytest.mark.django_db

END = dt.date(2025, 6, 30)


@pytest.fixture
def mixed(owner):
    """Ana buys in euros, Bob in dollars only, Cy in both."""
    from cartera.customers.services import customer_create
    from cartera.sales.services import order_create

    people = {
        name: customer_create(actor=owner, fields={"first_name": name}) for name in ("Ana", "Bob", "Cy")
    }
    plan = [("Ana", "EUR", "100.00"), ("Bob", "USD", "5000.00"), ("Cy", "EUR", "20.00"), ("Cy", "USD", "7.50"),
            ("Ana", "EUR", "50.10"), ("Bob", "USD", "10.00"), ("Cy", "GBP", "1.00")]  # fmt: skip
    for n, (name, currency, amount) in enumerate(plan):
        order_create(
            actor=owner,
            customer=people[name],
            fields={"ordered_on": dt.date(2025, 1, 1) + dt.timedelta(days=7 * n), "amount": amount,
                    "currency": currency},
        )  # fmt: skip
    return people


@pytest.mark.parametrize("path", ["fast", "plain"])
def test_the_analysis_reads_the_base_currency_only(mixed, settings, monkeypatch, path):
    settings.CARTERA_BULK_PLAIN = path == "plain"
    if connection.vendor == "sqlite":
        monkeypatch.setattr(storage, "_SQLITE_ROWIDS_PER_QUERY", 2)  # several chunks, some all dollars
    orders = selectors.order_arrays()
    assert sorted(zip(orders.customer_ids.tolist(), orders.amounts.tolist(), strict=True)) == sorted(
        [(mixed["Ana"].pk, 100.0), (mixed["Cy"].pk, 20.0), (mixed["Ana"].pk, 50.1)]
    )
    assert selectors.other_currencies() == [
        {"currency": "USD", "orders": 3, "customers": 2, "amount": "5017.50"},
        {"currency": "GBP", "orders": 1, "customers": 1, "amount": "1.00"},
    ]
    # Another base currency: the others are the ones left out.
    settings.CARTERA_DEFAULT_CURRENCY = "USD"
    assert sorted(selectors.order_arrays().amounts.tolist()) == [7.5, 10.0, 5000.0]


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", ("amounts in EUR only", "3 orders in USD", "1 order in GBP")),
        ("es", ("importes en EUR", "3 pedidos en USD", "1 pedido en GBP")),
    ],
)
def test_pages_that_add_up_say_what_they_leave_out(client, owner, mixed, language, words):
    insights_refresh(as_of=END)
    metrics = {m.customer.first_name: m for m in CustomerMetrics.objects.select_related("customer")}
    assert metrics["Ana"].revenue == Decimal("150.10") and metrics["Cy"].revenue == Decimal("20.00")
    assert metrics["Bob"].revenue == 0 and metrics["Bob"].orders_count == 0  # no dollars as euros
    client.force_login(owner)
    for name in ("web:home", "segments:pareto", "segments:rfm"):
        page = client.get(reverse(name), HTTP_ACCEPT_LANGUAGE=language)
        assert page.status_code == 200 and 'id="other-currencies"' in page.text, name
        for text in words:
            assert text in page.text, (name, text)
    bob = client.get(reverse("customers:detail", args=[mixed["Bob"].pk]), HTTP_ACCEPT_LANGUAGE=language)
    assert ("orders in USD are in the" if language == "en" else "pedidos en USD están") in bob.text
    shown = "$5,000.00" if language == "en" else "5.000,00\u00a0$"
    assert shown in bob.text  # the order itself, with its currency
    ana = client.get(reverse("customers:detail", args=[mixed["Ana"].pk]), HTTP_ACCEPT_LANGUAGE=language)
    assert 'id="other-currencies"' not in ana.text


def test_no_notice_when_every_order_is_in_the_base_currency(client, owner, customer):
    from cartera.sales.services import order_create

    order_create(actor=owner, customer=customer, fields={"ordered_on": dt.date(2025, 1, 1), "amount": "9.99"})
    insights_refresh(as_of=END)
    client.force_login(owner)
    assert 'id="other-currencies"' not in client.get(reverse("web:home")).text
    assert selectors.other_currencies() == []
