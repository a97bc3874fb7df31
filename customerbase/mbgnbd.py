"""The MBG/NBD model of Batislam, Denizel & Filiztekin (2007).

Reference: Batislam, E. P., Denizel, M. & Filiztekin, A. (2007), "Empirical validation and
comparison of models for customer base analysis", *International Journal of Research in Marketing*
24(3), 201-209. It modifies the BG/NBD of Fader, Hardie & Lee (2005, *Marketing Science* 24(2)) so
that a customer may also drop out right after the first purchase, which removes the BG/NBD quirk
``P(alive | x = 0) = 1``.
"""

from __future__ import annotations

import numpy as np
from scipy import special  # type: ignore[import-untyped,unused-ignore]

from customerbase._base import TransactionModel
from customerbase._special import beta_geo_tail
from customerbase._types import ArrayLike, FloatArray
from customerbase.rfm import CompressedRFM

__all__ = ["MBGNBD"]


class MBGNBD(TransactionModel):
    """MBG/NBD transaction model (Batislam, Denizel & Filiztekin 2007).

    ``fit(frequency, recency, T)`` estimates ``params_ = {"r", "alpha", "a", "b"}`` and
    ``log_likelihood_``; prediction functions as for :class:`customerbase.bgnbd.BGNBD`.
    """

    param_names = ("r", "alpha", "a", "b")

    @staticmethod
    def _loglik(params: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
        """Log-likelihood of Batislam et al. (2007), eq. 4, in log space."""
        r, alpha, a, b = (float(v) for v in params)
        a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
        a2 = special.betaln(a, b + x + 1.0) - special.betaln(a, b)
        a3 = -(r + x) * np.log(alpha + T)
        a4 = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
        return np.asarray(a1 + a2 + a3 + np.logaddexp(0.0, a4), dtype=np.float64)

    def _initial_params(self, data: CompressedRFM) -> FloatArray:
        rate = float(np.dot(data.weights, data.x) / max(np.dot(data.weights, data.T), 1e-12))
        return np.array([1.0, 1.0 / max(rate, 1e-6), 1.0, 3.0])

    @staticmethod
    def _log_odds_dead(params: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
        r, alpha, a, b = (float(v) for v in params)
        return np.asarray(
            np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x)), dtype=np.float64
        )

    def conditional_probability_alive(
        self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """P(alive | x, t_x, T) = 1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x)) (Batislam et al. 2007)."""
        params, x, t_x, t = self._predict_inputs(frequency, recency, T)
        return np.asarray(special.expit(-self._log_odds_dead(params, x, t_x, t)), dtype=np.float64)

    def conditional_expected_number_of_purchases_up_to_time(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """E[Y(t) | x, t_x, T] of Batislam et al. (2007), hypergeometric term via Euler's transformation."""
        params, x, t_x, big_t = self._predict_inputs(frequency, recency, T)
        tt = self._as_time(t)
        x, t_x, big_t, tt = np.broadcast_arrays(x, t_x, big_t, tt)
        r, alpha, a, b = (float(v) for v in params)
        z = tt / (alpha + big_t + tt)
        tail = beta_geo_tail(a, b - r, b + x, z)
        p_alive = special.expit(-self._log_odds_dead(params, x, t_x, big_t))
        return np.asarray((a + b + x) * tail * p_alive + 0.0, dtype=np.float64)

    def expected_number_of_purchases_up_to_time(self, t: ArrayLike) -> FloatArray:
        """E[X(t)] = b/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b+1; a+b; t/(alpha+t))] (Batislam et al. 2007)."""
        params = self._check_fitted()
        tt = self._as_time(t)
        r, alpha, a, b = (float(v) for v in params)
        z = tt / (alpha + tt)
        return np.asarray(b * beta_geo_tail(a, b - r, np.full_like(tt, b), z) + 0.0, dtype=np.float64)
