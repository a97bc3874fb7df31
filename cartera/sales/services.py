"""Writes of purchases."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import formats
from django.utils.translation import gettext as _

from cartera.accounts.models import User
from cartera.core import hooks
from cartera.core.concurrency import check_version
from cartera.core.dates import ORDER_DATES, check_dates
from cartera.core.money import checked_currency
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
    # The same rule, and message, as an import's currency column: "€", "US$"... are written as codes.
    order.currency = checked_currency(order.currency)
    order.external_ref = order.external_ref or None


def _check(order: Order) -> None:
    """The model's rules, and a date in :data:`ORDER_DATES` (year 1 or 9999 wrecks the analysis)."""
    order.full_clean()  # first: it turns a date given as text into a date
    check_dates(order, {"ordered_on": ORDER_DATES})


def promotion_refusal(
    *, promotion: PromotionCode | None, typed: str, customer_id: int | None, on: dt.date, used: int
) -> str | None:
    """Why ``customer_id`` (``None``: a customer not created yet) may not use ``promotion`` (typed as
    ``typed``; ``None``: no such code) for a purchase on ``on`` when it has been used ``used`` times;
    ``None`` when they may. The one list of reasons for the form, the API and imports."""
    if promotion is None:
        return _("There is no promotion code “%(code)s”.") % {"code": typed}
    if promotion.customer_id is not None and promotion.customer_id != customer_id:
        return _("The code “%(code)s” belongs to another customer.") % {"code": typed}
    if promotion.valid_from and on < promotion.valid_from:
        return _("The code “%(code)s” is valid from %(date)s.") % {
            "code": typed,
            "date": formats.date_format(promotion.valid_from),
        }
    if promotion.valid_until and on > promotion.valid_until:
        return _("The code “%(code)s” expired on %(date)s.") % {
            "code": typed,
            "date": formats.date_format(promotion.valid_until),
        }
    if promotion.max_uses is not None and used >= promotion.max_uses:
        return _("The code “%(code)s” has already been used (%(used)s of %(limit)s).") % {
            "code": typed,
            "used": used,
            "limit": promotion.max_uses,
        }
    return None


def promotion_check(
    *, code: str, customer: Customer, on: dt.date, exclude_order: int | None = None
) -> PromotionCode:
    """The promotion code ``code`` if ``customer`` may use it for a purchase on ``on``; otherwise a
    ``ValidationError`` on ``promo_code`` that says why (unknown, not valid yet, expired, used up,
    someone else's). The code row is locked, so two purchases cannot both take its last use."""
    typed = code.strip().upper()
    promotion = PromotionCode.objects.select_for_update().filter(code=typed).first()
    used = 0
    if promotion is not None and promotion.max_uses is not None:
        used = promotion.orders.exclude(pk=exclude_order or 0).count()
    refusal = promotion_refusal(promotion=promotion, typed=typed, customer_id=customer.pk, on=on, used=used)
    if refusal is not None:
        raise ValidationError({"promo_code": refusal})
    assert promotion is not None
    return promotion


@dataclass(frozen=True)
class PromotionUse:
    """One purchase that names a promotion code, for :func:`promotions_check_many`."""

    code: str
    customer_id: int | None
    on: dt.date


def promotions_check_many(
    *, uses: Sequence[PromotionUse], taken: dict[int, int] | None = None
) -> list[PromotionCode | str]:
    """Check many purchases' codes at once (an order import): for each use, in order, its
    ``PromotionCode`` or the reason it is refused (as :func:`promotion_refusal`). Each accepted use
    counts against the code's limit for the next ones; ``taken`` (code id → uses accepted before, e.g.
    by earlier batches of the same import) is read and updated. The code rows are locked when called
    inside a transaction, as in :func:`promotion_check`."""
    taken = {} if taken is None else taken
    typed = {use.code.strip().upper() for use in uses}
    codes = PromotionCode.objects.filter(code__in=typed)
    if transaction.get_connection().in_atomic_block:
        codes = codes.select_for_update()
    found = {p.code: p for p in codes}
    limited = [p.pk for p in found.values() if p.max_uses is not None]
    used = dict(
        Order.objects.filter(promotion_id__in=limited)
        .values("promotion_id")
        .annotate(n=Count("id"))
        .values_list("promotion_id", "n")
    )
    result: list[PromotionCode | str] = []
    for use in uses:
        code = use.code.strip().upper()
        promotion = found.get(code)
        count = used.get(promotion.pk, 0) + taken.get(promotion.pk, 0) if promotion is not None else 0
        refusal = promotion_refusal(
            promotion=promotion, typed=code, customer_id=use.customer_id, on=use.on, used=count
        )
        if refusal is not None:
            result.append(refusal)
            continue
        assert promotion is not None
        taken[promotion.pk] = taken.get(promotion.pk, 0) + 1
        result.append(promotion)
    return result


@transaction.atomic
def order_create(*, actor: User | None, customer: Customer, fields: Mapping[str, Any]) -> Order:
    """Record a purchase; the customer's first purchase makes them a customer. ``fields`` may give a
    ``promo_code``: it is checked (:func:`promotion_check`) and the order linked to it."""
    fields = dict(fields)
    code = str(fields.pop("promo_code", "") or "").strip()
    order = Order(customer=customer, created_by=actor)  # without a currency, the base one (the default)
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
