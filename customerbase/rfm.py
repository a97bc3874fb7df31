"""Recency-frequency-monetary summaries of a transaction log, and RFM scores and segments.

Summaries
---------
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

RFM scores and segments
-----------------------
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

import datetime as _dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from customerbase._types import AnyArray, ArrayLike, BoolArray, DateArray, FloatArray, IntArray

__all__ = [
    "RFM_SEGMENT_GRID",
    "SEGMENTS",
    "CalibrationHoldout",
    "CompressedRFM",
    "RFMScores",
    "RFMSummary",
    "calibration_holdout_split",
    "compress_rfm",
    "rfm_scores",
    "rfm_segment",
    "summary_from_transactions",
]

DateLike = np.datetime64 | _dt.date | str


def _to_day(value: DateLike) -> np.datetime64:
    """Convert a date-like scalar to ``datetime64[D]`` (helper for Fader, Hardie & Lee 2005 summaries)."""
    return np.datetime64(value, "D")


@dataclass(frozen=True)
class CompressedRFM:
    """Unique ``(x, t_x, T)`` rows with their multiplicity.

    The likelihoods of the BG/NBD (Fader, Hardie & Lee 2005) and Pareto/NBD (Schmittlein, Morrison &
    Colombo 1987) depend on a customer only through ``(x, t_x, T)``, so each distinct row is evaluated
    once and weighted. ``inverse`` maps every original customer to its row:
    ``x[inverse]`` gives back the original frequencies.
    """

    x: FloatArray
    t_x: FloatArray
    T: FloatArray
    weights: FloatArray
    inverse: IntArray

    def __len__(self) -> int:
        """Number of distinct rows."""
        return int(self.x.shape[0])


def compress_rfm(
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, weights: ArrayLike | None = None
) -> CompressedRFM:
    """Group identical ``(x, t_x, T)`` rows and sum their weights.

    The sufficient statistics of Fader, Hardie & Lee (2005) are ``(x, t_x, T)``; fitting on unique rows
    with a weight gives the same likelihood as fitting on all customers, much faster.
    """
    x = np.asarray(frequency, dtype=np.float64).ravel()
    t_x = np.asarray(recency, dtype=np.float64).ravel()
    t = np.asarray(T, dtype=np.float64).ravel()
    n = x.shape[0]
    if t_x.shape[0] != n or t.shape[0] != n:
        raise ValueError("frequency, recency and T must have the same length")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if w.shape[0] != n:
        raise ValueError("weights must have the same length as frequency")
    if n == 0:
        empty = np.empty(0)
        return CompressedRFM(empty, empty, empty, empty, np.empty(0, dtype=np.int64))
    # One integer key per row (the ranks of x, t_x and T among their distinct values, x major):
    # sorting it orders the rows exactly like lexsort((T, t_x, x)), at a fraction of the cost (the
    # columns usually have few distinct values, and an integer argsort is fast).
    ranks = []
    sizes = []
    for col in (x, t_x, t):
        values = np.unique(col)
        ranks.append(np.searchsorted(values, col))
        sizes.append(int(values.shape[0]))
    if sizes[0] * sizes[1] * sizes[2] < 2**62:
        key = ranks[0].astype(np.int64)
        key *= sizes[1]
        key += ranks[1]
        key *= sizes[2]
        key += ranks[2]
        order = np.argsort(key)
        ks = key[order]
        new = np.empty(n, dtype=bool)
        new[0] = True
        np.not_equal(ks[1:], ks[:-1], out=new[1:])
    else:
        order = np.lexsort((t, t_x, x))
        xs, ts, tt = x[order], t_x[order], t[order]
        new = np.empty(n, dtype=bool)
        new[0] = True
        new[1:] = (xs[1:] != xs[:-1]) | (ts[1:] != ts[:-1]) | (tt[1:] != tt[:-1])
    group = np.cumsum(new) - 1
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = group
    first = order[np.flatnonzero(new)]
    weights_out = np.bincount(inverse, weights=w, minlength=first.shape[0]).astype(np.float64)
    return CompressedRFM(x[first], t_x[first], t[first], weights_out, inverse)


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


@dataclass(frozen=True)
class _PurchaseDays:
    """Transactions merged to one row per customer and day, sorted by customer then day."""

    ids: AnyArray
    starts: IntArray
    counts: IntArray
    day: IntArray
    amount: FloatArray
    n_orders: IntArray


_NAT = np.iinfo(np.int64).min
#: Transactions handled per step of the chunked passes (bounds the temporaries at a few MiB each).
_CHUNK = 1 << 18


def _day_numbers(dates: ArrayLike) -> IntArray:
    """Days since 1970-01-01 as int64, a view of ``dates`` when they already are ``datetime64[D]``."""
    days = np.asarray(dates)
    if days.dtype != np.dtype("datetime64[D]"):
        days = days.astype("datetime64[D]")
    return np.ascontiguousarray(days).ravel().view(np.int64)


def _prepare(
    customer_ids: ArrayLike, dates: ArrayLike, amounts: ArrayLike | None
) -> tuple[AnyArray, IntArray, FloatArray | None]:
    ids = np.asarray(customer_ids).ravel()
    day_numbers = _day_numbers(dates)
    if ids.shape[0] != day_numbers.shape[0]:
        raise ValueError("customer_ids and dates must have the same length")
    amt: FloatArray | None = None
    if amounts is not None:
        amt = np.asarray(amounts, dtype=np.float64).ravel()
        if amt.shape[0] != ids.shape[0]:
            raise ValueError("amounts must have the same length as customer_ids")
    # NaT is the smallest int64: one reduction, no temporary.
    if day_numbers.shape[0] and int(day_numbers.min()) == _NAT:
        raise ValueError("dates must not contain NaT")
    return ids, day_numbers, amt


def _chunks(n: int) -> range:
    return range(0, n, _CHUNK)


class _CustomerIndex:
    """Sorted distinct customer ids and the position of any id among them.

    Integer ids whose range is not much larger than the number of transactions (database keys) use
    a lookup table of int32 positions: one gather per transaction instead of the sort and inverse of
    ``np.unique(return_inverse=True)``, which on 10 million transactions takes most of a summary's
    time and two 80 MB index arrays. Other ids (strings, sparse 64-bit numbers) use ``np.unique``
    and ``np.searchsorted``.
    """

    def __init__(self, ids: AnyArray, day_numbers: IntArray, end_day: int | None) -> None:
        n = ids.shape[0]
        self._table: npt.NDArray[np.int32] | None = None
        self._low = 0
        if np.issubdtype(ids.dtype, np.integer) and n:
            low, high = int(ids.min()), int(ids.max())
            span = high - low + 1
            if span <= max(n, 1 << 22):
                present = np.zeros(span, dtype=bool)
                for i in _chunks(n):
                    chunk = ids[i : i + _CHUNK]
                    if end_day is not None:
                        chunk = chunk[day_numbers[i : i + _CHUNK] <= end_day]
                    present[chunk - low] = True
                self.ids: AnyArray = (np.flatnonzero(present) + low).astype(ids.dtype)
                table = np.cumsum(present, dtype=np.int32)
                del present
                table -= 1
                self._table = table
                self._low = low
                return
        kept = ids if end_day is None else ids[day_numbers <= end_day]
        self.ids = np.unique(kept)

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def codes(self, ids: AnyArray) -> npt.NDArray[np.intp]:
        """Positions of ``ids`` (all present) in :attr:`ids`."""
        out: npt.NDArray[np.intp]
        if self._table is not None:
            out = self._table[ids - self._low].astype(np.intp)
        else:
            out = np.searchsorted(self.ids, ids).astype(np.intp)
        return out


def _key_dtype(n_customers: int, span: int) -> type[np.unsignedinteger[Any]] | None:
    """Smallest unsigned dtype for the key ``customer * span + day``, None if none fits."""
    size = n_customers * span
    if size < 2**32:
        return np.uint32
    if size < 2**63:
        return np.uint64
    return None


def _purchase_days(
    ids: AnyArray,
    day_numbers: IntArray,
    amounts: FloatArray | None,
    mask: BoolArray | None,
) -> _PurchaseDays:
    """Merge same-day transactions, vectorised (one sort of a customer-day key, no Python loop)."""
    if mask is not None:
        ids = ids[mask]
        day_numbers = day_numbers[mask]
        amounts = None if amounts is None else amounts[mask]
    if ids.shape[0] == 0:
        empty_i = np.empty(0, dtype=np.int64)
        return _PurchaseDays(ids[:0], empty_i, empty_i, empty_i, np.empty(0), empty_i)
    index = _CustomerIndex(ids, day_numbers, None)
    n_cust = len(index)
    inv = index.codes(ids)
    dmin = int(day_numbers.min())
    span = int(day_numbers.max()) - dmin + 1
    dtype = _key_dtype(n_cust, span) or np.int64
    key = inv.astype(dtype)
    key *= span
    key += (day_numbers - dmin).astype(dtype)
    # Plain sorts and a change mask: np.unique without return_inverse takes a slow hash path, and
    # 32-bit keys sort several times faster than 64-bit ones.
    if amounts is None:
        key.sort()
        ks = key
    else:
        order = np.argsort(key)
        ks = key[order]
    new_day = np.empty(ks.shape[0], dtype=bool)
    new_day[0] = True
    np.not_equal(ks[1:], ks[:-1], out=new_day[1:])
    day_starts = np.flatnonzero(new_day)
    ukey = ks[day_starts].astype(np.int64)
    day_amount = np.zeros(ukey.shape[0]) if amounts is None else np.add.reduceat(amounts[order], day_starts)
    cust = ukey // span
    day = ukey % span + dmin
    boundary = np.empty(cust.shape[0], dtype=bool)
    boundary[0] = True
    boundary[1:] = cust[1:] != cust[:-1]
    starts = np.flatnonzero(boundary).astype(np.int64)
    counts = np.diff(np.append(starts, cust.shape[0])).astype(np.int64)
    n_orders = np.bincount(inv, minlength=n_cust).astype(np.int64)
    return _PurchaseDays(
        index.ids, starts, counts, day.astype(np.int64), day_amount.astype(np.float64), n_orders
    )


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


def _summary_streamed(
    ids: AnyArray, day_numbers: IntArray, amounts: FloatArray | None, end_day: int
) -> tuple[AnyArray, IntArray, IntArray, IntArray, IntArray, FloatArray, FloatArray] | None:
    """Per-customer aggregates of the summary with small working memory.

    Returns ``(ids, purchase_days, first_day, last_day, n_orders, revenue, first_day_amount)``, or
    None when the customer-day key does not fit in 64 bits. The transactions are never copied or
    permuted as a whole: one array of customer-day keys (4 bytes each when customers x days < 2^32)
    is filled chunk by chunk and sorted in place, which gives the distinct purchase-days and each
    customer's first and last day; amounts are then added per customer with ``np.add.at`` over the
    transactions in their input order (revenue, and the amount of the first purchase-day), chunk by
    chunk. Transactions after ``end_day`` are skipped.
    """
    n = ids.shape[0]
    all_kept = n == 0 or int(day_numbers.max()) <= end_day
    index = _CustomerIndex(ids, day_numbers, None if all_kept else end_day)
    n_cust = len(index)
    if n_cust == 0:
        return None
    dmin = dmax = None
    n_kept = 0
    for i in _chunks(n):
        d = day_numbers[i : i + _CHUNK]
        if not all_kept:
            d = d[d <= end_day]
        if d.shape[0]:
            lo, hi = int(d.min()), int(d.max())
            dmin = lo if dmin is None else min(dmin, lo)
            dmax = hi if dmax is None else max(dmax, hi)
            n_kept += d.shape[0]
    assert dmin is not None and dmax is not None
    span = dmax - dmin + 1
    dtype = _key_dtype(n_cust, span)
    if dtype is None:
        return None
    key = np.empty(n_kept, dtype=dtype)
    pos = 0
    for i in _chunks(n):
        d = day_numbers[i : i + _CHUNK]
        c = ids[i : i + _CHUNK]
        if not all_kept:
            keep = d <= end_day
            d, c = d[keep], c[keep]
        k = index.codes(c).astype(dtype)
        k *= span
        k += (d - dmin).astype(dtype)
        key[pos : pos + k.shape[0]] = k
        pos += k.shape[0]
    key.sort()
    # Sorted keys: customers in id order, each one's days ascending.
    n_orders = np.zeros(n_cust, dtype=np.int64)
    n_days = np.zeros(n_cust, dtype=np.int64)
    previous: int | None = None
    for i in _chunks(n_kept):
        k = key[i : i + _CHUNK]
        cust = (k // span).astype(np.intp)
        # Sorted: the chunk's customers are the range cust[0] .. cust[-1], so the counts are taken
        # over that range only (no temporary as long as all customers).
        lo, hi = int(cust[0]), int(cust[-1]) + 1
        cust -= lo
        n_orders[lo:hi] += np.bincount(cust, minlength=hi - lo)
        new_day = np.empty(k.shape[0], dtype=bool)
        new_day[0] = previous is None or int(k[0]) != previous
        np.not_equal(k[1:], k[:-1], out=new_day[1:])
        n_days[lo:hi] += np.bincount(cust[new_day], minlength=hi - lo)
        previous = int(k[-1])
    ends = np.cumsum(n_orders)
    first_day = (key[ends - n_orders] % span).astype(np.int64)
    last_day = (key[ends - 1] % span).astype(np.int64)
    del key, ends
    revenue = np.zeros(n_cust)
    first_amount = np.zeros(n_cust)
    if amounts is not None:
        for i in _chunks(n):
            d = day_numbers[i : i + _CHUNK]
            c = ids[i : i + _CHUNK]
            a = amounts[i : i + _CHUNK]
            if not all_kept:
                keep = d <= end_day
                d, c, a = d[keep], c[keep], a[keep]
            code = index.codes(c)
            # np.add.at adds in place, in input order, without a temporary as long as all customers.
            np.add.at(revenue, code, a)
            on_first = (d - dmin) == first_day[code]
            np.add.at(first_amount, code[on_first], a[on_first])
    first_day += dmin
    last_day += dmin
    return index.ids, n_days, first_day, last_day, n_orders, revenue, first_amount


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


# --------------------------------------------------------------------------------------------------
# RFM scores and segments

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
