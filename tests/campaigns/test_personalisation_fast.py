"""The send renders each message with templates split once and formats each date and amount once
per language: exactly what the one-recipient functions give (the preview and the test send use those)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from cartera.campaigns.personalisation import PLACEHOLDER, Facts, ValuesMaker, compile_template, values_for

TEXTS = [
    "",
    "Sin variables.",
    "{{ first_name }}",
    "Hola {{first_name}}:\n{{ last_purchase_date }} ({{ last_purchase_amount }}){{ promo_code }}",
    "{{ promo_discount }} hasta el {{ promo_valid_until }} — {{ owner_signature }}\n\n{{ favourite_category }}",
    "{{ title }} {{ first_name }}, {{ first_name }}! {{ unknown }} }} {",
]


@pytest.mark.parametrize("text", TEXTS)
def test_a_compiled_template_fills_in_as_the_search_and_replace(text):
    values = {
        "first_name": "Lucía",
        "title": "Sra.",
        "promo_code": "VUELVE-ABC234",
        "owner_signature": "Olga\no@x.es",
    }
    plain = PLACEHOLDER.sub(lambda m: values.get(m.group(1), ""), text)
    assert compile_template(text)(values) == plain


def test_the_values_maker_gives_what_values_for_gives():
    facts = [
        Facts(first_name="Ana", title="Sra.", owner_name="Olga Owner", owner_email="o@x.es",
              last_date=dt.date(2026, 5, 17), last_amount=Decimal("1234.5"), last_currency="EUR", favourite="Café"),
        Facts(first_name="Bob", last_date=dt.date(2026, 5, 17), last_amount=Decimal("40"), last_currency="USD"),
        Facts(first_name="Cy"),
        Facts(first_name="Di", owner_email="d@x.es", last_date=dt.date(2025, 12, 31), last_amount=Decimal("0")),
    ]  # fmt: skip
    maker = ValuesMaker()
    for _round in range(2):  # the second time from what it remembered
        for fact in facts:
            for language in ("es", "en"):
                for promo in (
                    {},
                    {
                        "promo_code": "X-1",
                        "promo_discount": Decimal("15"),
                        "promo_valid_until": dt.date(2027, 1, 2),
                    },
                    {"promo_code": "X-2", "promo_discount": Decimal("12.50"), "promo_valid_until": None},
                ):
                    assert maker(fact, language=language, **promo) == values_for(
                        fact, language=language, **promo
                    )
