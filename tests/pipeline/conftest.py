"""Fixtures shared by the pipeline tests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from cartera.pipeline import selectors, services
from cartera.pipeline.models import LostReason, Opportunity, OpportunityStageChange


@pytest.fixture
def history(owner, customer):
    """Four opportunities: one won after passing every stage, one lost in stage 2 (Precio), one open in
    stage 2 and rotting, one open in stage 1; times in stage set by hand (days)."""
    pipeline = services.pipeline_defaults_ensure()
    s = selectors.stages_of(pipeline)
    price = LostReason.objects.get(name="Precio")

    def deal(title, value, month=None):
        return services.opportunity_create(
            actor=owner,
            fields={"customer": customer, "title": title, "value": Decimal(value), "source": "referral",
                    "expected_close_on": month},
        )  # fmt: skip

    won, lost, stuck, _fresh = (
        deal("won", 1000),
        deal("lost", 500),
        deal("stuck", 300, dt.date(2026, 3, 10)),
        deal("fresh", 200, dt.date(2026, 3, 20)),
    )
    for o in (won, lost, stuck):
        services.opportunity_move(actor=owner, opportunity=o, stage=s[1])
    for stage in s[2:]:
        services.opportunity_move(actor=owner, opportunity=won, stage=stage)
    services.opportunity_win(actor=owner, opportunity=won)
    services.opportunity_lose(actor=owner, opportunity=lost, reason=price)
    # Time in stage: stage 1 took 2, 4 and 6 days; stage 2: 10 days for "won", 1 for "lost".
    for title, days in (("won", 2), ("lost", 4), ("stuck", 6)):
        OpportunityStageChange.objects.filter(opportunity__title=title, from_stage=s[0]).update(
            seconds_in_stage=days * 86400
        )
    OpportunityStageChange.objects.filter(opportunity__title="won", from_stage=s[1]).update(
        seconds_in_stage=10 * 86400
    )
    OpportunityStageChange.objects.filter(opportunity__title="lost", from_stage=s[1]).update(
        seconds_in_stage=86400
    )
    old = timezone.now() - dt.timedelta(days=60)
    Opportunity.objects.filter(pk=stuck.pk).update(last_activity_at=old)
    return pipeline, s
