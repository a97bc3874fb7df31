"""RFM scores and segments.

:func:`rfm_scores` gives quintile scores 1..5 (recency reversed: the most recent customers score 5).
Ranks are taken with a stable sort, so ties are broken by the order of the customers in the input
(the earlier customer gets the lower rank), which makes the scores deterministic; the score of the
customer of rank ``k`` (0-based) among ``n`` is ``1 + floor(5 k / n)``.

:func:`rfm_segment` maps scores to named segments with the grid below (rows: R score, columns: F
score), a total version of the widely used R-F segment map (Putler's 11 RFM segments):

=====  ==============  ===================  ===================  =========  =========
R \\ F  1               2                    3                    4          5
=====  ==============  ===================  ===================  =========  =========
5      new             potential_loyalists  potential_loyalists  champions  champions
4      promising       potential_loyalists  potential_loyalists  loyal      loyal
3      about_to_sleep  about_to_sleep       need_attention       loyal      loyal
2      hibernating     hibernating          at_risk              at_risk    cant_lose
1      lost            lost                 at_risk              at_risk    cant_lose
=====  ==============  ===================  ===================  =========  =========

The monetary score refines one cell group: an ``at_risk`` customer with ``M = 5`` (a big spender who
used to buy often and has not come back) is ``cant_lose``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from customerbase._types import AnyArray, ArrayLike, FloatArray, IntArray

__all__ = ["RFM_SEGMENT_GRID", "SEGMENTS", "RFMScores", "rfm_scores", "rfm_segment"]

SEGMENTS: tuple[str, ...] = (
    "champions",
    "loyal",
    "potential_loyalists",
    "new",
    "promising",
    "need_attention",
    "about_to_sleep",
    "at_risk",
    "cant_lose",
    "hibernating",
    "lost",
)

#: ``RFM_SEGMENT_GRID[r][f]`` is the segment of recency score ``r`` and frequency score ``f`` (1..5)
#: before the monetary refinement (``at_risk`` with ``M = 5`` becomes ``cant_lose``).
RFM_SEGMENT_GRID: dict[int, dict[int, str]] = {
    5: {1: "new", 2: "potential_loyalists", 3: "potential_loyalists", 4: "champions", 5: "champions"},
    4: {1: "promising", 2: "potential_loyalists", 3: "potential_loyalists", 4: "loyal", 5: "loyal"},
    3: {1: "about_to_sleep", 2: "about_to_sleep", 3: "need_attention", 4: "loyal", 5: "loyal"},
    2: {1: "hibernating", 2: "hibernating", 3: "at_risk", 4: "at_risk", 5: "cant_lose"},
    1: {1: "lost", 2: "lost", 3: "at_risk", 4: "at_risk", 5: "cant_lose"},
}


@dataclass(frozen=True)
class RFMScores:
    """Quintile scores 1..5 for recency, frequency and monetary value (Hughes 1994 RFM scoring).

    Used with the RFM summaries of Fader, Hardie & Lee (2005, *JMR* 42(4)).
    """

    r: IntArray
    f: IntArray
    m: IntArray

    def segments(self) -> AnyArray:
        """Named segments of these scores (see :func:`rfm_segment`)."""
        return rfm_segment(self.r, self.f, self.m)


def _quintile_scores(values: FloatArray, n_bins: int) -> IntArray:
    n = values.shape[0]
    order = np.argsort(values, kind="stable")
    ranks = np.empty(n, dtype=np.int64)
    ranks[order] = np.arange(n, dtype=np.int64)
    scores: IntArray = (1 + (ranks * n_bins) // max(n, 1)).astype(np.int64)
    return scores


def _finite(values: ArrayLike, name: str) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64).ravel()
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite (score prospects separately)")
    return arr


def rfm_scores(
    recency_days_since_last: ArrayLike, frequency: ArrayLike, monetary: ArrayLike, *, n_bins: int = 5
) -> RFMScores:
    """Quantile RFM scores (1..``n_bins``, quintiles by default).

    RFM scoring as popularised by Hughes (1994) and discussed by Fader, Hardie & Lee (2005, *JMR*
    42(4)). Recency is reversed: the customers with the fewest days since their last purchase score
    ``n_bins``. Each variable is ranked with a stable sort, so ties are broken by the customer order in
    the input (earlier customer, lower rank); the customer of 0-based rank ``k`` among ``n`` scores
    ``1 + floor(n_bins * k / n)``, so every score holds ``n / n_bins`` customers (up to one).
    """
    rec = _finite(recency_days_since_last, "recency_days_since_last")
    freq = _finite(frequency, "frequency")
    mon = _finite(monetary, "monetary")
    if not rec.shape == freq.shape == mon.shape:
        raise ValueError("recency, frequency and monetary must have the same length")
    if n_bins < 1:
        raise ValueError("n_bins must be at least 1")
    return RFMScores(
        r=_quintile_scores(-rec, n_bins),
        f=_quintile_scores(freq, n_bins),
        m=_quintile_scores(mon, n_bins),
    )


_GRID_INDEX = np.array(
    [[SEGMENTS.index(RFM_SEGMENT_GRID[r][f]) for f in range(1, 6)] for r in range(1, 6)], dtype=np.int64
)


def rfm_segment(r: ArrayLike, f: ArrayLike, m: ArrayLike) -> AnyArray:
    """Map quintile RFM scores (1..5) to named segments.

    The mapping (module docstring, ``RFM_SEGMENT_GRID`` and ``docs/analytics.md``) is a total version
    of the common R-F segment grid used with RFM scoring (Hughes 1994; Fader, Hardie & Lee 2005, *JMR*
    42(4)); the monetary score turns big-spending ``at_risk`` customers into ``cant_lose``. Returns an
    array of segment codes (strings from :data:`SEGMENTS`).
    """
    ra = np.asarray(r).astype(np.int64).ravel()
    fa = np.asarray(f).astype(np.int64).ravel()
    ma = np.asarray(m).astype(np.int64).ravel()
    if not ra.shape == fa.shape == ma.shape:
        raise ValueError("r, f and m must have the same length")
    for arr, name in ((ra, "r"), (fa, "f"), (ma, "m")):
        if arr.size and (arr.min() < 1 or arr.max() > 5):
            raise ValueError(f"{name} scores must be between 1 and 5")
    idx = _GRID_INDEX[ra - 1, fa - 1]
    idx = np.where((idx == SEGMENTS.index("at_risk")) & (ma == 5), SEGMENTS.index("cant_lose"), idx)
    names: Any = np.array(SEGMENTS)
    return np.asarray(names[idx])
