"""Template filters shared by every page."""

from django import template
from django.utils.translation import get_language

from cartera.core.contact import format_phone
from cartera.core.money import format_money

register = template.Library()


@register.filter
def phone(value: str) -> str:
    """An E.164 number in its readable national or international form."""
    return format_phone(value or "")


@register.filter
def percent(value: float | int | str | None, fraction: str = "") -> str:
    """A whole percentage written the way the page's language writes it: "67 %" in Spanish (with a
    non-breaking space), "67%" in English. ``|percent:"fraction"`` takes a share from 0 to 1."""
    if value is None or value == "":
        return ""
    number = float(value) * (100 if fraction == "fraction" else 1)
    sign = "%" if (get_language() or "en").startswith("en") else "\u00a0%"
    return f"{round(number)}{sign}"


@register.filter
def money(value: object, currency: str = "") -> str:
    """An amount as the page's language writes money ("1.234,56 €" / "€1,234.56"); see core/money.py.
    Without a currency (the analysis' sums), the base currency: the only one the analysis adds up."""
    return format_money(value, currency or None)  # type: ignore[arg-type]


@register.filter
def money0(value: object, currency: str = "") -> str:
    """Like :func:`money`, rounded to whole units, for summary figures ("2.000.265 €")."""
    return format_money(value, currency or None, decimals=0)  # type: ignore[arg-type]


@register.simple_tag
def base_currency() -> str:
    """The currency the analysis adds up (``{% base_currency as base %}``): see core/money.py."""
    from cartera.core.money import base_currency as base

    return base()


@register.simple_tag(takes_context=True)
def new_task_count(context: template.Context) -> int:
    """How many tasks colleagues gave the logged-in user that they have not seen (the header badge)."""
    from cartera.activity.selectors import new_tasks

    user = context.get("user")
    if user is None or not user.is_authenticated:
        return 0
    return new_tasks(user=user).count()
