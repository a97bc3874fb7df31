"""BG/NBD, MBG/NBD, Pareto/NBD and Gamma-Gamma: published CDNOW estimates, formulas, extremes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, special

from customerbase import (
    BGNBD,
    MBGNBD,
    GammaGamma,
    NotEnoughDataError,
    ParetoNBD,
    customer_lifetime_value,
    frequency_spend_correlation,
)
from customerbase.paretonbd import _log_a0


def _published(value: float, published: float, decimals: int, units: int = 0) -> None:
    """``value`` rounded to the published decimals equals ``published`` (within ``units`` of the last digit)."""
    step = 10.0**-decimals
    assert abs(round(value, decimals) - published) <= units * step + step / 100, (value, published)


# --- Published estimates on the CDNOW calibration sample ------------------------------------------


def test_bgnbd_cdnow_published(bgnbd_cdnow):
    # Fader, Hardie & Lee (2005), Marketing Science 24(2), p. 279.
    p = bgnbd_cdnow.params_
    _published(p["r"], 0.243, 3)
    _published(p["alpha"], 4.414, 3)
    _published(p["a"], 0.793, 3)
    _published(p["b"], 2.426, 3)
    _published(bgnbd_cdnow.log_likelihood_, -9582.4, 1)
    assert bgnbd_cdnow.n_customers_ == 2357
    assert bgnbd_cdnow.n_rows_ < 2357  # fitted on unique (x, t_x, T) rows


def test_paretonbd_cdnow_published(paretonbd_cdnow):
    # Fader, Hardie & Lee (2005), Marketing Science 24(2), p. 279.
    p = paretonbd_cdnow.params_
    _published(p["r"], 0.553, 3)
    _published(p["alpha"], 10.578, 3)
    _published(p["s"], 0.606, 3)
    # The published beta (11.669) is one unit high in the last digit: the maximum of the likelihood is
    # at beta = 11.6676 (checked with Newton steps on the exact likelihood; beta's standard error is
    # about 6, so the surface is flat in that direction). Hence a tolerance of one unit.
    _published(p["beta"], 11.669, 3, units=1)
    _published(paretonbd_cdnow.log_likelihood_, -9595.0, 1)


def test_gammagamma_cdnow_published_from_raw_transactions(gammagamma_cdnow_raw):
    # Fader, Hardie & Lee (2005), JMR 42(4): p = 6.25, q = 3.74, gamma = 15.44 on the 946 repeat buyers,
    # with zbar computed exactly from the transactions (the cdnow_calibration_summary fixture).
    gg = gammagamma_cdnow_raw
    assert gg.n_customers_ == 946
    _published(gg.params_["p"], 6.25, 2)
    _published(gg.params_["q"], 3.74, 2)
    _published(gg.params_["gamma"], 15.44, 2)


def test_gammagamma_cdnow_published_from_rounded_summary(gammagamma_cdnow, cdnow_published):
    # From the CSV, whose zbar is rounded to cents, gamma comes out at 15.448: one unit above the
    # published 15.44 in the last digit (the rounding of zbar, not the fit).
    p = gammagamma_cdnow.params_
    _published(p["p"], 6.25, 2)
    _published(p["q"], 3.74, 2)
    _published(p["gamma"], 15.44, 2, units=1)
    # The paper reports a correlation of 0.11 between x and zbar.
    assert round(frequency_spend_correlation(cdnow_published.x, cdnow_published.zbar), 2) == 0.11


def test_cdnow_predictions(bgnbd_cdnow, paretonbd_cdnow, gammagamma_cdnow, cdnow_published):
    # Customer 1 (x = 2, t_x = 30.43, T = 38.86): compare with the untransformed formula of eq. 10.
    r, alpha, a, b = (bgnbd_cdnow.params_[k] for k in ("r", "alpha", "a", "b"))
    x, t_x, T, t = 2.0, 30.43, 38.86, 39.0
    direct = (
        (a + b + x - 1) / (a - 1)
        * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t)))
        / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x))
    )  # fmt: skip
    ours = bgnbd_cdnow.conditional_expected_number_of_purchases_up_to_time(t, x, t_x, T)
    assert ours[0] == pytest.approx(direct, rel=1e-10)
    assert round(float(ours[0]), 3) == 1.226
    uncond = (
        (a + b - 1)
        / (a - 1)
        * (1 - (alpha / (alpha + t)) ** r * special.hyp2f1(r, b, a + b - 1, t / (alpha + t)))
    )
    assert bgnbd_cdnow.expected_number_of_purchases_up_to_time(t)[0] == pytest.approx(uncond, rel=1e-10)
    # Aggregate holdout forecasts of both models are close to each other (the paper's Figure 3).
    pub = cdnow_published
    e_bg = bgnbd_cdnow.conditional_expected_number_of_purchases_up_to_time(39, pub.x, pub.t_x, pub.T).sum()
    e_pn = paretonbd_cdnow.conditional_expected_number_of_purchases_up_to_time(
        39, pub.x, pub.t_x, pub.T
    ).sum()
    assert abs(e_bg - e_pn) / e_bg < 0.05
    # BG/NBD: P(alive) is 1 without repeat purchase; the Pareto/NBD is below 1.
    assert bgnbd_cdnow.conditional_probability_alive(0, 0, 38.86)[0] == 1.0
    assert 0 < paretonbd_cdnow.conditional_probability_alive(0, 0, 38.86)[0] < 1
    # Gamma-Gamma: shrinkage between the population mean and the customer's mean.
    pop = gammagamma_cdnow.population_mean_spend()
    cond = gammagamma_cdnow.conditional_expected_average_profit([0, 1, 10], [0.0, 100.0, 100.0])
    assert cond[0] == pytest.approx(pop)
    assert pop < cond[1] < cond[2] < 100.0


def _a0_integrand(u: float, r: float, alpha: float, s: float, beta: float, x: float) -> float:
    return float((alpha + u) ** (-(r + x)) * (beta + u) ** (-(s + 1)))


def test_pareto_a0_matches_numerical_integral():
    # A_0 = (r+s+x) * int_{t_x}^{T} (alpha+u)^-(r+x) (beta+u)^-(s+1) du, in both branches of the case split.
    for params in ((0.55, 10.58, 0.61, 11.67), (0.55, 15.0, 0.61, 3.0), (2.0, 1.0, 1.5, 1.0)):
        r, alpha, s, beta = params
        for x, t_x, T in ((2, 30.43, 38.86), (0, 0.0, 38.86), (10, 5.0, 39.0), (40, 1.0, 50.0)):
            integral = integrate.quad(
                _a0_integrand, t_x, T, args=(r, alpha, s, beta, x), epsabs=0, epsrel=1e-12
            )[0]
            ours = _log_a0(np.array(params), np.array([float(x)]), np.array([t_x]), np.array([T]))[0]
            assert ours == pytest.approx(np.log((r + s + x) * integral), rel=1e-9, abs=1e-9)


def test_mbgnbd_matches_untransformed_formulas(mbgnbd_cdnow):
    m = mbgnbd_cdnow
    assert np.isfinite(m.log_likelihood_)
    r, alpha, a, b = (m.params_[k] for k in ("r", "alpha", "a", "b"))
    x, t_x, T, t = 2.0, 30.43, 38.86, 39.0
    direct = (
        (a + b + x) / (a - 1)
        * (1 - special.hyp2f1(r + x, b + x + 1, a + b + x, t / (alpha + T + t)) * ((alpha + T) / (alpha + t + T)) ** (r + x))
        / (1 + (a / (b + x)) * ((alpha + T) / (alpha + t_x)) ** (r + x))
    )  # fmt: skip
    assert m.conditional_expected_number_of_purchases_up_to_time(t, x, t_x, T)[0] == pytest.approx(
        direct, rel=1e-10
    )
    uncond = b / (a - 1) * (1 - special.hyp2f1(r, b + 1, a + b, t / (alpha + t)) * (alpha / (alpha + t)) ** r)
    assert m.expected_number_of_purchases_up_to_time(t)[0] == pytest.approx(uncond, rel=1e-10)
    # Unlike BG/NBD, a customer without repeat purchase can be dead.
    assert m.conditional_probability_alive(0, 0, 38.86)[0] < 1.0


# --- Extreme inputs on fitted models ----------------------------------------------------------------


@pytest.mark.parametrize("model_fixture", ["bgnbd_cdnow", "paretonbd_cdnow"])
def test_extreme_inputs_give_finite_predictions(request, model_fixture):
    m = request.getfixturevalue(model_fixture)
    x = np.array([0, 0, 1, 200, 200, 200, 5, 5])
    t_x = np.array([0, 0, 0.0, 38.0, 1.0, 38.86, 38.86, 0.001])
    T = np.array([38.86, 0.0, 0.0, 38.86, 38.86, 38.86, 38.86, 500.0])
    for t in (0.0, 1.0, 39.0, 1e4):
        e = m.conditional_expected_number_of_purchases_up_to_time(t, x, t_x, T)
        assert np.isfinite(e).all() and (e >= 0).all()
    p = m.conditional_probability_alive(x, t_x, T)
    assert np.isfinite(p).all() and ((p >= 0) & (p <= 1)).all()
    assert np.isfinite(m.log_likelihood(x, t_x, T)).all()
    # A single customer and identical customers.
    assert np.isfinite(m.conditional_probability_alive(3, 10.0, 20.0)).all()
    same = m.conditional_expected_number_of_purchases_up_to_time(10, [3, 3, 3], [10.0] * 3, [20.0] * 3)
    assert np.isfinite(same).all() and np.ptp(same) == 0
    # Expectations grow with the horizon; a heavy buyer who just bought expects many purchases.
    grid = m.conditional_expected_number_of_purchases_up_to_time(
        np.array([1.0, 10.0, 100.0]), 200, 38.86, 38.86
    )
    assert (np.diff(grid) > 0).all() and grid[0] > 1
    u = m.expected_number_of_purchases_up_to_time(np.array([0.0, 1.0, 52.0, 1e6]))
    assert u[0] == 0 and (np.diff(u) > 0).all() and np.isfinite(u).all()


@pytest.mark.parametrize("a", [1.0, 1.0 + 1e-6, 1.0 - 3e-5, 0.3, 3.0])
def test_beta_geo_expectation_is_continuous_near_a_equal_one(a):
    ref = BGNBD()
    ref.params_ = {"r": 0.5, "alpha": 5.0, "a": 1.0 + 2e-3, "b": 2.0}
    m = BGNBD()
    m.params_ = {"r": 0.5, "alpha": 5.0, "a": a, "b": 2.0}
    e = m.conditional_expected_number_of_purchases_up_to_time(
        20.0, [0, 2, 200], [0.0, 10.0, 30.0], [30.0] * 3
    )
    u = m.expected_number_of_purchases_up_to_time(20.0)
    assert np.isfinite(e).all() and np.isfinite(u).all()
    if abs(a - 1) < 1e-3:
        e_ref = ref.conditional_expected_number_of_purchases_up_to_time(
            20.0, [0, 2, 200], [0.0, 10.0, 30.0], [30.0] * 3
        )
        np.testing.assert_allclose(e, e_ref, rtol=5e-3)
    mb = MBGNBD()
    mb.params_ = dict(m.params_)
    assert np.isfinite(
        mb.conditional_expected_number_of_purchases_up_to_time(20.0, [0, 200], [0.0, 30.0], [30.0] * 2)
    ).all()


def test_pareto_s_equal_one_is_finite():
    m = ParetoNBD()
    m.params_ = {"r": 0.5, "alpha": 10.0, "s": 1.0, "beta": 10.0}
    e = m.conditional_expected_number_of_purchases_up_to_time(
        39.0, [0, 2, 200], [0.0, 20.0, 38.0], [39.0] * 3
    )
    assert np.isfinite(e).all() and (e > 0).all()
    near = ParetoNBD()
    near.params_ = {"r": 0.5, "alpha": 10.0, "s": 1.0 + 1e-7, "beta": 10.0}
    np.testing.assert_allclose(
        near.conditional_expected_number_of_purchases_up_to_time(
            39.0, [0, 2, 200], [0.0, 20.0, 38.0], [39.0] * 3
        ),
        e,
        rtol=1e-5,
    )


# --- Not enough data ---------------------------------------------------------------------------------


@pytest.mark.parametrize("model_cls", [BGNBD, ParetoNBD, MBGNBD])
def test_not_enough_data(model_cls):
    with pytest.raises(NotEnoughDataError):
        model_cls().fit([2], [5.0], [10.0])  # a single customer
    with pytest.raises(NotEnoughDataError):
        model_cls().fit([2] * 50, [5.0] * 50, [10.0] * 50)  # identical customers
    with pytest.raises(NotEnoughDataError):
        model_cls().fit([0, 1], [0.0, 2.0], [10.0, 10.0])  # two distinct rows
    with pytest.raises(NotEnoughDataError):
        model_cls().fit([0, 0, 0], [0.0, 0.0, 0.0], [10.0, 12.0, 14.0])  # no repeat buyer
    assert issubclass(NotEnoughDataError, ValueError)
    with pytest.raises(ValueError):
        model_cls().fit([1, 2, 3], [5.0, 20.0, 3.0], [10.0, 10.0, 10.0])  # t_x > T
    with pytest.raises(ValueError):
        model_cls().fit([0, 1, 2], [1.0, 2.0, 3.0], [10.0, 10.0, 10.0])  # x = 0 with t_x > 0
    with pytest.raises(RuntimeError):
        model_cls().conditional_probability_alive(1, 1.0, 2.0)


def test_gammagamma_not_enough_data():
    with pytest.raises(NotEnoughDataError):
        GammaGamma().fit([0, 0, 0, 1], [0.0, 0.0, 0.0, 10.0])
    with pytest.raises(NotEnoughDataError):
        GammaGamma().fit([1, 1, 1], [10.0, 10.0, 10.0])


def test_small_data_fit_gives_finite_model():
    # Few customers: the fit may be poor, but it must give finite parameters and predictions.
    x = np.array([0, 1, 3, 0, 2])
    t_x = np.array([0.0, 4.0, 9.0, 0.0, 6.0])
    T = np.array([10.0, 12.0, 10.0, 8.0, 11.0])
    for cls in (BGNBD, ParetoNBD, MBGNBD):
        m = cls(penalizer=0.01).fit(x, t_x, T)
        assert all(np.isfinite(v) and v > 0 for v in m.params_.values())
        assert np.isfinite(m.conditional_expected_number_of_purchases_up_to_time(10, x, t_x, T)).all()


# --- Customer lifetime value ---------------------------------------------------------------------------


def test_clv(bgnbd_cdnow, gammagamma_cdnow, cdnow_published):
    pub = cdnow_published
    clv = gammagamma_cdnow.customer_lifetime_value(bgnbd_cdnow, pub.x, pub.t_x, pub.T, pub.zbar)
    same = customer_lifetime_value(bgnbd_cdnow, pub.x, pub.t_x, pub.T, pub.zbar, spend_model=gammagamma_cdnow)
    np.testing.assert_allclose(clv, same)
    assert np.isfinite(clv).all() and (clv >= 0).all()
    # No discount: value x expected purchases over the horizon (12 months in weeks).
    undiscounted = customer_lifetime_value(
        bgnbd_cdnow, pub.x, pub.t_x, pub.T, pub.zbar, spend_model=gammagamma_cdnow, discount_rate=0.0
    )
    expected = bgnbd_cdnow.conditional_expected_number_of_purchases_up_to_time(
        12 * 365.25 / 12 / 7, pub.x, pub.t_x, pub.T
    ) * gammagamma_cdnow.conditional_expected_average_profit(pub.x, pub.zbar)
    np.testing.assert_allclose(undiscounted, expected, rtol=1e-10)
    assert (clv <= undiscounted + 1e-12).all()
    longer = customer_lifetime_value(bgnbd_cdnow, pub.x, pub.t_x, pub.T, pub.zbar, horizon_months=24)
    shorter = customer_lifetime_value(bgnbd_cdnow, pub.x, pub.t_x, pub.T, pub.zbar, horizon_months=12)
    assert (longer >= shorter).all()
    assert customer_lifetime_value(bgnbd_cdnow, [200], [38.0], [38.86], [50.0]).shape == (1,)
