"""Form base classes."""

from __future__ import annotations

from django import forms


class ServiceModelForm(forms.ModelForm):  # type: ignore[type-arg]
    """A model form that only parses input: uniqueness and constraints are checked by the service,
    which knows how to explain them (for example by linking the customer who already has an email)."""

    def validate_unique(self) -> None:
        return None

    def validate_constraints(self) -> None:
        return None
