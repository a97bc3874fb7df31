"""The passes over a transaction log behind the RFM summaries (Fader, Hardie & Lee 2005).

Transactions are checked (:func:`_prepare`), merged to one row per customer and purchase-day
(:func:`_purchase_days`, one sort of a customer-day key), or streamed chunk by chunk into the
per-customer aggregates of a summary with small working memory (:func:`_summary_streamed`).
:mod:`customerbase.rfm.summary` and :mod:`customerbase.decline` build on them. Every chunked loop
reads ``_CHUNK`` from this module (a test shrinks it to cross chunk boundaries).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from customerbase._types import AnyArray, ArrayLike, BoolArray, FloatArray, IntArray

DateLike = np.datetime64 | _dt.date | str


def _to_day(value: DateLike) -> np.datetime64:
    """Convert a date-like scalar to ``datetime64[D]`` (helper for Fader, Hardie & Lee 2005 summaries)."""
    return np.datetime64(value, "D")


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
