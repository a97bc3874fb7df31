"""Reads of the portfolio figures (Pareto, RFM) and the growth-potential list."""

from __future__ import annotations

from typing import Any

from django.db.models import ExpressionWrapper, F, FloatField, Q, Value
from django.db.models.functions import Coalesce

from cartera.core.scoping import restrict
from cartera.customers.models import Customer
from cartera.insights.models import CustomerMetrics, Lifecycle, RFMSegment
from cartera.segments.models import PortfolioFigures

# How many at-risk customers the figures keep (the dashboard shows the first few).
AT_RISK_KEPT = 200


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


def at_risk_customer_ids(*, owner: Any = None, limit: int = AT_RISK_KEPT) -> list[int]:
    """Customers at risk or declining, most value at risk first (12-month value × (1 − P(alive)));
    with ``owner``, only the customers that person looks after (a sales rep's "Anticipate")."""
    value_at_risk = ExpressionWrapper(
        F("clv_12m") * (Value(1.0) - Coalesce(F("p_alive"), Value(0.0))), output_field=FloatField()
    )
    rows = CustomerMetrics.objects.filter(Q(lifecycle="at_risk") | Q(declining=True), clv_12m__isnull=False)
    if owner is not None:
        rows = rows.filter(customer__owner=owner)
    return list(
        rows.annotate(var=value_at_risk)
        .order_by("-var", "customer_id")
        .values_list("customer_id", flat=True)[:limit]
    )
