"""Numpy computations behind the dashboard, Pareto and RFM views (no database access here).

They take the order arrays that the analysis already reads (:class:`OrderArrays`) and return
plain, JSON-ready structures that :class:`~cartera.segments.models.PortfolioFigures` stores.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import numpy.typing as npt

from cartera.insights.analysis import OrderArrays
from customerbase.abc import revenue_share_of_top
from customerbase.rfm import SEGMENTS, rfm_scores, summary_from_transactions

COHORT_MONTHS = 12
PARETO_POINTS = 50


def month_index(days: npt.NDArray[np.datetime64]) -> npt.NDArray[np.int64]:
    """Months since 1970-01 of each day."""
    return days.astype("datetime64[M]").astype(np.int64)


def _month_label(index: int) -> str:
    return f"{1970 + index // 12:04d}-{index % 12 + 1:02d}"


def cohort_table(orders: OrderArrays, *, as_of: dt.date, months: int = COHORT_MONTHS) -> dict[str, Any]:
    """Retention by month of first purchase: for each of the last ``months`` cohorts, the share of its
    customers who bought in each following month (column 0 is the first month, always 100%).

    The last cohorts are the most recent months in which someone bought for the first time, not the
    last calendar months: a portfolio that won no new customer this year still has a heat map.
    """
    end = np.datetime64(as_of, "D")
    o = orders.until(end)
    if len(o) == 0:
        return {"cohorts": [], "months": months}
    m = month_index(o.days)
    ids = o.customer_ids
    # One (customer, month) pair per month with a purchase.
    pairs = np.unique(np.stack([ids, m], axis=1), axis=0)
    cust, first_pos = np.unique(pairs[:, 0], return_index=True)
    first_month = pairs[first_pos, 1]
    cohort_of_pair = first_month[np.searchsorted(cust, pairs[:, 0])]
    offset = pairs[:, 1] - cohort_of_pair
    last = int(month_index(np.array([end]))[0])
    cohorts, sizes = np.unique(first_month, return_counts=True)
    rows = []
    for cohort, size in zip(cohorts[-months:].tolist(), sizes[-months:].tolist(), strict=True):
        in_cohort = cohort_of_pair == cohort
        counts = np.bincount(offset[in_cohort], minlength=months)[:months]
        span = last - cohort + 1
        rows.append(
            {
                "cohort": _month_label(cohort),
                "size": size,
                "retention": [round(float(counts[i]) / size, 4) for i in range(min(span, months))],
            }
        )
    return {"cohorts": rows, "months": months}


def _segments_at(orders: OrderArrays, day: np.datetime64) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    summary = summary_from_transactions(
        orders.customer_ids, orders.days, orders.amounts, observation_end=day, freq_days=1.0
    )
    if len(summary) == 0:
        return np.empty(0, np.int64), np.empty(0, dtype=object)
    scores = rfm_scores(summary.days_since_last, summary.frequency, summary.monetary)
    return summary.customer_ids, scores.segments()


def rfm_moves(orders: OrderArrays, *, as_of: dt.date) -> dict[str, Any]:
    """How many customers moved from one RFM segment to another since the previous month end.

    Both ends are scored the same way the analysis scores them (quintiles at that date)."""
    end = np.datetime64(as_of, "D")
    previous = as_of.replace(day=1) - dt.timedelta(days=1)
    ids_now, seg_now = _segments_at(orders, end)
    ids_before, seg_before = _segments_at(orders, np.datetime64(previous, "D"))
    moves: dict[str, dict[str, int]] = {}
    if ids_now.shape[0]:
        pos = np.searchsorted(ids_before, ids_now)
        pos_c = np.clip(pos, 0, max(ids_before.shape[0] - 1, 0))
        known = (
            (pos < ids_before.shape[0]) & (ids_before[pos_c] == ids_now)
            if ids_before.shape[0]
            else (np.zeros(ids_now.shape[0], dtype=bool))
        )
        before = np.where(known, seg_before[pos_c] if ids_before.shape[0] else "", "")
        for a, b in zip(before.tolist(), seg_now.tolist(), strict=True):
            if a != b:
                key = a or "none"
                moves.setdefault(key, {})
                moves[key][b] = moves[key].get(b, 0) + 1
    moved = sum(sum(v.values()) for k, v in moves.items() if k != "none")
    return {"since": previous.isoformat(), "moves": moves, "moved": moved, "segments": list(SEGMENTS)}


def pareto_curve(revenue: npt.NDArray[np.float64], *, points: int = PARETO_POINTS) -> dict[str, Any]:
    """The cumulative share of revenue against the share of customers (best first), sampled."""
    rev = np.clip(np.asarray(revenue, dtype=np.float64), 0.0, None)
    n = rev.shape[0]
    total = float(rev.sum())
    if n == 0 or total <= 0:
        return {"points": [], "top20_share": None, "customers": n}
    cum = np.concatenate([[0.0], np.cumsum(np.sort(rev)[::-1])]) / total
    xs = np.linspace(0.0, 1.0, points + 1)
    ys = np.interp(xs, np.arange(n + 1) / n, cum)
    return {
        "points": [[round(float(x), 4), round(float(y), 4)] for x, y in zip(xs, ys, strict=True)],
        "top20_share": round(revenue_share_of_top(rev, 0.2), 4),
        "customers": n,
    }


def revenue_per_customer(
    orders: OrderArrays, ids: npt.NDArray[np.int64], *, as_of: dt.date
) -> npt.NDArray[Any]:
    """Total revenue up to ``as_of`` of every customer in ``ids`` (sorted), zero for non-buyers."""
    o = orders.until(np.datetime64(as_of, "D"))
    out = np.zeros(ids.shape[0], dtype=np.float64)
    if len(o):
        pos = np.searchsorted(ids, o.customer_ids)
        ok = (pos < ids.shape[0]) & (ids[np.clip(pos, 0, max(ids.shape[0] - 1, 0))] == o.customer_ids)
        out += np.bincount(pos[ok], weights=o.amounts[ok], minlength=ids.shape[0])
    return out
