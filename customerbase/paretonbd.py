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

import numpy as np
from scipy import special  # type: ignore[import-untyped,unused-ignore]

from customerbase._base import TransactionModel, log1mexp
from customerbase._special import log_hyp2f1_c_a1, pow_tail
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
    r, alpha, s, beta = (float(v) for v in params)
    rsx = r + s + x
    if alpha >= beta:
        m, d = alpha, alpha - beta
        b_prime: FloatArray | float = s + 1.0
    else:
        m, d = beta, beta - alpha
        b_prime = r + x
    u1 = log_hyp2f1_c_a1(rsx, b_prime, d / (m + t_x)) - rsx * np.log(m + t_x)
    u2 = log_hyp2f1_c_a1(rsx, b_prime, d / (m + T)) - rsx * np.log(m + T)
    with np.errstate(invalid="ignore"):
        diff = np.minimum(u2 - u1, 0.0)
    return np.asarray(u1 + log1mexp(diff), dtype=np.float64)


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
        return np.array([1.0, 1.0 / max(rate, 1e-6), 1.0, max(mean_t, 1e-3)])

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
