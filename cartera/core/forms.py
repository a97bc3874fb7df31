"""Form base classes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from cartera.core.dates import DateRange
from cartera.core.money import format_amount, parse_money


def limit_dates(field: forms.Field, date_range: DateRange) -> None:
    """Hold a date (or date-time) form field to ``date_range``: checked, and ``min`` / ``max`` on the picker."""
    field.validators.append(date_range.validator)
    field.widget.attrs.update(date_range.widget_attrs(with_time=isinstance(field, forms.DateTimeField)))


class ServiceModelForm(forms.ModelForm):  # type: ignore[type-arg]
    """A model form that only parses input: uniqueness and constraints are checked by the service,
    which knows how to explain them (for example by linking the customer who already has an email)."""

    def validate_unique(self) -> None:
        return None

    def validate_constraints(self) -> None:
        return None


class AmountField(forms.DecimalField):
    """A money amount as people type it, in either language: "1.234,50", "49,90 €", "€1,234.50"."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", 12)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}))
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Decimal | None:  # type: ignore[override]
        if value in self.empty_values:
            return None
        if isinstance(value, Decimal):
            return value
        try:
            # A negative amount is read, so that the model's own rule says what is wrong with it.
            return parse_money(str(value), allow_negative=True)
        except ValueError as exc:
            raise forms.ValidationError(
                _("Enter an amount such as 1.234,50 or 49,90 €."), code="invalid"
            ) from exc

    def prepare_value(self, value: Any) -> Any:
        return format_amount(value) if isinstance(value, Decimal) else value
