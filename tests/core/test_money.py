"""One way of writing money and one way of reading it, in both languages (issue 10)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import translation

from cartera.core.money import checked_currency, format_money, parse_money


@pytest.mark.parametrize(
    ("amount", "language", "decimals", "written"),
    [
        (Decimal("2000265.06"), "es", 2, "2.000.265,06\u00a0€"),
        (Decimal("2000265.06"), "en", 2, "€2,000,265.06"),
        (Decimal("2000265.06"), "es", 0, "2.000.265\u00a0€"),
        (Decimal("49.9"), "es", 2, "49,90\u00a0€"),
        (Decimal("-1234.5"), "en", 2, "-€1,234.50"),
        (0, "es", 2, "0,00\u00a0€"),
        (None, "es", 2, ""),
    ],
)
def test_money_is_written_as_the_language_writes_it(amount, language, decimals, written):
    assert format_money(amount, language=language, decimals=decimals) == written


@pytest.mark.parametrize(
    ("typed", "language", "value"),
    [
        ("1.234,50", "es", "1234.50"),
        ("49,90 €", "es", "49.90"),
        ("49,90\u00a0€", "en", "49.90"),
        ("€1,234.50", "en", "1234.50"),
        ("1,234.50", "es", "1234.50"),
        ("1234.5", "es", "1234.50"),
        ("1.234", "es", "1234.00"),
        ("1,234", "en", "1234.00"),
        ("1.234.567,8", "es", "1234567.80"),
        ("12", "es", "12.00"),
        ("EUR 15,00", "es", "15.00"),
    ],
)
def test_money_is_read_as_people_type_it(typed, language, value):
    assert parse_money(typed, language=language) == Decimal(value)


@pytest.mark.parametrize("typed", ["doce euros", "", "1,2,3,4", "1.23.4", "-5", "1e10", "99999999999", "NaN"])
def test_what_is_not_an_amount_is_refused(typed):
    with pytest.raises(ValueError):
        parse_money(typed, language="es")


def test_the_page_language_is_the_default():
    with translation.override("en"):
        assert format_money(Decimal("1234.5")) == "€1,234.50"
    with translation.override("es"):
        assert format_money(Decimal("1234.5")) == "1.234,50\u00a0€"


def test_a_form_may_read_a_negative_amount_to_explain_it():
    assert parse_money("-5,00", language="es", allow_negative=True) == Decimal("-5.00")


def test_a_records_currency_is_the_base_one_when_empty_and_a_code_otherwise(settings):
    from django.core.exceptions import ValidationError

    settings.CARTERA_DEFAULT_CURRENCY = "gbp"
    assert [checked_currency(v) for v in (None, "", "  ", "usd", " € ", "US$")] == [
        "GBP",
        "GBP",
        "GBP",
        "USD",
        "EUR",
        "USD",
    ]
    with translation.override("en"), pytest.raises(ValidationError) as refused:
        checked_currency("euros de chocolate")
    assert refused.value.message_dict["currency"] == [
        "“EUROS DE CHOCOLATE” is not a currency code (ISO 4217, three letters such as EUR, USD or GBP)"
    ]
