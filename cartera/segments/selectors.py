"""Reads of the segments app. Members of a segment always come through :func:`restrict`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, DecimalField, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from cartera.core.scoping import can, restrict, sees_every_row
from cartera.customers.models import Customer
from cartera.insights.models import CustomerMetrics, Lifecycle, RFMSegment
from cartera.segments import rules
from cartera.segments.models import Persona, PersonaSuggestionRun, PortfolioFigures, Segment
from cartera.segments.rules import definition_clean, persona_q, to_q


def _sees_customers(user: Any) -> bool:
    return can(user, Customer, "view")


def segment_list(*, user: Any) -> QuerySet[Segment]:
    """Saved segments are shared with everyone who sees the customers."""
    if not _sees_customers(user):
        return Segment.objects.none()
    return Segment.objects.select_related("owner").order_by("name", "id")


def segment_get(*, user: Any, pk: int) -> Segment:
    segment = segment_list(user=user).filter(pk=pk).first()
    if segment is None:
        raise Http404
    return segment


def definition_members(*, user: Any, definition: Any, today: dt.date | None = None) -> QuerySet[Customer]:
    """The customers ``user`` may see that match a definition (checked first)."""
    clean = definition_clean(definition)
    return restrict(Customer.objects.all(), user, "view").filter(to_q(clean, user=user, today=today))


def definition_count(*, user: Any, definition: Any, today: dt.date | None = None) -> int:
    """How many customers ``user`` may see match a definition (the builder's live count).

    A definition on analysis metrics alone is counted on the metrics table, from its covering
    index, without reading the customer file: a million-customer join costs seconds on SQLite.
    """
    clean = definition_clean(definition)
    if rules.on_metrics_alone(clean) and sees_every_row(user, Customer):
        return CustomerMetrics.objects.filter(
            rules.to_q(clean, user=user, today=today, on_metrics=True)
        ).count()
    return restrict(Customer.objects.all(), user, "view").filter(to_q(clean, user=user, today=today)).count()


def segment_count(*, user: Any, segment: Segment) -> int:
    """How many members ``user`` sees in a segment (frozen list or conditions evaluated now)."""
    if segment.is_static:
        return segment_members(user=user, segment=segment).count()
    return definition_count(user=user, definition=segment.definition)


def segment_members(*, user: Any, segment: Segment) -> QuerySet[Customer]:
    """A segment's members: the frozen list, or the conditions evaluated now."""
    if segment.is_static:
        return restrict(Customer.objects.all(), user, "view").filter(
            pk__in=segment.members.values("customer_id")
        )
    return definition_members(user=user, definition=segment.definition)


def problem_text(exc: ValidationError) -> str:
    """What is wrong with a stored definition, as one sentence for the page."""
    return " ".join(str(m) for m in exc.messages)


@dataclass(frozen=True)
class EvaluatedSegment:
    """A segment as its page shows it: members, conditions in words, and what stops them working.

    ``problem`` is set when the stored conditions no longer pass the checks (written by an older
    version, say): the members of a dynamic segment are then none, and the page says why.
    """

    members: QuerySet[Customer]
    description: str
    problem: str


def segment_evaluated(*, user: Any, segment: Segment) -> EvaluatedSegment:
    try:
        description = rules.describe(definition_clean(segment.definition))
        members = segment_members(user=user, segment=segment)
    except ValidationError as exc:
        problem = _("These conditions cannot be used: %(reason)s Edit the segment to correct them.") % {
            "reason": problem_text(exc)
        }
        members = Customer.objects.none()
        if segment.is_static:  # the frozen list does not depend on the conditions
            members = restrict(Customer.objects.all(), user, "view").filter(
                pk__in=segment.members.values("customer_id")
            )
        return EvaluatedSegment(members=members, description="", problem=problem)
    return EvaluatedSegment(members=members, description=description, problem="")


@dataclass(frozen=True)
class Totals:
    customers: int
    revenue: float
    clv: float


def totals(members: QuerySet[Customer]) -> Totals:
    """Customers, revenue and predicted 12-month value of a set of customers, in one query."""
    zero = Value(0, output_field=DecimalField(max_digits=16, decimal_places=2))
    agg = members.aggregate(
        n=Count("pk"),
        revenue=Coalesce(Sum("metrics__revenue"), zero),
        clv=Coalesce(Sum("metrics__clv_12m"), zero),
    )
    return Totals(customers=agg["n"], revenue=float(agg["revenue"]), clv=float(agg["clv"]))


def figures_rows(figures: PortfolioFigures | None, key: str) -> dict[str, Any]:
    return getattr(figures, key, {}) if figures is not None else {}


def rfm_grid(figures: PortfolioFigures | None) -> list[dict[str, Any]]:
    """The named RFM segments in the order of the grid, with counts, revenue and moves in/out."""
    data = figures_rows(figures, "rfm")
    moves = figures_rows(figures, "rfm_moves").get("moves", {})
    rows = []
    for value, label in RFMSegment.choices:
        entry = data.get(value, {})
        came = sum(v.get(value, 0) for k, v in moves.items() if k not in (value, "none"))
        left = sum(n for k, n in moves.get(value, {}).items() if k != value)
        rows.append(
            {
                "segment": value,
                "label": str(label),
                "customers": entry.get("customers", 0),
                "revenue": round(entry.get("revenue", 0.0), 2),
                "came_in": came,
                "left": left,
                "new": moves.get("none", {}).get(value, 0),
            }
        )
    return rows


def rfm_top_moves(figures: PortfolioFigures | None, limit: int = 12) -> list[dict[str, Any]]:
    labels = dict(RFMSegment.choices)
    moves = figures_rows(figures, "rfm_moves").get("moves", {})
    flat = [
        {"from": str(labels.get(a, a)), "to": str(labels.get(b, b)), "customers": n}
        for a, targets in moves.items()
        if a != "none"
        for b, n in targets.items()
    ]
    return sorted(flat, key=lambda r: -r["customers"])[:limit]


def growth_potential(*, user: Any, limit: int = 25) -> list[CustomerMetrics]:
    """Customers whose predicted 12-month value is well above what they spent in the last 12 months
    (approximated by revenue per year of tenure): the ones worth developing."""
    qs = (
        CustomerMetrics.objects.filter(
            customer__in=restrict(Customer.objects.all(), user, "view"),
            clv_12m__isnull=False,
            lifecycle__in=[Lifecycle.NEW, Lifecycle.ACTIVE],
            clv_12m__gt=0,
        )
        .select_related("customer")
        .order_by("-clv_12m", "customer_id")[: limit * 8]
    )
    rows = []
    for m in qs:
        years = max((m.tenure_days or 0) / 365.25, 1.0)
        yearly = float(m.revenue) / years
        ratio = float(m.clv_12m or 0) / yearly if yearly > 0 else None
        m.yearly_spend = round(yearly, 2)  # type: ignore[attr-defined]
        m.growth_ratio = ratio  # type: ignore[attr-defined]
        if ratio is None or ratio >= 1.2:
            rows.append(m)
    rows.sort(key=lambda m: -(float(m.clv_12m or 0) - m.yearly_spend))  # type: ignore[attr-defined]
    return rows[:limit]


# --------------------------------------------------------------------------------------------------
# Personas


def persona_list(*, user: Any) -> QuerySet[Persona]:
    if not _sees_customers(user):
        return Persona.objects.none()
    return Persona.objects.order_by("name", "id")


def persona_get(*, user: Any, pk: int) -> Persona:
    persona = persona_list(user=user).filter(pk=pk).first()
    if persona is None:
        raise Http404
    return persona


def persona_members(*, user: Any, persona: Persona) -> QuerySet[Customer]:
    return restrict(Customer.objects.all(), user, "view").filter(
        persona_q(persona.pk, user=user, today=timezone.localdate())
    )


@dataclass(frozen=True)
class PersonaReport:
    customers: int
    revenue: float
    clv: float
    at_risk_or_inactive: int

    @property
    def share_at_risk(self) -> float | None:
        return self.at_risk_or_inactive / self.customers if self.customers else None


def persona_report(*, user: Any, persona: Persona) -> PersonaReport:
    members = persona_members(user=user, persona=persona)
    t = totals(members)
    risky = members.filter(
        Q(metrics__lifecycle__in=[Lifecycle.AT_RISK, Lifecycle.INACTIVE, Lifecycle.LOST])
    ).count()
    return PersonaReport(customers=t.customers, revenue=t.revenue, clv=t.clv, at_risk_or_inactive=risky)


def persona_problem(exc: ValidationError) -> str:
    return _("This rule cannot be used: %(reason)s Edit the persona to correct it.") % {
        "reason": problem_text(exc)
    }


def persona_rows(*, user: Any) -> list[tuple[Persona, PersonaReport | None, str]]:
    """Every persona with its report, or, when its stored rule no longer passes the checks, no
    report and the reason (the other personas are still counted)."""
    rows: list[tuple[Persona, PersonaReport | None, str]] = []
    for persona in persona_list(user=user):
        try:
            rows.append((persona, persona_report(user=user, persona=persona), ""))
        except ValidationError as exc:
            rows.append((persona, None, persona_problem(exc)))
    return rows


@dataclass(frozen=True)
class EvaluatedPersona:
    """A persona as its page shows it (see :class:`EvaluatedSegment`)."""

    members: QuerySet[Customer]
    report: PersonaReport | None
    rule: str
    problem: str


def persona_evaluated(*, user: Any, persona: Persona) -> EvaluatedPersona:
    try:
        rule = rules.describe(definition_clean(persona.definition)) if persona.definition else ""
        members = persona_members(user=user, persona=persona)
        report = persona_report(user=user, persona=persona)
    except ValidationError as exc:
        # Those put in the persona by hand still belong to it.
        by_hand = restrict(Customer.objects.all(), user, "view").filter(
            pk__in=persona.members.through.objects.filter(persona_id=persona.pk).values("customer_id")
        )
        return EvaluatedPersona(members=by_hand, report=None, rule="", problem=persona_problem(exc))
    return EvaluatedPersona(members=members, report=report, rule=rule, problem="")


def suggestion_run(*, user: Any, pk: int | None = None) -> PersonaSuggestionRun | None:
    if not _sees_customers(user):
        return None
    qs = PersonaSuggestionRun.objects.order_by("-created_at")
    return qs.filter(pk=pk).first() if pk else qs.first()
