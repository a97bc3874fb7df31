"""The Pareto/NBD model of Schmittlein, Morrison & Colombo (1987).

References: Schmittlein, D. C., Morrison, D. G. & Colombo, R. (1987), "Counting your customers: who
are they and what will they do next?", *Management Science* 33(1), 1-24; Fader, P. S. & Hardie, B. G.
S. (2005), "A note on deriving the Pareto/NBD model and related expressions" (the likelihood used
here, with its case split on ``alpha >= beta``).

While alive, a customer buys as a Poisson process of rate ``lambda ~ Gamma(r, alpha)``; their
lifetime is exponential with rate ``mu ~ Gamma(s, beta)``. On the CDNOW calibration sample, Fader,
Hardie & Lee (2005) report ``r = 0.553, alpha = 10.578, s = 0.606, beta = 11.669, LL = -9595.0``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
from scipy import special  # type: ignore[import-untyped,unused-ignore]

from customerbase._base import TransactionModel, log1mexp, wsum
from customerbase._distinct import by_distinct_pairs
from customerbase._special import hyp2f1_c_a1_series, log_hyp2f1_c_a1, pow_tail
from customerbase._types import ArrayLike, FloatArray
from customerbase.rfm import CompressedRFM

__all__ = ["ParetoNBD"]


def _log_a0(params: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
    """``log A_0`` of the Fader & Hardie (2005) note, case split on ``alpha >= beta``.

    ``A_0 = 2F1(r+s+x, b'; r+s+x+1; d/(m+t_x)) / (m+t_x)^(r+s+x) - (same at T)`` with
    ``m = alpha, b' = s+1, d = alpha-beta`` if ``alpha >= beta`` and ``m = beta, b' = r+x,
    d = beta-alpha`` otherwise; both terms are computed in log space and subtracted with
    ``log(1 - exp(.))``. ``A_0 = 0`` (log = -inf) when ``t_x = T``.
    """
    # Each term depends on (x, u) alone, and customers share few distinct pairs (see ``_distinct``).
    u1 = by_distinct_pairs(partial(_log_f, params), x, t_x)
    u2 = by_distinct_pairs(partial(_log_f, params), x, T)
    with np.errstate(invalid="ignore"):
        diff = np.minimum(u2 - u1, 0.0)
    return np.asarray(u1 + log1mexp(diff), dtype=np.float64)


#: Above this ``z`` the series of :func:`hyp2f1_c_a1_series` needs too many terms; those (rare) pairs
#: get scipy's ``hyp2f1`` and central differences instead.
_SERIES_Z_MAX = 0.9


def _log_f(params: FloatArray, x: FloatArray, u: FloatArray) -> FloatArray:
    """``log [2F1(r+s+x, b'; r+s+x+1; d/(m+u)) / (m+u)^(r+s+x)]``, one of the two terms of ``A_0``."""
    r, alpha, s, beta = (float(v) for v in params)
    rsx = r + s + x
    if alpha >= beta:
        m, d = alpha, alpha - beta
        b_prime: FloatArray | float = s + 1.0
    else:
        m, d = beta, beta - alpha
        b_prime = r + x
    return np.asarray(log_hyp2f1_c_a1(rsx, b_prime, d / (m + u)) - rsx * np.log(m + u), dtype=np.float64)


def _log_f_and_grad(
    params: FloatArray, x: FloatArray, u: FloatArray, *, need_grad: bool = True
) -> tuple[FloatArray, FloatArray]:
    """:func:`_log_f` and its gradient in ``(r, alpha, s, beta)`` (shape ``(4, n)``).

    With ``m = max(alpha, beta)``, ``z = |alpha - beta| / (m + u)`` and ``n = r+s+x``, Euler's
    transformation gives ``log F = (1-b') log(1-z) + log G - n log(m+u)``, ``G = 2F1(1, n+1-b'; n+1;
    z)``; ``G`` and its derivatives come from :func:`hyp2f1_c_a1_series`, the rest is elementary
    (chain rule through ``c = n+1-b'``, ``N = n+1`` and ``z``). Pairs with ``z`` above
    ``_SERIES_Z_MAX`` use scipy's ``hyp2f1`` and central differences.
    """
    r, alpha, s, beta = (float(v) for v in params)
    n = r + s + x
    big_n = n + 1.0
    case_alpha = alpha >= beta
    if case_alpha:
        m, d = alpha, alpha - beta
        c: FloatArray | float = r + x
        one_minus_b: FloatArray | float = -s
    else:
        m, d = beta, beta - alpha
        c = s + 1.0
        one_minus_b = 1.0 - r - x
    mu = m + u
    z = d / mu
    out = np.empty(x.shape[0])
    grad = np.empty((4, x.shape[0]))
    easy = z <= _SERIES_Z_MAX
    if not easy.all():
        hard = ~easy
        ph, xh, uh = params, x[hard], u[hard]
        out[hard] = by_distinct_pairs(partial(_log_f, ph), xh, uh)
        for i in range(4 if need_grad else 0):
            step = 1e-6 * float(params[i])
            up = params.copy()
            dn = params.copy()
            up[i] += step
            dn[i] -= step
            grad[i, hard] = (
                by_distinct_pairs(partial(_log_f, up), xh, uh)
                - by_distinct_pairs(partial(_log_f, dn), xh, uh)
            ) / (2.0 * step)
        if not easy.any():
            return out, grad
        x, u, mu, z, n, big_n = x[easy], u[easy], mu[easy], z[easy], n[easy], big_n[easy]
        if not np.isscalar(c):
            c = np.asarray(c)[easy]
        if not np.isscalar(one_minus_b):
            one_minus_b = np.asarray(one_minus_b)[easy]
    g, g_c, g_n, g_z = hyp2f1_c_a1_series(c, big_n, z)
    log_mu = np.log(mu)
    log1mz = np.log1p(-z)
    dlg_c = g_c / g
    dlg_n = g_n / g
    # d/dz of (1-b') log(1-z) + log G
    dz = g_z / g - one_minus_b / (1.0 - z)
    val = one_minus_b * log1mz + np.log(g) - n * log_mu
    if case_alpha:
        # c = r+x, N = r+s+x+1, b' = s+1, z = (alpha-beta)/(alpha+u)
        d_r = dlg_c + dlg_n - log_mu
        d_s = dlg_n - log1mz - log_mu
        d_alpha = dz * (beta + u) / (mu * mu) - n / mu
        d_beta = -dz / mu
    else:
        # c = s+1, N = r+s+x+1, b' = r+x, z = (beta-alpha)/(beta+u)
        d_r = dlg_n - log1mz - log_mu
        d_s = dlg_c + dlg_n - log_mu
        d_beta = dz * (alpha + u) / (mu * mu) - n / mu
        d_alpha = -dz / mu
    if easy.all():
        return val, np.vstack([d_r, d_alpha, d_s, d_beta])
    out[easy] = val
    grad[:, easy] = np.vstack([d_r, d_alpha, d_s, d_beta])
    return out, grad


class ParetoNBD(TransactionModel):
    """Pareto/NBD transaction model (Schmittlein, Morrison & Colombo 1987; Fader & Hardie 2005 note).

    ``fit(frequency, recency, T)`` estimates ``params_ = {"r", "alpha", "s", "beta"}`` and
    ``log_likelihood_`` by maximum likelihood in log space.
    """

    param_names = ("r", "alpha", "s", "beta")

    @staticmethod
    def _loglik(params: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
        """Log-likelihood of the Fader & Hardie (2005) note, eq. (22)."""
        r, alpha, s, beta = (float(v) for v in params)
        a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        term1 = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
        term2 = np.log(s) - np.log(r + s + x) + _log_a0(params, x, t_x, T)
        return np.asarray(a1 + np.logaddexp(term1, term2), dtype=np.float64)

    def _initial_params(self, data: CompressedRFM) -> FloatArray:
        rate = float(np.dot(data.weights, data.x) / max(np.dot(data.weights, data.T), 1e-12))
        mean_t = float(np.dot(data.weights, data.T) / data.weights.sum())
        # beta = alpha: the hypergeometric terms of A_0 start at z = 0, where their series is short.
        del mean_t
        return np.array([1.0, 1.0 / max(rate, 1e-6), 1.0, 1.0 / max(rate, 1e-6)])

    def _total_loglik_and_grad(self, data: CompressedRFM) -> Callable[..., tuple[float, Any]]:
        """Weighted sum of the log-likelihood (Fader & Hardie 2005 note, eq. 22) and its analytic gradient.

        ``log Gamma(r+x)/Gamma(r)`` is evaluated per distinct ``x``; the two terms of ``A_0`` depend on
        ``(x, t_x)`` and ``(x, T)`` only, so they are computed once per distinct pair (far fewer than
        rows) with their derivatives (:func:`_log_f_and_grad`), then combined per row:
        ``d log A_0 = (d log F_1 - e d log F_2) / (1 - e)`` with ``e = F_2 / F_1``.
        """
        x, t_x, big_t, w = data.x, data.t_x, data.T, data.weights
        x_vals, x_inv = np.unique(x, return_inverse=True)
        w_x = np.bincount(x_inv.ravel(), weights=w, minlength=x_vals.shape[0])
        n_rows = x.shape[0]
        pairs = np.column_stack([np.concatenate([x, x]), np.concatenate([t_x, big_t])])
        uniq, pair_inv = np.unique(pairs, axis=0, return_inverse=True)
        pair_inv = pair_inv.ravel()
        px, pu = uniq[:, 0].copy(), uniq[:, 1].copy()
        i1, i2 = pair_inv[:n_rows], pair_inv[n_rows:]
        n_pairs = px.shape[0]
        w_total = float(w.sum())

        def total_and_grad(params: FloatArray, need_grad: bool = True) -> tuple[float, FloatArray | None]:
            r, alpha, s, beta = (float(v) for v in params)
            lg = special.gammaln(r + x_vals) - special.gammaln(r)
            dg_r = special.digamma(r + x_vals) - special.digamma(r)
            log_alpha, log_beta = math.log(alpha), math.log(beta)
            total = wsum(w_x, lg) + w_total * (r * log_alpha + s * log_beta)
            g_r = wsum(w_x, dg_r) + w_total * log_alpha
            g_alpha = w_total * r / alpha
            g_s = w_total * log_beta
            g_beta = w_total * s / beta

            if not need_grad:
                log_f = _log_f_and_grad(params, px, pu, need_grad=False)[0]
                diff = np.minimum(log_f[i2] - log_f[i1], 0.0)
                with np.errstate(divide="ignore"):
                    term2 = math.log(s) - np.log(r + s + x) + log_f[i1] + log1mexp(diff)
                term1 = -(r + x) * np.log(alpha + big_t) - s * np.log(beta + big_t)
                return total + wsum(w, np.logaddexp(term1, term2)), None
            log_f, dlog_f = _log_f_and_grad(params, px, pu)
            l1, l2 = log_f[i1], log_f[i2]
            diff = np.minimum(l2 - l1, 0.0)
            log_a0 = l1 + log1mexp(diff)
            ratio = np.exp(diff)
            open_gap = ratio < 1.0
            inv = np.where(open_gap, 1.0 / np.where(open_gap, 1.0 - ratio, 1.0), 0.0)

            log_at = np.log(alpha + big_t)
            log_bt = np.log(beta + big_t)
            rx = r + x
            rsx = rx + s
            term1 = -rx * log_at - s * log_bt
            term2 = math.log(s) - np.log(rsx) + log_a0
            lse = np.logaddexp(term1, term2)
            total += wsum(w, lse)
            w2 = w * np.exp(term2 - lse)
            w1 = w - w2
            w2i = w2 * inv
            inv_rsx = 1.0 / rsx
            # d log A_0 = (dF1 - ratio dF2) / (1 - ratio), contracted with the row weights w2.
            per_pair = np.bincount(i1, weights=w2i, minlength=n_pairs)
            per_pair -= np.bincount(i2, weights=w2i * ratio, minlength=n_pairs)
            da0 = np.einsum("ij,j->i", dlog_f, per_pair)
            g_r += -wsum(w1, log_at) - wsum(w2, inv_rsx) + float(da0[0])
            g_alpha += -wsum(w1, rx / (alpha + big_t)) + float(da0[1])
            g_s += -wsum(w1, log_bt) + float(w2.sum()) / s - wsum(w2, inv_rsx) + float(da0[2])
            g_beta += -s * wsum(w1, 1.0 / (beta + big_t)) + float(da0[3])
            return total, np.array([g_r, g_alpha, g_s, g_beta])

        return total_and_grad

    @staticmethod
    def _log_odds_dead(params: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
        r, alpha, s, beta = (float(v) for v in params)
        return np.asarray(
            np.log(s)
            - np.log(r + s + x)
            + (r + x) * np.log(alpha + T)
            + s * np.log(beta + T)
            + _log_a0(params, x, t_x, T),
            dtype=np.float64,
        )

    @staticmethod
    def _p_no_purchase_if_alive(
        params: FloatArray, t: FloatArray, x: FloatArray, T: FloatArray
    ) -> FloatArray:
        """P(no purchase in (T, T + t] | alive at T) under Pareto/NBD.

        Given alive at ``T`` the rate ``lambda`` is Gamma(r + x, alpha + T) and the dropout rate ``mu``
        Gamma(s, beta + T), independently (Schmittlein et al. 1987). No purchase means dying at some
        ``u < t`` before buying, or surviving ``t`` without buying:
        ``E[e^{-(lambda+mu) t}] + int_0^t E[mu e^{-mu u}] E[e^{-lambda u}] du``, the integral by
        32-point Gauss-Legendre quadrature (the integrand is smooth and monotone).
        """
        r, alpha, s, beta = (float(v) for v in params)
        shape_l, rate_l = r + x, alpha + T
        rate_m = beta + T

        def survive(u: FloatArray) -> FloatArray:
            return np.asarray(
                np.exp(-shape_l * np.log1p(u / rate_l) - s * np.log1p(u / rate_m)), dtype=np.float64
            )

        nodes, weights = np.polynomial.legendre.leggauss(32)
        integral = np.zeros(np.broadcast(x, t).shape)
        for node, weight in zip(nodes, weights, strict=True):
            u = 0.5 * t * (node + 1.0)
            integral += weight * s / (rate_m + u) * survive(u)
        return np.asarray(survive(t) + 0.5 * t * integral, dtype=np.float64)

    def conditional_probability_alive(
        self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """P(alive | x, t_x, T), eq. (18) of the Fader & Hardie (2005) note, as a logistic of log-odds."""
        params, x, t_x, t = self._predict_inputs(frequency, recency, T)
        return np.asarray(special.expit(-self._log_odds_dead(params, x, t_x, t)), dtype=np.float64)

    def conditional_expected_number_of_purchases_up_to_time(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """E[Y(t) | x, t_x, T] (Schmittlein, Morrison & Colombo 1987, eq. 22; Fader & Hardie note).

        ``(r+x)(beta+T) / ((alpha+T)(s-1)) [1 - ((beta+T)/(beta+T+t))^(s-1)] P(alive)``, with the
        bracket divided by ``s - 1`` computed stably (limit ``log`` at ``s = 1``).
        """
        params, x, t_x, big_t = self._predict_inputs(frequency, recency, T)
        tt = self._as_time(t)
        x, t_x, big_t, tt = np.broadcast_arrays(x, t_x, big_t, tt)
        r, alpha, s, beta = (float(v) for v in params)
        p_alive = special.expit(-self._log_odds_dead(params, x, t_x, big_t))
        tail = pow_tail(s - 1.0, np.log1p(tt / (beta + big_t)))
        return np.asarray((r + x) * (beta + big_t) / (alpha + big_t) * tail * p_alive + 0.0, dtype=np.float64)

    def expected_number_of_purchases_up_to_time(self, t: ArrayLike) -> FloatArray:
        """E[X(t)] = r beta / (alpha (s-1)) [1 - (beta/(beta+t))^(s-1)] (Schmittlein et al. 1987)."""
        params = self._check_fitted()
        tt = self._as_time(t)
        r, alpha, s, beta = (float(v) for v in params)
        return np.asarray(r * beta / alpha * pow_tail(s - 1.0, np.log1p(tt / beta)) + 0.0, dtype=np.float64)
