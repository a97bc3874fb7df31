"""Parameter recovery and prediction checks on simulated populations (seeded)."""

from __future__ import annotations

import numpy as np
import pytest

from customerbase import BGNBD, MBGNBD, ParetoNBD
from customerbase.simulate import simulate_bgnbd, simulate_mbgnbd, simulate_paretonbd

N = 20_000
CASES = [
    (BGNBD, simulate_bgnbd, {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}),
    (ParetoNBD, simulate_paretonbd, {"r": 0.55, "alpha": 10.5, "s": 0.6, "beta": 11.7}),
    (MBGNBD, simulate_mbgnbd, {"r": 0.5, "alpha": 6.0, "a": 0.9, "b": 1.6}),
]


def _population(sim, params, seed):
    rng = np.random.default_rng(seed)
    T = np.round(rng.uniform(30.0, 80.0, N) * 7) / 7  # whole days, in weeks
    data = sim(N, T=T, holdout=39.0, rng=rng, **params)
    t_x = np.floor(data.recency * 7) / 7  # purchases recorded by day
    return data, t_x


@pytest.mark.parametrize(("model_cls", "sim", "true"), CASES, ids=["bgnbd", "paretonbd", "mbgnbd"])
def test_parameter_recovery(model_cls, sim, true):
    data, t_x = _population(sim, true, seed=20240601)
    model = model_cls().fit(data.frequency, t_x, data.T)
    se = model.standard_errors()
    for name, value in true.items():
        estimate = model.params_[name]
        assert abs(estimate - value) < 4 * se[name], (name, estimate, value, se[name])
        assert abs(estimate - value) / value < 0.25, (name, estimate, value)


@pytest.mark.parametrize(("model_cls", "sim", "true"), CASES, ids=["bgnbd", "paretonbd", "mbgnbd"])
def test_predictions_with_true_parameters_match_simulation(model_cls, sim, true):
    data, t_x = _population(sim, true, seed=7)
    model = model_cls()
    model.params_ = dict(true)
    # Holdout purchases: conditional expectations summed over customers (heavy-tailed, so 5 %).
    expected = model.conditional_expected_number_of_purchases_up_to_time(
        39.0, data.frequency, t_x, data.T
    ).sum()
    assert expected == pytest.approx(data.frequency_holdout.sum(), rel=0.05)
    # P(alive) on average equals the share alive at T.
    p_alive = model.conditional_probability_alive(data.frequency, t_x, data.T)
    assert p_alive.mean() == pytest.approx(data.alive_at_T.mean(), abs=0.02)
    # Unconditional expectation for customers observed 52 weeks.
    rng = np.random.default_rng(11)
    same_t = sim(N, T=52.0, rng=rng, **true)
    assert model.expected_number_of_purchases_up_to_time(52.0)[0] == pytest.approx(
        same_t.frequency.mean(), rel=0.05
    )
