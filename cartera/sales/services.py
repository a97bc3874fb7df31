"""Writes of purchases."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import formats
from django.utils.translation import gettext as _

from cartera.accounts.models import User
from cartera.core import hooks
from cartera.core.concurrency import check_version
from cartera.core.dates import ORDER_DATES, check_dates
from cartera.customers.models import Customer
from cartera.customers.services import customer_mark_buyer
from cartera.sales.models import Order, PromotionCode

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


def promotion_check(
    *, code: str, customer: Customer, on: dt.date, exclude_order: int | None = None
) -> PromotionCode:
    """The promotion code ``code`` if ``customer`` may use it for a purchase on ``on``; otherwise a
    ``ValidationError`` on ``promo_code`` that says why (unknown, not valid yet, expired, used up,
    someone else's). The code row is locked, so two purchases cannot both take its last use."""
    typed = code.strip().upper()
    promotion = PromotionCode.objects.select_for_update().filter(code=typed).first()
    if promotion is None:
        raise ValidationError({"promo_code": _("There is no promotion code “%(code)s”.") % {"code": typed}})
    if promotion.customer_id is not None and promotion.customer_id != customer.pk:
        raise ValidationError(
            {"promo_code": _("The code “%(code)s” belongs to another customer.") % {"code": typed}}
        )
    if promotion.valid_from and on < promotion.valid_from:
        raise ValidationError(
            {
                "promo_code": _("The code “%(code)s” is valid from %(date)s.")
                % {"code": typed, "date": formats.date_format(promotion.valid_from)}
            }
        )
    if promotion.valid_until and on > promotion.valid_until:
        raise ValidationError(
            {
                "promo_code": _("The code “%(code)s” expired on %(date)s.")
                % {"code": typed, "date": formats.date_format(promotion.valid_until)}
            }
        )
    if promotion.max_uses is not None:
        used = promotion.orders.exclude(pk=exclude_order or 0).count()
        if used >= promotion.max_uses:
            raise ValidationError(
                {
                    "promo_code": _("The code “%(code)s” has already been used (%(used)s of %(limit)s).")
                    % {"code": typed, "used": used, "limit": promotion.max_uses}
                }
            )
    return promotion


@transaction.atomic
def order_create(*, actor: User | None, customer: Customer, fields: Mapping[str, Any]) -> Order:
    """Record a purchase; the customer's first purchase makes them a customer. ``fields`` may give a
    ``promo_code``: it is checked (:func:`promotion_check`) and the order linked to it."""
    fields = dict(fields)
    code = str(fields.pop("promo_code", "") or "").strip()
    order = Order(customer=customer, created_by=actor)
    _assign(order, fields)
    _check(order)
    if code:
        order.promotion = promotion_check(code=code, customer=customer, on=order.ordered_on)
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
