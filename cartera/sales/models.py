"""Purchases: the orders that the analytics read."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from cartera.core.models import TimeStampedModel
from cartera.customers.models import Customer


class SalesChannel(models.TextChoices):
    WEB = "web", _("Web shop")
    STORE = "store", _("Shop / counter")
    PHONE = "phone", _("Phone")
    SALES_REP = "sales_rep", _("Sales rep")
    MARKETPLACE = "marketplace", _("Marketplace")
    OTHER = "other", _("Other")


class Order(TimeStampedModel):
    """One purchase by a customer."""

    scope_owner_fields = ("customer__owner",)

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="orders", verbose_name=_("customer")
    )
    ordered_on = models.DateField(_("date"))
    amount = models.DecimalField(
        _("amount"), max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    channel = models.CharField(_("channel"), max_length=12, choices=SalesChannel.choices, blank=True)
    category = models.CharField(_("purchase type"), max_length=100, blank=True)
    source = models.CharField(_("source"), max_length=50, default="manual")
    external_ref = models.CharField(_("external reference"), max_length=100, null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recorded by"),
    )

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-ordered_on", "-id"]
        permissions = [("export_order", _("Can export orders"))]
        constraints = [
            # Re-importing the same file must never count a purchase twice.
            models.UniqueConstraint(
                fields=["source", "external_ref"],
                condition=models.Q(external_ref__isnull=False),
                name="order_source_external_ref_unique",
            ),
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="order_amount_not_negative"),
        ]
        indexes = [models.Index(fields=["customer", "-ordered_on"], name="order_customer_date")]

    def __str__(self) -> str:
        return f"{self.ordered_on} · {self.amount} {self.currency}"
