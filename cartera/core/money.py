"""Money: the one way amounts are written (pages, charts' tables, e-mails) and read (forms, the API's
text input), in the user's language.

Spanish writes ``1.234,56 €`` (dot for thousands, comma for decimals, the symbol after a
non-breaking space); English writes ``€1,234.56``. People type either, with or without the symbol,
so reading accepts both and only asks the language when the text is truly ambiguous (``1.234``).
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import get_language
from django.utils.translation import gettext as _

SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}

# ISO 4217 codes of the currencies in use (the standard's list of 2025), and a few withdrawn since
# 2023 that historical orders still carry (HRK, SLL, ZWL, ANG). Fund codes, precious metals and the
# testing codes (XAU, XTS, XXX...) are left out: no order is paid in them.
_ISO_4217_TEXT = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN
    BZD CAD CDF CHF CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL
    GHS GIP GMD GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF
    KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR
    MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG
    SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD
    UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL
"""
ISO_4217 = frozenset(_ISO_4217_TEXT.split())
# What people write in a currency column instead of the code. "$" alone is left out on purpose: it
# is the sign of the peso, the Canadian and Australian dollar... as much as of the US dollar.
_CURRENCY_WORDS = {"€": "EUR", "EURO": "EUR", "EUROS": "EUR", "£": "GBP", "US$": "USD", "U$S": "USD"}
MAX_AMOUNT = Decimal("1e10")  # the order amount column holds 12 digits with 2 decimals
_JUNK = re.compile(r"[€$£\s\u00a0\u202f']|EUR|USD|GBP", re.IGNORECASE)
_NUMBER = re.compile(r"[+-]?[0-9.,]+")


def base_currency() -> str:
    """The currency amounts are in unless they say otherwise (``CARTERA_DEFAULT_CURRENCY``, EUR): the
    default of every import and order, and the one currency the analysis adds up (docs/analytics.md)."""
    return str(settings.CARTERA_DEFAULT_CURRENCY or "EUR").upper()


def read_currency(text: object) -> str:
    """The ISO 4217 code in ``text`` ("usd", " EUR ", "€"); ``ValueError`` naming the value otherwise."""
    cleaned = str(text if text is not None else "").strip().upper()
    code = _CURRENCY_WORDS.get(cleaned, cleaned)
    if code not in ISO_4217:
        raise ValueError(
            _("“%(value)s” is not a currency code (ISO 4217, three letters such as EUR, USD or GBP)")
            % {"value": str(text if text is not None else "").strip()[:40]}
        )
    return code


def checked_currency(value: object) -> str:
    """What an order's or an opportunity's ``currency`` holds for ``value``: the base currency when
    it is empty, else the code it names (:func:`read_currency`: "usd", "€"...); a ``ValidationError``
    on ``currency`` naming the value otherwise. The one rule of every path that writes them."""
    text = str(value if value is not None else "").strip().upper()  # named as stored: "ZZZ"
    if not text:
        return base_currency()
    try:
        return read_currency(text)
    except ValueError as exc:
        raise ValidationError({"currency": str(exc)}) from exc


def _spanish(language: str | None) -> bool:
    return not (language or get_language() or "es").startswith("en")


def format_amount(
    amount: Decimal | float | int | str, *, decimals: int = 2, language: str | None = None
) -> str:
    """The number alone, grouped as the language writes it: "1.234,56" / "1,234.56" (forms show this)."""
    value = Decimal(str(amount)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    digits = f"{value:,.{decimals}f}"  # -1,234.56
    if _spanish(language):
        digits = digits.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return digits


def format_money(
    amount: Decimal | float | int | str | None,
    currency: str | None = None,
    *,
    decimals: int = 2,
    language: str | None = None,
) -> str:
    """``amount`` as the page's language writes money: "1.234,56 €" in Spanish, "€1,234.56" in English.

    ``None`` or an empty value gives an empty string; ``decimals=0`` rounds to whole units (for
    summary figures). Without a ``currency``, the base currency (:func:`base_currency`).
    """
    if amount is None or amount == "":
        return ""
    digits = format_amount(amount, decimals=decimals, language=language)
    negative = digits.startswith("-")
    digits = digits.removeprefix("-")
    code = (currency or base_currency()).upper()
    symbol = SYMBOLS.get(code, code)
    # English puts a one-character symbol first ("€1,234.56"); a code such as "CHF" goes after.
    text = f"{digits}\u00a0{symbol}" if _spanish(language) or len(symbol) > 1 else f"{symbol}{digits}"
    return f"-{text}" if negative else text


def parse_money(text: str, *, language: str | None = None, allow_negative: bool = False) -> Decimal:
    """The amount in ``text`` as typed by a person: "1.234,50", "49,90 €", "€1,234.50", "1234.5".

    A single separator followed by exactly three digits ("1.234", "1,234") is a thousands separator;
    otherwise the last separator is the decimal one. Raises ``ValueError`` when ``text`` is not an
    amount, is negative (unless ``allow_negative``: a form lets its field's own rule say why) or is too
    large for the database.
    """
    cleaned = _JUNK.sub("", str(text))
    if not cleaned or not _NUMBER.fullmatch(cleaned):
        raise ValueError(text)
    sign = ""
    if cleaned[0] in "+-":
        sign, cleaned = cleaned[0], cleaned[1:]
    separators = [ch for ch in cleaned if ch in ".,"]
    if not separators:
        number = cleaned
    elif len(set(separators)) == 2:
        decimal_mark = cleaned[max(cleaned.rfind("."), cleaned.rfind(","))]
        thousands = "," if decimal_mark == "." else "."
        if cleaned.count(decimal_mark) > 1:
            raise ValueError(text)
        number = cleaned.replace(thousands, "").replace(decimal_mark, ".")
    else:
        mark = separators[0]
        whole, _sep, tail = cleaned.rpartition(mark)
        if len(separators) > 1 or (len(tail) == 3 and whole and not _ambiguous_decimal(mark, language)):
            if any(len(group) != 3 for group in cleaned.split(mark)[1:]):
                raise ValueError(text)
            number = cleaned.replace(mark, "")
        else:
            number = f"{whole}.{tail}"
    try:
        value = Decimal(sign + number)
    except InvalidOperation as exc:
        raise ValueError(text) from exc
    if not value.is_finite() or (value < 0 and not allow_negative) or abs(value) >= MAX_AMOUNT:
        raise ValueError(text)
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _ambiguous_decimal(mark: str, language: str | None) -> bool:
    """Whether "1<mark>234" means one-point-two-three-four: only where that mark is the decimal one."""
    return (mark == ",") == _spanish(language)
