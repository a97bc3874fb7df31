"""The order form reads amounts as Spaniards and English speakers type them, and pages write money one
way (issue 10: "1.234,50" and "49,90 €" were refused; three spellings of the same total)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from cartera.sales.models import Order


@pytest.mark.parametrize(
    ("typed", "language", "stored"),
    [("1.234,50", "es", "1234.50"), ("49,90 €", "es", "49.90"), ("€1,234.50", "en", "1234.50")],
)
def test_the_order_form_takes_amounts_as_typed(client, owner, customer, typed, language, stored):
    client.force_login(owner)
    response = client.post(
        reverse("sales:order_create", args=[customer.pk]),
        {"ordered_on": "2026-03-01", "amount": typed, "currency": "EUR"},
        HTTP_ACCEPT_LANGUAGE=language,
    )
    assert response.status_code == 302, response.content.decode()[:500]
    assert Order.objects.get(customer=customer).amount == Decimal(stored)


def test_a_word_is_refused_with_an_example_in_spanish(client, owner, customer):
    client.force_login(owner)
    response = client.post(
        reverse("sales:order_create", args=[customer.pk]),
        {"ordered_on": "2026-03-01", "amount": "doce euros", "currency": "EUR"},
        HTTP_ACCEPT_LANGUAGE="es",
    )
    assert response.status_code == 422
    assert "Escribe un importe como 1.234,50 o 49,90 €." in response.content.decode()
    assert not Order.objects.exists()


def test_the_status_card_writes_money_with_grouping(client, owner, customer):
    from cartera.insights.services import insights_refresh
    from cartera.sales.services import order_create

    order_create(actor=owner, customer=customer, fields={"ordered_on": "2026-02-01", "amount": "37288.56"})
    insights_refresh(trigger="test")
    client.force_login(owner)
    page = client.get(reverse("customers:detail", args=[customer.pk]), HTTP_ACCEPT_LANGUAGE="es")
    assert "37.288,56\u00a0€" in page.content.decode()
    page = client.get(reverse("customers:detail", args=[customer.pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert "€37,288.56" in page.content.decode()


def test_the_status_card_reads_without_a_recency(client, owner, customer):
    """A metrics row with a last purchase but no recency (written by hand or by an older refresh)
    shows the date without "N days ago" instead of failing the page."""
    from cartera.insights.models import CustomerMetrics
    from cartera.insights.services import insights_refresh
    from cartera.sales.services import order_create

    order_create(actor=owner, customer=customer, fields={"ordered_on": "2026-02-01", "amount": "10"})
    insights_refresh(trigger="test")
    CustomerMetrics.objects.filter(customer=customer).update(recency_days=None)
    client.force_login(owner)
    page = client.get(reverse("customers:detail", args=[customer.pk]), HTTP_ACCEPT_LANGUAGE="es")
    assert page.status_code == 200
    assert "01/02/2026" in page.content.decode()
