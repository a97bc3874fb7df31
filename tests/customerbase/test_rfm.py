"""RFM summaries, calibration/holdout split, scores and segments."""

from __future__ import annotations

import time
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pytest

from customerbase import (
    SEGMENTS,
    calibration_holdout_split,
    compress_rfm,
    rfm_scores,
    rfm_segment,
    summary_from_transactions,
)
from customerbase.rfm import RFM_SEGMENT_GRID

CAL_END = "1997-09-30"  # end of week 39 counted from 1997-01-01 (inclusive); T = (end - first) / 7


def _half_up(value: float) -> float:
    return float(Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def test_cdnow_summary_reproduces_published(cdnow_calibration_summary, cdnow_published):
    # summary_from_transactions(ids, dates, amounts, observation_end=CAL_END, freq_days=7), once per session.
    s = cdnow_calibration_summary
    assert str(s.observation_end) == CAL_END and s.freq_days == 7
    pub = cdnow_published
    assert len(s) == 2357
    np.testing.assert_array_equal(s.customer_ids, pub.ids)
    np.testing.assert_array_equal(s.frequency, pub.x)
    assert s.T[0] == pytest.approx(272 / 7) and round(s.T[0], 2) == 38.86
    # The published figures are rounded half up to 2 decimals.
    for ours, published in ((s.recency, pub.t_x), (s.T, pub.T), (s.monetary, pub.zbar)):
        rounded = np.array([_half_up(float(v)) for v in np.round(ours, 9)])
        np.testing.assert_array_equal(rounded, published)
        assert np.abs(ours - published).max() <= 0.005 + 1e-9
    assert (s.monetary[s.frequency == 0] == 0).all()
    assert int((s.frequency > 0).sum()) == 946


def test_cdnow_other_end_dates_do_not_match(cdnow_transactions, cdnow_published):
    tr = cdnow_transactions
    s = summary_from_transactions(tr.customer_ids, tr.dates, observation_end="1997-10-01", freq_days=7)
    assert not np.allclose(s.T, cdnow_published.T, atol=0.005)


def test_cdnow_calibration_holdout(cdnow_transactions, cdnow_published, cdnow_full_summary):
    tr = cdnow_transactions
    ch = calibration_holdout_split(
        tr.customer_ids,
        tr.dates,
        tr.amounts,
        calibration_end=CAL_END,
        observation_end="1998-06-30",
        freq_days=7,
    )
    np.testing.assert_array_equal(ch.calibration.frequency, cdnow_published.x)
    assert ch.duration_holdout == pytest.approx(39.0)
    full = cdnow_full_summary
    assert str(full.observation_end) == "1998-06-30"
    # Every purchase-day after the first is either a calibration repeat or a holdout purchase.
    assert int(ch.calibration.frequency.sum() + ch.frequency_holdout.sum()) == int(full.frequency.sum())
    np.testing.assert_allclose(ch.calibration.revenue + ch.revenue_holdout, full.revenue)
    has = ch.frequency_holdout > 0
    np.testing.assert_allclose(ch.monetary_holdout[has] * ch.frequency_holdout[has], ch.revenue_holdout[has])
    assert (ch.monetary_holdout[~has] == 0).all()


def test_summary_small_example():
    ids = np.array(["b", "a", "a", "a", "a", "c", "b"])
    dates = np.array(
        ["2024-01-05", "2024-01-01", "2024-01-01", "2024-01-08", "2024-01-15", "2024-02-01", "2024-01-05"],
        dtype="datetime64[D]",
    )
    amounts = np.array([5.0, 10.0, 2.0, 20.0, 40.0, 7.0, 6.0])
    s = summary_from_transactions(ids, dates, amounts, observation_end="2024-01-29", freq_days=7)
    np.testing.assert_array_equal(s.customer_ids, ["a", "b"])  # c bought after the end
    np.testing.assert_array_equal(s.frequency, [2, 0])
    np.testing.assert_allclose(s.recency, [2.0, 0.0])
    np.testing.assert_allclose(s.T, [4.0, 24 / 7])
    np.testing.assert_allclose(s.monetary, [30.0, 0.0])
    np.testing.assert_array_equal(s.n_orders, [4, 2])
    np.testing.assert_allclose(s.revenue, [72.0, 11.0])
    np.testing.assert_array_equal(
        s.first_purchase, np.array(["2024-01-01", "2024-01-05"], dtype="datetime64[D]")
    )
    np.testing.assert_array_equal(
        s.last_purchase, np.array(["2024-01-15", "2024-01-05"], dtype="datetime64[D]")
    )
    np.testing.assert_allclose(s.days_since_last, [14.0, 24.0])
    np.testing.assert_allclose(s.days_since_first, [28.0, 24.0])
    np.testing.assert_allclose(s.mean_interval_days, [7.0, np.nan])
    np.testing.assert_array_equal(s.n_purchase_days, [3, 1])
    # calibration_end restricts the summary the same way
    s2 = summary_from_transactions(
        ids, dates, amounts, observation_end="2024-03-01", calibration_end="2024-01-29", freq_days=7
    )
    np.testing.assert_allclose(s2.T, s.T)


def test_summary_without_amounts_and_daily_units():
    ids = np.array([1, 1, 2])
    dates = np.array(["2024-01-01", "2024-01-11", "2024-01-21"], dtype="datetime64[D]")
    s = summary_from_transactions(ids, dates, observation_end=np.datetime64("2024-01-21"))
    np.testing.assert_allclose(s.recency, [10.0, 0.0])
    np.testing.assert_allclose(s.T, [20.0, 0.0])
    np.testing.assert_allclose(s.monetary, [0.0, 0.0])


def test_summary_empty_and_errors():
    empty = summary_from_transactions(
        np.array([], dtype=np.int64), np.array([], dtype="datetime64[D]"), observation_end="2024-01-01"
    )
    assert len(empty) == 0
    with pytest.raises(ValueError):
        summary_from_transactions([1], ["2024-01-01"], observation_end="2024-01-01", freq_days=0)
    with pytest.raises(ValueError):
        summary_from_transactions([1, 2], ["2024-01-01"], observation_end="2024-01-01")
    with pytest.raises(ValueError):
        calibration_holdout_split(
            [1], ["2024-01-01"], calibration_end="2024-02-01", observation_end="2024-01-01"
        )


def test_holdout_excludes_customers_first_seen_in_holdout():
    ids = np.array([1, 1, 1, 2])
    dates = np.array(["2024-01-01", "2024-02-10", "2024-02-10", "2024-02-05"], dtype="datetime64[D]")
    amounts = np.array([1.0, 2.0, 3.0, 4.0])
    ch = calibration_holdout_split(
        ids, dates, amounts, calibration_end="2024-01-31", observation_end="2024-03-01"
    )
    np.testing.assert_array_equal(ch.calibration.customer_ids, [1])
    np.testing.assert_array_equal(ch.frequency_holdout, [1])
    np.testing.assert_allclose(ch.monetary_holdout, [5.0])
    assert ch.duration_holdout == 30.0


def test_summary_is_fast_on_two_million_transactions():
    rng = np.random.default_rng(3)
    n = 2_000_000
    ids = rng.integers(0, 200_000, n)
    dates = np.datetime64("2020-01-01") + rng.integers(0, 1000, n).astype("timedelta64[D]")
    amounts = rng.gamma(2.0, 20.0, n)
    start = time.perf_counter()
    s = summary_from_transactions(ids, dates, amounts, observation_end="2023-01-01")
    elapsed = time.perf_counter() - start
    assert int(s.n_orders.sum()) == n
    assert s.revenue.sum() == pytest.approx(amounts.sum())
    assert elapsed < 5.0  # about 1 s here; 10 million transactions take about 4 s


def test_compress_roundtrip():
    x = np.array([0, 1, 1, 0, 2, 1])
    t_x = np.array([0, 3, 3, 0, 5, 3.5])
    T = np.array([10, 10, 10, 10, 12, 10])
    c = compress_rfm(x, t_x, T)
    assert len(c) == 4
    assert c.weights.sum() == 6
    np.testing.assert_array_equal(c.x[c.inverse], x)
    np.testing.assert_array_equal(c.t_x[c.inverse], t_x)
    np.testing.assert_array_equal(c.T[c.inverse], T)


def test_rfm_scores_quintiles_and_ties():
    n = 10
    rec = np.arange(n, dtype=float)  # customer 0 bought most recently
    freq = np.zeros(n)  # all tied: order of the customers breaks the tie
    mon = np.arange(n, dtype=float)[::-1]
    sc = rfm_scores(rec, freq, mon)
    np.testing.assert_array_equal(sc.r, [5, 5, 4, 4, 3, 3, 2, 2, 1, 1])
    np.testing.assert_array_equal(sc.f, [1, 1, 2, 2, 3, 3, 4, 4, 5, 5])
    np.testing.assert_array_equal(sc.m, [5, 5, 4, 4, 3, 3, 2, 2, 1, 1])
    again = rfm_scores(rec, freq, mon)
    np.testing.assert_array_equal(again.f, sc.f)
    rng = np.random.default_rng(0)
    big = rfm_scores(rng.integers(0, 100, 1003), rng.integers(0, 5, 1003), rng.gamma(1, 1, 1003))
    for arr in (big.r, big.f, big.m):
        counts = np.bincount(arr)[1:]
        assert counts.max() - counts.min() <= 1
    with pytest.raises(ValueError):
        rfm_scores([np.nan], [1], [1])


def test_rfm_segment_grid():
    assert set(SEGMENTS) == {
        "champions", "loyal", "potential_loyalists", "new", "promising", "need_attention",
        "about_to_sleep", "at_risk", "cant_lose", "hibernating", "lost",
    }  # fmt: skip
    r, f = np.meshgrid(np.arange(1, 6), np.arange(1, 6), indexing="ij")
    seg = rfm_segment(r.ravel(), f.ravel(), np.full(25, 3))
    expected = [RFM_SEGMENT_GRID[int(a)][int(b)] for a, b in zip(r.ravel(), f.ravel(), strict=True)]
    np.testing.assert_array_equal(seg, expected)
    assert set(seg) | {"cant_lose"} == set(SEGMENTS)
    np.testing.assert_array_equal(
        rfm_segment([5, 1, 1, 2, 5, 3], [5, 1, 3, 4, 1, 3], [5, 1, 5, 4, 1, 3]),
        ["champions", "lost", "cant_lose", "at_risk", "new", "need_attention"],
    )
    with pytest.raises(ValueError):
        rfm_segment([0], [1], [1])
    sc = rfm_scores([1.0, 200.0], [5.0, 0.0], [100.0, 1.0])
    assert list(sc.segments()) == list(rfm_segment(sc.r, sc.f, sc.m))
