"""A small portfolio for campaigns: at-risk and inactive customers with e-mail and consent, a few
who must be excluded (no address, no consent, unsubscribed, bounced), their orders and segments."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.messaging.conftest import consenting  # noqa: F401 - shared fixture

LIFECYCLE_RULE = {
    "match": "all",
    "groups": [{"match": "all", "rules": [{"field": "lifecycle", "op": "in", "value": []}]}],
}


def lifecycle_definition(status: str) -> dict:
    return {
        "match": "all",
        "groups": [{"match": "all", "rules": [{"field": "lifecycle", "op": "in", "value": [status]}]}],
    }


@pytest.fixture
def portfolio(owner, colleague, manager):
    """See :func:`build_portfolio`."""
    return build_portfolio(owner, colleague, manager)


def build_portfolio(owner, colleague, manager):
    """120 at-risk customers (owner's, some English-speaking) and 80 inactive ones (colleague's), each
    with a last order; plus the ones to exclude. Returns the segments and the interesting customers."""
    from cartera.customers.models import Customer
    from cartera.insights.models import CustomerMetrics
    from cartera.privacy.models import PrivacyProfile
    from cartera.privacy.services import email_suppress
    from cartera.sales.models import Order
    from cartera.segments.services import segment_create

    now = timezone.now()
    today = timezone.localdate()
    customers = []
    for i in range(200):
        at_risk = i < 120
        customers.append(
            Customer(
                first_name=f"Cliente{i:03d}",
                first_name_key=f"cliente{i:03d}",
                last_name="Prueba",
                email=f"c{i:03d}@example.es",
                opt_in_email=True,
                stage="customer",
                owner=owner if at_risk else colleague,
            )
        )
    extra = {
        "no_email": Customer(
            first_name="Sincorreo", first_name_key="sincorreo", email=None, opt_in_email=True
        ),
        "no_consent": Customer(first_name="Sinpermiso", first_name_key="sinpermiso", email="np@example.es"),
        "unsubscribed": Customer(
            first_name="Baja", first_name_key="baja", email="baja@example.es", opt_in_email=True
        ),
        "bounced": Customer(
            first_name="Rebote", first_name_key="rebote", email="rebote@example.es", opt_in_email=True
        ),
    }
    for c in extra.values():
        c.owner, c.stage = owner, "customer"
    Customer.objects.bulk_create(customers + list(extra.values()))
    everyone = customers + list(extra.values())
    CustomerMetrics.objects.bulk_create(
        [
            CustomerMetrics(
                customer=c,
                orders_count=2,
                revenue=Decimal("80"),
                lifecycle="at_risk" if (c in customers[:120] or c in extra.values()) else "inactive",
                last_order_on=today - dt.timedelta(days=200),
                first_order_on=today - dt.timedelta(days=600),
                recency_days=200,
                tenure_days=600,
                frequency=1,
                computed_at=now,
            )
            for c in everyone
        ]
    )
    Order.objects.bulk_create(
        [
            Order(
                customer=c,
                ordered_on=today - dt.timedelta(days=200),
                amount=Decimal("40.00"),
                category="Café",
            )
            for c in everyone
        ]
    )
    PrivacyProfile.objects.bulk_create([PrivacyProfile(customer=c, language="en") for c in customers[:20]])
    email_suppress(email="baja@example.es", reason="unsubscribe")
    email_suppress(email="rebote@example.es", reason="bounce")
    at_risk = segment_create(
        actor=manager, fields={"name": "En riesgo", "definition": lifecycle_definition("at_risk")}
    )
    inactive = segment_create(
        actor=manager, fields={"name": "Inactivos", "definition": lifecycle_definition("inactive")}
    )
    return {"at_risk": at_risk, "inactive": inactive, "customers": customers, **extra}


def checked_results(*, campaign, user):
    """``campaign_results`` counted in SQL, after checking it gives exactly what its plain twin
    (every recipient, order and outbox row counted in Python) gives: lines, lifts, chart, links.
    Both with the same bootstrap (the sparse one), so the revenue intervals match to the digit."""
    from django.test import override_settings

    from cartera.campaigns import selectors

    with override_settings(CARTERA_BULK_PLAIN=False):
        fast = selectors.campaign_results(campaign=campaign, user=user)
        plain = selectors._results_per_recipient(campaign, user)
    assert fast == plain
    return fast
