"""Campaign responses as segment conditions: received (or not), control group, clicked, replied,
redeemed, bought again after the send; validated with clear messages."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from cartera.campaigns import services
from cartera.campaigns.models import Group, Recipient
from cartera.campaigns.tracking import TrackedLink, click_token
from cartera.sales.models import Order, PromotionCode
from cartera.segments.rules import definition_clean, describe
from cartera.segments.selectors.segments import segment_members
from cartera.segments.services import segment_create

pytestmark = pytest.mark.django_db


def _rule(op: str, value) -> dict:
    return {
        "match": "all",
        "groups": [{"match": "all", "rules": [{"field": "campaign", "op": op, "value": value}]}],
    }


def _members(manager, op, campaign_ids) -> set[int]:
    segment = segment_create(actor=manager, fields={"name": f"{op}", "definition": _rule(op, campaign_ids)})
    return set(segment_members(user=manager, segment=segment).values_list("pk", flat=True))


def test_campaign_responses_select_customers(portfolio, manager):
    campaign = services.campaign_create(
        actor=manager,
        fields={
            "name": "Respuestas",
            "control_percent": 10,
            "frequency_cap_days": 0,
            "track_clicks": True,
            "promo_mode": "shared",
            "promo_code": "OTONO",
            "promo_discount": Decimal("5"),
        },
        segments=[portfolio["at_risk"]],
    )
    campaign = services.campaign_send(actor=manager, campaign=campaign)
    rows = Recipient.objects.filter(campaign=campaign)
    treated = list(rows.filter(group=Group.TREATED).order_by("customer_id"))
    control = {r.customer_id for r in rows.filter(group=Group.CONTROL)}
    assert len(treated) == 108 and len(control) == 12
    first, second, third = treated[:3]
    services.click_record(token=click_token(TrackedLink(first.pk, 1, "https://tienda.example/")))
    services.reply_record(actor=manager, recipient=second, text="Gracias")
    today = timezone.localdate()
    Order.objects.create(
        customer_id=third.customer_id,
        ordered_on=today,
        amount=Decimal("20"),
        promotion=PromotionCode.objects.get(code="OTONO"),
    )
    Order.objects.create(customer_id=first.customer_id, ordered_on=today + dt.timedelta(days=61), amount=1)
    Order.objects.create(customer_id=sorted(control)[0], ordered_on=today, amount=Decimal("9"))

    ids = [campaign.pk]
    received = _members(manager, "received", ids)
    assert received == {r.customer_id for r in treated}
    everyone = {c.pk for c in portfolio["customers"]} | {portfolio[k].pk for k in ("no_email", "no_consent", "unsubscribed", "bounced")}  # fmt: skip
    assert _members(manager, "not_received", ids) == everyone - received
    assert _members(manager, "control", ids) == control
    assert _members(manager, "clicked", ids) == {first.customer_id}
    assert _members(manager, "replied", ids) == {second.customer_id}
    assert _members(manager, "redeemed", ids) == {third.customer_id}
    # Within the 60-day window, among those who received it (the control group's buyer is not).
    assert _members(manager, "bought_after", ids) == {third.customer_id}


def test_campaign_conditions_are_validated(portfolio, manager):
    campaign = services.campaign_create(
        actor=manager, fields={"name": "Validar", "frequency_cap_days": 0}, segments=[portfolio["at_risk"]]
    )
    with translation.override("en"):
        # A draft cannot be named: it has no recipients yet.
        with pytest.raises(ValidationError, match=rf"Campaign: Unknown campaign: {campaign.pk}\."):
            definition_clean(_rule("received", [campaign.pk]))
        campaign = services.campaign_send(actor=manager, campaign=campaign)
        clean = definition_clean(_rule("received", [str(campaign.pk)]))
        assert clean["groups"][0]["rules"][0]["value"] == [str(campaign.pk)]
        assert describe(clean) == "campaign received any of Validar"
        with pytest.raises(ValidationError, match="Campaign: Choose at least one value"):
            definition_clean(_rule("clicked", []))
        with pytest.raises(ValidationError, match="cannot be used with campaign"):
            definition_clean(_rule("opened", [campaign.pk]))
        with pytest.raises(ValidationError, match="Campaign: "):
            definition_clean(_rule("replied", ["-1"]))
        with pytest.raises(ValidationError, match="Campaign: "):
            definition_clean(_rule("replied", [{"id": 1}]))
