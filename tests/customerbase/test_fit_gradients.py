"""Analytic likelihood gradients and the fast paths of the fits, checked against plain formulas."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from customerbase import BGNBD, GammaGamma, ParetoNBD, compress_rfm, customer_lifetime_value
from customerbase._special import hyp2f1_c_a1_series
from customerbase.paretonbd import _log_f, _log_f_and_grad
from customerbase.rfm import CompressedRFM


def _central_gradient(fun, params: np.ndarray, rel: float = 1e-5) -> np.ndarray:
    out = np.empty_like(params)
    for i in range(params.shape[0]):
        h = rel * params[i]
        up, dn = params.copy(), params.copy()
        up[i] += h
        dn[i] -= h
        out[i] = (fun(up) - fun(dn)) / (2 * h)
    return out


def _with_extremes(published) -> CompressedRFM:
    """The CDNOW rows plus heavy buyers (x = 200 and 5,000) and a customer with t_x = T."""
    c = compress_rfm(published.x, published.t_x, published.T)
    return compress_rfm(
        np.r_[c.x, 200.0, 200.0, 5000.0, 3.0],
        np.r_[c.t_x, 38.0, 1.0, 30.0, 20.0],
        np.r_[c.T, 38.86, 38.86, 38.86, 20.0],
        np.r_[c.weights, 1.0, 2.0, 1.0, 1.0],
    )


BGNBD_POINTS = [
    (0.243, 4.414, 0.793, 2.426),
    (1.5, 0.3, 3.0, 0.2),
    (0.05, 40.0, 0.1, 10.0),
    (3.0, 2.0, 1.0, 1.0),
]
PARETO_POINTS = [
    (0.553, 10.578, 0.606, 11.669),  # alpha < beta, small z
    (0.5, 20.0, 2.0, 3.0),  # alpha > beta
    (2.0, 1.0, 0.3, 50.0),  # z close to 1: scipy's hyp2f1 and central differences
    (0.8, 5.0, 1.2, 5.0),  # alpha = beta: z = 0
]


@pytest.mark.parametrize(("cls", "points"), [(BGNBD, BGNBD_POINTS), (ParetoNBD, PARETO_POINTS)])
def test_analytic_gradient_matches_finite_differences(cls, points, cdnow_published):
    for data in (
        compress_rfm(cdnow_published.x, cdnow_published.t_x, cdnow_published.T),
        _with_extremes(cdnow_published),
    ):
        total_and_grad = cls()._total_loglik_and_grad(data)

        def total(params, data=data):
            return float(np.dot(data.weights, cls._loglik(params, data.x, data.t_x, data.T)))

        for point in points:
            params = np.array(point)
            value, grad = total_and_grad(params)
            # The value is the plain formula (per-x and per-pair grouping changes only rounding).
            assert value == pytest.approx(total(params), rel=1e-12)
            assert np.isfinite(grad).all()
            np.testing.assert_allclose(grad, _central_gradient(total, params), rtol=2e-5, atol=1e-3)


def test_gammagamma_gradient_through_the_fit(gammagamma_cdnow, cdnow_published):
    # The fit's objective is internal; its optimum must be where the plain formula's gradient vanishes.
    pub = cdnow_published
    gg = gammagamma_cdnow
    keep = (pub.x > 0) & (pub.zbar > 0)
    x, m = pub.x[keep], pub.zbar[keep]
    params = np.array([gg.params_[k] for k in ("p", "q", "gamma")])

    def mean_ll(p):
        return float(GammaGamma._loglik(p, x, m).mean())

    grad = _central_gradient(mean_ll, params)
    assert np.abs(grad * params).max() < 1e-6
    assert gg.n_evaluations_ < 150


def test_pareto_pair_terms_and_series(cdnow_published):
    # log F and its derivatives per (x, t) pair against scipy's hyp2f1 and central differences.
    x = np.array([0.0, 1.0, 2.0, 10.0, 200.0, 5000.0])
    u = np.array([0.0, 3.0, 30.43, 38.86, 1.0, 38.0])
    for point in PARETO_POINTS:
        params = np.array(point)
        value, grad = _log_f_and_grad(params, x, u)
        np.testing.assert_allclose(value, _log_f(params, x, u), rtol=1e-12)
        for i in range(len(x)):
            num = _central_gradient(
                lambda p, i=i: float(_log_f(p, x[i : i + 1], u[i : i + 1])[0]), params, 1e-6
            )
            np.testing.assert_allclose(grad[:, i], num, rtol=1e-5, atol=1e-7)
    rng = np.random.default_rng(3)
    z = rng.random(500) * 0.9
    big_n = 1.0 + rng.random(500) * 300
    c = rng.random(500) * (big_n - 0.01) + 0.005
    g, g_c, g_n, g_z = hyp2f1_c_a1_series(c, big_n, z)
    np.testing.assert_allclose(g, special.hyp2f1(1.0, c, big_n, z), rtol=1e-13)
    h = 1e-6
    np.testing.assert_allclose(
        g_z,
        (special.hyp2f1(1.0, c, big_n, z + h) - special.hyp2f1(1.0, c, big_n, z - h)) / (2 * h),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        g_c,
        (special.hyp2f1(1.0, c + h, big_n, z) - special.hyp2f1(1.0, c - h, big_n, z)) / (2 * h),
        rtol=1e-5,
        atol=1e-9,
    )
    np.testing.assert_allclose(
        g_n,
        (special.hyp2f1(1.0, c, big_n + h, z) - special.hyp2f1(1.0, c, big_n - h, z)) / (2 * h),
        rtol=1e-5,
        atol=1e-9,
    )


@pytest.mark.parametrize(("cls", "fitted"), [(BGNBD, "bgnbd_cdnow"), (ParetoNBD, "paretonbd_cdnow")])
def test_fit_uses_few_evaluations_and_reaches_the_optimum(cls, fitted, cdnow_published, request):
    pub = cdnow_published
    m = request.getfixturevalue(fitted)
    assert m.converged_ and m.n_evaluations_ < 100
    # The same optimum as a fit with central-difference gradients (the previous method).
    data = compress_rfm(pub.x, pub.t_x, pub.T)
    theta = np.log(np.array([m.params_[k] for k in cls.param_names]))

    def mean_nll(th):
        return (
            -float(np.dot(data.weights, cls._loglik(np.exp(th), data.x, data.t_x, data.T)))
            / data.weights.sum()
        )

    from customerbase._base import minimize_nll

    ref, _, ok = minimize_nll(mean_nll, theta + 0.05)
    assert ok
    np.testing.assert_allclose(np.exp(theta), np.exp(ref), rtol=2e-5)


def _clv_loop(model, x, t_x, T, value, months=12, rate=0.01, freq_days=7.0):
    """The previous implementation: one conditional expectation per month."""
    month = 365.25 / 12 / freq_days
    total = np.zeros(len(x))
    previous = np.zeros(len(x))
    for i in range(1, months + 1):
        cumulative = model.conditional_expected_number_of_purchases_up_to_time(i * month, x, t_x, T)
        total = total + value * (cumulative - previous) / (1.0 + rate) ** i
        previous = cumulative
    return total


def test_vectorised_clv_equals_the_monthly_loop(
    bgnbd_cdnow, paretonbd_cdnow, gammagamma_cdnow, cdnow_published
):
    pub = cdnow_published
    x = np.r_[pub.x, 200.0, 0.0]
    t_x = np.r_[pub.t_x, 38.0, 0.0]
    T = np.r_[pub.T, 38.86, 0.0]
    zbar = np.r_[pub.zbar, 50.0, 0.0]
    value = gammagamma_cdnow.conditional_expected_average_profit(x, zbar)
    for model in (bgnbd_cdnow, paretonbd_cdnow):
        for months, rate in ((12, 0.01), (24, 0.0), (1, 0.05)):
            ours = customer_lifetime_value(
                model,
                x,
                t_x,
                T,
                zbar,
                spend_model=gammagamma_cdnow,
                horizon_months=months,
                discount_rate=rate,
            )
            np.testing.assert_array_equal(ours, _clv_loop(model, x, t_x, T, value, months, rate))
    assert customer_lifetime_value(bgnbd_cdnow, x, t_x, T, zbar, horizon_months=0).sum() == 0


def test_pareto_finite_where_scipy_hyp2f1_is_nan():
    # scipy's hyp2f1(1, 1.3; 203.3; 0.96) is NaN: x = 200 at beta >> alpha used to give a NaN P(alive).
    assert np.isnan(special.hyp2f1(1.0, 1.3, 203.3, 49 / 51))
    m = ParetoNBD()
    m.params_ = {"r": 2.0, "alpha": 1.0, "s": 0.3, "beta": 50.0}
    p = m.conditional_probability_alive([200, 0, 5], [1.0, 0.0, 3.0], [38.86, 38.86, 40.0])
    assert np.isfinite(p).all() and ((p >= 0) & (p <= 1)).all()
    assert np.isfinite(m.log_likelihood([200, 0], [1.0, 0.0], [38.86, 0.0])).all()
    # The pair term used by the fits is finite there too.
    value, _ = _log_f_and_grad(np.array([2.0, 1.0, 0.3, 50.0]), np.array([200.0]), np.array([1.0]))
    assert np.isfinite(value).all()


def test_fits_run_with_blas_on_one_thread(cdnow_published):
    # L-BFGS-B calls BLAS on tiny arrays; an unlimited OpenBLAS spins its threads between the calls
    # (3 to 100 times slower on 2 cores, docs/benchmarks.md): every fit limits BLAS to one thread.
    from threadpoolctl import threadpool_info

    seen: list[int] = []
    pub = cdnow_published
    model = BGNBD()
    total_and_grad = model._total_loglik_and_grad

    def spy(data):
        inner = total_and_grad(data)

        def wrapped(params, need_grad=True):
            seen.extend(lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas")
            return inner(params, need_grad)

        return wrapped

    model._total_loglik_and_grad = spy
    model.fit(pub.x, pub.t_x, pub.T)
    assert seen and set(seen) == {1}
    # Outside the fit the process keeps its own setting (on this machine, one thread per core).
    assert all(lib["num_threads"] >= 1 for lib in threadpool_info())
