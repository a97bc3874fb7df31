"""The backtest: calibrate up to a cut-off, predict the following period, compare.

On the CDNOW sample the figures are checked against the published ones (Fader, Hardie & Lee 2005,
and the holdout check this project reported in issue 12: plain recency's AUC 0.771, Pareto/NBD's
expected purchases 0.779, BG/NBD's P(alive) 0.316); on simulated populations of several shapes the
shown probability must be calibrated, rank at least as well as recency, and the statuses must keep
their promise.
"""

from __future__ import annotations

import numpy as np
import pytest

from customerbase import BGNBD, ParetoNBD
from customerbase.backtest import Backtest, auc, calibration_bins, holdout_data
from customerbase.simulate import simulate_bgnbd, simulate_mbgnbd, simulate_paretonbd

CDNOW_CALIBRATION_END = "1997-09-30"  # week 39, as in Fader, Hardie & Lee (2005)
CDNOW_END = "1998-06-30"
STATUS_ORDER = ["active", "at_risk", "inactive", "lost"]


def _ordered(rates: dict[str, float]) -> list[str]:
    present = [s for s in STATUS_ORDER if s in rates]
    return sorted(present, key=lambda s: -rates[s])


@pytest.fixture(scope="session")
def cdnow_backtest(cdnow_transactions) -> Backtest:
    tx = cdnow_transactions
    data = holdout_data(
        tx.customer_ids,
        tx.dates,
        tx.amounts,
        calibration_end=CDNOW_CALIBRATION_END,
        observation_end=CDNOW_END,
    )
    return Backtest().fit(
        data.frequency, data.recency, data.T, data.purchases_horizon, data.purchases_holdout,
        horizon=data.horizon, duration=data.duration, mean_value=data.mean_value,
    )  # fmt: skip


def test_cdnow_matches_the_published_figures(cdnow_backtest):
    report = cdnow_backtest.report_
    assert report.customers == 2357
    assert report.holdout_weeks == pytest.approx(39.0)
    assert report.horizon_weeks == pytest.approx(90 / 7)
    # 1,882 repeat purchase-days in weeks 40-78; BG/NBD predicts 1,653 (-12%), as with lifetimes.
    assert report.actual_total == 1882
    bg = report.models["bgnbd"]
    assert round(bg.params["r"], 3) == 0.243 and round(bg.params["alpha"], 2) == 4.41
    assert round(bg.params["a"], 3) == 0.793 and round(bg.params["b"], 3) == 2.426
    assert bg.loglik == pytest.approx(-9582.4, abs=0.1)
    assert round(bg.predicted_total) == 1653 and bg.total_error == pytest.approx(-0.122, abs=0.001)
    assert round(report.auc_recency, 3) == 0.771
    assert round(report.models["paretonbd"].auc_expected, 3) == 0.779
    assert round(bg.auc_p_alive, 3) == 0.316  # 1 for every one-time buyer: worse than a coin
    assert report.models["paretonbd"].auc_p_alive == pytest.approx(0.726, abs=0.001)
    # Mean holdout purchases by calibration purchases (Fader, Hardie & Lee 2005, fig. 4 shape).
    labels = [row[0] for row in bg.by_frequency]
    assert labels == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    zero = bg.by_frequency[0]
    assert zero[1] == 1411 and zero[3] == pytest.approx(0.236, abs=0.001)
    # Gamma-Gamma's independence check: 0.11 in Fader, Hardie & Lee (2005, JMR).
    assert report.spend_correlation == pytest.approx(0.11, abs=0.01)


def test_cdnow_shown_probability_ranks_and_is_calibrated(cdnow_backtest):
    report = cdnow_backtest.report_
    # Pareto/NBD has the lowest Brier score there, and its 90-day probability of buying beats recency.
    assert report.shown_model == "paretonbd" and report.shown_score == "p_purchase_paretonbd"
    assert report.auc_shown_score >= report.auc_recency
    assert report.ece_shown_score <= 0.03
    assert len(report.models["paretonbd"].calibration) == 10
    assert sum(n for _, _, n in report.models["paretonbd"].calibration) == 2357


def test_cdnow_statuses_keep_their_promise(cdnow_backtest):
    report = cdnow_backtest.report_
    rates, counts = report.status_return_rates, report.status_counts
    # One-time buyers have their own status: none of them is "at risk" any more.
    assert counts["one_time"] == 1411 and rates["one_time"] == pytest.approx(0.137, abs=0.001)
    assert counts["active"] + counts["at_risk"] + counts["inactive"] == 2357 - 1411
    assert _ordered(rates) == ["active", "at_risk", "inactive"]
    assert rates["active"] > 0.6 > rates["at_risk"] > 0.45 > rates["inactive"] > 0.3


def test_report_as_json_has_the_documented_keys(cdnow_backtest):
    import json

    data = json.loads(json.dumps(cdnow_backtest.to_dict()))
    assert {
        "customers",
        "models",
        "auc_recency",
        "shown_score",
        "auc_shown_score",
        "status_return_rates",
    } <= set(data)
    assert set(data["models"]) == {"bgnbd", "mbgnbd", "paretonbd"}
    for model in data["models"].values():
        assert {"params", "loglik", "predicted_total", "actual_total", "auc_p_alive", "auc_expected"} <= set(
            model
        )


H = 90 / 7  # the shown horizon, in weeks
SHAPES = {
    # Parameters as fitted on CDNOW: most customers buy once or twice.
    "bgnbd_cdnow": lambda rng, T: simulate_bgnbd(
        100_000, r=0.243, alpha=4.414, a=0.793, b=2.426, T=T, holdout=H, rng=rng
    ),
    # Frequent, loyal buyers: most are repeat buyers.
    "bgnbd_frequent": lambda rng, T: simulate_bgnbd(
        100_000, r=2.0, alpha=8.0, a=0.5, b=6.0, T=T, holdout=H, rng=rng
    ),
    "mbgnbd": lambda rng, T: simulate_mbgnbd(
        100_000, r=0.5, alpha=6.0, a=0.9, b=1.6, T=T, holdout=H, rng=rng
    ),
    "paretonbd": lambda rng, T: simulate_paretonbd(
        100_000, r=0.55, alpha=10.6, s=0.61, beta=11.7, T=T, holdout=H, rng=rng
    ),
}


@pytest.fixture(scope="session", params=sorted(SHAPES))
def simulated_backtest(request) -> tuple[str, Backtest]:
    rng = np.random.default_rng(7)
    T = rng.uniform(4, 104, 100_000)  # customers who joined over two years
    sim = SHAPES[request.param](rng, T)
    # Population parameters need no more than 20,000 customers; the scores are for all 100,000.
    model = Backtest(fit_sample=20_000).fit(
        sim.frequency, sim.recency, sim.T, sim.frequency_holdout, sim.frequency_holdout, horizon=H, duration=H
    )
    return request.param, model


def test_simulated_populations_shown_probability(simulated_backtest):
    shape, model = simulated_backtest
    report = model.report_
    assert report.customers == 100_000
    assert report.ece_shown_score <= 0.02
    assert report.auc_shown_score >= report.auc_recency
    # The model that generated the data is the one chosen, or one that mimics it on such data:
    # BG/NBD and MBG/NBD are nearly the same model on frequent buyers (dropping out at the first
    # purchase hardly matters), and MBG/NBD predicts like Pareto/NBD (Batislam et al. 2007). BG/NBD,
    # whose one-time buyers all count as alive, never wins where it is not the truth.
    expected = {
        "bgnbd_cdnow": {"bgnbd"},
        "bgnbd_frequent": {"bgnbd", "mbgnbd"},
        "mbgnbd": {"mbgnbd"},
        "paretonbd": {"paretonbd", "mbgnbd"},
    }
    assert report.shown_model in expected[shape]


def test_simulated_populations_statuses_are_ordered(simulated_backtest):
    _, model = simulated_backtest
    rates = model.report_.status_return_rates
    assert set(STATUS_ORDER) <= set(rates)
    assert _ordered(rates) == STATUS_ORDER


def test_probability_of_purchase_matches_simulation():
    """P(at least one purchase in t) averages to the share who bought, in every model's own world."""
    rng = np.random.default_rng(11)
    T = rng.uniform(10, 60, 60_000)
    sim = simulate_paretonbd(60_000, r=0.55, alpha=10.6, s=0.61, beta=11.7, T=T, holdout=20, rng=rng)
    pareto = ParetoNBD().fit(sim.frequency, sim.recency, sim.T)
    p = pareto.conditional_probability_of_purchase(20, sim.frequency, sim.recency, sim.T)
    assert p.mean() == pytest.approx((sim.frequency_holdout > 0).mean(), abs=0.005)
    alive = pareto.conditional_probability_alive(sim.frequency, sim.recency, sim.T)
    assert (p <= alive + 1e-12).all()
    sim = simulate_bgnbd(60_000, r=0.243, alpha=4.414, a=0.793, b=2.426, T=T, holdout=20, rng=rng)
    bg = BGNBD().fit(sim.frequency, sim.recency, sim.T)
    p = bg.conditional_probability_of_purchase(20, sim.frequency, sim.recency, sim.T)
    assert p.mean() == pytest.approx((sim.frequency_holdout > 0).mean(), abs=0.005)
    # Unlike BG/NBD's P(alive), it is not 1 for one-time buyers and falls with their time since joining.
    one = bg.conditional_probability_of_purchase(13, [0, 0], [0.0, 0.0], [5.0, 50.0])
    assert 0 < one[1] < one[0] < 1
    # Zero horizon, zero chance; it grows with the horizon.
    grid = pareto.conditional_probability_of_purchase(
        [0.0, 5.0, 50.0], [2, 2, 2], [8.0, 8.0, 8.0], [10.0] * 3
    )
    assert grid[0] == 0 and grid[0] < grid[1] < grid[2]


def test_auc_and_calibration_helpers():
    assert auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.75)
    assert auc([1, 1, 1], [0, 1, 1]) == pytest.approx(0.5)  # ties count half
    assert auc([0.3, 0.2], [1, 1]) is None
    rows, ece = calibration_bins([0.1, 0.1, 0.9, 0.9], [0, 0, 1, 1], bins=2)
    assert rows == [(0.1, 0.0, 2), (0.9, 1.0, 2)] and ece == pytest.approx(0.1)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="unknown models"):
        Backtest(models=("bgnbd", "nope")).fit([1], [1.0], [2.0], [0], [0], horizon=1, duration=2)
    with pytest.raises(ValueError, match="holdout count"):
        Backtest().fit([1, 2], [1.0, 2.0], [2.0, 3.0], [0], [0], horizon=1, duration=2)
    with pytest.raises(ValueError, match="between 0"):
        Backtest().fit([1], [1.0], [2.0], [2], [1], horizon=1, duration=2)
