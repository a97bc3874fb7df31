"""ABC (Pareto) classification of customers by revenue.

The ABC analysis of inventory management applied to customers, after Pareto's 80/20 observation
(Pareto 1896; Juran 1951; see also Fader, Hardie & Lee 2005, *JMR* 42(4), on the concentration of
CDNOW's revenue). Customers are sorted by revenue, largest first (ties keep the input order):

* ``A``: the customers who make the first 80 % of revenue; the customer whose revenue crosses 80 %
  is included in A;
* ``B``: the next ones, up to 95 % (the crossing customer included);
* ``C``: the rest, and always every customer with zero (or negative, treated as zero) revenue.

:func:`abc_classes` also returns the cumulative (Lorenz-type) curve for plotting, the share of revenue
made by the top 20 % of customers and the Gini coefficient.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from customerbase._types import AnyArray, ArrayLike, FloatArray, IntArray

__all__ = ["ABCResult", "abc_classes", "revenue_share_of_top"]


@dataclass(frozen=True)
class ABCResult:
    """Result of :func:`abc_classes` (ABC analysis after Pareto's 80/20 rule; Juran 1951).

    ``classes`` and ``rank`` follow the input order (``rank`` 0 is the largest customer).
    ``cumulative_customers`` and ``cumulative_revenue`` have ``n + 1`` points from ``(0, 0)`` to
    ``(1, 1)``, customers sorted by decreasing revenue: plot one against the other.
    """

    classes: AnyArray
    rank: IntArray
    cumulative_customers: FloatArray
    cumulative_revenue: FloatArray
    top20_share: float
    gini: float
    total_revenue: float
    a_share: float
    b_share: float

    def counts(self) -> dict[str, int]:
        """Number of customers in each class."""
        return {c: int((self.classes == c).sum()) for c in ("A", "B", "C")}

    def revenue_by_class(self, revenue: ArrayLike) -> dict[str, float]:
        """Total (clipped at zero) revenue of each class."""
        rev = np.clip(np.asarray(revenue, dtype=np.float64).ravel(), 0.0, None)
        return {c: float(rev[self.classes == c].sum()) for c in ("A", "B", "C")}


def _clean(revenue: ArrayLike) -> FloatArray:
    rev = np.asarray(revenue, dtype=np.float64).ravel()
    if not np.isfinite(rev).all():
        raise ValueError("revenue must be finite")
    return np.clip(rev, 0.0, None)


def _curve(rev: FloatArray) -> tuple[IntArray, FloatArray, FloatArray, float]:
    n = rev.shape[0]
    order = np.argsort(-rev, kind="stable").astype(np.int64)
    total = float(rev.sum())
    cum = np.concatenate([[0.0], np.cumsum(rev[order])])
    cum_rev = cum / total if total > 0 else np.zeros(n + 1)
    cum_cust = np.arange(n + 1, dtype=np.float64) / max(n, 1)
    return order, cum_cust, cum_rev, total


def revenue_share_of_top(revenue: ArrayLike, fraction: float = 0.2) -> float:
    """Share of revenue made by the top ``fraction`` of customers (Pareto's 80/20 check).

    Read off the cumulative curve by linear interpolation, so a fraction that is not a whole number
    of customers takes the matching part of the next customer. 0 when total revenue is 0.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError("fraction must be between 0 and 1")
    rev = _clean(revenue)
    if rev.shape[0] == 0:
        return 0.0
    _, cum_cust, cum_rev, total = _curve(rev)
    return float(np.interp(fraction, cum_cust, cum_rev)) if total > 0 else 0.0


def abc_classes(revenue: ArrayLike, *, a_share: float = 0.8, b_share: float = 0.95) -> ABCResult:
    """Classify customers into A, B and C by cumulative share of revenue (Pareto/Juran ABC analysis).

    A customer is in A when the revenue of the customers ranked before them is below ``a_share`` of
    the total (so the one crossing ``a_share`` is in A), in B when it is below ``b_share``, else in C;
    customers with zero revenue are C.
    """
    if not 0.0 < a_share <= b_share <= 1.0:
        raise ValueError("need 0 < a_share <= b_share <= 1")
    rev = _clean(revenue)
    n = rev.shape[0]
    order, cum_cust, cum_rev, total = _curve(rev)
    before = cum_rev[:-1]
    sorted_rev = rev[order]
    sorted_cls = np.where(before < a_share, "A", np.where(before < b_share, "B", "C"))
    sorted_cls = np.where(sorted_rev > 0, sorted_cls, "C")
    classes = np.empty(n, dtype="<U1")
    classes[order] = sorted_cls
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n, dtype=np.int64)
    if total > 0 and n > 0:
        top20 = float(np.interp(0.2, cum_cust, cum_rev))
        # Gini from the Lorenz curve of the ascending order: 1 - 2 * area under it.
        asc = 1.0 - cum_rev[::-1]
        area = float(np.sum((asc[1:] + asc[:-1]) / 2.0) / n)
        gini = 1.0 - 2.0 * area
    else:
        top20 = 0.0
        gini = 0.0
    return ABCResult(
        classes=classes,
        rank=rank,
        cumulative_customers=cum_cust,
        cumulative_revenue=cum_rev,
        top20_share=top20,
        gini=gini,
        total_revenue=total,
        a_share=a_share,
        b_share=b_share,
    )
