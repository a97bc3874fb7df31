"""The Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005).

Reference: Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005), "RFM and CLV: using iso-value curves
for customer base analysis", *Journal of Marketing Research* 42(4), 415-430 (building on Colombo &
Jiang 1999).

A customer's transaction values are ``Gamma(p, nu)`` around their mean ``p / nu``; ``nu`` varies
across customers as ``Gamma(q, gamma)``. The model is fitted on the customers with at least one
repeat purchase (``x > 0``) from their mean repeat-purchase value ``zbar``; on the 946 CDNOW repeat
buyers the paper reports ``p = 6.25, q = 3.74, gamma = 15.44``. It assumes spend is independent of
purchase frequency: check :func:`frequency_spend_correlation` is small before relying on it.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any, Self

import numpy as np
from scipy import special  # type: ignore[import-untyped,unused-ignore]

from customerbase._base import Estimator, Objective, as_float, numerical_hessian, wsum
from customerbase._types import ArrayLike, FloatArray
from customerbase.errors import ConvergenceError, NotEnoughDataError

if TYPE_CHECKING:
    from customerbase.clv import SupportsConditionalPurchases

__all__ = ["GammaGamma", "frequency_spend_correlation"]

_LOG_Q_MIN = math.log1p(1e-6)


def frequency_spend_correlation(frequency: ArrayLike, mean_value: ArrayLike) -> float:
    """Pearson correlation between ``x`` and ``zbar`` among repeat buyers.

    Fader, Hardie & Lee (2005, *JMR* 42(4)) check this is near zero (0.11 on CDNOW) before using the
    Gamma-Gamma model, which assumes spend independent of the transaction process. NaN if undefined.
    """
    x = as_float(frequency, "frequency")
    m = as_float(mean_value, "mean_value")
    keep = x > 0
    if keep.sum() < 3 or np.ptp(x[keep]) == 0 or np.ptp(m[keep]) == 0:
        return math.nan
    return float(np.corrcoef(x[keep], m[keep])[0, 1])


class GammaGamma(Estimator):
    """Gamma-Gamma spend model (Fader, Hardie & Lee 2005, *JMR* 42(4), eqs. 1-5).

    ``fit(frequency, mean_value)`` estimates ``params_ = {"p", "q", "gamma"}`` and
    ``log_likelihood_`` by maximum likelihood (log-parameters, L-BFGS-B), using the customers with
    ``frequency > 0`` and ``mean_value > 0`` only (``n_customers_`` of them), identical rows grouped.
    ``q`` is kept above 1 so that the population mean spend ``p gamma / (q - 1)`` exists.
    """

    param_names = ("p", "q", "gamma")

    params_: dict[str, float]
    log_likelihood_: float
    n_customers_: int
    n_rows_: int
    converged_: bool
    n_evaluations_: int

    def __init__(self, *, penalizer: float = 0.0, max_iter: int = 2000) -> None:
        """Store the settings: ``penalizer`` (L2 on the parameters) and ``max_iter`` of the optimiser."""
        self.penalizer = penalizer
        self.max_iter = max_iter

    @staticmethod
    def _loglik(params: FloatArray, x: FloatArray, m: FloatArray) -> FloatArray:
        """Log of eq. 3 of Fader, Hardie & Lee (2005, *JMR*): the density of ``zbar`` given ``x``."""
        p, q, g = (float(v) for v in params)
        px = p * x
        return np.asarray(
            special.gammaln(px + q)
            - special.gammaln(px)
            - special.gammaln(q)
            + q * np.log(g)
            + (px - 1.0) * np.log(m)
            + px * np.log(x)
            - (px + q) * np.log(g + m * x),
            dtype=np.float64,
        )

    @staticmethod
    def _prepare(
        frequency: ArrayLike, mean_value: ArrayLike, weights: ArrayLike | None = None
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """The distinct usable ``(x, zbar)`` rows and their weights (see :meth:`fit`)."""
        x = as_float(frequency, "frequency")
        m = as_float(mean_value, "mean_value")
        if x.shape != m.shape:
            raise ValueError("frequency and mean_value must have the same length")
        w = np.ones_like(x) if weights is None else as_float(weights, "weights")
        if w.shape != x.shape:
            raise ValueError("weights must have the same length as frequency")
        if (x < 0).any():
            raise ValueError("frequency must be non-negative")
        keep = (x > 0) & (m > 0) & (w > 0)
        x, m, w = x[keep], m[keep], w[keep]
        if x.shape[0]:
            pairs, inverse = np.unique(np.column_stack([x, m]), axis=0, return_inverse=True)
            w = np.bincount(inverse.ravel(), weights=w, minlength=pairs.shape[0]).astype(np.float64)
            x, m = pairs[:, 0].copy(), pairs[:, 1].copy()
        if x.shape[0] < 3:
            raise NotEnoughDataError(
                f"GammaGamma needs at least 3 distinct (x, mean_value) rows of repeat buyers, got {x.shape[0]}"
            )
        return x, m, w

    def _objective(self, x: FloatArray, m: FloatArray, w: FloatArray) -> Objective:
        """Mean penalised negative log of eq. 3 over the log-parameters, with its analytic gradient."""
        total_w = float(w.sum())
        penalizer = float(self.penalizer)
        # What does not depend on the parameters, once per fit.
        log_m = np.log(m)
        log_x = np.log(x)
        mx = m * x
        wx = w * x
        # sum_i w_i x_i (log m_i + log x_i) multiplies p in the log-likelihood.
        const_p = wsum(wx, log_m + log_x)
        const = wsum(w, -log_m)

        def nll(theta: FloatArray) -> tuple[float, FloatArray]:
            # Mean negative log of eq. 3 and its analytic gradient in the log-parameters:
            # d/dp = x [psi(px+q) - psi(px) + log m + log x - log(g+mx)],
            # d/dq = psi(px+q) - psi(q) + log g - log(g+mx), d/dg = q/g - (px+q)/(g+mx).
            params = np.exp(theta)
            p, q, g = (float(v) for v in params)
            px = p * x
            pxq = px + q
            log_gm = np.log(g + mx)
            psi_pxq = special.digamma(pxq)
            ll = (
                wsum(w, special.gammaln(pxq) - special.gammaln(px) - pxq * log_gm)
                + p * const_p
                + const
                + total_w * (q * math.log(g) - float(special.gammaln(q)))
            )
            d_p = wsum(wx, psi_pxq - special.digamma(px) - log_gm) + const_p
            d_q = wsum(w, psi_pxq - log_gm) + total_w * (math.log(g) - float(special.digamma(q)))
            d_g = total_w * q / g - wsum(w, pxq / (g + mx))
            grad = np.array([d_p, d_q, d_g]) * params
            value = -ll / total_w + penalizer * float(np.sum(params**2))
            return value, -grad / total_w + 2.0 * penalizer * params**2

        mean_m = float(np.dot(w, m) / total_w)
        theta0 = np.log(np.array([1.0, 2.0, mean_m]))
        bounds = [(-30.0, 30.0), (_LOG_Q_MIN, 30.0), (-30.0, 30.0)]
        return Objective(nll, theta0, bounds, jac=True)

    def fit(self, frequency: ArrayLike, mean_value: ArrayLike, weights: ArrayLike | None = None) -> Self:
        """Estimate ``p, q, gamma`` by maximum likelihood (Fader, Hardie & Lee 2005, *JMR*).

        Rows with ``frequency == 0`` or ``mean_value <= 0`` are ignored. Raises
        :class:`NotEnoughDataError` with fewer than 3 distinct usable ``(x, zbar)`` rows.
        """
        x, m, w = self._prepare(frequency, mean_value, weights)
        total_w = float(w.sum())
        info: dict[str, Any] = {}
        theta, _, converged = self._objective(x, m, w).minimize(max_iter=self.max_iter, info=info)
        self.n_evaluations_ = int(info.get("nfev", 0))
        params = np.exp(theta)
        ll = float(np.dot(w, self._loglik(params, x, m)))
        if not math.isfinite(ll):
            raise ConvergenceError("GammaGamma: the likelihood optimiser ended on a non-finite value")
        if not converged:
            warnings.warn(
                "GammaGamma: the optimiser did not report convergence", RuntimeWarning, stacklevel=2
            )
        self.params_ = dict(zip(self.param_names, (float(v) for v in params), strict=True))
        self.log_likelihood_ = ll
        self.n_customers_ = int(round(total_w))
        self.n_rows_ = int(x.shape[0])
        self.converged_ = converged
        self._fit_data = (x, m, w)
        self._theta = theta
        return self

    def _check_fitted(self) -> tuple[float, float, float]:
        self._check_is_fitted()
        return self.params_["p"], self.params_["q"], self.params_["gamma"]

    def standard_errors(self) -> dict[str, float]:
        """Asymptotic standard errors (numerical Hessian on the log-parameters, delta method)."""
        self._check_fitted()
        x, m, w = self._fit_data

        def total_nll(theta: FloatArray) -> float:
            return -float(np.dot(w, self._loglik(np.exp(theta), x, m)))

        cov = np.linalg.pinv(numerical_hessian(total_nll, self._theta))
        se_log = np.sqrt(np.clip(np.diag(cov), 0.0, None))
        return dict(zip(self.param_names, (float(v) for v in np.exp(self._theta) * se_log), strict=True))

    def population_mean_spend(self) -> float:
        """``E[Z] = p gamma / (q - 1)``, the mean transaction value of a random customer (FHL 2005, JMR)."""
        p, q, g = self._check_fitted()
        return p * g / (q - 1.0)

    def conditional_expected_average_profit(self, frequency: ArrayLike, mean_value: ArrayLike) -> FloatArray:
        """E[M | x, zbar] = (q-1)/(px+q-1) * p gamma/(q-1) + px/(px+q-1) * zbar (FHL 2005, *JMR*, eq. 5).

        A weighted mean of the population mean and the customer's own mean; customers with ``x = 0``
        get the population mean.
        """
        p, q, g = self._check_fitted()
        x = as_float(frequency, "frequency")
        m = as_float(mean_value, "mean_value")
        x, m = np.broadcast_arrays(x, m)
        if (x < 0).any():
            raise ValueError("frequency must be non-negative")
        m = np.where(x > 0, m, 0.0)
        return np.asarray(p * (g + x * m) / (p * x + q - 1.0), dtype=np.float64)

    def customer_lifetime_value(
        self,
        transaction_model: SupportsConditionalPurchases,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        mean_value: ArrayLike,
        *,
        horizon_months: int = 12,
        discount_rate: float = 0.01,
        freq_days: float = 7.0,
    ) -> FloatArray:
        """Discounted CLV with this model's expected spend (see :func:`customerbase.clv.customer_lifetime_value`)."""
        from customerbase.clv import customer_lifetime_value

        return customer_lifetime_value(
            transaction_model,
            frequency,
            recency,
            T,
            mean_value,
            spend_model=self,
            horizon_months=horizon_months,
            discount_rate=discount_rate,
            freq_days=freq_days,
        )

    def __repr__(self) -> str:
        """Show the fitted parameters, if any."""
        if not hasattr(self, "params_"):
            return f"GammaGamma(penalizer={self.penalizer})"
        inside = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        return f"<GammaGamma fitted on {self.n_customers_} customers: {inside}>"
