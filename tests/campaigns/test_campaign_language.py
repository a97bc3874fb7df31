"""One language per e-mail: a recipient who reads English gets the English text when the variant has
one, and otherwise the whole e-mail in Spanish — text, dates, amounts and the unsubscribe footer —
never a Spanish text with English dates. Checked on what a real SMTP server received."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import formats, timezone, translation

from cartera.campaigns import selectors, services
from cartera.campaigns.models import Group, Recipient, Variant
from cartera.messaging.models import OutboxMessage
from cartera.messaging.services import deliver_pending
from cartera.privacy.models import PrivacyProfile

pytestmark = pytest.mark.django_db

BODY_ES = (
    "Hola {{ first_name }}: tu última compra fue el {{ last_purchase_date }} ({{ last_purchase_amount }})."
)
BODY_EN = (
    "Hello {{ first_name }}: your last purchase was on {{ last_purchase_date }} ({{ last_purchase_amount }})."
)


def _campaign(manager, portfolio):
    campaign = services.campaign_create(
        actor=manager,
        fields={"name": "Idiomas", "control_percent": 0, "frequency_cap_days": 0},
        segments=[portfolio["at_risk"], portfolio["inactive"]],
    )
    risk, lost = selectors.campaign_messages(campaign=campaign)
    english = {"subject_en": "Come back, {{ first_name }}", "body_en": BODY_EN}
    texts = {
        risk: [
            {"label": "A", "share": 50, "subject": "Vuelve, {{ first_name }}", "body": BODY_ES, **english},
            {"label": "B", "share": 50, "subject": "Un regalo, {{ first_name }}", "body": BODY_ES},
        ],
        lost: [{"label": "A", "share": 100, "subject": "Te echamos de menos", "body": BODY_ES}],
    }
    for message, variants in texts.items():
        services.message_update(
            actor=manager, message=message, channel="email", talking_points="", variants=variants
        )
    return campaign


def test_each_email_is_written_in_one_language(smtp, portfolio, manager):
    campaign = _campaign(manager, portfolio)
    services.campaign_send(actor=manager, campaign=campaign)
    assert deliver_pending().sent == 200
    received = {r.rcpt_tos[0]: r for r in smtp.received}
    english_readers = set(PrivacyProfile.objects.filter(language="en").values_list("customer_id", flat=True))
    last_purchase = timezone.localdate() - dt.timedelta(days=200)
    with translation.override("es"):
        date_es = formats.date_format(last_purchase)
    with translation.override("en"):
        date_en = formats.date_format(last_purchase)
    assert date_es != date_en

    rows = Recipient.objects.filter(campaign=campaign, group=Group.TREATED).select_related(
        "customer", "variant"
    )
    seen = {"en": 0, "es-fallback": 0, "es": 0}
    for r in rows:
        mail = received[r.customer.email]
        text = mail.text()
        outbox = OutboxMessage.objects.get(reference=r.reference)
        name = r.customer.first_name
        if r.customer_id in english_readers and r.variant.label == "A":
            seen["en"] += 1
            assert mail.message["Subject"] == f"Come back, {name}"
            assert f"Hello {name}: your last purchase was on {date_en} (€40.00)." in text
            assert "To stop receiving these e-mails, open http" in text
            assert outbox.language == "en"
        else:
            # English readers of variant B (no English text) get the Spanish e-mail, all of it.
            seen["es-fallback" if r.customer_id in english_readers else "es"] += 1
            assert f"Hola {name}: tu última compra fue el {date_es} (40,00\u00a0€)." in text
            assert "Para dejar de recibir estos correos, abre http" in text
            assert date_en not in text and "€40.00" not in text and "To stop receiving" not in text
            assert outbox.language == "es"
    # The 20 English readers are all at risk, split between A and B by the seeded draw.
    assert seen["en"] > 0 and seen["es-fallback"] > 0 and seen["en"] + seen["es-fallback"] == 20


def test_the_preview_uses_the_same_language_as_the_email(portfolio, manager):
    campaign = _campaign(manager, portfolio)
    english_reader = portfolio["customers"][0]
    assert PrivacyProfile.objects.get(customer=english_reader).language == "en"
    a, b = Variant.objects.filter(message__segment=portfolio["at_risk"], message__campaign=campaign)
    shown_a = services.preview(campaign=campaign, variant=a, customer=english_reader)
    shown_b = services.preview(campaign=campaign, variant=b, customer=english_reader)
    assert shown_a["language"] == "en" and "€40.00" in shown_a["text"]
    assert shown_b["language"] == "es" and "40,00\u00a0€" in shown_b["text"]
    assert shown_b["subject"] == f"Un regalo, {english_reader.first_name}"


def test_half_an_english_version_is_refused(portfolio, manager):
    campaign = _campaign(manager, portfolio)
    risk, _lost = selectors.campaign_messages(campaign=campaign)
    with translation.override("en"), pytest.raises(ValidationError) as refused:
        services.message_update(
            actor=manager, message=risk, channel="email", talking_points="",
            variants=[{"label": "A", "share": 100, "subject": "Hola", "body": "Hola", "subject_en": "Hello"}],
        )  # fmt: skip
    assert "write both the subject and the text in English, or neither" in " ".join(refused.value.messages)
