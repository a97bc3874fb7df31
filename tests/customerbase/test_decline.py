"""Change-point detection of falling purchase rates."""

from __future__ import annotations

import time

import numpy as np

from customerbase import detect_decline

DAY0 = np.datetime64("2023-01-01")


def _days(offsets):
    return DAY0 + np.asarray(offsets).astype("timedelta64[D]")


def test_monthly_buyer_who_slows_down_is_flagged_with_start_date():
    # Customer 1 buys every 30 days for two years, then once in the next 300 days; customer 2 keeps buying.
    d1 = list(range(0, 721, 30)) + [870]
    d2 = list(range(0, 1021, 30))
    ids = np.array([1] * len(d1) + [2] * len(d2))
    res = detect_decline(ids, _days(d1 + d2), as_of=DAY0 + np.timedelta64(1020, "D"))
    np.testing.assert_array_equal(res.customer_ids, [1, 2])
    assert res.eligible.all()
    assert list(res.declining) == [True, False]
    assert res.change_date[0] == DAY0 + np.timedelta64(720, "D")
    assert res.rate_before[0] == 1 / 30
    assert res.rate_after[0] < res.rate_before[0] / 2
    assert res.p_value[0] < 0.01


def test_stopped_buyer_and_short_history():
    ids = np.array([1] * 13 + [2, 2, 2])
    offsets = list(range(0, 361, 30)) + [0, 10, 20]
    res = detect_decline(ids, _days(offsets), as_of=DAY0 + np.timedelta64(560, "D"))
    assert list(res.declining) == [True, False]
    assert list(res.eligible) == [True, False]  # 2 repeat purchases are not enough history
    assert np.isnat(res.change_date[1])
    # Purchases after as_of are ignored; same-day purchases are merged.
    more = detect_decline(
        np.append(ids, [1, 1]), _days(offsets + [600, 360]), as_of=DAY0 + np.timedelta64(560, "D")
    )
    np.testing.assert_array_equal(more.declining, res.declining)
    np.testing.assert_array_equal(more.n_repeat, res.n_repeat)


def test_false_alarm_rate_on_constant_rate_customers():
    rng = np.random.default_rng(5)
    n_c, span = 3000, 730
    k = rng.poisson(span / 30, n_c)
    ids = np.concatenate([np.arange(n_c), np.repeat(np.arange(n_c), k)])
    offsets = np.concatenate([np.zeros(n_c, dtype=np.int64), rng.integers(0, span, k.sum())])
    res = detect_decline(ids, _days(offsets), as_of=DAY0 + np.timedelta64(span, "D"))
    assert res.declining[res.eligible].mean() < 0.10


def test_speed_on_one_million_transactions():
    rng = np.random.default_rng(1)
    n = 1_000_000
    ids = rng.integers(0, 100_000, n)
    offsets = rng.integers(0, 1500, n)
    start = time.perf_counter()
    res = detect_decline(ids, _days(offsets), as_of=DAY0 + np.timedelta64(1500, "D"))
    assert time.perf_counter() - start < 5.0  # about 1 s here; 10 million take about 10 s
    assert 99_000 < len(res) <= 100_000


def test_empty():
    res = detect_decline(np.array([], dtype=np.int64), np.array([], dtype="datetime64[D]"), as_of=DAY0)
    assert len(res) == 0
