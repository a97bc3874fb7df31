"""Reads of the portfolio figures (Pareto, RFM) and the growth-potential list."""

from __future__ import annotations

from typing import Any

import numpy as np

from cartera.core.scoping import restrict
from cartera.customers.models import Customer
from cartera.insights.models import CustomerMetrics, RFMSegment, at_risk_condition, value_at_risk
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


# Growth potential: repeat buyers likely still buying (by the chosen model's P(alive)) whose yearly
# spend is at most half of what the upper quartile of comparable customers (same R and F scores: as
# recent and as frequent) spends; ranked by the euros of the gap to that upper quartile.
GROWTH_MIN_P_ALIVE = 0.5
GROWTH_SHARE_OF_UPPER_QUARTILE = 0.5
GROWTH_MIN_GROUP = 8  # fewer comparable customers give no meaningful quartile


def growth_potential(*, user: Any, limit: int = 25) -> list[CustomerMetrics]:
    """Repeat customers likely still buying who spend well below comparable customers, biggest gap first.

    Comparable: the same RFM recency and frequency scores (the whole portfolio's, so that the
    yardstick does not depend on who looks). Spend: revenue per year of tenure (at least one year).
    Each row gets ``yearly_spend``, ``peer_spend`` (the group's upper quartile) and ``gap`` (euros).
    """
    rows = list(
        CustomerMetrics.objects.filter(
            frequency__gte=1, p_alive__gte=GROWTH_MIN_P_ALIVE, r_score__isnull=False
        )
        .values_list("customer_id", "r_score", "f_score", "revenue", "tenure_days")
        .order_by()
    )
    if not rows:
        return []
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    group = np.array([(r[1] or 0) * 10 + (r[2] or 0) for r in rows], dtype=np.int64)
    years = np.maximum(np.array([(r[4] or 0) for r in rows], dtype=np.float64) / 365.25, 1.0)
    spend = np.array([float(r[3]) for r in rows]) / years
    peer = np.full(ids.shape[0], np.nan)
    for g in np.unique(group):
        members = group == g
        if members.sum() >= GROWTH_MIN_GROUP:
            peer[members] = np.quantile(spend[members], 0.75)
    gap = peer - spend
    keep = np.isfinite(peer) & (spend <= GROWTH_SHARE_OF_UPPER_QUARTILE * peer)
    order = np.flatnonzero(keep)[np.argsort(-gap[keep], kind="stable")]
    candidates = {int(ids[i]): i for i in order[: limit * 20]}
    visible = CustomerMetrics.objects.filter(
        customer_id__in=list(candidates), customer__in=restrict(Customer.objects.all(), user, "view")
    ).select_related("customer")
    result = []
    for m in visible:
        i = candidates[m.customer_id]
        m.yearly_spend = round(float(spend[i]), 2)  # type: ignore[attr-defined]
        m.peer_spend = round(float(peer[i]), 2)  # type: ignore[attr-defined]
        m.gap = round(float(gap[i]), 2)  # type: ignore[attr-defined]
        result.append(m)
    result.sort(key=lambda m: (-m.gap, m.customer_id))  # type: ignore[attr-defined]
    return result[:limit]


def at_risk_customer_ids(*, owner: Any = None, limit: int = AT_RISK_KEPT) -> list[int]:
    """Customers at risk or declining, most value at risk first (12-month value × (1 − P(alive)));
    with ``owner``, only the customers that person looks after (a sales rep's "Anticipate")."""
    rows = CustomerMetrics.objects.filter(at_risk_condition())
    if owner is not None:
        rows = rows.filter(customer__owner=owner)
    return list(
        rows.annotate(var=value_at_risk())
        .order_by("-var", "customer_id")
        .values_list("customer_id", flat=True)[:limit]
    )
