"""Form base classes."""

from __future__ import annotations

from django import forms

from cartera.core.dates import DateRange


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
