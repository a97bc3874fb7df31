"""Recency-frequency-monetary summaries of a transaction log.

:func:`summary_from_transactions` turns raw transactions (customer id, date, amount) into the
sufficient statistics of the "buy till you die" models, as defined by Fader, Hardie & Lee (2005),
"Counting your customers the easy way: an alternative to the Pareto/NBD model", *Marketing Science*
24(2), 275-284, and Schmittlein, Morrison & Colombo (1987), *Management Science* 33(1), 1-24:

* ``frequency`` (``x``): the number of *repeat* purchases: purchases on the same day are merged into
  one purchase-day and the first purchase-day is not counted;
* ``recency`` (``t_x``): the time from the first to the last purchase-day;
* ``T``: the time from the first purchase-day to the end of the observation period;
* ``monetary`` (``zbar``): the mean value of the repeat purchase-days (same-day amounts summed, the
  first purchase excluded, 0 for customers without a repeat purchase), as in Fader, Hardie & Lee
  (2005), "RFM and CLV: using iso-value curves for customer base analysis", *Journal of Marketing
  Research* 42(4), 415-430.

Times are expressed in units of ``freq_days`` days (1 for days, 7 for weeks). The observation end is
inclusive: a purchase made on ``observation_end`` counts, and ``T = (observation_end - first) /
freq_days``. With ``observation_end = 1997-09-30`` and ``freq_days = 7`` this reproduces exactly the
published CDNOW calibration summary (39 weeks starting 1997-01-01).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from customerbase._types import AnyArray, ArrayLike, DateArray, FloatArray, IntArray
from customerbase.rfm._passes import (
    DateLike,
    _prepare,
    _purchase_days,
    _PurchaseDays,
    _summary_streamed,
    _to_day,
)
from customerbase.rfm.compress import CompressedRFM, compress_rfm

__all__ = [
    "CalibrationHoldout",
    "RFMSummary",
    "calibration_holdout_split",
    "purchase_days_between",
    "summary_from_transactions",
]


@dataclass(frozen=True)
class RFMSummary:
    """Per-customer RFM summary (the sufficient statistics of Fader, Hardie & Lee 2005).

    Arrays are aligned and sorted by customer id. Times (``recency``, ``T``) are in units of
    ``freq_days`` days; ``monetary`` is the mean value of the repeat purchase-days (0 without repeat
    purchase); ``revenue`` is the total value, first purchase included.
    """

    customer_ids: AnyArray
    frequency: IntArray
    recency: FloatArray
    T: FloatArray
    monetary: FloatArray
    first_purchase: DateArray
    last_purchase: DateArray
    n_orders: IntArray
    revenue: FloatArray
    observation_end: np.datetime64
    freq_days: float

    def __len__(self) -> int:
        """Number of customers."""
        return int(self.customer_ids.shape[0])

    @property
    def n_purchase_days(self) -> IntArray:
        """Number of distinct purchase days (``frequency + 1``)."""
        return self.frequency + 1

    @property
    def days_since_last(self) -> FloatArray:
        """Days from the last purchase-day to ``observation_end``."""
        return (self.observation_end - self.last_purchase).astype(np.int64).astype(np.float64)

    @property
    def days_since_first(self) -> FloatArray:
        """Days from the first purchase-day to ``observation_end``."""
        return (self.observation_end - self.first_purchase).astype(np.int64).astype(np.float64)

    @property
    def mean_interval_days(self) -> FloatArray:
        """Mean number of days between consecutive purchase-days (NaN for one-time buyers)."""
        span = (self.last_purchase - self.first_purchase).astype(np.int64).astype(np.float64)
        out = np.full(span.shape, np.nan)
        rep = self.frequency > 0
        out[rep] = span[rep] / self.frequency[rep]
        return out

    def compress(self) -> CompressedRFM:
        """Unique ``(x, t_x, T)`` rows and their weights (see :func:`compress_rfm`)."""
        return compress_rfm(self.frequency, self.recency, self.T)


@dataclass(frozen=True)
class CalibrationHoldout:
    """A calibration summary and what the same customers did in the holdout period.

    The calibration/holdout validation of Fader, Hardie & Lee (2005): the models are fitted on the
    calibration period and their conditional expectations compared with ``frequency_holdout``.
    ``frequency_holdout`` counts purchase-days in ``(calibration_end, observation_end]``;
    ``monetary_holdout`` is their mean value (0 when none); ``duration_holdout`` is the holdout length
    in units of ``freq_days``.
    """

    calibration: RFMSummary
    frequency_holdout: IntArray
    monetary_holdout: FloatArray
    revenue_holdout: FloatArray
    duration_holdout: float


def _summarise(pdays: _PurchaseDays, end_day: int, end: np.datetime64, freq_days: float) -> RFMSummary:
    starts, counts = pdays.starts, pdays.counts
    n_cust = starts.shape[0]
    if n_cust:
        last_idx = starts + counts - 1
        first_day = pdays.day[starts]
        last_day = pdays.day[last_idx]
        revenue = np.add.reduceat(pdays.amount, starts) if pdays.amount.shape[0] else np.zeros(n_cust)
        first_amount = pdays.amount[starts]
    else:
        first_day = last_day = np.empty(0, dtype=np.int64)
        revenue = first_amount = np.empty(0)
    frequency = counts - 1
    repeat_revenue = revenue - first_amount
    monetary = np.zeros(n_cust)
    rep = frequency > 0
    monetary[rep] = repeat_revenue[rep] / frequency[rep]
    return RFMSummary(
        customer_ids=pdays.ids,
        frequency=frequency.astype(np.int64),
        recency=(last_day - first_day).astype(np.float64) / freq_days,
        T=(end_day - first_day).astype(np.float64) / freq_days,
        monetary=monetary,
        first_purchase=first_day.astype("datetime64[D]"),
        last_purchase=last_day.astype("datetime64[D]"),
        n_orders=pdays.n_orders,
        revenue=revenue.astype(np.float64),
        observation_end=end,
        freq_days=float(freq_days),
    )


def summary_from_transactions(
    customer_ids: ArrayLike,
    dates: ArrayLike,
    amounts: ArrayLike | None = None,
    *,
    observation_end: DateLike,
    freq_days: float = 1.0,
    calibration_end: DateLike | None = None,
) -> RFMSummary:
    """Build the per-customer RFM summary of a transaction log.

    Implements the ``(x, t_x, T, zbar)`` summary of Fader, Hardie & Lee (2005, *Marketing Science*
    24(2), and *JMR* 42(4)): same-day purchases are merged, ``x`` counts repeat purchase-days,
    ``t_x`` and ``T`` are measured from the first purchase-day in units of ``freq_days`` days.

    Transactions after the end (``calibration_end`` if given, else ``observation_end``; inclusive) are
    ignored, as are customers whose first purchase is after it. Use :func:`calibration_holdout_split`
    to also get the purchases of the holdout period. ``customer_ids`` can be of any sortable dtype;
    ``dates`` are converted to ``datetime64[D]``. The work is two sorts and a few linear passes
    (10 million transactions take a few seconds).
    """
    if freq_days <= 0:
        raise ValueError("freq_days must be positive")
    end = _to_day(observation_end)
    if calibration_end is not None:
        cal = _to_day(calibration_end)
        if cal > end:
            raise ValueError("calibration_end must not be after observation_end")
        end = cal
    ids, day_numbers, amt = _prepare(customer_ids, dates, amounts)
    end_day = int(end.astype(np.int64))
    streamed = _summary_streamed(ids, day_numbers, amt, end_day)
    if streamed is None:
        mask = day_numbers <= end_day
        pdays = _purchase_days(ids, day_numbers, amt, None if mask.all() else mask)
        return _summarise(pdays, end_day, end, freq_days)
    uniq, n_days, first_day, last_day, n_orders, revenue, first_amount = streamed
    frequency = n_days
    frequency -= 1
    # monetary = (revenue - first purchase-day) / x for repeat buyers, 0 otherwise; in place.
    monetary = first_amount
    np.subtract(revenue, first_amount, out=monetary)
    rep = frequency > 0
    monetary[rep] /= frequency[rep]
    monetary[~rep] = 0.0
    recency = (last_day - first_day).astype(np.float64)
    recency /= freq_days
    big_t = (end_day - first_day).astype(np.float64)
    big_t /= freq_days
    return RFMSummary(
        customer_ids=uniq,
        frequency=frequency,
        recency=recency,
        T=big_t,
        monetary=monetary,
        first_purchase=first_day.view("datetime64[D]"),
        last_purchase=last_day.view("datetime64[D]"),
        n_orders=n_orders,
        revenue=revenue,
        observation_end=end,
        freq_days=float(freq_days),
    )


def calibration_holdout_split(
    customer_ids: ArrayLike,
    dates: ArrayLike,
    amounts: ArrayLike | None = None,
    *,
    calibration_end: DateLike,
    observation_end: DateLike,
    freq_days: float = 1.0,
) -> CalibrationHoldout:
    """Split a transaction log into a calibration summary and holdout outcomes.

    As in the validation of Fader, Hardie & Lee (2005): the calibration summary describes purchases up
    to ``calibration_end`` (inclusive); for each calibration customer, ``frequency_holdout`` is the
    number of purchase-days in ``(calibration_end, observation_end]`` and ``monetary_holdout`` their
    mean value. Customers whose first purchase is after ``calibration_end`` are excluded.
    """
    if freq_days <= 0:
        raise ValueError("freq_days must be positive")
    cal = _to_day(calibration_end)
    end = _to_day(observation_end)
    if cal > end:
        raise ValueError("calibration_end must not be after observation_end")
    ids, day_numbers, amt = _prepare(customer_ids, dates, amounts)
    cal_day = int(cal.astype(np.int64))
    end_day = int(end.astype(np.int64))
    in_cal = day_numbers <= cal_day
    summary = _summarise(_purchase_days(ids, day_numbers, amt, in_cal), cal_day, cal, freq_days)
    n = len(summary)
    freq_h = np.zeros(n, dtype=np.int64)
    rev_h = np.zeros(n)
    hold_mask = (~in_cal) & (day_numbers <= end_day)
    if n and hold_mask.any():
        hold_ids = ids[hold_mask]
        pos = np.searchsorted(summary.customer_ids, hold_ids)
        pos = np.minimum(pos, n - 1)
        known = summary.customer_ids[pos] == hold_ids
        sub = np.flatnonzero(hold_mask)[known]
        sel = np.zeros(ids.shape[0], dtype=bool)
        sel[sub] = True
        hold = _purchase_days(ids, day_numbers, amt, sel)
        if hold.starts.shape[0]:
            where = np.searchsorted(summary.customer_ids, hold.ids)
            freq_h[where] = hold.counts
            rev_h[where] = np.add.reduceat(hold.amount, hold.starts)
    mon_h = np.zeros(n)
    has = freq_h > 0
    mon_h[has] = rev_h[has] / freq_h[has]
    return CalibrationHoldout(
        calibration=summary,
        frequency_holdout=freq_h,
        monetary_holdout=mon_h,
        revenue_holdout=rev_h,
        duration_holdout=float((end_day - cal_day) / freq_days),
    )


def purchase_days_between(
    customer_ids: ArrayLike,
    dates: ArrayLike,
    *,
    among: AnyArray,
    after: DateLike,
    until: DateLike,
) -> IntArray:
    """Distinct purchase-days in ``(after, until]`` of each customer of ``among`` (sorted ids).

    The same count as :func:`calibration_holdout_split`'s ``frequency_holdout`` with
    ``calibration_end=after, observation_end=until``, without building the calibration summary
    again (the backtest needs the count for a shorter horizon too); ``tests/customerbase/
    test_backtest.py`` checks the two agree.
    """
    ids, day_numbers, _ = _prepare(customer_ids, dates, None)
    among = np.asarray(among)
    out = np.zeros(among.shape[0], dtype=np.int64)
    lo = int(_to_day(after).astype(np.int64))
    hi = int(_to_day(until).astype(np.int64))
    window = (day_numbers > lo) & (day_numbers <= hi)
    if among.shape[0] == 0 or not window.any():
        return out
    days = _purchase_days(ids, day_numbers, None, window)
    pos = np.minimum(np.searchsorted(among, days.ids), among.shape[0] - 1)
    known = among[pos] == days.ids
    out[pos[known]] = days.counts[known]
    return out
