"""Reads that join several apps: the dashboard (monthly trends from the portfolio snapshots, the stored
figures, the customers with the most value at risk) and the customer page's timeline (interactions,
orders and tasks). Nothing here recomputes the analysis."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.utils import formats, timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from cartera.activity.models import Interaction, Task
from cartera.core.scoping import restrict, sees_every_row
from cartera.customers.classification import reason_text
from cartera.customers.models import Customer, StageChange
from cartera.customers.selectors import CustomerFilters, customer_list
from cartera.insights.models import ABCClass, PortfolioSnapshot
from cartera.insights.selectors import snapshots
from cartera.sales.models import Order
from cartera.segments.models import PortfolioFigures
from cartera.segments.selectors import at_risk_customer_ids
from cartera.surveys.selectors.surveys import (
    customer_responses,
    latest_answers,
    unhappy_customer_ids,
    unhappy_reason,
)

TREND_MONTHS = 24
ANTICIPATE_ROWS = 15


@dataclass
class Dashboard:
    """Everything the home page draws, already reduced to small lists."""

    latest: PortfolioSnapshot | None = None
    months: list[dict[str, Any]] = field(default_factory=list)
    shrinking: int = 0  # customers lost from the active base since the previous month (0 = none)
    # Who left the active base since the previous month's last snapshot: the first and last day of
    # that period and how many of the user's customers left in it (the list behind the alert's link).
    left: dict[str, Any] = field(default_factory=dict)
    abc: list[dict[str, Any]] = field(default_factory=list)
    cohorts: dict[str, Any] = field(default_factory=dict)
    anticipate: list[dict[str, Any]] = field(default_factory=list)

    @property
    def churn_rate(self) -> float | None:
        return self.months[-1]["churn"] if self.months else None


def month_label(day: dt.date) -> str:
    """A month as the user's language writes it short: "ene 2025", "Jan 2025"."""
    spanish = (get_language() or "es").startswith("es")
    return str(formats.date_format(day, "b Y" if spanish else "M Y"))


def _monthly(rows: list[PortfolioSnapshot]) -> list[dict[str, Any]]:
    """One point per month: flows and revenue summed over the month's snapshots, the active base at
    its last snapshot, churn = newly inactive / active base at the end of the month before."""
    by_month: dict[str, dict[str, Any]] = {}
    for snap in sorted(rows, key=lambda s: s.taken_on):
        key = snap.taken_on.strftime("%Y-%m")
        m = by_month.setdefault(
            key, {"month": key, "new": 0, "reactivated": 0, "inactive": 0, "revenue": 0.0}
        )
        m["new"] += snap.new_customers
        m["reactivated"] += snap.reactivated
        m["inactive"] += snap.newly_inactive
        m["revenue"] += float(snap.revenue_period)
        m["active"] = snap.active_base
        m["last_day"] = snap.taken_on
    months = list(by_month.values())[-TREND_MONTHS:]
    for m in months:
        m["label"] = month_label(dt.date.fromisoformat(m["month"] + "-01"))
    if rows:
        last_day = max(snap.taken_on for snap in rows)
        # The running month (its last snapshot is before the month's end) is drawn as partial.
        if months and (last_day + dt.timedelta(days=1)).month == last_day.month:
            months[-1]["partial"] = True
    previous_active: int | None = None
    for m in months:
        m["revenue"] = round(m["revenue"], 2)
        m["churn"] = round(m["inactive"] / previous_active, 4) if previous_active else None
        previous_active = m["active"]
    return months


def _anticipate(user: Any, figures: PortfolioFigures) -> list[dict[str, Any]]:
    """The customers the user looks after who are at risk or declining: everyone's for roles that act
    on every customer (the list precomputed with the figures), a sales rep's own otherwise. Customers
    who answered a survey unhappily lately come first: they said so themselves."""
    everyone = sees_every_row(user, Customer, "change")
    if everyone:
        at_risk = figures.at_risk_ids[: ANTICIPATE_ROWS * 2]
    else:
        at_risk = at_risk_customer_ids(owner=user, limit=ANTICIPATE_ROWS * 2)
    unhappy = unhappy_customer_ids(user=user)[:ANTICIPATE_ROWS]
    ids = list(dict.fromkeys([*unhappy, *at_risk]))
    answers = latest_answers(user=user, customer_ids=unhappy)
    customers = {
        c.pk: c
        for c in restrict(Customer.objects.all(), user, "view")
        .filter(pk__in=ids, metrics__isnull=False)
        .select_related("metrics", "owner")
    }
    rows = []
    for pk in ids:
        c = customers.get(pk)
        if c is None or (not everyone and c.owner_id != user.pk):
            continue
        m = c.metrics
        clv = float(m.clv_12m or 0)
        reason = reason_text(m.reason_code, m.reason_data) or (
            _("Orders declining since %(date)s.") % {"date": m.decline_since} if m.declining else ""
        )
        answer = answers.get(pk)
        if answer is not None:
            reason = f"{unhappy_reason(answer)} {reason}".strip()
        rows.append(
            {
                "customer": c,
                "metrics": m,
                "value_at_risk": round(clv * (1 - (m.p_alive or 0.0)), 2),
                "reason": reason,
                "unhappy": answer is not None,
            }
        )
        if len(rows) >= ANTICIPATE_ROWS:
            break
    return rows


def left_in_period(*, user: Any, after: dt.date, until: dt.date) -> dict[str, Any]:
    """The customers ``user`` sees who left the active base after ``after`` and up to ``until``: the
    customer list's own filters, so that the count is the length of the list the link opens."""
    first = after + dt.timedelta(days=1)
    count = customer_list(user=user, filters=CustomerFilters(left_from=first, left_to=until)).count()
    return {"from": first, "to": until, "count": count}


def dashboard(*, user: Any, figures: PortfolioFigures | None) -> Dashboard:
    """The home page's figures for ``user`` (empty for users who cannot see customers)."""
    rows = list(snapshots(user=user, limit=800))
    if not rows:
        return Dashboard()
    latest = rows[0]
    start = (latest.taken_on.replace(day=1) - dt.timedelta(days=31 * TREND_MONTHS)).replace(day=1)
    months = _monthly([r for r in rows if r.taken_on >= start])
    shrinking = 0
    if len(months) >= 2 and months[-1]["active"] < months[-2]["active"]:
        shrinking = months[-2]["active"] - months[-1]["active"]
    result = Dashboard(latest=latest, months=months, shrinking=shrinking)
    if shrinking:
        result.left = left_in_period(user=user, after=months[-2]["last_day"], until=months[-1]["last_day"])
    if figures is not None:
        labels = dict(ABCClass.choices)
        result.abc = [
            {"class": k, "label": str(labels.get(k, k)), **figures.abc[k]} for k in sorted(figures.abc)
        ]
        result.cohorts = figures.cohorts
        result.anticipate = _anticipate(user, figures)
    return result


@dataclass(frozen=True)
class TimelineEntry:
    """One line of a customer's timeline: an interaction, an order or a task."""

    kind: str  # "interaction" | "order" | "task" | "stage" | "survey"
    when: dt.datetime
    item: Any


def _as_datetime(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(12, 0)))


def customer_timeline(*, user: Any, customer: Customer, limit: int = 100) -> list[TimelineEntry]:
    """Interactions, orders, tasks, stage changes and survey answers of ``customer``, newest first
    (one query each, whatever the size)."""
    interactions = (
        restrict(Interaction.objects.all(), user, "view")
        .filter(customer=customer)
        .select_related("author")[:limit]
    )
    orders = restrict(Order.objects.all(), user, "view").filter(customer=customer)[:limit]
    tasks = restrict(Task.objects.all(), user, "view").filter(customer=customer).select_related("assignee")
    tasks = tasks.order_by("-due_at", "-id")[:limit]
    stage_changes = (
        restrict(StageChange.objects.all(), user, "view")
        .filter(customer=customer)
        .select_related("changed_by")
        .order_by("-changed_at", "-id")[:limit]
    )
    entries = [TimelineEntry("interaction", i.occurred_at, i) for i in interactions]
    entries += [TimelineEntry("stage", c.changed_at, c) for c in stage_changes]
    entries += [TimelineEntry("order", _as_datetime(o.ordered_on), o) for o in orders]
    entries += [TimelineEntry("task", t.due_at, t) for t in tasks]
    entries += [
        TimelineEntry("survey", r.answered_at, r)
        for r in customer_responses(user=user, customer=customer, limit=limit)
    ]
    entries.sort(key=lambda e: e.when, reverse=True)
    return entries[:limit]
