"""Money: the one way amounts are written (pages, charts' tables, e-mails) and read (forms, the API's
text input), in the user's language.

Spanish writes ``1.234,56 €`` (dot for thousands, comma for decimals, the symbol after a
non-breaking space); English writes ``€1,234.56``. People type either, with or without the symbol,
so reading accepts both and only asks the language when the text is truly ambiguous (``1.234``).
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.utils.translation import get_language

SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}
MAX_AMOUNT = Decimal("1e10")  # the order amount column holds 12 digits with 2 decimals
_JUNK = re.compile(r"[€$£\s\u00a0\u202f']|EUR|USD|GBP", re.IGNORECASE)
_NUMBER = re.compile(r"[+-]?[0-9.,]+")


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
    currency: str = "EUR",
    *,
    decimals: int = 2,
    language: str | None = None,
) -> str:
    """``amount`` as the page's language writes money: "1.234,56 €" in Spanish, "€1,234.56" in English.

    ``None`` or an empty value gives an empty string; ``decimals=0`` rounds to whole units (for
    summary figures).
    """
    if amount is None or amount == "":
        return ""
    digits = format_amount(amount, decimals=decimals, language=language)
    negative = digits.startswith("-")
    digits = digits.removeprefix("-")
    symbol = SYMBOLS.get(currency.upper(), currency.upper())
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
