"""The automatic surveys: after each refresh of the analysis, invite the customers whose situation
matches a survey's trigger (orders declining, at risk, lapsed, some days after an order, periodic),
never more often than the survey's frequency cap per customer."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from cartera.customers.classification import Lifecycle
from cartera.customers.models import Customer
from cartera.insights.models import CustomerMetrics
from cartera.sales.models import Order
from cartera.surveys.models import Invitation, InvitationChannel, Survey, Trigger
from cartera.surveys.services.surveys import invitations_create_bulk, invitations_send

# An order this many days either side of "N days after" still counts (a refresh may be skipped).
AFTER_ORDER_WINDOW_DAYS = 7


def trigger_candidates(survey: Survey, today: dt.date | None = None) -> list[int]:
    """The customers whose situation matches ``survey``'s trigger today (before the frequency cap)."""
    today = today or timezone.localdate()
    trigger = Trigger(survey.trigger)
    customers = Customer.objects.all()
    metrics = CustomerMetrics.objects.all()
    ids: QuerySet[Any, int]
    if trigger == Trigger.DECLINING:
        ids = metrics.filter(declining=True).values_list("customer_id", flat=True)
    elif trigger == Trigger.AT_RISK:
        ids = metrics.filter(lifecycle=Lifecycle.AT_RISK).values_list("customer_id", flat=True)
    elif trigger == Trigger.LAPSED:
        ids = metrics.filter(lifecycle__in=[Lifecycle.INACTIVE, Lifecycle.LOST]).values_list(
            "customer_id", flat=True
        )
    elif trigger == Trigger.AFTER_ORDER:
        last = today - dt.timedelta(days=survey.trigger_days)
        ids = (
            Order.objects.filter(
                ordered_on__gt=last - dt.timedelta(days=AFTER_ORDER_WINDOW_DAYS), ordered_on__lte=last
            )
            .values_list("customer_id", flat=True)
            .distinct()
        )
    elif trigger == Trigger.PERIODIC:
        # Everyone who buys (active or new), once every trigger_days for this survey.
        since = timezone.now() - dt.timedelta(days=survey.trigger_days)
        recent = Invitation.objects.filter(survey=survey, created_at__gte=since).values("customer_id")
        ids = (
            metrics.filter(lifecycle__in=[Lifecycle.ACTIVE, Lifecycle.NEW])
            .exclude(customer_id__in=recent)
            .values_list("customer_id", flat=True)
        )
    else:
        return []
    # A survey asks the same customer again only after the frequency cap, whatever the trigger.
    return list(customers.filter(pk__in=ids).values_list("pk", flat=True))


def triggers_run(*, today: dt.date | None = None) -> dict[int, int]:
    """Invite the matching customers of every active automatic survey; returns invitations by survey."""
    sent: dict[int, int] = {}
    for survey in Survey.objects.filter(active=True).exclude(trigger=Trigger.MANUAL):
        ids = trigger_candidates(survey, today)
        if not ids:
            continue
        # invitations_create_bulk leaves out whoever was asked any survey within the cap.
        rows = invitations_create_bulk(
            survey=survey,
            customer_ids=ids,
            trigger=survey.trigger,
            channel=InvitationChannel.EMAIL,
        )
        invitations_send(invitations=rows)
        sent[survey.pk] = len(rows)
    return sent


def triggers_run_after_refresh(**kwargs: Any) -> dict[int, int]:
    """Answers the ``analysis_refreshed`` hook: run the triggers on the freshly written metrics."""
    return triggers_run()
