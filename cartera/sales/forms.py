from __future__ import annotations

from typing import Any

from django import forms

from cartera.core.dates import ORDER_DATES
from cartera.core.forms import ServiceModelForm, limit_dates
from cartera.sales.models import Order


class OrderForm(ServiceModelForm):
    """Record a purchase. The amount accepts a decimal comma when the page is in Spanish."""

    class Meta:
        model = Order
        fields = ["ordered_on", "amount", "currency", "channel", "category", "external_ref"]
        widgets = {"ordered_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}
        localized_fields = ["amount"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit_dates(self.fields["ordered_on"], ORDER_DATES)
