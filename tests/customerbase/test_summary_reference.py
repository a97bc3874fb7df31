"""The vectorised RFM summary and purchase-day merge against a plain per-customer reference."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from customerbase import calibration_holdout_split, detect_decline, summary_from_transactions
from customerbase.rfm import _passes as rfm_passes


def _reference(ids, days, amounts, end, freq_days):
    """Straight from the definitions, one customer at a time (slow, obviously right)."""
    end_day = np.datetime64(end, "D")
    per_day: dict = defaultdict(lambda: defaultdict(float))
    orders: dict = defaultdict(int)
    for cid, day, amount in zip(ids.tolist(), days.astype("datetime64[D]"), amounts.tolist(), strict=True):
        if day > end_day:
            continue
        per_day[cid][day] += amount
        orders[cid] += 1
    rows = []
    for cid in sorted(per_day):
        purchase_days = sorted(per_day[cid])
        first, last = purchase_days[0], purchase_days[-1]
        x = len(purchase_days) - 1
        values = [per_day[cid][d] for d in purchase_days]
        rows.append(
            (
                cid,
                x,
                (last - first).astype(int) / freq_days,
                (end_day - first).astype(int) / freq_days,
                sum(values[1:]) / x if x else 0.0,
                first,
                last,
                orders[cid],
                sum(values),
            )
        )
    return rows


def _random_log(rng, n, id_kind):
    n_cust = max(n // 4, 1)
    if id_kind == "dense":
        pool = np.arange(1, n_cust + 1)
    elif id_kind == "sparse":
        pool = rng.choice(2**62, n_cust, replace=False)
    else:
        pool = np.array([f"c{v:05d}" for v in range(n_cust)])
    ids = pool[rng.integers(0, n_cust, n)]
    # Few distinct days, so that many purchases fall on the same day.
    days = np.datetime64("2024-01-01") + rng.integers(0, 40, n)
    amounts = np.round(rng.gamma(2.0, 20.0, n), 2)
    return ids, days.astype("datetime64[D]"), amounts


@pytest.mark.parametrize("id_kind", ["dense", "sparse", "strings"])
def test_summary_equals_reference(id_kind):
    rng = np.random.default_rng({"dense": 1, "sparse": 2, "strings": 3}[id_kind])
    for n in (1, 2, 17, 500, 3000):
        ids, days, amounts = _random_log(rng, n, id_kind)
        for end, freq_days in (("2024-02-09", 1.0), ("2024-01-20", 7.0)):
            ref = _reference(ids, days, amounts, end, freq_days)
            s = summary_from_transactions(ids, days, amounts, observation_end=end, freq_days=freq_days)
            assert len(s) == len(ref)
            if not ref:
                continue
            cols = list(zip(*ref, strict=True))
            np.testing.assert_array_equal(s.customer_ids, np.array(cols[0]))
            np.testing.assert_array_equal(s.frequency, cols[1])
            np.testing.assert_array_equal(s.recency, cols[2])
            np.testing.assert_array_equal(s.T, cols[3])
            np.testing.assert_allclose(s.monetary, cols[4], rtol=1e-12, atol=1e-9)
            np.testing.assert_array_equal(s.first_purchase, np.array(cols[5], dtype="datetime64[D]"))
            np.testing.assert_array_equal(s.last_purchase, np.array(cols[6], dtype="datetime64[D]"))
            np.testing.assert_array_equal(s.n_orders, cols[7])
            np.testing.assert_allclose(s.revenue, cols[8], rtol=1e-12)
            assert s.frequency.dtype == np.int64 and s.n_orders.dtype == np.int64


def test_summary_in_chunks_equals_one_pass(monkeypatch):
    # The streamed passes carry state across chunk boundaries (a purchase-day split over two chunks).
    rng = np.random.default_rng(7)
    ids, days, amounts = _random_log(rng, 5000, "dense")
    whole = summary_from_transactions(ids, days, amounts, observation_end="2024-02-01")
    monkeypatch.setattr(rfm_passes, "_CHUNK", 7)
    chunked = summary_from_transactions(ids, days, amounts, observation_end="2024-02-01")
    for field in ("customer_ids", "frequency", "recency", "T", "first_purchase", "last_purchase", "n_orders"):
        np.testing.assert_array_equal(getattr(chunked, field), getattr(whole, field))
    np.testing.assert_allclose(chunked.monetary, whole.monetary, rtol=1e-12)


def test_summary_without_amounts_and_empty_inputs():
    rng = np.random.default_rng(11)
    ids, days, _ = _random_log(rng, 300, "dense")
    s = summary_from_transactions(ids, days, observation_end="2024-03-01")
    ref = _reference(ids, days, np.zeros(len(ids)), "2024-03-01", 1.0)
    np.testing.assert_array_equal(s.frequency, [row[1] for row in ref])
    assert (s.monetary == 0).all() and (s.revenue == 0).all()
    empty = summary_from_transactions(
        np.array([], dtype=np.int64), np.array([], dtype="datetime64[D]"), observation_end="2024-01-01"
    )
    assert len(empty) == 0
    late = summary_from_transactions(
        [1, 2], ["2024-05-01", "2024-06-01"], [1.0, 2.0], observation_end="2024-01-01"
    )
    assert len(late) == 0
    with pytest.raises(ValueError, match="NaT"):
        summary_from_transactions(
            [1, 2], np.array(["2024-05-01", "NaT"], dtype="datetime64[D]"), observation_end="2024-06-01"
        )


def test_holdout_and_decline_use_the_same_purchase_days():
    rng = np.random.default_rng(5)
    ids, days, amounts = _random_log(rng, 2000, "sparse")
    ch = calibration_holdout_split(
        ids, days, amounts, calibration_end="2024-01-20", observation_end="2024-02-09"
    )
    ref_cal = _reference(ids, days, amounts, "2024-01-20", 1.0)
    np.testing.assert_array_equal(ch.calibration.frequency, [row[1] for row in ref_cal])
    # Holdout purchase-days: distinct days after the calibration end, per calibration customer.
    cal_ids = set(ch.calibration.customer_ids.tolist())
    hold: dict = defaultdict(set)
    for cid, day in zip(ids.tolist(), days, strict=True):
        if np.datetime64("2024-01-20") < day <= np.datetime64("2024-02-09") and cid in cal_ids:
            hold[cid].add(day)
    np.testing.assert_array_equal(
        ch.frequency_holdout, [len(hold[c]) for c in ch.calibration.customer_ids.tolist()]
    )
    dec = detect_decline(ids, days, as_of="2024-02-09", min_repeat_before=1)
    full = _reference(ids, days, amounts, "2024-02-09", 1.0)
    np.testing.assert_array_equal(dec.customer_ids, [row[0] for row in full])
    np.testing.assert_array_equal(dec.n_repeat, [row[1] for row in full])
