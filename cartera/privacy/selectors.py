"""Reads for personal data: the current consent, everything held about a person, the suppression
list, the audit log and the records of processing."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from cartera.activity.models import Interaction, Task
from cartera.core import bulk
from cartera.core.concurrency import version_of
from cartera.core.contact import normalize_email
from cartera.core.scoping import restrict
from cartera.customers.classification import reason_text
from cartera.customers.models import Customer
from cartera.imports.models import ImportRecord
from cartera.insights.models import CustomerMetrics
from cartera.privacy.fields import FIELDS, How
from cartera.privacy.models import (
    FORGOTTEN_REASONS,
    AuditAction,
    AuditEntry,
    ConsentChannel,
    ConsentEvent,
    ConsentPurpose,
    ConsentSource,
    LawfulBasis,
    PrivacyProfile,
    SuppressedEmail,
)
from cartera.sales.models import Order


def consent_state(*, customer: Customer) -> dict[tuple[str, str], ConsentEvent | None]:
    """The current consent of ``customer`` for every channel and purpose: the latest ledger row, or
    ``None`` when nothing was ever recorded (which means no consent)."""
    state: dict[tuple[str, str], ConsentEvent | None] = {
        (channel, purpose): None for channel in ConsentChannel.values for purpose in ConsentPurpose.values
    }
    # Newest first: the first row met for a channel and purpose is its current state.
    for event in ConsentEvent.objects.filter(customer=customer).order_by("-recorded_at", "-id"):
        key = (event.channel, event.purpose)
        if state.get(key) is None:
            state[key] = event
    return state


def consent_grid(*, customer: Customer) -> list[dict[str, Any]]:
    """The current state as rows (one per channel) of cells (one per purpose), for the customer page."""
    state = consent_state(customer=customer)
    return [
        {
            "channel": label,
            "cells": [
                {"purpose": plabel, "event": state[(channel, purpose)]}
                for purpose, plabel in ConsentPurpose.choices
            ],
        }
        for channel, label in ConsentChannel.choices
    ]


def consent_history(*, user: Any, customer: Customer, limit: int = 200) -> QuerySet[ConsentEvent]:
    """The ledger of ``customer``, newest first, as far as ``user`` may see it."""
    qs = restrict(ConsentEvent.objects.filter(customer=customer), user, "view")
    return qs.select_related("recorded_by").order_by("-recorded_at", "-id")[:limit]


def privacy_profile(*, customer: Customer) -> PrivacyProfile:
    """The customer's lawful basis and language (an unsaved default when never set)."""
    return PrivacyProfile.objects.filter(customer=customer).first() or PrivacyProfile(customer=customer)


# An address made only of these characters, with no IDNA label (``xn--``), normalises to itself in
# lower case whether it is valid (the validator lower-cases the domain and we the rest) or not (the
# fallback below lower-cases it): no need to run the validator (some 0.1 ms an address) on it.
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.@-]+")


def email_key(email: str) -> str:
    """The normalised form of an address the suppression list is keyed on (lower case)."""
    value = email.strip()
    if _PLAIN_ADDRESS.fullmatch(value) and "xn--" not in value.lower():
        return value.lower()
    return email_key_validated(email)


def email_key_validated(email: str) -> str:
    """:func:`email_key` through the e-mail validator for every address (its plain twin)."""
    try:
        return normalize_email(email) or ""
    except ValidationError:
        return email.strip().lower()


def email_hash(email: str) -> str:
    """The suppression-list key of an address: HMAC-SHA256 of the normalised address, keyed with
    ``CARTERA_SUPPRESSION_KEY`` (so the list alone does not reveal who is on it)."""
    key = str(settings.CARTERA_SUPPRESSION_KEY).encode()
    # hmac.digest: the same HMAC in one call into C (a third of the time of hmac.new(...).hexdigest()).
    return hmac.digest(key, email_key(email).encode(), hashlib.sha256).hex()


def is_suppressed(email: str | None) -> bool:
    """Whether ``email`` belongs to someone erased or objecting (the imports must not bring them back)."""
    if not email:
        return False
    return SuppressedEmail.objects.filter(email_hash=email_hash(email), reason__in=FORGOTTEN_REASONS).exists()


def suppressed_among(*, emails: list[str]) -> set[str]:
    """The addresses of ``emails`` of people erased or objecting (one query for the whole list).

    Unsubscribed and bounced addresses are not among them: those people stay in the file, they only
    receive no more e-mail (:func:`email_suppressions`)."""
    return set(email_suppressions(emails=emails, reasons=FORGOTTEN_REASONS))


def email_suppressions(
    *, emails: list[str], reasons: tuple[str, ...] | None = None, whole_list_from: int = 5000
) -> dict[str, str]:
    """The addresses of ``emails`` that nothing may be sent to, with the reason of each (erasure,
    objection, unsubscribe, bounce); ``reasons`` narrows the list. One query per 5,000 addresses, or,
    from ``whole_list_from`` addresses on, one read of the whole list when it is no longer."""
    hashes = {email: email_hash(email) for email in emails if email}
    found: dict[str, str] = {}
    keys = list(set(hashes.values()))
    if bulk.fast_paths() and len(keys) >= whole_list_from:
        # A campaign's audience is usually larger than the whole list: reading the list once is
        # cheaper than sending 100,000 hashes to look up (the plain twin: the lookups below).
        listed = SuppressedEmail.objects.all()
        if reasons is not None:
            listed = listed.filter(reason__in=reasons)
        if listed.count() <= len(keys):
            wanted = set(keys)
            found = {h: r for h, r in listed.values_list("email_hash", "reason").iterator() if h in wanted}
            return {email: found[key] for email, key in hashes.items() if key in found}
    for start in range(0, len(keys), 5000):
        qs = SuppressedEmail.objects.filter(email_hash__in=keys[start : start + 5000])
        if reasons is not None:
            qs = qs.filter(reason__in=reasons)
        found.update(qs.values_list("email_hash", "reason"))
    return {email: found[key] for email, key in hashes.items() if key in found}


def email_permissions(*, customer_ids: list[int] | QuerySet[Any], purpose: str) -> dict[int, str]:
    """Why each of ``customer_ids`` may *not* receive e-mail for ``purpose`` (marketing or surveys):
    ``"unsubscribed"`` (withdrew through an unsubscribe link) or ``"no_consent"`` (never granted, or
    withdrew otherwise); customers who may are absent.

    Marketing reads the customer's ``opt_in_email`` flag, which the ledger keeps equal to its latest
    marketing row; other purposes read the latest ledger row. A few queries for any number of ids.

    ``customer_ids`` may be a queryset of ids (``values_list("pk", flat=True)``, a campaign's
    audience): for marketing the database then picks the refused among them in one query (a
    subquery, not 100,000 ids sent in lists; what comes back is only the refused). The plain twin
    (``CARTERA_BULK_PLAIN``, or another purpose) reads the ids and takes the lists.
    """
    if isinstance(customer_ids, QuerySet):
        if purpose == ConsentPurpose.MARKETING and bulk.fast_paths():
            denied_ids = Customer.objects.filter(pk__in=customer_ids).exclude(opt_in_email=True)
            unsubscribed = set(
                ConsentEvent.objects.filter(
                    customer_id__in=denied_ids.values("pk"),
                    channel=ConsentChannel.EMAIL,
                    purpose=purpose,
                    granted=False,
                    source=ConsentSource.UNSUBSCRIBE,
                ).values_list("customer_id", flat=True)
            )
            return {
                pk: "unsubscribed" if pk in unsubscribed else "no_consent"
                for pk in denied_ids.values_list("pk", flat=True)
            }
        customer_ids = list(customer_ids)
    refused: dict[int, str] = {}
    for start in range(0, len(customer_ids), 5000):
        chunk = customer_ids[start : start + 5000]
        if purpose == ConsentPurpose.MARKETING:
            allowed = set(
                Customer.objects.filter(pk__in=chunk, opt_in_email=True).values_list("pk", flat=True)
            )
        else:
            latest: dict[int, bool] = {}
            rows = (
                ConsentEvent.objects.filter(
                    customer_id__in=chunk, channel=ConsentChannel.EMAIL, purpose=purpose
                )
                .order_by("customer_id", "recorded_at", "id")
                .values_list("customer_id", "granted")
            )
            for customer_id, granted in rows:
                latest[customer_id] = granted
            allowed = {pk for pk, granted in latest.items() if granted}
        denied = [pk for pk in chunk if pk not in allowed]
        unsubscribed = set(
            ConsentEvent.objects.filter(
                customer_id__in=denied,
                channel=ConsentChannel.EMAIL,
                purpose=purpose,
                granted=False,
                source=ConsentSource.UNSUBSCRIBE,
            ).values_list("customer_id", flat=True)
        )
        for pk in denied:
            refused[pk] = "unsubscribed" if pk in unsubscribed else "no_consent"
    return refused


# --- right of access ------------------------------------------------------------------------------


def _meanings() -> dict[str, str]:
    """What each analysis figure means, in words for the person it is about."""
    return {
        "orders_count": _("How many purchases you have made with us."),
        "revenue": _("The total amount of your purchases."),
        "first_order_on": _("The date of your first purchase."),
        "last_order_on": _("The date of your latest purchase."),
        "recency_days": _("Days since your latest purchase."),
        "frequency": _("How many times you came back to buy after your first purchase."),
        "monetary": _("The average amount of your repeat purchases."),
        "tenure_days": _("Days since your first purchase."),
        "usual_interval_days": _("The usual number of days between your purchases."),
        "p_alive": _("A statistical estimate (0 to 1) that you are still buying from us."),
        "expected_purchases_90d": _("How many purchases a statistical model expects from you in 90 days."),
        "clv_12m": _("The value a statistical model expects from your purchases in the next 12 months."),
        "r_score": _("Recency score from 1 to 5 (5 = bought most recently)."),
        "f_score": _("Frequency score from 1 to 5 (5 = buys most often)."),
        "m_score": _("Amount score from 1 to 5 (5 = spends most)."),
        "rfm_segment": _("The group your scores place you in (for example “loyal” or “at risk”)."),
        "abc_class": _("A, B or C: your share of our revenue (A = the customers who bring most)."),
        "lifecycle": _("Whether you are a prospect, a new, active, at-risk or lapsed customer."),
        "declining": _("Whether your purchases have been falling."),
        "decline_since": _("Since when your purchases have been falling."),
    }


def _label(model: Any, name: str) -> str:
    return str(getattr(model._meta.get_field(name), "verbose_name", name))


def _value(obj: Any, name: str) -> Any:
    display = getattr(obj, f"get_{name}_display", None)
    value = getattr(obj, name)
    if display is not None and value not in (None, ""):
        return str(display())
    if name in ("company", "owner"):
        return str(value) if value is not None else None
    return value


def _profile_section(customer: Customer) -> list[dict[str, Any]]:
    names = [
        "title", "first_name", "last_name", "email", "phone", "stage", "sector", "company", "job_title",
        "profession", "birth_date", "address", "city", "region", "postal_code", "country",
        "preferred_channel", "opt_in_email", "opt_in_phone", "opt_in_sms", "opt_in_mail", "source",
        "income_range", "owner", "notes", "created_at", "updated_at",
    ]  # fmt: skip
    rows = [
        {
            "field": name,
            "label": _label(Customer, name),
            "value": _value(customer, name),
        }
        for name in names
    ]
    rows.append({"field": "tags", "label": _("tags"), "value": [t.name for t in customer.tags.all()]})
    rows.append({"field": "custom_fields", "label": _("custom fields"), "value": customer.custom_fields})
    return rows


def personal_data(*, customer: Customer, user: Any) -> dict[str, Any]:
    """Everything held about ``customer`` (already fetched through ``user``'s scope), JSON-ready but for
    dates and decimals; labels in the active language."""
    profile = privacy_profile(customer=customer)
    events = (
        ConsentEvent.objects.filter(customer=customer)
        .select_related("recorded_by")
        .order_by("recorded_at", "id")
    )
    orders = Order.objects.filter(customer=customer).order_by("ordered_on", "id")
    interactions = (
        Interaction.objects.filter(customer=customer).select_related("author").order_by("occurred_at", "id")
    )
    tasks = Task.objects.filter(customer=customer).order_by("due_at", "id")
    if user is not None:
        orders = restrict(orders, user, "view")
        interactions = restrict(interactions, user, "view")
        tasks = restrict(tasks, user, "view")
    order_ids = list(orders.values_list("id", flat=True))
    interaction_ids = list(interactions.values_list("id", flat=True))
    records = (
        ImportRecord.objects.filter(
            Q(model="customers.customer", object_id=customer.pk)
            | Q(model="sales.order", object_id__in=order_ids)
            | Q(model="activity.interaction", object_id__in=interaction_ids)
        )
        .select_related("job")
        .order_by("id")
    )
    try:
        metrics: CustomerMetrics | None = customer.metrics
    except ObjectDoesNotExist:
        metrics = None
    meanings = _meanings()
    analysis = []
    if metrics is not None:
        for name, meaning in meanings.items():
            analysis.append(
                {
                    "field": name,
                    "label": _label(CustomerMetrics, name),
                    "value": _value(metrics, name),
                    "meaning": meaning,
                }
            )
    return {
        "generated_at": dt.datetime.now(dt.UTC),
        "customer_id": customer.pk,
        "title": _("Personal data held about %(name)s") % {"name": customer.full_name},
        "explanation": _(
            "This document lists every piece of information our customer file holds about you, where it "
            "came from and what our analysis says about you (Article 15 of the GDPR)."
        ),
        "profile": _profile_section(customer),
        "lawful_basis": {
            "basis": profile.get_lawful_basis_display(),
            "note": profile.basis_note,
            "language": profile.language,
        },
        "consent_history": [
            {
                "recorded_at": e.recorded_at,
                "channel": e.get_channel_display(),
                "purpose": e.get_purpose_display(),
                "granted": e.granted,
                "source": e.get_source_display(),
                "wording": e.wording,
                "version": e.version,
                "recorded_by": str(e.recorded_by) if e.recorded_by else "",
            }
            for e in events
        ],
        "interactions": [
            {
                "occurred_at": i.occurred_at,
                "kind": i.get_kind_display(),
                "direction": i.get_direction_display(),
                "subject": i.subject,
                "body": i.body,
                "outcome": i.get_outcome_display() if i.outcome else "",
                "author": str(i.author) if i.author else "",
            }
            for i in interactions
        ],
        "orders": [
            {
                "ordered_on": o.ordered_on,
                "amount": o.amount,
                "currency": o.currency,
                "channel": o.get_channel_display() if o.channel else "",
                "category": o.category,
                "reference": o.external_ref or "",
            }
            for o in orders
        ],
        "tasks": [{"title": t.title, "due_at": t.due_at, "done": t.done, "notes": t.notes} for t in tasks],
        "import_provenance": [
            {
                "record": r.model,
                "action": r.get_action_display(),
                "row_number": r.row_number,
                "file_name": r.job.file_name,
                "imported_at": r.job.created_at,
                "source": r.job.get_source_display(),
                "source_detail": r.job.source_detail,
                "lawful_basis": r.job.lawful_basis,
            }
            for r in records
        ],
        "analysis": {
            "computed_at": metrics.computed_at if metrics else None,
            "status_reason": reason_text(metrics.reason_code, metrics.reason_data) if metrics else "",
            "figures": analysis,
        },
    }


# --- audit log ------------------------------------------------------------------------------------


AUDIT_PERMISSION = "privacy.view_auditentry"


@dataclass
class AuditFilters:
    actor_id: int | None = None
    action: str = ""
    since: dt.date | None = None
    until: dt.date | None = None
    target_id: int | None = None


def audit_list(*, user: Any, filters: AuditFilters) -> QuerySet[AuditEntry]:
    """The audit log, newest first, filtered; nothing for those without the audit permission."""
    if not (user.is_authenticated and user.is_active and user.has_perm(AUDIT_PERMISSION)):
        return AuditEntry.objects.none()
    qs = AuditEntry.objects.all()
    if filters.actor_id:
        qs = qs.filter(actor_id=filters.actor_id)
    if filters.action:
        qs = qs.filter(action=filters.action)
    if filters.since:
        qs = qs.filter(at__date__gte=filters.since)
    if filters.until:
        qs = qs.filter(at__date__lte=filters.until)
    if filters.target_id:
        qs = qs.filter(target_id=filters.target_id)
    return qs.order_by("-at", "-id")


# --- records of processing ------------------------------------------------------------------------


def records_of_processing() -> dict[str, Any]:
    """The purposes, data categories, lawful bases and retention in force, from the configuration."""
    from cartera.privacy.retention import rules

    categories = []
    for label, fields in FIELDS.items():
        model = apps.get_model(label)
        for how in (How.CLEAR, How.REPLACE, How.REDACT, How.RETENTION, How.STAFF):
            names = [_label(model, n) for n, h in fields.items() if h == how]
            if names:
                categories.append(
                    {"model": str(model._meta.verbose_name_plural), "how": how.value, "fields": names}
                )
    counts = dict(
        PrivacyProfile.objects.order_by()
        .values_list("lawful_basis")
        .annotate(n=Count("pk"))
        .values_list("lawful_basis", "n")
    )
    # A customer without a profile is held on the default basis.
    default = PrivacyProfile._meta.get_field("lawful_basis").default
    counts[default] = counts.get(default, 0) + Customer.objects.filter(privacy__isnull=True).count()
    return {
        "purposes": _purposes(),
        "categories": categories,
        "bases": [
            {"basis": label, "customers": counts.get(value, 0)} for value, label in LawfulBasis.choices
        ],
        "retention": rules(),
        "audit_actions": [label for _value, label in AuditAction.choices],
    }


def _purposes() -> list[dict[str, str]]:
    return [
        {
            "purpose": _("Managing the relationship with customers"),
            "basis": str(LawfulBasis.CONTRACT.label),
            "data": _("Profile, contact details, interactions, orders, tasks"),
        },
        {
            "purpose": _("Analysis of the portfolio (status, value, segments)"),
            "basis": str(LawfulBasis.LEGITIMATE_INTEREST.label),
            "data": _("Orders and the figures computed from them"),
        },
        {
            "purpose": str(ConsentPurpose.MARKETING.label),
            "basis": str(LawfulBasis.CONSENT.label),
            "data": _("Contact details, per channel, while consent is granted"),
        },
        {
            "purpose": str(ConsentPurpose.SURVEYS.label),
            "basis": str(LawfulBasis.CONSENT.label),
            "data": _("Contact details and answers, while consent is granted"),
        },
        {
            "purpose": str(ConsentPurpose.PROFILING.label),
            "basis": str(LawfulBasis.CONSENT.label),
            "data": _("Profile and purchase figures, while consent is granted"),
        },
    ]


def privacy_panel(*, user: Any, customer: Customer, can_change: bool | None = None) -> dict[str, Any] | None:
    """The customer page's "Consent" panel: current state, history, the forms and what the user may do.

    ``can_change`` is whether ``user`` may change ``customer``, when the caller already knows it.
    """
    from cartera.privacy.forms import ConsentForm, PrivacyProfileForm

    if not (user.is_authenticated and user.has_perm("privacy.view_consentevent")):
        return None
    profile = privacy_profile(customer=customer)
    if can_change is None:
        can_change = restrict(Customer.objects.filter(pk=customer.pk), user, "change").exists()
    return {
        "grid": consent_grid(customer=customer),
        "history": list(consent_history(user=user, customer=customer, limit=50)),
        "profile": profile,
        "can_record": user.has_perm("privacy.add_consentevent"),
        "can_change": can_change,
        "can_erase": user.has_perm("privacy.erase_customer") and profile.erased_at is None,
        "consent_form": ConsentForm(),
        "profile_form": PrivacyProfileForm(
            initial={
                "lawful_basis": profile.lawful_basis,
                "basis_note": profile.basis_note,
                "language": profile.language,
                "version": version_of(profile) if profile.pk else "",
            }
        ),
    }
