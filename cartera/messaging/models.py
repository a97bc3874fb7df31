"""The outbox: one row per recipient and message, sent by the background worker over SMTP.

A row moves ``queued → sending → sent`` (or ``failed`` / ``bounced``); ``held`` rows wait for their
sender (a paused campaign) and ``cancelled`` rows were stopped before sending (the address was
suppressed or the consent withdrawn after the row was queued). The state machine, and why a worker
killed with ``kill -9`` never sends a row twice nor misses one, is described in
:mod:`cartera.messaging.services` and ``docs/messaging.md``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cartera.customers.models import Customer


class OutboxState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    HELD = "held", _("Held (paused)")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    BOUNCED = "bounced", _("Bounced")
    CANCELLED = "cancelled", _("Not sent")


# States a row never leaves.
FINAL_STATES = (OutboxState.SENT, OutboxState.FAILED, OutboxState.BOUNCED, OutboxState.CANCELLED)


class OutboxMessage(models.Model):
    """One e-mail to one recipient, rendered and waiting for (or done with) the worker.

    ``purpose`` says what sent it (``campaign``, ``survey``, ``notification``, ``opt_in``...) and
    ``reference`` which object (``campaigns.recipient:42``), so that the sender can find its rows
    again; ``batch`` groups the rows that are paused and resumed together (a campaign).
    ``consent_purpose`` names the consent the message needs (``marketing``, ``surveys``); a message
    without one is a service message (a double opt-in, a task notification) and carries no
    unsubscribe link.
    """

    scope_owner_fields = ("customer__owner", "sender_user")

    purpose = models.CharField(_("purpose"), max_length=40)
    reference = models.CharField(_("reference"), max_length=80, blank=True, db_index=True)
    batch = models.CharField(_("batch"), max_length=80, blank=True)
    consent_purpose = models.CharField(_("consent needed"), max_length=12, blank=True)
    customer = models.ForeignKey(
        Customer,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="outbox_messages",
        verbose_name=_("customer"),
    )
    sender_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("sent by"),
    )
    to_address = models.EmailField(_("to"), max_length=254)
    from_address = models.CharField(_("from"), max_length=254, blank=True)
    reply_to = models.CharField(_("reply to"), max_length=254, blank=True)
    language = models.CharField(_("language"), max_length=8)
    subject = models.CharField(_("subject"), max_length=255)
    text = models.TextField(_("text"))
    html = models.TextField(_("HTML"), blank=True)
    state = models.CharField(
        _("state"), max_length=10, choices=OutboxState.choices, default=OutboxState.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    error = models.TextField(_("last error"), blank=True)
    smtp_reply = models.CharField(_("server reply"), max_length=255, blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    claim = models.CharField(max_length=40, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(_("queued at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    unsubscribed_at = models.DateTimeField(_("unsubscribed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["state", "next_attempt_at", "id"], name="outbox_due"),
            models.Index(fields=["batch", "state"], name="outbox_batch"),
            models.Index(fields=["customer", "-created_at"], name="outbox_customer"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.to_address} · {self.subject[:40]} ({self.state})"

    @property
    def message_id(self) -> str:
        """The Message-ID header: the same on every attempt, so a receiver can tell a retry from a new
        message."""
        domain = (self.from_address or settings.DEFAULT_FROM_EMAIL).rpartition("@")[2].strip(
            "> "
        ) or "cartera"
        return f"<outbox-{self.pk}@{domain}>"


class DeliveryLease(models.Model):
    """Who is sending right now: one row per outbox worker run, refreshed while it works.

    Only one run sends at a time (one SMTP connection, one rate); a run that finds a fresh lease held
    by another leaves. A lease not refreshed for ``CARTERA_OUTBOX_STALE_SECONDS`` belonged to a
    worker that died, and is taken over.
    """

    name = models.CharField(max_length=20, primary_key=True)
    holder = models.CharField(max_length=80, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("delivery lease")
        verbose_name_plural = _("delivery leases")

    def __str__(self) -> str:
        return f"{self.name}: {self.holder or '-'}"
