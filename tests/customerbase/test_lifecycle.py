"""Lifecycle statuses and their structured reasons."""

from __future__ import annotations

import numpy as np
import pytest

from customerbase import LifecycleThresholds, Reason, ReasonCode, classify_lifecycle, describe_reason


def _one(n, first, last, interval=np.nan, p_alive=None, **kw):
    res = classify_lifecycle([n], [first], [last], [interval], None if p_alive is None else [p_alive], **kw)
    return str(res.status[0]), res.reason(0)


def test_statuses():
    assert _one(0, np.nan, np.nan)[0] == "prospect"
    assert _one(1, 30, 30) == (
        "new",
        Reason(ReasonCode.FIRST_PURCHASE_RECENT, days_since_last=30, days_since_first=30, threshold_days=90),
    )
    assert _one(1, 200, 200)[1].code is ReasonCode.NO_SECOND_PURCHASE
    assert _one(1, 200, 200)[0] == "one_time"
    assert _one(1, 400, 400)[0] == "lost"
    # Repeat buyer every 30 days.
    assert _one(5, 120, 20, 25)[0] == "active"
    status, reason = _one(5, 240, 70, 30)
    assert status == "at_risk" and reason.code is ReasonCode.OVERDUE
    assert reason.overdue_factor == pytest.approx(70 / 30) and reason.threshold_days == 60
    status, reason = _one(5, 300, 143, 30)
    assert status == "inactive" and reason.code is ReasonCode.STOPPED and reason.threshold_days == 120
    # The mean interval is derived when missing: (300 - 143) / 4 = 39.25 days.
    assert _one(5, 300, 143)[1].usual_interval_days == pytest.approx(39.25)


def test_left_after_days_is_the_first_limit_crossed():
    """Out of the active base: the inactive limit of a repeat buyer (even one now lost, who crossed it
    first), the lost limit of a one-time buyer; nothing for anyone still in the base."""
    th = LifecycleThresholds(prior_purchases=0)
    res = classify_lifecycle(
        [0, 1, 1, 5, 5, 5, 5],
        [np.nan, 30, 400, 120, 240, 300, 1000],
        [np.nan, 30, 400, 20, 70, 143, 900],
        [np.nan, np.nan, np.nan, 25, 30, 30, 30],
        thresholds=th,
    )
    assert res.status.tolist() == ["prospect", "new", "lost", "active", "at_risk", "inactive", "lost"]
    left = res.left_after_days
    assert np.isnan(left[[0, 1, 3, 4]]).all()
    assert left[2] == th.lost_after_days
    assert left[5] == left[6] == max(th.inactive_factor * 30, th.min_inactive_days) == 120


def test_minimum_days_guard_short_intervals():
    # Buys every 3 days: 20 days of silence is 6.7x the interval but below the 30-day minimum.
    assert _one(10, 50, 20, 3)[0] == "active"
    assert _one(10, 100, 40, 3)[0] == "at_risk"  # > 30 days, < 90-day inactive minimum
    assert _one(10, 200, 95, 3)[0] == "inactive"


def test_p_alive_rules():
    # Later than usual and a low P(alive): at risk / inactive by the model.
    status, reason = _one(4, 200, 40, 30, p_alive=0.4)
    assert status == "at_risk" and reason.code is ReasonCode.LOW_P_ALIVE and reason.p_alive == 0.4
    # A very low P(alive) is a stronger flag, but a model alone never makes anyone inactive (BG/NBD's
    # P(alive) falls steeply for heavy buyers a little late, who mostly come back).
    status, reason = _one(4, 200, 40, 30, p_alive=0.12)
    assert status == "at_risk" and reason.code is ReasonCode.VERY_LOW_P_ALIVE
    assert _one(40, 400, 40, 9, p_alive=0.001)[0] == "at_risk"
    # Within the usual interval, P(alive) is not used.
    assert _one(4, 200, 20, 30, p_alive=0.12)[0] == "active"
    # One-time buyers ignore P(alive).
    assert _one(1, 30, 30, p_alive=0.01)[0] == "new"


def test_vectorised_counts_and_texts():
    res = classify_lifecycle(
        n_purchase_days=[0, 1, 1, 1, 3, 3, 3],
        days_since_first=[np.nan, 10, 200, 500, 100, 200, 400],
        days_since_last=[np.nan, 10, 200, 500, 10, 110, 300],
        p_alive=[np.nan, np.nan, np.nan, np.nan, 0.9, 0.8, 0.05],
    )
    assert list(res.status) == ["prospect", "new", "one_time", "lost", "active", "at_risk", "inactive"]
    assert res.counts() == {
        "prospect": 1, "new": 1, "one_time": 1, "active": 1, "at_risk": 1, "inactive": 1, "lost": 1
    }  # fmt: skip
    texts = [describe_reason(r) for r in res.reasons()]
    assert texts[0] == "Has not bought anything yet."
    # The usual interval of 50 days is pulled towards the population's 45 days (one purchase's weight).
    assert texts[5] == "Last purchase 110 days ago, 2.4 times the usual interval of 45 days."
    assert res.usual_interval_days[6] == pytest.approx((50 * 2 + 45) / 3)
    assert "stopped buying" in texts[6]
    assert all(isinstance(t, str) and t for t in texts)
    for code in ReasonCode:
        assert describe_reason(Reason(code, 10, 20, 5, 2.0, 30, 0.2))


def test_thresholds_validation_and_custom():
    with pytest.raises(ValueError):
        LifecycleThresholds(at_risk_factor=5, inactive_factor=4)
    with pytest.raises(ValueError):
        LifecycleThresholds(new_window_days=400)
    th = LifecycleThresholds(new_window_days=30)
    assert _one(1, 45, 45, thresholds=th)[0] == "one_time"
    with pytest.raises(ValueError):
        LifecycleThresholds(prior_purchases=-1)
    with pytest.raises(ValueError):
        classify_lifecycle([1], [np.nan], [np.nan])


def test_population_rhythm_steadies_a_short_own_interval():
    # Two purchases three days apart, 40 days ago; most customers buy every 60 days. Alone, the
    # customer's own 3 days would call them at risk already; with the population's rhythm weighing as
    # one purchase, the usual interval is (3 + 60) / 2 = 31.5 days, and 40 days is not even twice that.
    res = classify_lifecycle([2, 3, 3, 3], [43, 200, 200, 200], [40, 80, 80, 80], [3, 60, 60, 60])
    assert res.usual_interval_days[0] == pytest.approx(31.5)
    assert res.status[0] == "active"
    no_prior = classify_lifecycle(
        [2, 3, 3, 3],
        [43, 200, 200, 200],
        [40, 80, 80, 80],
        [3, 60, 60, 60],
        thresholds=LifecycleThresholds(prior_purchases=0),
    )
    assert no_prior.status[0] == "at_risk"


def test_repeat_buyers_silent_far_beyond_their_rhythm_are_lost():
    status, reason = _one(5, 900, 500, 30)
    assert status == "lost" and reason.code is ReasonCode.STOPPED_LONG_AGO and reason.threshold_days == 365
    assert "lost" in describe_reason(reason)
