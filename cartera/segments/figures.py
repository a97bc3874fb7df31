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
    day_numbers = days.astype("datetime64[D]").astype(np.int64)
    if day_numbers.shape[0] < 100_000 or np.isnat(days).any():
        return days.astype("datetime64[M]").astype(np.int64)
    # Many orders over a few years: converting each distinct day once and looking the others up is
    # several times faster than numpy's calendar arithmetic per element.
    low = int(day_numbers.min())
    table = np.arange(low, int(day_numbers.max()) + 1).astype("datetime64[D]").astype("datetime64[M]")
    return table.astype(np.int64)[day_numbers - low]


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
    month = month_index(o.days)
    low = int(month.min())
    width = int(month.max()) - low + 1
    customer = _dense(o.customer_ids)
    # Each customer's first month, then the cohorts (months of first purchase) and their sizes.
    first = np.full(int(customer.max()) + 1, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, customer, month)
    cohorts, sizes = np.unique(first[first != np.iinfo(np.int64).max], return_counts=True)
    cohorts, sizes = cohorts[-months:], sizes[-months:]
    # Only the customers of the chosen (latest) cohorts count: one (customer, month) pair per month
    # with a purchase, as a single sortable integer, then every (cohort, offset) cell in one pass.
    chosen = first[customer] >= cohorts[0]
    pairs = np.unique(customer[chosen] * width + (month[chosen] - low))
    pair_customer = pairs // width
    cohort_of_pair = first[pair_customer]
    offset = pairs % width + low - cohort_of_pair
    inside = offset < months
    cell = np.searchsorted(cohorts, cohort_of_pair[inside]) * months + offset[inside]
    counts = np.bincount(cell, minlength=cohorts.shape[0] * months).reshape(cohorts.shape[0], months)
    last = int(month_index(np.array([end]))[0])
    rows = []
    for row, (cohort, size) in enumerate(zip(cohorts.tolist(), sizes.tolist(), strict=True)):
        span = last - cohort + 1
        rows.append(
            {
                "cohort": _month_label(cohort),
                "size": size,
                "retention": [round(float(counts[row, i]) / size, 4) for i in range(min(span, months))],
            }
        )
    return {"cohorts": rows, "months": months}


def _dense(ids: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    """Customer ids as small non-negative integers (themselves when they already are)."""
    ids = ids.astype(np.int64)
    if int(ids.min()) >= 0 and int(ids.max()) < 4 * ids.shape[0] + 1_000_000:
        return ids
    return np.unique(ids, return_inverse=True)[1].astype(np.int64).ravel()


def _segments_at(orders: OrderArrays, day: np.datetime64) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    summary = summary_from_transactions(
        orders.customer_ids, orders.days, orders.amounts, observation_end=day, freq_days=1.0
    )
    if len(summary) == 0:
        return np.empty(0, np.int64), np.empty(0, dtype=object)
    scores = rfm_scores(summary.days_since_last, summary.frequency, summary.monetary)
    return summary.customer_ids, scores.segments()


def rfm_moves(
    orders: OrderArrays,
    *,
    as_of: dt.date,
    current: tuple[npt.NDArray[Any], npt.NDArray[Any]] | None = None,
) -> dict[str, Any]:
    """How many customers moved from one RFM segment to another since the previous month end.

    Both ends are scored the same way the analysis scores them (quintiles at that date). ``current``
    is (buyer ids, their segments) as of ``as_of`` when the caller already has them (the refresh).
    Keys appear in the order in which, going through the customers by id, each move is first met.
    """
    end = np.datetime64(as_of, "D")
    previous = as_of.replace(day=1) - dt.timedelta(days=1)
    ids_now, seg_now = current if current is not None else _segments_at(orders, end)
    ids_before, seg_before = _segments_at(orders, np.datetime64(previous, "D"))
    moves: dict[str, dict[str, int]] = {}
    if ids_now.shape[0]:
        names = sorted(set(seg_now.tolist()) | set(seg_before.tolist()) | {""})
        code = {name: i for i, name in enumerate(names)}
        now_code = np.fromiter((code[s] for s in seg_now.tolist()), dtype=np.int64, count=ids_now.shape[0])
        before_code = np.full(ids_now.shape[0], code[""], dtype=np.int64)
        if ids_before.shape[0]:
            pos = np.searchsorted(ids_before, ids_now)
            pos_c = np.clip(pos, 0, ids_before.shape[0] - 1)
            known = (pos < ids_before.shape[0]) & (ids_before[pos_c] == ids_now)
            seg_code = np.fromiter(
                (code[s] for s in seg_before.tolist()), dtype=np.int64, count=ids_before.shape[0]
            )
            before_code[known] = seg_code[pos_c[known]]
        moved_rows = before_code != now_code
        pair = before_code[moved_rows] * len(names) + now_code[moved_rows]
        kinds, first_seen, counts = np.unique(pair, return_index=True, return_counts=True)
        for k in np.argsort(first_seen, kind="stable").tolist():
            a, b = divmod(int(kinds[k]), len(names))
            moves.setdefault(names[a] or "none", {})[names[b]] = int(counts[k])
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
    if len(o) and ids.shape[0]:
        if int(ids[0]) >= 0 and int(ids[-1]) < 4 * ids.shape[0] + 1_000_000:
            # Small ids: a lookup table from id to position instead of a binary search per order.
            top = max(int(ids[-1]), int(o.customer_ids.max())) + 1
            where = np.full(top, -1, dtype=np.int64)
            where[ids] = np.arange(ids.shape[0])
            pos = where[np.clip(o.customer_ids, 0, top - 1)]
            ok = (pos >= 0) & (o.customer_ids >= 0)
        else:
            pos = np.searchsorted(ids, o.customer_ids)
            ok = (pos < ids.shape[0]) & (ids[np.clip(pos, 0, ids.shape[0] - 1)] == o.customer_ids)
        out += np.bincount(pos[ok], weights=o.amounts[ok], minlength=ids.shape[0])
    return out
