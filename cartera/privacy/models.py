"""Personal data as the law expects it: the consent ledger, the lawful basis of each customer, the
suppression list of erased e-mail addresses and the append-only audit log.

The ledger and the audit log are append-only: the services only ever insert into them. The audit log
is also guarded by the database itself (a trigger refusing UPDATE and DELETE, migration 0002) except
inside :func:`cartera.privacy.services.audit_unlocked`, which only erasure and retention use.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cartera.customers.models import Customer


class ConsentChannel(models.TextChoices):
    EMAIL = "email", _("Email")
    PHONE = "phone", _("Phone")
    SMS = "sms", _("SMS")
    POST = "post", _("Post")


class ConsentPurpose(models.TextChoices):
    MARKETING = "marketing", _("Marketing")
    SURVEYS = "surveys", _("Surveys")
    PROFILING = "profiling", _("Profiling")


class ConsentSource(models.TextChoices):
    FORM = "form", _("Form")
    IMPORT = "import", _("Import")
    CALL = "call", _("Call")
    UNSUBSCRIBE = "unsubscribe", _("Unsubscribe link")
    USER = "user", _("Entered by a user")
    MIGRATION = "migration", _("Initial migration of the old flags")
    ERASURE = "erasure", _("Erasure or objection")


# The four flags on the customer are the current *marketing* consent of these channels.
CHANNEL_FLAGS: dict[str, str] = {
    ConsentChannel.EMAIL: "opt_in_email",
    ConsentChannel.PHONE: "opt_in_phone",
    ConsentChannel.SMS: "opt_in_sms",
    ConsentChannel.POST: "opt_in_mail",
}


class ConsentEvent(models.Model):
    """One grant or withdrawal of consent, never changed once written; the latest per channel and
    purpose is the current state."""

    scope_owner_fields = ("customer__owner",)

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="consent_events", verbose_name=_("customer")
    )
    channel = models.CharField(_("channel"), max_length=10, choices=ConsentChannel.choices)
    purpose = models.CharField(_("purpose"), max_length=12, choices=ConsentPurpose.choices)
    granted = models.BooleanField(_("granted"))
    source = models.CharField(_("source"), max_length=12, choices=ConsentSource.choices)
    wording = models.TextField(_("exact wording shown"), blank=True)
    version = models.CharField(_("wording version"), max_length=40, blank=True)
    reference = models.CharField(
        _("came from"),
        max_length=80,
        blank=True,
        default="",
        # Raw inserts (the initial ledger migration) leave it out.
        db_default="",
        help_text=_(
            "What the grant or withdrawal came from, e.g. the message or campaign unsubscribed from."
        ),
    )
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recorded by"),
    )

    class Meta:
        verbose_name = _("consent event")
        verbose_name_plural = _("consent events")
        ordering = ["-recorded_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "channel", "purpose", "-recorded_at"], name="consent_current")
        ]

    def __str__(self) -> str:
        verb = _("granted") if self.granted else _("withdrawn")
        return f"{self.get_channel_display()} · {self.get_purpose_display()} · {verb}"


class LawfulBasis(models.TextChoices):
    CONSENT = "consent", _("Consent")
    CONTRACT = "contract", _("Contract")
    LEGITIMATE_INTEREST = "legitimate_interest", _("Legitimate interest")


class PrivacyProfile(models.Model):
    """The lawful basis on which the business holds a customer's data, and their language."""

    scope_owner_fields = ("customer__owner",)

    customer = models.OneToOneField(
        Customer,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="privacy",
        verbose_name=_("customer"),
    )
    lawful_basis = models.CharField(
        _("lawful basis"), max_length=20, choices=LawfulBasis.choices, default=LawfulBasis.LEGITIMATE_INTEREST
    )
    basis_note = models.TextField(_("note on the lawful basis"), blank=True)
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, blank=True)
    erased_at = models.DateTimeField(_("erased at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("privacy profile")
        verbose_name_plural = _("privacy profiles")
        permissions = [("erase_customer", _("Can erase (anonymise) a customer's personal data"))]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.get_lawful_basis_display()}"


class SuppressionReason(models.TextChoices):
    ERASURE = "erasure", _("Erased")
    OBJECTION = "objection", _("Objected")
    UNSUBSCRIBE = "unsubscribe", _("Unsubscribed")
    BOUNCE = "bounce", _("Bounced")


# Reasons that mean "this person must not come back into the file" (the import refuses them); the
# others only stop e-mail to the address.
FORGOTTEN_REASONS = (SuppressionReason.ERASURE, SuppressionReason.OBJECTION)


class SuppressedEmail(models.Model):
    """An address nothing may be sent to again (erased, objected, unsubscribed, bounced), kept only as a
    keyed hash so that the list alone does not say who is on it."""

    email_hash = models.CharField(max_length=64, unique=True)
    reason = models.CharField(_("reason"), max_length=12, choices=SuppressionReason.choices)
    created_at = models.DateTimeField(_("since"), auto_now_add=True)

    class Meta:
        verbose_name = _("suppressed e-mail")
        verbose_name_plural = _("suppressed e-mails")

    def __str__(self) -> str:
        return f"{self.email_hash[:12]}… ({self.reason})"


class AuditAction(models.TextChoices):
    VIEWED = "viewed", _("Viewed personal data")
    EXPORTED = "exported", _("Exported personal data")
    DOWNLOADED = "downloaded", _("Downloaded an export")
    CHANGED = "changed", _("Changed")
    CREATED = "created", _("Created")
    MERGED = "merged", _("Merged")
    UNMERGED = "unmerged", _("Merge undone")
    DELETED = "deleted", _("Deleted")
    IMPORTED = "imported", _("Imported")
    ROLLED_BACK = "rolled_back", _("Rolled back")
    ERASED = "erased", _("Erased")
    CONSENT = "consent", _("Consent recorded")
    RETENTION = "retention", _("Retention run")


class AuditEntry(models.Model):
    """Who did what to which record and when, with the values before and after a change.

    Append-only: no service updates or deletes it, the admin cannot, and the database refuses it
    (migration 0002) outside :func:`cartera.privacy.services.audit_unlocked`. The actor is kept by id
    and name without a foreign key, so deleting a user never has to touch the log.
    """

    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("who"),
    )
    actor_name = models.CharField(_("who"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=12, choices=AuditAction.choices)
    target_type = models.CharField(_("record type"), max_length=40)
    target_id = models.BigIntegerField(_("record id"), null=True, blank=True)
    target_label = models.CharField(_("record"), max_length=200, blank=True)
    changes = models.JSONField(_("before and after"), default=dict, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)

    class Meta:
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["target_type", "target_id"], name="audit_target"),
            models.Index(fields=["actor", "-at"], name="audit_actor"),
            models.Index(fields=["action", "-at"], name="audit_action"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name} {self.action} {self.target_type}#{self.target_id}"

    @property
    def target_type_label(self) -> str:
        """The kind of record in the reader's language ("cliente" for ``customers.customer``); the
        stored code where it names no model (an export, the retention run)."""
        from django.apps import apps

        if self.target_type == "privacy.retention":
            return str(_("retention"))
        if self.target_type.startswith("imports.export."):
            return str(_("export"))
        try:
            return str(apps.get_model(self.target_type)._meta.verbose_name)
        except (LookupError, ValueError):
            return self.target_type

    @property
    def target_text(self) -> str:
        """The record's label for the reader: an export names what it held in their language
        ("clientes (12)"), where the stored label keeps the code ("customers (12)")."""
        from django.apps import apps

        exported = {
            "customers": "customers.customer",
            "orders": "sales.order",
            "interactions": "activity.interaction",
        }
        if self.target_type.startswith("imports.export."):
            model = exported.get(self.target_type.rsplit(".", 1)[1])
            if model:
                name = str(apps.get_model(model)._meta.verbose_name_plural)
                rows = (self.detail or {}).get("rows")
                return f"{name} ({rows})" if rows is not None else name
        return self.target_label


class AuditUnlock(models.Model):
    """While a row exists here, the audit-log trigger lets UPDATE and DELETE through.

    Only :func:`cartera.privacy.services.audit_unlocked` writes it, inserting and deleting the row in
    the same transaction, so no other connection ever sees it.
    """

    reason = models.CharField(max_length=40)

    class Meta:
        verbose_name = _("audit log unlock")
        verbose_name_plural = _("audit log unlocks")

    def __str__(self) -> str:
        return self.reason
