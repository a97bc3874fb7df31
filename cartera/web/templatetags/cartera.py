"""Template filters shared by every page."""

from django import template

from cartera.core.contact import format_phone

register = template.Library()


@register.filter
def phone(value: str) -> str:
    """An E.164 number in its readable national or international form."""
    return format_phone(value or "")
