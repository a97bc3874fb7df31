from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from cartera.core.dates import ORDER_DATES
from cartera.core.forms import AmountField, ServiceModelForm, limit_dates
from cartera.sales.models import Order


class OrderForm(ServiceModelForm):
    """Record a purchase. The amount is read as people type it: "1.234,50", "49,90 €", "€1,234.50"."""

    amount = AmountField(label=_("Amount"))
    promo_code = forms.CharField(
        label=_("Promotion code"), max_length=40, required=False, help_text=_("If the customer gave one.")
    )

    class Meta:
        model = Order
        fields = ["ordered_on", "amount", "currency", "channel", "category", "external_ref"]
        widgets = {"ordered_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit_dates(self.fields["ordered_on"], ORDER_DATES)
