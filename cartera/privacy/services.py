"""Writes for personal data: the consent ledger, the lawful basis, the audit log, the access export
and erasure. Views, the API and the CLI all come through here."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from cartera.accounts.models import User
from cartera.core.concurrency import check_version
from cartera.customers.models import Customer
from cartera.imports.models import ImportRecord
from cartera.privacy.fields import REDACTED, How, personal_fields
from cartera.privacy.models import (
    CHANNEL_FLAGS,
    AuditAction,
    AuditEntry,
    AuditUnlock,
    ConsentChannel,
    ConsentEvent,
    ConsentPurpose,
    ConsentSource,
    LawfulBasis,
    PrivacyProfile,
    SuppressedEmail,
    SuppressionReason,
)
from cartera.privacy.selectors import consent_state, email_hash, personal_data

ERASE_PERMISSION = "privacy.erase_customer"


# --- audit log ------------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def audit_record(
    *,
    actor: User | None,
    action: str,
    target_type: str,
    target_id: int | None = None,
    label: str = "",
    changes: Mapping[str, Any] | None = None,
    detail: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Append one line to the audit log (the only write the log ever gets, but for erasure and retention)."""
    if action not in AuditAction.values:
        raise ValueError(f"unknown audit action {action!r}")
    return AuditEntry.objects.create(
        actor=actor if actor is not None and actor.pk else None,
        actor_name=(actor.get_username() if actor is not None else "system")[:150],
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_label=label[:200],
        changes=_jsonable(dict(changes or {})),
        detail=_jsonable(dict(detail or {})),
    )


def audit_from_hook(
    *,
    actor: User | None,
    action: str,
    target_type: str,
    target_id: int | None,
    label: str,
    detail: Mapping[str, Any],
) -> None:
    """Answer the ``audited`` hook fired by a lower app (merge, delete, import, rollback)."""
    audit_record(
        actor=actor, action=action, target_type=target_type, target_id=target_id, label=label, detail=detail
    )


@contextmanager
def audit_unlocked(reason: str) -> Iterator[None]:
    """Let the database trigger accept UPDATE / DELETE on the audit log, inside one transaction.

    The unlock row is inserted and removed in the same transaction, so no other connection ever sees
    it. Only erasure (to redact an erased person's old values) and retention (to drop lines past
    their period) use it.
    """
    with transaction.atomic():
        unlock = AuditUnlock.objects.create(reason=reason[:40])
        try:
            yield
        finally:
            AuditUnlock.objects.filter(pk=unlock.pk).delete()


# --- consent --------------------------------------------------------------------------------------


@transaction.atomic
def consent_record(
    *,
    actor: User | None,
    customer: Customer,
    channel: str,
    purpose: str,
    granted: bool,
    source: str,
    wording: str,
    version: str,
    update_flag: bool = True,
    reference: str = "",
) -> ConsentEvent:
    """Append a grant or withdrawal to the ledger; for marketing, the customer's flag follows it.

    The flag (``opt_in_email``...) is the *derived* current marketing consent of the channel; it is
    written with the ledger row in one transaction, so the two cannot disagree.
    """
    if channel not in ConsentChannel.values:
        raise ValidationError({"channel": _("Unknown channel.")})
    if purpose not in ConsentPurpose.values:
        raise ValidationError({"purpose": _("Unknown purpose.")})
    if source not in ConsentSource.values:
        raise ValidationError({"source": _("Unknown source.")})
    if granted and not wording.strip():
        raise ValidationError({"wording": _("Write the exact wording the person agreed to.")})
    event = ConsentEvent.objects.create(
        customer=customer,
        channel=channel,
        purpose=purpose,
        granted=granted,
        source=source,
        wording=wording.strip(),
        version=version.strip()[:40],
        reference=reference[:80],
        recorded_by=actor if actor is not None and actor.pk else None,
    )
    if purpose == ConsentPurpose.MARKETING and update_flag:
        flag = CHANNEL_FLAGS[channel]
        # A plain UPDATE: the edit hooks must not fire again for the flag the ledger just set.
        Customer.objects.filter(pk=customer.pk).update(**{flag: granted})
        setattr(customer, flag, granted)
    audit_record(
        actor=actor,
        action=AuditAction.CONSENT,
        target_type="customers.customer",
        target_id=customer.pk,
        label=customer.full_name,
        detail={
            "channel": channel,
            "purpose": purpose,
            "granted": granted,
            "source": source,
            **({"reference": reference} if reference else {}),
        },
    )
    return event


def email_suppress(*, email: str, reason: str) -> SuppressedEmail:
    """Put ``email`` on the suppression list (nothing is sent to it again); an address already there
    keeps its first reason, so an erasure is never downgraded to a bounce."""
    if reason not in SuppressionReason.values:
        raise ValueError(f"unknown suppression reason {reason!r}")
    row, _created = SuppressedEmail.objects.get_or_create(
        email_hash=email_hash(email), defaults={"reason": reason}
    )
    return row


def customer_changed(
    *, actor: User | None, customer: Customer, before: Mapping[str, Any], after: Mapping[str, Any]
) -> None:
    """Answer the ``customer_changed`` hook: the audit line and, for a changed flag, the ledger row."""
    audit_record(
        actor=actor,
        action=AuditAction.CHANGED if before else AuditAction.CREATED,
        target_type="customers.customer",
        target_id=customer.pk,
        label=customer.full_name,
        changes={"before": dict(before), "after": dict(after)},
    )
    for channel, flag in CHANNEL_FLAGS.items():
        if flag in after and (before or after[flag]):
            consent_record(
                actor=actor,
                customer=customer,
                channel=channel,
                purpose=ConsentPurpose.MARKETING,
                granted=bool(after[flag]),
                source=ConsentSource.USER,
                wording=settings.CARTERA_CONSENT_WORDING,
                version=settings.CARTERA_CONSENT_VERSION,
                update_flag=False,
            )


@transaction.atomic
def privacy_profile_update(
    *,
    actor: User,
    customer: Customer,
    lawful_basis: str,
    basis_note: str,
    language: str,
    expected_version: str | None = None,
) -> PrivacyProfile:
    """Set the lawful basis on which the customer's data is held (with its note) and their language.

    Refused (``StaleEditError``) when ``expected_version``, the version the editor read, is older than
    the stored one.
    """
    if lawful_basis not in LawfulBasis.values:
        raise ValidationError({"lawful_basis": _("Unknown lawful basis.")})
    if language and language not in dict(settings.LANGUAGES):
        raise ValidationError({"language": _("Unknown language.")})
    profile, _created = PrivacyProfile.objects.get_or_create(customer=customer)
    check_version(profile, expected_version)
    before = {
        "lawful_basis": profile.lawful_basis,
        "basis_note": profile.basis_note,
        "language": profile.language,
    }
    profile.lawful_basis = lawful_basis
    profile.basis_note = basis_note.strip()
    profile.language = language
    profile.updated_by = actor
    profile.save()
    after = {"lawful_basis": lawful_basis, "basis_note": profile.basis_note, "language": language}
    audit_record(
        actor=actor,
        action=AuditAction.CHANGED,
        target_type="privacy.privacyprofile",
        target_id=customer.pk,
        label=customer.full_name,
        changes={"before": before, "after": after},
    )
    return profile


# --- right of access (Art. 15) --------------------------------------------------------------------


@dataclass
class PersonalDataExport:
    """Everything held about one person, as JSON-ready data and as a readable HTML document."""

    data: dict[str, Any]
    html: str
    language: str

    @property
    def json(self) -> str:
        return json.dumps(self.data, ensure_ascii=False, indent=2)


def export_language(customer: Customer, fallback: str) -> str:
    """The person's language when known, else ``fallback`` (the user's)."""
    profile = PrivacyProfile.objects.filter(customer=customer).first()
    if profile is not None and profile.language:
        return profile.language
    return fallback if fallback in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def personal_data_export(*, actor: User | None, customer: Customer, language: str) -> PersonalDataExport:
    """Gather everything held about ``customer`` (already fetched through the user's scope) in their
    language, and write the export in the audit log."""
    lang = export_language(customer, language)
    with translation.override(lang):
        data = _jsonable(personal_data(customer=customer, user=actor))
        html = render_to_string("privacy/personal_data.html", {"data": data, "customer": customer})
    audit_record(
        actor=actor,
        action=AuditAction.EXPORTED,
        target_type="customers.customer",
        target_id=customer.pk,
        label=customer.full_name,
        detail={"language": lang, "what": "personal data (Art. 15)"},
    )
    return PersonalDataExport(data=data, html=html, language=lang)


# --- erasure (Art. 17) and objection (Art. 21) ----------------------------------------------------


def erase_confirmation(customer: Customer) -> str:
    """What the user must type to confirm the erasure of ``customer``."""
    return _("ERASE") + f" {customer.pk}"


def placeholder_name(pk: int) -> str:
    return f"Anonymised #{pk}"


@dataclass
class ErasureReport:
    """What an erasure changed, by model (counts only: the report itself holds no personal data)."""

    customer_id: int
    rows: dict[str, int] = field(default_factory=dict)
    suppressed: bool = False


def _empty(model_field: models.Field[Any, Any]) -> Any:
    if isinstance(model_field, models.JSONField):
        return None if model_field.null else {}
    if model_field.null:
        return None
    return ""


def _erase_rows(queryset: models.QuerySet[Any], pk: int) -> int:
    """Apply the field table to every row of ``queryset``; the number of rows touched."""
    model = queryset.model
    fields = personal_fields(model._meta.label_lower)
    if not fields or not queryset.exists():
        return 0
    touched = queryset.count()
    for name, how in fields.items():
        model_field = model._meta.get_field(name)
        if how == How.REDACT:
            if isinstance(model_field, models.JSONField):
                queryset.update(**{name: {"redacted": True}})
            else:
                queryset.exclude(**{name: ""}).update(**{name: REDACTED})
        elif how == How.REPLACE:
            queryset.update(**{name: placeholder_name(pk)})
        else:
            queryset.update(**{name: _empty(model_field)})
    return touched


@transaction.atomic
def customer_erase(
    *, actor: User, customer: Customer, confirmation: str, reason: str = "erasure"
) -> ErasureReport:
    """Anonymise a person for good (Art. 17 erasure or Art. 21 objection).

    Every personal field listed in :mod:`cartera.privacy.fields` is cleared, replaced or redacted on
    the customer and every row linked to them, tags are removed, every consent is withdrawn, the
    e-mail's keyed hash goes to the suppression list, and the erased person's old values in the
    audit log are redacted. Orders stay, attached to the anonymous row, so revenue, cohorts and the
    models do not move. Irreversible; ``confirmation`` must be :func:`erase_confirmation`.
    """
    if not actor.has_perm(ERASE_PERMISSION):
        raise PermissionDenied(_("Only managers and administrators may erase a person's data."))
    if reason not in ("erasure", "objection"):
        raise ValidationError({"reason": _("Choose erasure or objection.")})
    typed = " ".join(confirmation.split()).upper()
    if typed not in (erase_confirmation(customer).upper(), f"ERASE {customer.pk}"):
        raise ValidationError(
            {"confirmation": _("Type “%(text)s” to confirm.") % {"text": erase_confirmation(customer)}}
        )
    current = Customer.objects.select_for_update().get(pk=customer.pk)
    profile, _created = PrivacyProfile.objects.get_or_create(customer=current)
    if profile.erased_at is not None:
        raise ValidationError(_("This person's data has already been erased."))
    pk = current.pk
    report = ErasureReport(customer_id=pk)
    email = current.email
    # Consents first, while the ledger still shows what was granted.
    for (channel, purpose), event in consent_state(customer=current).items():
        if event is not None and event.granted:
            consent_record(
                actor=actor,
                customer=current,
                channel=channel,
                purpose=purpose,
                granted=False,
                source=ConsentSource.ERASURE,
                wording="",
                version="",
            )
    report.rows["customers.customer"] = _erase_rows(Customer.objects.filter(pk=pk), pk)
    Customer.objects.filter(pk=pk).update(company=None, updated_at=timezone.now())
    current.tags.clear()
    for relation in Customer._meta.related_objects:
        related = relation.related_model
        if relation.field.concrete and not relation.many_to_many:
            qs = related._default_manager.filter(**{relation.field.name: pk})
            touched = _erase_rows(qs, pk)
            if touched:
                report.rows[related._meta.label_lower] = touched
    report.rows.update(_erase_outside_links(pk))
    PrivacyProfile.objects.filter(pk=pk).update(erased_at=timezone.now())
    if email:
        SuppressedEmail.objects.get_or_create(email_hash=email_hash(email), defaults={"reason": reason})
        report.suppressed = True
    audit_record(
        actor=actor,
        action=AuditAction.ERASED,
        target_type="customers.customer",
        target_id=pk,
        label=placeholder_name(pk),
        detail={"reason": reason, "rows": report.rows, "suppressed": report.suppressed},
    )
    customer.refresh_from_db()
    return report


def _erase_outside_links(pk: int) -> dict[str, int]:
    """Rows that name the customer by id rather than by foreign key: import provenance, the audit log."""
    rows: dict[str, int] = {}
    records = ImportRecord.objects.filter(model="customers.customer", object_id=pk)
    touched = _erase_rows(records, pk)
    if touched:
        rows["imports.importrecord"] = touched
    with audit_unlocked("erasure"):
        touched = _erase_rows(AuditEntry.objects.filter(target_type="customers.customer", target_id=pk), pk)
        touched += _erase_rows(
            AuditEntry.objects.filter(target_type="privacy.privacyprofile", target_id=pk), pk
        )
    if touched:
        rows["privacy.auditentry"] = touched
    return rows
