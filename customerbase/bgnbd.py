"""The BG/NBD model of Fader, Hardie & Lee (2005).

Reference: Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005), "'Counting your customers' the easy
way: an alternative to the Pareto/NBD model", *Marketing Science* 24(2), 275-284.

While active, a customer buys as a Poisson process of rate ``lambda ~ Gamma(r, alpha)``; after each
repeat purchase they become inactive with probability ``p ~ Beta(a, b)``. Estimated by maximum
likelihood on ``(x, t_x, T)`` (eq. 6 of the paper), in log space; on the CDNOW calibration sample
the paper reports ``r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from scipy import special  # type: ignore[import-untyped,unused-ignore]

from customerbase._base import TransactionModel, wsum
from customerbase._special import beta_geo_tail
from customerbase._types import ArrayLike, FloatArray
from customerbase.rfm import CompressedRFM

__all__ = ["BGNBD"]


class BGNBD(TransactionModel):
    """BG/NBD transaction model (Fader, Hardie & Lee 2005, *Marketing Science* 24(2)).

    ``fit(frequency, recency, T)`` estimates ``params_ = {"r", "alpha", "a", "b"}`` and
    ``log_likelihood_``. Predictions follow eqs. 8-10 of the paper.
    """

    param_names = ("r", "alpha", "a", "b")

    @staticmethod
    def _loglik(params: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
        """Log of eq. 6 of Fader, Hardie & Lee (2005), computed with gammaln and logaddexp."""
        r, alpha, a, b = (float(v) for v in params)
        a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
        a2 = special.betaln(a, b + x) - special.betaln(a, b)
        a3 = -(r + x) * np.log(alpha + T)
        xp = np.maximum(x, 1.0)
        a4 = np.log(a) - np.log(b + xp - 1.0) - (r + x) * np.log(alpha + t_x)
        a4 = np.where(x > 0, a4, -np.inf)
        return np.asarray(a1 + a2 + np.logaddexp(a3, a4), dtype=np.float64)

    def _initial_params(self, data: CompressedRFM) -> FloatArray:
        rate = float(np.dot(data.weights, data.x) / max(np.dot(data.weights, data.T), 1e-12))
        r = 1.0
        return np.array([r, r / max(rate, 1e-6), 1.0, 3.0])

    def _total_loglik_and_grad(self, data: CompressedRFM) -> Callable[..., tuple[float, Any]]:
        """Weighted sum of eq. 6 of Fader, Hardie & Lee (2005) and its analytic gradient.

        The terms that depend on ``x`` only (``log Gamma(r+x)/Gamma(r)`` and the beta-function ratio)
        are evaluated once per distinct ``x`` with their total weight; customers without repeat
        purchase contribute ``-r log(alpha+T)``, summed per distinct ``T``; only repeat buyers need
        the per-row ``logaddexp``. Derivatives: digamma differences for the ``x`` terms, and for the
        rest ``d softplus(D) = expit(D) dD``.
        """
        x_vals, x_inv = np.unique(data.x, return_inverse=True)
        w_x = np.bincount(x_inv.ravel(), weights=data.weights, minlength=x_vals.shape[0])
        zero = data.x == 0
        t_zero, t_inv = np.unique(data.T[zero], return_inverse=True)
        w_zero = np.bincount(t_inv.ravel(), weights=data.weights[zero], minlength=t_zero.shape[0])
        rep = ~zero
        x1 = data.x[rep]
        w1 = data.weights[rep]
        tx1 = data.t_x[rep]
        big_t1 = data.T[rep]
        xm1 = x1 - 1.0

        def total_and_grad(params: FloatArray, need_grad: bool = True) -> tuple[float, FloatArray]:
            # The gradient costs little more than the value here: always computed.
            r, alpha, a, b = (float(v) for v in params)
            # Terms in x only, on the distinct x values.
            lg = special.gammaln(r + x_vals) - special.gammaln(r)
            lb = special.betaln(a, b + x_vals) - special.betaln(a, b)
            dg_r = special.digamma(r + x_vals) - special.digamma(r)
            psi_ab = special.digamma(a + b + x_vals) - special.digamma(a + b)
            dlb_a = -psi_ab
            dlb_b = special.digamma(b + x_vals) - special.digamma(b) - psi_ab
            n_w = float(w_x.sum())
            total = wsum(w_x, lg + lb) + n_w * r * math.log(alpha)
            g_r = wsum(w_x, dg_r) + n_w * math.log(alpha)
            g_alpha = n_w * r / alpha
            g_a = wsum(w_x, dlb_a)
            g_b = wsum(w_x, dlb_b)
            # Customers without repeat purchase: -r log(alpha + T).
            if t_zero.shape[0]:
                at0 = alpha + t_zero
                log_at0 = np.log(at0)
                total -= r * wsum(w_zero, log_at0)
                g_r -= wsum(w_zero, log_at0)
                g_alpha -= r * wsum(w_zero, 1.0 / at0)
            # Repeat buyers: -(r+x) log(alpha+T) + softplus(D),
            # D = log a - log(b+x-1) + (r+x) (log(alpha+T) - log(alpha+t_x)).
            if x1.shape[0]:
                at = alpha + big_t1
                atx = alpha + tx1
                log_at = np.log(at)
                dlog = log_at - np.log(atx)
                rx = x1 + r
                bx = xm1 + b
                d = rx * dlog
                d += math.log(a)
                d -= np.log(bx)
                soft = np.logaddexp(0.0, d)
                sig = special.expit(d)
                wsig = w1 * sig
                total += wsum(w1, soft) - wsum(w1 * rx, log_at)
                g_r += wsum(wsig, dlog) - wsum(w1, log_at)
                inv_at = 1.0 / at
                inv_atx = 1.0 / atx
                g_alpha += wsum(wsig * rx, inv_at - inv_atx) - wsum(w1 * rx, inv_at)
                g_a += float(wsig.sum()) / a
                g_b -= wsum(wsig, 1.0 / bx)
            return total, np.array([g_r, g_alpha, g_a, g_b])

        return total_and_grad

    @staticmethod
    def _log_odds_dead(params: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
        r, alpha, a, b = (float(v) for v in params)
        xp = np.maximum(x, 1.0)
        lo = np.log(a) - np.log(b + xp - 1.0) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
        return np.asarray(np.where(x > 0, lo, -np.inf), dtype=np.float64)

    def conditional_probability_alive(
        self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """P(alive | x, t_x, T), eq. A10 of Fader, Hardie & Lee (2005); 1 for customers with x = 0."""
        params, x, t_x, t = self._predict_inputs(frequency, recency, T)
        return np.asarray(special.expit(-self._log_odds_dead(params, x, t_x, t)), dtype=np.float64)

    def conditional_expected_number_of_purchases_up_to_time(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """E[Y(t) | x, t_x, T], eq. 10 of Fader, Hardie & Lee (2005).

        The hypergeometric term is rewritten with Euler's transformation (see
        :func:`customerbase._special.beta_geo_tail`) so that large ``x`` stays finite.
        """
        params, x, t_x, big_t = self._predict_inputs(frequency, recency, T)
        tt = self._as_time(t)
        x, t_x, big_t, tt = np.broadcast_arrays(x, t_x, big_t, tt)
        r, alpha, a, b = (float(v) for v in params)
        z = tt / (alpha + big_t + tt)
        tail = beta_geo_tail(a, b - 1.0 - r, b + x - 1.0, z)
        p_alive = special.expit(-self._log_odds_dead(params, x, t_x, big_t))
        return np.asarray((a + b + x - 1.0) * tail * p_alive + 0.0, dtype=np.float64)

    def _expected_purchases_grid(
        self, times: FloatArray, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> Iterator[FloatArray]:
        """``E[Y(t) | x, t_x, T]`` for each ``t`` in ``times`` (one array at a time), as many calls of eq. 10 would give, but cheaper.

        P(alive) does not depend on ``t`` and is computed once; the hypergeometric tail depends on
        ``(x, T)`` only, so it is evaluated once per distinct pair and horizon (customers share
        pairs). The arithmetic per customer is the same as in
        :meth:`conditional_expected_number_of_purchases_up_to_time`, so the values are identical.
        Used by :func:`customerbase.clv.customer_lifetime_value`.
        """
        params, x, t_x, big_t = self._predict_inputs(frequency, recency, T)
        x, t_x, big_t = (np.asarray(v, dtype=np.float64) for v in np.broadcast_arrays(x, t_x, big_t))
        r, alpha, a, b = (float(v) for v in params)
        p_alive = special.expit(-self._log_odds_dead(params, x, t_x, big_t))
        factor = a + b + x - 1.0
        order = np.lexsort((big_t, x))
        xs, ts = x[order], big_t[order]
        new = np.empty(xs.shape[0], dtype=bool)
        new[:1] = True
        new[1:] = (xs[1:] != xs[:-1]) | (ts[1:] != ts[:-1])
        inverse = np.empty(xs.shape[0], dtype=np.int64)
        inverse[order] = np.cumsum(new) - 1
        px, pt = xs[new], ts[new]
        for t in np.asarray(times, dtype=np.float64).ravel():
            if t < 0:
                raise ValueError("t must be non-negative")
            z = t / (alpha + pt + t)
            tail = beta_geo_tail(a, b - 1.0 - r, b + px - 1.0, z)
            yield np.asarray(factor * tail[inverse] * p_alive + 0.0, dtype=np.float64)

    def expected_number_of_purchases_up_to_time(self, t: ArrayLike) -> FloatArray:
        """E[X(t)], eq. 9 of Fader, Hardie & Lee (2005), for a customer who first bought at time 0."""
        params = self._check_fitted()
        tt = self._as_time(t)
        r, alpha, a, b = (float(v) for v in params)
        z = tt / (alpha + tt)
        return np.asarray(
            (a + b - 1.0) * beta_geo_tail(a, b - 1.0 - r, np.full_like(tt, b - 1.0), z), dtype=np.float64
        )
