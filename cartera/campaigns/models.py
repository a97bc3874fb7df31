"""Reactivation campaigns: a goal, an audience from segments with a message (or a call step) per
segment, optional A/B variants, a promotion, and — frozen when it is sent — who received what, who
was excluded and why, and the control group that received nothing."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cartera.core.models import TimeStampedModel
from cartera.customers.models import Customer
from cartera.segments.models import Segment


class Goal(models.TextChoices):
    REACTIVATE = "reactivate", _("Win back customers who stopped buying")
    RETAIN = "retain", _("Keep customers who are slipping away")
    PROMOTE = "promote", _("Promote a product or an offer")


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SENDING = "sending", _("Sending")
    PAUSED = "paused", _("Paused")
    SENT = "sent", _("Sent")


class PromoMode(models.TextChoices):
    NONE = "none", _("No promotion")
    SHARED = "shared", _("One code for everybody")
    UNIQUE = "unique", _("A unique code per recipient")


class Campaign(TimeStampedModel):
    """A campaign: what it is for, who it goes to (segments), how it is measured (control group,
    window) and its promotion. Frozen at send time: ``sent_at`` and the ``Recipient`` rows."""

    # Changed by its creator, or by whoever acts on every record (managers).
    scope_owner_fields = ("created_by",)

    name = models.CharField(_("name"), max_length=120)
    goal = models.CharField(_("goal"), max_length=12, choices=Goal.choices, default=Goal.REACTIVATE)
    status = models.CharField(
        _("status"), max_length=10, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT
    )
    control_percent = models.PositiveSmallIntegerField(
        _("control group (%)"),
        default=10,
        validators=[MinValueValidator(0), MaxValueValidator(50)],
        help_text=_("A random share of the audience that receives nothing: the yardstick."),
    )
    seed = models.PositiveIntegerField(_("random seed"), default=0)
    frequency_cap_days = models.PositiveSmallIntegerField(
        _("frequency cap (days)"),
        default=14,
        validators=[MaxValueValidator(365)],
        help_text=_("Leave out whoever another campaign contacted in the last N days (0: nobody)."),
    )
    window_days = models.PositiveSmallIntegerField(
        _("measurement window (days)"),
        default=60,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text=_("A purchase within this many days of the send counts as bought again."),
    )
    promo_mode = models.CharField(
        _("promotion"), max_length=8, choices=PromoMode.choices, default=PromoMode.NONE
    )
    promo_code = models.CharField(
        _("code"),
        max_length=40,
        blank=True,
        help_text=_("The shared code, or the start of each unique code."),
    )
    promo_discount = models.DecimalField(
        _("discount (%)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    promo_valid_until = models.DateField(_("valid until"), null=True, blank=True)
    promo_max_uses = models.PositiveIntegerField(
        _("use limit"),
        null=True,
        blank=True,
        help_text=_("How many purchases may use each code (empty: no limit)."),
    )
    track_clicks = models.BooleanField(
        _("count clicks on links"),
        default=False,
        help_text=_(
            "Links in the e-mails go through a signed address on this site that records who clicked "
            "which link, then opens the original page. Off: links are sent as written."
        ),
    )
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="campaigns",
        verbose_name=_("created by"),
    )
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("sent by"),
    )

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name

    @property
    def batch(self) -> str:
        """The outbox batch of the campaign's e-mails (paused and resumed together)."""
        return f"campaign:{self.pk}"

    @property
    def is_draft(self) -> bool:
        return self.status == CampaignStatus.DRAFT


class Channel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    CALL = "call", _("Call (a task for the customer's owner)")


class CampaignMessage(models.Model):
    """What one segment of the audience gets: an e-mail (with up to two variants) or a call."""

    scope_owner_fields = ("campaign__created_by",)

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="messages")
    segment = models.ForeignKey(
        Segment, on_delete=models.PROTECT, related_name="campaign_messages", verbose_name=_("segment")
    )
    position = models.PositiveSmallIntegerField(_("order"), default=0)
    channel = models.CharField(_("channel"), max_length=6, choices=Channel.choices, default=Channel.EMAIL)
    talking_points = models.TextField(
        _("talking points"), blank=True, help_text=_("For a call: what the owner should say.")
    )

    class Meta:
        verbose_name = _("campaign message")
        verbose_name_plural = _("campaign messages")
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "segment"], name="campaign_message_one_per_segment")
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}: {self.segment_id}"


# The language of a message's main subject and text (``Variant.subject`` / ``body``).
BASE_LANGUAGE = "es"


class Variant(models.Model):
    """One version of a message (A, B): subject and text in Spanish and, optionally, English.

    ``share`` is the percentage of the message's recipients that get it (the variants of a message
    add up to 100)."""

    scope_owner_fields = ("message__campaign__created_by",)

    message = models.ForeignKey(CampaignMessage, on_delete=models.CASCADE, related_name="variants")
    label = models.CharField(_("variant"), max_length=1, default="A")
    share = models.PositiveSmallIntegerField(
        _("share (%)"), default=100, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("text"))
    subject_en = models.CharField(_("subject in English"), max_length=200, blank=True)
    body_en = models.TextField(_("text in English"), blank=True)

    class Meta:
        verbose_name = _("variant")
        verbose_name_plural = _("variants")
        ordering = ["label"]
        constraints = [models.UniqueConstraint(fields=["message", "label"], name="variant_label_unique")]

    def __str__(self) -> str:
        return f"{self.label}: {self.subject}"

    def texts(self) -> dict[str, tuple[str, str]]:
        """The subject and text by language: always the message's own language (Spanish), and
        English when both its subject and its text are written."""
        found = {BASE_LANGUAGE: (self.subject, self.body)}
        if self.subject_en.strip() and self.body_en.strip():
            found["en"] = (self.subject_en, self.body_en)
        return found

    def language_for(self, language: str) -> str:
        """The one language of the whole e-mail (text, dates, amounts, unsubscribe footer) for a
        recipient who reads ``language``: theirs if this variant is written in it, else the
        message's own."""
        return language if language in self.texts() else BASE_LANGUAGE


class Group(models.TextChoices):
    TREATED = "treated", _("Received it")
    CONTROL = "control", _("Control group")
    EXCLUDED = "excluded", _("Excluded")


class Recipient(models.Model):
    """One customer of the audience as frozen at send time: their message and variant, or why they
    were left out, or that they are in the control group; and their promotion code."""

    scope_owner_fields = ("customer__owner",)

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="campaign_recipients")
    message = models.ForeignKey(CampaignMessage, on_delete=models.CASCADE, related_name="recipients")
    variant = models.ForeignKey(Variant, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    group = models.CharField(_("group"), max_length=8, choices=Group.choices)
    reason = models.CharField(_("why excluded"), max_length=20, blank=True)
    stratum = models.CharField(_("stratum"), max_length=40, blank=True)
    promo_code = models.CharField(_("promotion code"), max_length=40, blank=True)
    task_id = models.BigIntegerField(_("call task"), null=True, blank=True)
    replied_at = models.DateTimeField(_("replied at"), null=True, blank=True)

    class Meta:
        verbose_name = _("campaign recipient")
        verbose_name_plural = _("campaign recipients")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "customer"], name="recipient_once_per_campaign")
        ]
        indexes = [
            models.Index(fields=["campaign", "group", "message"], name="recipient_group"),
            models.Index(fields=["customer", "campaign"], name="recipient_customer"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}: {self.customer_id} ({self.group})"

    @property
    def reference(self) -> str:
        """How the outbox and the consent ledger name this recipient."""
        return f"campaigns.recipient:{self.pk}"


class Click(models.Model):
    """A recipient opened one link of their e-mail (through its signed tracking address): when first,
    when last, how many times. One row per recipient and link."""

    scope_owner_fields = ("recipient__customer__owner",)

    recipient = models.ForeignKey(Recipient, on_delete=models.CASCADE, related_name="clicks")
    link = models.PositiveSmallIntegerField(_("link number"))
    url = models.URLField(_("address"), max_length=2000)
    first_at = models.DateTimeField(_("first click"), default=timezone.now)
    last_at = models.DateTimeField(_("last click"), default=timezone.now)
    count = models.PositiveIntegerField(_("clicks"), default=1)

    class Meta:
        verbose_name = _("click")
        verbose_name_plural = _("clicks")
        constraints = [models.UniqueConstraint(fields=["recipient", "link"], name="click_once_per_link")]

    def __str__(self) -> str:
        return f"{self.recipient_id}: {self.url}"
