"""Lift intervals against the published figures: Newcombe (1998), Statistics in Medicine 17, Table II."""

from __future__ import annotations

import numpy as np
import pytest

from customerbase.lift import bootstrap_mean_difference, newcombe_difference, wilson_interval


def test_wilson_interval_matches_newcombe_table_I():
    # Newcombe 1998 (companion paper, Stat Med 17:857) example 81/263: 0.2553 to 0.3662.
    interval = wilson_interval(81, 263)
    assert interval.low == pytest.approx(0.2553, abs=1e-4)
    assert interval.high == pytest.approx(0.3662, abs=1e-4)


@pytest.mark.parametrize(
    ("a", "m", "b", "n", "low", "high"),
    [
        # Newcombe 1998, Table II, method 10 (score, no continuity correction).
        (56, 70, 48, 80, 0.0524, 0.3339),
        (9, 10, 3, 10, 0.1705, 0.8090),
        (6, 7, 2, 7, 0.0582, 0.8062),
        (5, 56, 0, 29, -0.0381, 0.1926),
        (0, 10, 0, 20, -0.1611, 0.2775),
    ],
)
def test_newcombe_method_10_matches_the_paper(a, m, b, n, low, high):
    interval = newcombe_difference(a, m, b, n)
    assert interval.estimate == pytest.approx(a / m - b / n)
    assert interval.low == pytest.approx(low, abs=1e-4)
    assert interval.high == pytest.approx(high, abs=1e-4)


def test_bootstrap_interval_covers_the_difference_and_is_reproducible():
    rng = np.random.default_rng(1)
    treated = np.where(rng.random(4000) < 0.2, rng.gamma(2, 30, 4000), 0.0)
    control = np.where(rng.random(400) < 0.12, rng.gamma(2, 30, 400), 0.0)
    first = bootstrap_mean_difference(treated, control, seed=7)
    again = bootstrap_mean_difference(treated, control, seed=7)
    assert first == again
    assert first.low < first.estimate < first.high
    assert first.estimate == pytest.approx(treated.mean() - control.mean())
    # The normal-theory interval for the same data is a close neighbour.
    se = np.sqrt(treated.var(ddof=1) / treated.size + control.var(ddof=1) / control.size)
    assert first.high - first.low == pytest.approx(2 * 1.96 * se, rel=0.1)


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        wilson_interval(3, 0)
    with pytest.raises(ValueError):
        wilson_interval(5, 3)
    with pytest.raises(ValueError):
        bootstrap_mean_difference([], [1.0])
