"""REST API for campaigns: create (with a message per segment), review counts, send, pause, resume
and results. Managers create and send; sales reps read campaigns and the results of their customers.

No ``from __future__ import annotations``: django-ninja reads the annotations at run time.
"""

import datetime
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from cartera.campaigns import selectors, services
from cartera.campaigns.models import Goal, PromoMode
from cartera.core.api_common import CREATE_ERRORS, LIST_ERRORS, READ_ERRORS, InSchema, responses
from cartera.core.scoping import get_for_user
from cartera.segments.models import Segment

campaign_router = Router(tags=["campaigns"])
ACTION_ERRORS = (400, 401, 403, 404, 422)


class VariantIn(InSchema):
    label: Literal["A", "B"] = "A"
    share: int = Field(
        100, ge=1, le=100, description="Percent of the message's recipients; variants add up to 100."
    )
    subject: str = Field(..., max_length=200)
    body: str = Field(
        ..., max_length=20000, description="Plain text with {{ variables }} (docs/campaigns.md)."
    )
    subject_en: str = Field("", max_length=200)
    body_en: str = Field("", max_length=20000)


class MessageIn(InSchema):
    segment: int = Field(..., description="Segment id.")
    channel: Literal["email", "call"] = "email"
    talking_points: str = Field("", max_length=5000)
    variants: list[VariantIn] = Field(default_factory=list, max_length=2)


class CampaignIn(InSchema):
    name: str = Field(..., min_length=1, max_length=120)
    goal: Goal = Goal.REACTIVATE
    control_percent: int = Field(10, ge=0, le=50)
    frequency_cap_days: int = Field(14, ge=0, le=365)
    window_days: int = Field(60, ge=1, le=365)
    promo_mode: PromoMode = PromoMode.NONE
    promo_code: str = Field("", max_length=30)
    promo_discount: Decimal = Field(Decimal("0"), ge=0, le=100, decimal_places=2)
    promo_valid_until: datetime.date | None = None
    promo_max_uses: int | None = Field(None, ge=1, le=1_000_000)
    track_clicks: bool = Field(False, description="Rewrite links to signed click-tracking addresses.")
    messages: list[MessageIn] = Field(..., min_length=1, max_length=20)


class CampaignOut(Schema):
    id: int
    name: str
    goal: str
    status: str
    control_percent: int
    seed: int
    frequency_cap_days: int
    window_days: int
    promo_mode: str
    promo_code: str
    track_clicks: bool
    sent_at: datetime.datetime | None


class MessageCountsOut(Schema):
    message: int
    segment: str
    channel: str
    audience: int
    control: int
    treated_by_variant: dict[str, int]
    excluded: dict[str, int]


class ReviewOut(Schema):
    audience: int
    treated: int
    control: int
    excluded: dict[str, int]
    messages: list[MessageCountsOut]


class ProgressOut(Schema):
    status: str
    states: dict[str, int]
    calls: int
    percent: int


class IntervalOut(Schema):
    estimate: float
    low: float
    high: float


class LiftOut(Schema):
    label: str
    treated: int
    control: int
    rate: IntervalOut | None
    revenue_per_recipient: IntervalOut | None
    sentence: str


class LineOut(Schema):
    label: str
    group: str
    recipients: int
    delivered: int
    unsubscribed: int
    bought: int
    revenue: Decimal
    redeemed: int
    clicked: int = Field(description="Recipients who opened a tracked link (0 when clicks are not counted).")
    replied: int = Field(description="Recipients whose reply was logged.")


class ResultsOut(Schema):
    lines: list[LineOut]
    lifts: list[LiftOut]
    only_your_customers: bool


@campaign_router.get("", response=responses({200: list[CampaignOut]}, *LIST_ERRORS), summary="List campaigns")
def list_campaigns(request: HttpRequest) -> Any:
    return list(selectors.campaign_list(user=request.auth)[:500])  # type: ignore[attr-defined]


@campaign_router.post("", response=responses({201: CampaignOut}, *CREATE_ERRORS), summary="Create a campaign")
def create_campaign(request: HttpRequest, payload: CampaignIn) -> Any:
    """A draft with one message per segment (in order); each message's texts are checked."""
    user = request.auth  # type: ignore[attr-defined]
    data = payload.model_dump()
    messages = data.pop("messages")
    segments = [get_for_user(Segment.objects.all(), user, "view", pk=m["segment"]) for m in messages]
    campaign = services.campaign_create(actor=user, fields=data, segments=segments)
    for stored, given in zip(selectors.campaign_messages(campaign=campaign), messages, strict=True):
        if given["channel"] == "call" or given["variants"]:
            services.message_update(
                actor=user,
                message=stored,
                channel=given["channel"],
                talking_points=given["talking_points"],
                variants=given["variants"],
            )
    return Status(201, campaign)


@campaign_router.get(
    "/{int:campaign_id}", response=responses({200: CampaignOut}, *READ_ERRORS), summary="One campaign"
)
def get_campaign(request: HttpRequest, campaign_id: int) -> Any:
    return selectors.campaign_get(user=request.auth, pk=campaign_id)  # type: ignore[attr-defined]


@campaign_router.get(
    "/{int:campaign_id}/review", response=responses({200: ReviewOut}, *ACTION_ERRORS), summary="Review counts"
)
def review_campaign(request: HttpRequest, campaign_id: int) -> Any:
    """Who would receive it now, per segment and variant; who is excluded and why; the control group."""
    user = request.auth  # type: ignore[attr-defined]
    campaign = selectors.campaign_get(user=user, pk=campaign_id, action="change")
    plan = selectors.campaign_plan(campaign=campaign, user=user)
    return {
        "audience": plan.audience,
        "treated": plan.treated,
        "control": plan.control,
        "excluded": dict(plan.excluded),
        "messages": [
            {
                "message": c.message.pk,
                "segment": c.message.segment.name,
                "channel": c.message.channel,
                "audience": c.audience,
                "control": c.control,
                "treated_by_variant": c.treated_by_variant,
                "excluded": dict(c.excluded),
            }
            for c in plan.by_message
        ],
    }


def _progress(campaign: Any) -> dict[str, Any]:
    progress = selectors.campaign_progress(campaign=campaign)
    return {
        "status": selectors.shown_status(campaign, progress),
        "states": progress.states,
        "calls": progress.calls,
        "percent": progress.percent,
    }


@campaign_router.post(
    "/{int:campaign_id}/send",
    response=responses({201: ProgressOut}, *CREATE_ERRORS),
    summary="Send a campaign",
)
def send_campaign(request: HttpRequest, campaign_id: int) -> Any:
    """Freeze the audience and queue the e-mails (and create the call tasks)."""
    user = request.auth  # type: ignore[attr-defined]
    campaign = selectors.campaign_get(user=user, pk=campaign_id, action="change")
    return Status(201, _progress(services.campaign_send(actor=user, campaign=campaign)))


@campaign_router.post(
    "/{int:campaign_id}/pause",
    response=responses({201: ProgressOut}, *CREATE_ERRORS),
    summary="Pause sending",
)
def pause_campaign(request: HttpRequest, campaign_id: int) -> Any:
    user = request.auth  # type: ignore[attr-defined]
    campaign = selectors.campaign_get(user=user, pk=campaign_id, action="change")
    services.campaign_pause(actor=user, campaign=campaign)
    return Status(201, _progress(campaign))


@campaign_router.post(
    "/{int:campaign_id}/resume",
    response=responses({201: ProgressOut}, *CREATE_ERRORS),
    summary="Resume sending",
)
def resume_campaign(request: HttpRequest, campaign_id: int) -> Any:
    user = request.auth  # type: ignore[attr-defined]
    campaign = selectors.campaign_get(user=user, pk=campaign_id, action="change")
    services.campaign_resume(actor=user, campaign=campaign)
    return Status(201, _progress(campaign))


@campaign_router.get(
    "/{int:campaign_id}/results",
    response=responses({200: ResultsOut}, *READ_ERRORS),
    summary="Results and lift",
)
def campaign_results(request: HttpRequest, campaign_id: int) -> Any:
    """Per message, variant and control group; lift with 95% intervals (a sales rep: their customers)."""
    user = request.auth  # type: ignore[attr-defined]
    campaign = selectors.campaign_get(user=user, pk=campaign_id)
    results = selectors.campaign_results(campaign=campaign, user=user)

    def interval(value: Any) -> dict[str, float] | None:
        return None if value is None else {"estimate": value.estimate, "low": value.low, "high": value.high}

    return {
        "lines": [vars(line) for line in results.lines],
        "lifts": [
            {
                "label": lift.label,
                "treated": lift.treated,
                "control": lift.control,
                "rate": interval(lift.rate),
                "revenue_per_recipient": interval(lift.revenue),
                "sentence": lift.sentence,
            }
            for lift in results.lifts
        ],
        "only_your_customers": results.scoped,
    }
