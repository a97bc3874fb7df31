"""Detect customers whose purchase rate has fallen compared with their own history.

Method: a single change-point in the rate of a Poisson process, fitted per customer by maximum
likelihood (Worsley 1986, "Confidence regions and tests for a change-point in a sequence of
exponential family random variables", *Biometrika* 73(1)), with the exact conditional test for
comparing two Poisson rates (Przyborowski & Wilenski 1940; the Poisson model of purchasing is the one
of Ehrenberg 1959 and of the Pareto/NBD, Schmittlein, Morrison & Colombo 1987).

For a customer with purchase-days ``d_0 < d_1 < ... < d_n`` observed until ``as_of``, each split after
purchase ``d_k`` (``k >= min_repeat_before``) compares

* before: ``n1 = k`` repeat purchases over ``E1 = d_k - d_0`` days;
* after: ``n2 = n - k`` purchases over ``E2 = as_of - d_k`` days (the open gap since the last purchase
  counts as exposure, so a customer who simply stopped is seen).

Among splits where the rate falls, the one maximising the likelihood ratio
``n1 log(n1/E1) + n2 log(n2/E2) - n log(n/E)`` is the change point; the decline is said to start at
``d_k``. Its p-value is ``P(N2 <= n2)`` for ``N2 ~ Binomial(n, E2 / E)`` (the distribution of the
after-count given the total when the rate is constant). A customer is flagged ``declining`` when that
p-value is below ``alpha`` and the rate after is at most ``max_rate_ratio`` times the rate before.

The p-value is taken at the best of several splits, so it is optimistic; the default ``alpha = 0.01``
was chosen by simulation (see ``docs/analytics.md``) to keep false alarms on constant-rate Poisson
customers at a few per cent. Everything is vectorised over purchase-day rows (two sorts and linear
passes): 10 million transactions take seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special  # type: ignore[import-untyped,unused-ignore]

from customerbase._types import AnyArray, ArrayLike, BoolArray, DateArray, FloatArray, IntArray
from customerbase.rfm._passes import DateLike, _prepare, _purchase_days, _to_day

__all__ = ["DeclineResult", "detect_decline"]


@dataclass(frozen=True)
class DeclineResult:
    """Per-customer decline flags (change-point method of Worsley 1986; see module docstring).

    Aligned arrays sorted by customer id. ``change_date`` is the last purchase-day at the old rhythm
    (NaT when no falling split exists); ``rate_before``/``rate_after`` are purchases per day; the
    p-value is NaN when not eligible or no falling split exists.
    """

    customer_ids: AnyArray
    n_repeat: IntArray
    eligible: BoolArray
    declining: BoolArray
    change_date: DateArray
    rate_before: FloatArray
    rate_after: FloatArray
    p_value: FloatArray

    def __len__(self) -> int:
        """Number of customers."""
        return int(self.customer_ids.shape[0])


def detect_decline(
    customer_ids: ArrayLike,
    dates: ArrayLike,
    *,
    as_of: DateLike,
    min_repeat_before: int = 4,
    max_rate_ratio: float = 0.5,
    alpha: float = 0.01,
) -> DeclineResult:
    """Flag customers whose purchase rate fell, and since when (Worsley 1986 change point).

    Purchases on the same day are merged and transactions after ``as_of`` ignored. Eligible customers
    have at least ``min_repeat_before`` repeat purchase-days, so that the earlier rate is estimated
    from at least that many purchases. See the module docstring for the method.
    """
    if min_repeat_before < 1:
        raise ValueError("min_repeat_before must be at least 1")
    if not 0.0 < max_rate_ratio <= 1.0:
        raise ValueError("max_rate_ratio must be in (0, 1]")
    if not 0.0 < alpha < 1.0:
        raise ValueError("alpha must be in (0, 1)")
    end = _to_day(as_of)
    end_day = int(end.astype(np.int64))
    ids, day_numbers, _ = _prepare(customer_ids, dates, None)
    mask = day_numbers <= end_day
    pdays = _purchase_days(ids, day_numbers, None, None if mask.all() else mask)
    starts, counts, day = pdays.starts, pdays.counts, pdays.day
    n_cust = starts.shape[0]
    n_repeat = (counts - 1).astype(np.int64)
    eligible = n_repeat >= min_repeat_before

    change = np.full(n_cust, np.datetime64("NaT", "D"), dtype="datetime64[D]")
    rate_before = np.full(n_cust, np.nan)
    rate_after = np.full(n_cust, np.nan)
    p_value = np.full(n_cust, np.nan)
    declining = np.zeros(n_cust, dtype=bool)
    if n_cust == 0 or not eligible.any():
        return DeclineResult(
            pdays.ids, n_repeat, eligible, declining, change, rate_before, rate_after, p_value
        )

    # Work on the candidate split rows only: purchase-days k >= min_repeat_before of eligible
    # customers (the earlier rows can never be the split).
    elig = np.flatnonzero(eligible)
    per = counts[elig] - min_repeat_before
    cust = np.repeat(elig, per)
    first_row = np.cumsum(per) - per
    k_int = np.arange(cust.shape[0], dtype=np.int64) - np.repeat(first_row, per) + min_repeat_before
    rows = starts[cust] + k_int
    k = k_int.astype(np.float64)
    d = day[rows].astype(np.float64)
    d0_c = day[starts[elig]].astype(np.float64)
    n_c = n_repeat[elig].astype(np.float64)
    position = np.repeat(np.arange(elig.shape[0]), per)
    d0 = d0_c[position]
    total_n = n_c[position]
    e1 = d - d0
    e2 = end_day - d
    n1 = k
    n2 = total_n - k
    with np.errstate(divide="ignore", invalid="ignore"):
        r1 = n1 / e1
        r2 = n2 / e2
        valid = (e1 > 0) & (e2 > 0) & (r2 < r1)
        e_tot = e1 + e2
        # The last term is the same for all of a customer's splits: computed once per customer
        # (the same operation on the same numbers, so the same bits as per row).
        whole = special.xlogy(n_c, n_c / (end_day - d0_c))
        llr = special.xlogy(n1, r1) + special.xlogy(n2, r2) - whole[position]
    llr = np.where(valid, llr, -np.inf)

    # Best split per customer: first row reaching the group maximum.
    group_change = np.empty(cust.shape[0], dtype=bool)
    group_change[0] = True
    group_change[1:] = cust[1:] != cust[:-1]
    gstart = np.flatnonzero(group_change)
    gmax = np.maximum.reduceat(llr, gstart)
    glen = np.diff(np.append(gstart, cust.shape[0]))
    is_best = np.isfinite(llr) & (llr == np.repeat(gmax, glen))
    best_rows = np.flatnonzero(is_best)
    if best_rows.shape[0]:
        bc = cust[best_rows]
        first_of_customer = np.empty(bc.shape[0], dtype=bool)
        first_of_customer[0] = True
        np.not_equal(bc[1:], bc[:-1], out=first_of_customer[1:])
        best = best_rows[first_of_customer]
        c = cust[best]
        change[c] = d[best].astype(np.int64).astype("datetime64[D]")
        rate_before[c] = r1[best]
        rate_after[c] = r2[best]
        p = special.bdtr(n2[best].astype(np.int64), total_n[best].astype(np.int64), e2[best] / e_tot[best])
        p_value[c] = p
        declining[c] = (p < alpha) & (r2[best] <= max_rate_ratio * r1[best])
    return DeclineResult(pdays.ids, n_repeat, eligible, declining, change, rate_before, rate_after, p_value)
