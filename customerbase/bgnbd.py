"""The BG/NBD model of Fader, Hardie & Lee (2005).

Reference: Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005), "'Counting your customers' the easy
way: an alternative to the Pareto/NBD model", *Marketing Science* 24(2), 275-284.

While active, a customer buys as a Poisson process of rate ``lambda ~ Gamma(r, alpha)``; after each
repeat purchase they become inactive with probability ``p ~ Beta(a, b)``. Estimated by maximum
likelihood on ``(x, t_x, T)`` (eq. 6 of the paper), in log space; on the CDNOW calibration sample
the paper reports ``r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4``.
"""

from __future__ import annotations

import numpy as np
from scipy import special  # type: ignore[import-untyped,unused-ignore]

from customerbase._base import TransactionModel
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

    def expected_number_of_purchases_up_to_time(self, t: ArrayLike) -> FloatArray:
        """E[X(t)], eq. 9 of Fader, Hardie & Lee (2005), for a customer who first bought at time 0."""
        params = self._check_fitted()
        tt = self._as_time(t)
        r, alpha, a, b = (float(v) for v in params)
        z = tt / (alpha + tt)
        return np.asarray(
            (a + b - 1.0) * beta_geo_tail(a, b - 1.0 - r, np.full_like(tt, b - 1.0), z), dtype=np.float64
        )
