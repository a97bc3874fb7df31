"""A campaign from the first draft to its lift: messages per segment with a unique code each,
exclusions with reasons, the stratified control group, the frozen send through a real SMTP server,
an order with the code, and the results against the control group."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from cartera.campaigns import selectors, services
from cartera.campaigns.models import CampaignStatus, Group, Recipient
from cartera.messaging.models import OutboxMessage
from cartera.messaging.services import deliver_pending
from cartera.privacy.models import PrivacyProfile
from cartera.sales.models import Order, PromotionCode
from cartera.sales.services import order_create
from tests.campaigns.conftest import checked_results

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    """The labels and sentences below are read in English."""
    from django.utils import translation

    with translation.override("en"):
        yield


SETTINGS = {
    "name": "Vuelve en otoño",
    "goal": "reactivate",
    "control_percent": 10,
    "frequency_cap_days": 14,
    "window_days": 60,
    "promo_mode": "unique",
    "promo_code": "vuelve",
    "promo_discount": Decimal("15"),
    "promo_valid_until": timezone.localdate() + dt.timedelta(days=30),
    "promo_max_uses": 1,
}
BODY_RISK = "Hola {{ first_name }}:\nTu última compra fue el {{ last_purchase_date }} ({{ last_purchase_amount }}).\nUsa {{ promo_code }} para un {{ promo_discount }}.\n{{ owner_signature }}"
BODY_LOST = "{{ first_name }}, te echamos de menos. Tu código: {{ promo_code }}"


def write_messages(manager, campaign):
    risk, lost = selectors.campaign_messages(campaign=campaign)
    services.message_update(
        actor=manager,
        message=risk,
        channel="email",
        talking_points="",
        variants=[
            {"label": "A", "share": 50, "subject": "{{ first_name }}, vuelve", "body": BODY_RISK,
             "subject_en": "{{ first_name }}, come back", "body_en": "Hi {{ first_name }}, use {{ promo_code }}."},
            {"label": "B", "share": 50, "subject": "Un regalo para ti", "body": BODY_RISK},
        ],
    )  # fmt: skip
    services.message_update(
        actor=manager, message=lost, channel="email", talking_points="",
        variants=[{"label": "A", "share": 100, "subject": "Te echamos de menos", "body": BODY_LOST}],
    )  # fmt: skip
    return risk, lost


def test_a_campaign_from_draft_to_lift(smtp, portfolio, manager, owner, colleague):
    campaign = services.campaign_create(
        actor=manager, fields=SETTINGS, segments=[portfolio["at_risk"], portfolio["inactive"]]
    )
    assert campaign.promo_code == "VUELVE" and campaign.status == CampaignStatus.DRAFT
    risk, lost = write_messages(manager, campaign)
    # A mistake in a message is refused with its line, before anything is sent.
    with pytest.raises(ValidationError) as bad:
        services.message_update(
            actor=manager, message=lost, channel="email", talking_points="",
            variants=[{"label": "A", "share": 100, "subject": "Hola", "body": "Hola\n{{ nombre }}\n{{ first_name"}],
        )  # fmt: skip
    text = " ".join(bad.value.messages)
    assert "Line 2" in text and "nombre" in text and "Line 3" in text

    plan = selectors.campaign_plan(campaign=campaign, user=manager)
    counts = {c.message.segment.name: c for c in plan.by_message}
    assert counts["En riesgo"].audience == 124 and counts["Inactivos"].audience == 80
    assert plan.excluded == Counter({"no_email": 1, "no_consent": 1, "unsubscribed": 1, "bounced": 1})
    # 10% control, stratified by segment and status: 12 of the 120 at risk, 8 of the 80 inactive.
    assert counts["En riesgo"].control == 12 and counts["Inactivos"].control == 8
    assert counts["En riesgo"].treated_by_variant == {"A": 54, "B": 54}
    # The same seed gives the same groups.
    again = selectors.campaign_plan(campaign=campaign, user=manager)
    assert [(r.customer_id, r.group, r.variant_id) for r in again.rows] == [
        (r.customer_id, r.group, r.variant_id) for r in plan.rows
    ]

    # A sales rep may not send it.
    with pytest.raises(PermissionDenied):
        services.campaign_send(actor=owner, campaign=campaign)
    services.campaign_send(actor=manager, campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENDING and campaign.sent_at is not None
    frozen = Counter(Recipient.objects.filter(campaign=campaign).values_list("group", flat=True))
    assert frozen == {Group.TREATED: 180, Group.CONTROL: 20, Group.EXCLUDED: 4}
    treated = list(
        Recipient.objects.filter(campaign=campaign, group=Group.TREATED).select_related("customer")
    )
    codes = {r.promo_code for r in treated}
    assert len(codes) == 180 and all(c.startswith("VUELVE-") for c in codes)
    assert PromotionCode.objects.filter(source=f"campaigns.campaign:{campaign.pk}").count() == 180
    with pytest.raises(ValidationError):
        services.message_update(actor=manager, message=lost, channel="call", talking_points="", variants=[])

    assert deliver_pending().sent == 180
    received = {r.rcpt_tos[0]: r for r in smtp.received}
    assert len(received) == 180
    control_and_excluded = Recipient.objects.filter(campaign=campaign).exclude(group=Group.TREATED)
    for r in control_and_excluded.select_related("customer"):
        assert r.customer.email not in received, r.group

    # Who lands in the control group depends on the customers' ids (the draw is seeded and stratified),
    # so take the first treated customer who reads Spanish (the portfolio's first 20 read English)
    # rather than a fixed one.
    english_readers = set(PrivacyProfile.objects.filter(language="en").values_list("customer_id", flat=True))
    spanish = next(r for r in treated if r.customer_id not in english_readers)
    name = spanish.customer.first_name
    mail = received[spanish.customer.email]
    body = mail.text()
    assert f"Hola {name}:" in body or f"{name}, te echamos" in body
    assert spanish.promo_code in body and "15\u00a0%" in body and "40,00\u00a0€" in body
    assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    english = received.get("c005@example.es")  # absent when the draw put them in the control group
    if english is not None and "come back" in english.message["Subject"]:
        assert "Hi Cliente005, use VUELVE-" in english.text()
        assert "To stop receiving these e-mails" in english.text()

    # An order with the code is linked; the code is checked with a clear message.
    buyer = spanish.customer
    order = order_create(
        actor=manager, customer=buyer, fields={"ordered_on": timezone.localdate(), "amount": "60", "promo_code": spanish.promo_code.lower()}
    )  # fmt: skip
    assert order.promotion.code == spanish.promo_code
    with pytest.raises(ValidationError, match="already been used"):
        order_create(actor=manager, customer=buyer, fields={"ordered_on": timezone.localdate(), "amount": "5", "promo_code": spanish.promo_code})  # fmt: skip
    other = next(r for r in treated if r.customer_id != buyer.pk)
    with pytest.raises(ValidationError, match="another customer"):
        order_create(actor=manager, customer=buyer, fields={"ordered_on": timezone.localdate(), "amount": "5", "promo_code": other.promo_code})  # fmt: skip
    with pytest.raises(ValidationError, match="no promotion code"):
        order_create(actor=manager, customer=buyer, fields={"ordered_on": timezone.localdate(), "amount": "5", "promo_code": "NOEXISTE"})  # fmt: skip
    with pytest.raises(ValidationError, match="expired"):
        order_create(actor=manager, customer=other.customer, fields={"ordered_on": timezone.localdate() + dt.timedelta(days=31), "amount": "5", "promo_code": other.promo_code})  # fmt: skip

    # More treated customers buy again than control ones.
    today = timezone.localdate()
    for r in [r for r in treated if r.customer_id != buyer.pk][:59]:
        Order.objects.create(customer=r.customer, ordered_on=today, amount=Decimal("30"))
    control = list(Recipient.objects.filter(campaign=campaign, group=Group.CONTROL))
    Order.objects.create(customer_id=control[0].customer_id, ordered_on=today, amount=Decimal("30"))
    results = checked_results(campaign=campaign, user=manager)
    total_t = next(line for line in results.lines if line.label == "All who received it")
    total_c = next(line for line in results.lines if line.label == "Control group")
    assert (total_t.recipients, total_t.bought, total_t.delivered, total_t.redeemed) == (180, 60, 180, 1)
    assert (total_c.recipients, total_c.bought) == (20, 1)
    assert total_t.revenue == Decimal("60") + 59 * Decimal("30")
    whole = results.lifts[0]
    assert whole.rate.estimate == pytest.approx(60 / 180 - 1 / 20)
    assert whole.rate.low < whole.rate.estimate < whole.rate.high
    assert "Not enough recipients" in whole.sentence  # 20 in the control group is too few to tell
    assert results.chart[0]["treated"] == pytest.approx(60 / 180, abs=1e-4)
    assert results.chart[-1]["control"] == pytest.approx(1 / 20)

    # A sales rep sees the results of their own customers only.
    mine = checked_results(campaign=campaign, user=colleague)
    assert mine.scoped
    assert next(line for line in mine.lines if line.label == "All who received it").recipients == 72
    assert selectors.shown_status(campaign) == CampaignStatus.SENT


def test_pause_holds_the_rest_and_resume_sends_it(smtp, portfolio, manager):
    campaign = services.campaign_create(
        actor=manager, fields={**SETTINGS, "promo_mode": "shared", "promo_code": "OTONO"}, segments=[portfolio["inactive"]]
    )  # fmt: skip
    services.campaign_send(actor=manager, campaign=campaign)
    assert deliver_pending(max_messages=10).sent == 10
    assert services.campaign_pause(actor=manager, campaign=campaign) == 62
    assert deliver_pending().sent == 0
    progress = selectors.campaign_progress(campaign=campaign)
    assert progress.states["held"] == 62 and not progress.finished
    assert services.campaign_resume(actor=manager, campaign=campaign) == 62
    assert deliver_pending().sent == 62
    assert selectors.campaign_progress(campaign=campaign).finished
    assert PromotionCode.objects.get(code="OTONO").customer is None
    assert len(smtp.received) == 72


def test_frequency_cap_leaves_out_who_another_campaign_just_reached(portfolio, manager):
    first = services.campaign_create(
        actor=manager, fields={**SETTINGS, "promo_mode": "none"}, segments=[portfolio["inactive"]]
    )
    services.campaign_send(actor=manager, campaign=first)
    second = services.campaign_create(
        actor=manager, fields={**SETTINGS, "promo_mode": "none"}, segments=[portfolio["inactive"]]
    )
    plan = selectors.campaign_plan(campaign=second, user=manager)
    assert plan.excluded["frequency_cap"] == 72  # the treated of the first; its control group may be reached
    assert plan.treated + plan.control == 8


def test_a_call_step_makes_a_task_for_each_owner(portfolio, manager, owner):
    from cartera.activity.models import Task

    campaign = services.campaign_create(
        actor=manager, fields={**SETTINGS, "control_percent": 0}, segments=[portfolio["at_risk"]]
    )
    [message] = selectors.campaign_messages(campaign=campaign)
    services.message_update(
        actor=manager, message=message, channel="call", talking_points="Ofrecer el 15 %", variants=[]
    )
    services.campaign_send(actor=manager, campaign=campaign)
    tasks = Task.objects.filter(title__contains="Vuelve en otoño")
    assert tasks.count() == 124 and set(tasks.values_list("assignee", flat=True)) == {owner.pk}
    assert "Ofrecer el 15 %" in tasks.first().notes and "VUELVE-" in tasks.first().notes
    assert not OutboxMessage.objects.exists()
