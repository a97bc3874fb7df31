from __future__ import annotations

from django import forms

from cartera.core.forms import ServiceModelForm
from cartera.sales.models import Order


class OrderForm(ServiceModelForm):
    """Record a purchase. The amount accepts a decimal comma when the page is in Spanish."""

    class Meta:
        model = Order
        fields = ["ordered_on", "amount", "currency", "channel", "category", "external_ref"]
        widgets = {"ordered_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}
        localized_fields = ["amount"]
