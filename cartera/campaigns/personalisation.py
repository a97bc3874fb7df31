"""The safe template language of campaign messages: ``{{ variable }}`` and nothing else.

Only the variables listed in :data:`VARIABLES` exist; there are no filters, tags, attribute access
or loops, so a message cannot reach any other data, and the result is plain text (never HTML). A
problem (an unknown variable, a ``{{`` never closed, a stray ``}}``) is reported with its line before
anything is sent.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.utils import formats, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cartera.core import bulk
from cartera.core.money import format_amount, format_money
from cartera.customers.models import Customer
from cartera.sales.models import Order

VARIABLES: dict[str, Any] = {
    "first_name": gettext_lazy("first name"),
    "title": gettext_lazy("title (Mr, Mrs...)"),
    "last_purchase_date": gettext_lazy("date of the last purchase"),
    "last_purchase_amount": gettext_lazy("amount of the last purchase"),
    "favourite_category": gettext_lazy("the purchase type they buy most"),
    "owner_name": gettext_lazy("the name of the customer's owner"),
    "owner_signature": gettext_lazy("the owner's signature (name and e-mail)"),
    "promo_code": gettext_lazy("the promotion code"),
    "promo_discount": gettext_lazy("the discount, e.g. 15 %"),
    "promo_valid_until": gettext_lazy("the last day the code is valid"),
}

PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


@dataclass(frozen=True)
class Problem:
    """A mistake in a message, with its line (1 is the first)."""

    line: int
    text: str

    def __str__(self) -> str:
        return _("Line %(line)s: %(problem)s") % {"line": self.line, "problem": self.text}


def problems(text: str) -> list[Problem]:
    """Every mistake in ``text``, line by line (an empty list: it can be sent)."""
    found: list[Problem] = []
    for number, line in enumerate(text.splitlines() or [""], start=1):
        rest = PLACEHOLDER.sub("", line)
        if "{{" in rest:
            found.append(Problem(number, _("“{{” is not closed with “}}”.")))
        elif "}}" in rest:
            found.append(Problem(number, _("“}}” without an opening “{{”.")))
        for match in PLACEHOLDER.finditer(line):
            name = match.group(1)
            if name not in VARIABLES:
                found.append(
                    Problem(
                        number,
                        _("Unknown variable “%(name)s”. You can use: %(names)s.")
                        % {"name": name, "names": ", ".join(VARIABLES)},
                    )
                )
    return found


def render(text: str, values: Mapping[str, str]) -> str:
    """``text`` with each ``{{ variable }}`` replaced by its value (checked with :func:`problems` first)."""
    return compile_template(text)(values)


@functools.lru_cache(maxsize=256)
def compile_template(text: str) -> Callable[[Mapping[str, str]], str]:
    """``text`` split once into its fixed pieces and variables: a function that fills it in for one
    recipient (what :func:`render` does, without searching the text again for each of them)."""
    parts = PLACEHOLDER.split(text)  # fixed text, variable, fixed text, variable, ..., fixed text
    fixed, names = parts[0::2], parts[1::2]
    if not names:
        return lambda values: text

    def fill(values: Mapping[str, str]) -> str:
        out = [fixed[0]]
        for name, after in zip(names, fixed[1:], strict=True):
            out.append(values.get(name, ""))
            out.append(after)
        return "".join(out)

    return fill


@dataclass
class Facts:
    """What a message may say about one customer (before formatting)."""

    first_name: str = ""
    title: str = ""
    owner_name: str = ""
    owner_email: str = ""
    last_date: Any = None
    last_amount: Decimal | None = None
    last_currency: str = "EUR"
    favourite: str = ""


def facts_for(customer_ids: Iterable[int] | QuerySet[Any], chunk: int = 2000) -> dict[int, Facts]:
    """The facts of many customers, a few queries per ``chunk`` of them. ``customer_ids`` may be a
    queryset of ids (a sent campaign's recipients): then two queries in all, with it as a subquery
    (the plain twin, ``CARTERA_BULK_PLAIN``: the ids read and sent in chunks)."""
    parts: Iterable[Any]
    if isinstance(customer_ids, QuerySet) and bulk.fast_paths():
        parts = [customer_ids]
    else:
        ids = list(customer_ids)
        parts = (ids[start : start + chunk] for start in range(0, len(ids), chunk))
    facts: dict[int, Facts] = {}
    for part in parts:
        rows = Customer.objects.filter(pk__in=part).values_list(
            "pk",
            "first_name",
            "title",
            "owner__first_name",
            "owner__last_name",
            "owner__username",
            "owner__email",
        )
        for pk, first, title, owner_first, owner_last, owner_user, owner_email in rows:
            owner = f"{owner_first or ''} {owner_last or ''}".strip() or (owner_user or "")
            facts[pk] = Facts(first_name=first, title=title, owner_name=owner, owner_email=owner_email or "")
        categories: dict[int, Counter[str]] = {}
        orders = (
            Order.objects.filter(customer_id__in=part)
            .order_by("customer_id", "ordered_on", "id")
            .values_list("customer_id", "ordered_on", "amount", "currency", "category")
        )
        for pk, ordered_on, amount, currency, category in orders.iterator(chunk_size=5000):
            fact = facts[pk]
            fact.last_date, fact.last_amount, fact.last_currency = ordered_on, amount, currency
            if category:
                categories.setdefault(pk, Counter())[category] += 1
        for pk, counter in categories.items():
            facts[pk].favourite = counter.most_common(1)[0][0]
    return facts


class ValuesMaker:
    """:func:`values_for` for many recipients: each date, amount and discount is written once per
    language (the formatting, and switching the active language for it, are the costly part) and
    reused for every recipient who has the same one. Gives exactly what :func:`values_for` gives."""

    def __init__(self) -> None:
        self._dates: dict[tuple[str, Any], str] = {}
        self._money: dict[tuple[str, Decimal, str], str] = {}
        self._discounts: dict[tuple[str, Decimal], str] = {}

    def _date(self, language: str, value: Any) -> str:
        if not value:
            return ""
        key = (language, value)
        found = self._dates.get(key)
        if found is None:
            with translation.override(language):
                found = self._dates[key] = formats.date_format(value)
        return found

    def _amount(self, language: str, amount: Decimal | None, currency: str) -> str:
        if amount is None:
            return ""
        key = (language, amount, currency)
        found = self._money.get(key)
        if found is None:
            with translation.override(language):
                found = self._money[key] = format_money(amount, currency, language=language)
        return found

    def _discount(self, language: str, discount: Decimal | None) -> str:
        if not discount:
            return ""
        key = (language, discount)
        found = self._discounts.get(key)
        if found is None:
            with translation.override(language):
                found = self._discounts[key] = (
                    f"{format_amount(discount, decimals=0, language=language)}\u00a0%"
                )
        return found

    def __call__(
        self,
        fact: Facts,
        *,
        language: str,
        promo_code: str = "",
        promo_discount: Decimal | None = None,
        promo_valid_until: Any = None,
    ) -> dict[str, str]:
        return {
            "first_name": fact.first_name,
            "title": fact.title,
            "last_purchase_date": self._date(language, fact.last_date),
            "last_purchase_amount": self._amount(language, fact.last_amount, fact.last_currency),
            "favourite_category": fact.favourite,
            "owner_name": fact.owner_name,
            "owner_signature": "\n".join(part for part in (fact.owner_name, fact.owner_email) if part),
            "promo_code": promo_code,
            "promo_discount": self._discount(language, promo_discount),
            "promo_valid_until": self._date(language, promo_valid_until),
        }


def values_for(
    fact: Facts,
    *,
    language: str,
    promo_code: str = "",
    promo_discount: Decimal | None = None,
    promo_valid_until: Any = None,
) -> dict[str, str]:
    """The variables' values for one customer, written in ``language`` (money and dates as that
    language writes them)."""
    with translation.override(language):
        signature = "\n".join(part for part in (fact.owner_name, fact.owner_email) if part)
        return {
            "first_name": fact.first_name,
            "title": fact.title,
            "last_purchase_date": formats.date_format(fact.last_date) if fact.last_date else "",
            "last_purchase_amount": (
                format_money(fact.last_amount, fact.last_currency, language=language)
                if fact.last_amount is not None
                else ""
            ),
            "favourite_category": fact.favourite,
            "owner_name": fact.owner_name,
            "owner_signature": signature,
            "promo_code": promo_code,
            "promo_discount": (
                f"{format_amount(promo_discount, decimals=0, language=language)}\u00a0%"
                if promo_discount
                else ""
            ),
            "promo_valid_until": formats.date_format(promo_valid_until) if promo_valid_until else "",
        }
