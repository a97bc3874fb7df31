"""Writes of purchases."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction

from cartera.accounts.models import User
from cartera.core import hooks
from cartera.core.concurrency import check_version
from cartera.core.dates import ORDER_DATES, check_dates
from cartera.customers.models import Customer
from cartera.customers.services import customer_mark_buyer
from cartera.sales.models import Order

ORDER_FIELDS = ("ordered_on", "amount", "currency", "channel", "category", "source", "external_ref")


def _assign(order: Order, fields: Mapping[str, Any]) -> None:
    unknown = set(fields) - set(ORDER_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        setattr(order, name, value.strip() if isinstance(value, str) else value)
    order.currency = (order.currency or "EUR").upper()
    order.external_ref = order.external_ref or None


def _check(order: Order) -> None:
    """The model's rules, and a date in :data:`ORDER_DATES` (year 1 or 9999 wrecks the analysis)."""
    order.full_clean()  # first: it turns a date given as text into a date
    check_dates(order, {"ordered_on": ORDER_DATES})


@transaction.atomic
def order_create(*, actor: User | None, customer: Customer, fields: Mapping[str, Any]) -> Order:
    """Record a purchase; the customer's first purchase makes them a customer."""
    order = Order(customer=customer, created_by=actor)
    _assign(order, fields)
    _check(order)
    order.save()
    customer_mark_buyer(actor=actor, customer=customer)
    hooks.fire("portfolio_changed", trigger="order")
    return order


@transaction.atomic
def order_update(
    *, actor: User, order: Order, fields: Mapping[str, Any], expected_version: str | None = None
) -> Order:
    """Correct a recorded purchase; refused (``StaleEditError``) when ``expected_version``, the version
    the editor read, is older than the stored one."""
    check_version(order, expected_version)
    _assign(order, fields)
    _check(order)
    order.save()
    return order


def order_delete(*, actor: User, order: Order) -> None:
    """Remove a purchase recorded by mistake."""
    order.delete()
