"""Reads of purchases."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from cartera.core.money import base_currency
from cartera.core.scoping import restrict
from cartera.sales.models import Order


def order_list(*, user: Any) -> QuerySet[Order]:
    """Orders the user may see, newest first."""
    return restrict(Order.objects.all(), user, "view").select_related("customer", "promotion")


def other_currencies_of(*, customer_id: int) -> list[str]:
    """The currencies other than the base one that the customer's orders are in (the analysis leaves
    those orders out: docs/analytics.md, "Currencies"). The customer is already scoped by the caller."""
    rows = (
        Order.objects.filter(customer_id=customer_id)
        .exclude(currency=base_currency())
        .values_list("currency", flat=True)
        .distinct()
        .order_by("currency")
    )
    return list(rows)
