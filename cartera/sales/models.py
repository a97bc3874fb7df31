"""Purchases: the orders that the analytics read."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from cartera.core.models import TimeStampedModel
from cartera.core.money import base_currency
from cartera.customers.models import Customer


class SalesChannel(models.TextChoices):
    WEB = "web", _("Web shop")
    STORE = "store", _("Shop / counter")
    PHONE = "phone", _("Phone")
    SALES_REP = "sales_rep", _("Sales rep")
    MARKETPLACE = "marketplace", _("Marketplace")
    OTHER = "other", _("Other")


class PromotionCode(models.Model):
    """A code a customer gives when buying: a discount, valid between two dates, usable a number of
    times. ``customer`` set: only that customer may use it (a unique code sent to one recipient).
    ``source`` names what created it (``campaigns.campaign:3``), so the campaign finds its codes."""

    scope_owner_fields = ("customer__owner",)

    code = models.CharField(_("code"), max_length=40, unique=True)
    discount_percent = models.DecimalField(
        _("discount (%)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    max_uses = models.PositiveIntegerField(_("use limit"), null=True, blank=True)
    customer = models.ForeignKey(
        Customer,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="promotion_codes",
        verbose_name=_("only for"),
    )
    source = models.CharField(_("created by"), max_length=80, blank=True, db_index=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("promotion code")
        verbose_name_plural = _("promotion codes")

    def __str__(self) -> str:
        return self.code


class Order(TimeStampedModel):
    """One purchase by a customer."""

    scope_owner_fields = ("customer__owner",)

    # No index of its own: ``order_customer_date`` starts with the customer and serves every lookup
    # by customer (a second one only cost each written order another index entry).
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="orders", verbose_name=_("customer"), db_index=False
    )
    ordered_on = models.DateField(_("date"))
    amount = models.DecimalField(
        _("amount"), max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    # The base currency when none is given (CARTERA_DEFAULT_CURRENCY), read when the row is made: a
    # fixed "EUR" here would silently write euros wherever a path forgets to set it.
    currency = models.CharField(_("currency"), max_length=3, default=base_currency)
    channel = models.CharField(_("channel"), max_length=12, choices=SalesChannel.choices, blank=True)
    category = models.CharField(_("purchase type"), max_length=100, blank=True)
    source = models.CharField(_("source"), max_length=50, default="manual")
    external_ref = models.CharField(_("external reference"), max_length=100, null=True, blank=True)
    promotion = models.ForeignKey(
        PromotionCode,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="orders",
        verbose_name=_("promotion code"),
    )
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
            # Re-importing the same file must never count a purchase twice. The order number comes
            # first: an import looks its numbers up whatever the source (an order typed in with its
            # invoice number, one written out by the export) in this index, in one read.
            models.UniqueConstraint(
                fields=["external_ref", "source"],
                condition=models.Q(external_ref__isnull=False),
                name="order_external_ref_source_unique",
            ),
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="order_amount_not_negative"),
        ]
        indexes = [models.Index(fields=["customer", "-ordered_on"], name="order_customer_date")]

    def __str__(self) -> str:
        return f"{self.ordered_on} · {self.amount} {self.currency}"
