"""Shared maximum-likelihood machinery of the "buy till you die" models.

Every model is fitted as in Fader, Hardie & Lee (2005), "Counting your customers the easy way",
*Marketing Science* 24(2): maximum likelihood on the sufficient statistics ``(x, t_x, T)``, each
distinct row evaluated once with a weight, parameters optimised on the log scale.
"""

from __future__ import annotations

import math
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar, Self

import numpy as np
from scipy import optimize  # type: ignore[import-untyped,unused-ignore]

from customerbase._types import ArrayLike, FloatArray
from customerbase.errors import ConvergenceError, NotEnoughDataError
from customerbase.rfm import CompressedRFM, compress_rfm

__all__ = ["TransactionModel", "as_float", "log1mexp", "minimize_nll", "numerical_hessian", "wsum"]

_LOG_BOUND = 30.0


def as_float(values: ArrayLike, name: str) -> FloatArray:
    """Return ``values`` as a 1-d float array (input helper for the Fader-Hardie models)."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim > 1:
        arr = arr.ravel()
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite")
    return np.atleast_1d(arr)


def wsum(a: FloatArray, b: FloatArray) -> float:
    """``sum(a * b)`` without BLAS.

    ``np.dot`` hands long vectors to a multithreaded OpenBLAS, whose threads then spin between the
    many small calls of a likelihood fit; on a shared 2-core machine that doubles the CPU time of a
    fit for nothing. ``einsum``'s own loop is as fast single-threaded.
    """
    return float(np.einsum("i,i->", a, b))


def log1mexp(u: FloatArray) -> FloatArray:
    """``log(1 - exp(u))`` for ``u <= 0``, accurate everywhere (Maechler 2012), used in log-space sums."""
    u = np.minimum(u, 0.0)
    out = np.empty_like(u)
    small = u > -math.log(2.0)
    with np.errstate(divide="ignore"):
        out[small] = np.log(-np.expm1(u[small]))
    out[~small] = np.log1p(-np.exp(u[~small]))
    return out


def numerical_hessian(
    fun: Callable[[FloatArray], float], theta: FloatArray, step: float = 1e-4
) -> FloatArray:
    """Central finite-difference Hessian (for the standard errors of the fitted log-parameters)."""
    k = theta.shape[0]
    hess = np.zeros((k, k))
    f0 = fun(theta)
    for i in range(k):
        ei = np.zeros(k)
        ei[i] = step
        hess[i, i] = (fun(theta + ei) - 2.0 * f0 + fun(theta - ei)) / step**2
        for j in range(i + 1, k):
            ej = np.zeros(k)
            ej[j] = step
            val = (
                fun(theta + ei + ej) - fun(theta + ei - ej) - fun(theta - ei + ej) + fun(theta - ei - ej)
            ) / (4.0 * step**2)
            hess[i, j] = hess[j, i] = val
    return hess


def _bfgs_box(
    fun: Callable[[FloatArray], tuple[float, FloatArray]],
    theta0: FloatArray,
    lo: FloatArray,
    hi: FloatArray,
    *,
    max_iter: int,
    gtol: float,
    value_only: Callable[[FloatArray], float] | None = None,
) -> tuple[FloatArray, float, FloatArray, bool, int]:
    """BFGS with a backtracking (Armijo) line search, kept inside a box by projection.

    For the handful of log-parameters of these models with exact gradients it converges in a few
    dozen evaluations. It is written with element-wise numpy only: scipy's L-BFGS-B calls BLAS on
    tiny arrays, and a multithreaded OpenBLAS then spins its threads, which on a small shared
    machine costs more than the whole fit of CDNOW. Returns ``(theta, value, gradient, converged,
    iterations)``; the caller falls back to L-BFGS-B when it did not converge. ``value_only``, if
    given, evaluates the value alone: the line search uses it after a rejected step, when the
    gradient is expensive (Pareto/NBD pairs with ``z`` near 1 take it by finite differences).
    """
    k = theta0.shape[0]
    x = np.clip(theta0, lo, hi)
    f, g = fun(x)
    h_inv = np.eye(k)
    first = True
    stalled = 0
    for it in range(max_iter):
        free = ~(((x <= lo) & (g > 0)) | ((x >= hi) & (g < 0)))
        if float(np.max(np.abs(g[free]), initial=0.0)) < gtol:
            return x, f, g, True, it
        d = -(h_inv * g).sum(axis=1)
        d[~free] = 0.0
        slope = float((d * g).sum())
        if not slope < 0.0:
            h_inv = np.eye(k)
            d = np.where(free, -g, 0.0)
            slope = float((d * g).sum())
        # Before the curvature is known (identity matrix), move the log-parameters by at most 1 (a
        # factor e): a raw gradient step would try absurd parameters first.
        step = min(1.0, 1.0 / float(np.max(np.abs(d)))) if first else 1.0
        accepted = False
        gn = None
        for trial_no in range(40):
            xn = np.clip(x + step * d, lo, hi)
            if trial_no == 0 or value_only is None:
                fn, gn = fun(xn)
            else:
                fn, gn = value_only(xn), None
            if fn <= f + 1e-4 * float((g * (xn - x)).sum()):
                accepted = True
                break
            # Quadratic interpolation of the step, kept within [0.1, 0.5] of the previous one.
            denom = 2.0 * (fn - f - slope * step)
            trial = -slope * step * step / denom if denom > 0 else 0.5 * step
            step = min(max(trial, 0.1 * step), 0.5 * step)
        if not accepted:
            # No decrease possible in floating point: converged if the gradient is negligible.
            return x, f, g, bool(float(np.max(np.abs(g[free]), initial=0.0)) < 1e-6), it
        if gn is None:
            fn, gn = fun(xn)
        s = xn - x
        y = gn - g
        sy = float((s * y).sum())
        if sy > 1e-12 * math.sqrt(float((s * s).sum()) * float((y * y).sum())):
            if first:
                # Scale the initial inverse Hessian (Nocedal & Wright, eq. 6.20).
                h_inv = np.eye(k) * (sy / float((y * y).sum()))
                first = False
            rho = 1.0 / sy
            hy = (h_inv * y).sum(axis=1)
            yhy = float((y * hy).sum())
            h_inv = (
                h_inv - rho * (np.outer(hy, s) + np.outer(s, hy)) + (rho * rho * yhy + rho) * np.outer(s, s)
            )
        # At the optimum the gradient cannot go below its rounding noise (sums over many rows):
        # stop after two steps in a row that lower the value by less than 1e-14 relative (the
        # ftol test the L-BFGS-B fits used, made twice as strict by asking for two).
        stalled = stalled + 1 if f - fn <= 1e-14 * max(abs(f), 1.0) else 0
        x, f, g = xn, fn, gn
        if not np.isfinite(f) or f >= 1e100:
            break
        if stalled >= 2:
            free = ~(((x <= lo) & (g > 0)) | ((x >= hi) & (g < 0)))
            return x, f, g, bool(float(np.max(np.abs(g[free]), initial=0.0)) < 1e-6), it + 1
    free = ~(((x <= lo) & (g > 0)) | ((x >= hi) & (g < 0)))
    return x, f, g, bool(float(np.max(np.abs(g[free]), initial=0.0)) < gtol), max_iter


def minimize_nll(
    nll: Callable[[FloatArray], Any],
    theta0: FloatArray,
    *,
    bounds: list[tuple[float, float]] | None = None,
    max_iter: int = 2000,
    jac: bool = False,
    info: dict[str, Any] | None = None,
    value_only: Callable[[FloatArray], float] | None = None,
) -> tuple[FloatArray, float, bool]:
    """Minimise a negative log-likelihood over log-parameters.

    L-BFGS-B (and a Nelder-Mead polish when it does not converge), as a robust version of the
    estimation procedure of Fader, Hardie & Lee (2005). With ``jac=True``, ``nll`` returns
    ``(value, gradient)`` (analytic gradients: a few dozen evaluations); otherwise the gradient is
    taken by central differences (about ten times as many evaluations). Returns
    ``(theta, value, converged)``; ``info``, if given, receives the number of evaluations
    (``nfev``) and iterations (``nit``). With ``jac=True``, ``value_only`` (optional) computes the
    value alone, for line-search steps whose gradient would be thrown away.
    """
    if bounds is None:
        bounds = [(-_LOG_BOUND, _LOG_BOUND)] * theta0.shape[0]
    k = theta0.shape[0]
    counter = [0]

    def safe(theta: FloatArray) -> float:
        counter[0] += 1
        with np.errstate(all="ignore"):
            out = nll(np.asarray(theta, dtype=np.float64))
        val = float(out[0]) if jac else float(out)
        return val if math.isfinite(val) else 1e100

    def safe_grad(theta: FloatArray) -> tuple[float, FloatArray]:
        counter[0] += 1
        with np.errstate(all="ignore"):
            val, grad = nll(np.asarray(theta, dtype=np.float64))
        val = float(val)
        grad = np.asarray(grad, dtype=np.float64)
        if not math.isfinite(val) or not np.isfinite(grad).all():
            # Outside the region where the likelihood is representable: push the search back.
            return 1e100, np.zeros(k)
        return val, grad

    if jac:
        lo = np.array([b[0] for b in bounds], dtype=np.float64)
        hi = np.array([b[1] for b in bounds], dtype=np.float64)
        cheap: Callable[[FloatArray], float] | None = None
        if value_only is not None:
            only = value_only

            def cheap(theta: FloatArray) -> float:
                counter[0] += 1
                with np.errstate(all="ignore"):
                    val = float(only(np.asarray(theta, dtype=np.float64)))
                return val if math.isfinite(val) else 1e100

        theta_b, _, _, ok, nit = _bfgs_box(
            safe_grad, theta0, lo, hi, max_iter=max_iter, gtol=1e-9, value_only=cheap
        )
        if ok:
            value = safe(theta_b)
            if info is not None:
                info["nfev"] = counter[0]
                info["nit"] = nit
            return theta_b, value, True
        res = optimize.minimize(
            safe_grad,
            theta_b,
            method="L-BFGS-B",
            jac=True,
            bounds=bounds,
            options={"maxiter": max_iter, "ftol": 1e-15, "gtol": 1e-10, "maxcor": 20},
        )
        success = bool(res.success)
        if not success and res.status == 2 and math.isfinite(float(res.fun)):
            # "ABNORMAL_TERMINATION_IN_LNSRCH": with exact gradients this happens at the optimum,
            # when no step can lower the value any more in floating point. Accept it when the
            # projected gradient is negligible.
            g = np.asarray(res.jac, dtype=np.float64)
            lo = np.array([b[0] for b in bounds])
            hi = np.array([b[1] for b in bounds])
            x = np.asarray(res.x, dtype=np.float64)
            free = ~(((x <= lo) & (g > 0)) | ((x >= hi) & (g < 0)))
            success = bool(np.max(np.abs(g[free]), initial=0.0) < 1e-6)
    else:
        res = optimize.minimize(
            safe,
            theta0,
            method="L-BFGS-B",
            jac="3-point",
            bounds=bounds,
            options={"maxiter": max_iter, "ftol": 1e-14, "gtol": 1e-9},
        )
        success = bool(res.success)
    theta = np.asarray(res.x, dtype=np.float64)
    polished = False
    if not success:
        # The Nelder-Mead polish doubles the cost of a fit, so it only runs when L-BFGS-B stopped
        # without reporting convergence (a flat or badly scaled likelihood).
        polish = optimize.minimize(
            safe,
            theta,
            method="Nelder-Mead",
            bounds=bounds,
            options={"maxiter": 400 * theta.shape[0], "xatol": 1e-8, "fatol": 1e-13},
        )
        if float(polish.fun) < float(res.fun):
            theta = np.asarray(polish.x, dtype=np.float64)
        polished = bool(polish.success)
    value = safe(theta)
    converged = success or polished
    if info is not None:
        info["nfev"] = counter[0]
        info["nit"] = int(res.nit)
    return theta, value, converged


class TransactionModel(ABC):
    """Base class of the transaction-count models (BG/NBD, MBG/NBD, Pareto/NBD).

    scikit-learn style: ``__init__`` stores settings, :meth:`fit` estimates ``params_`` by maximum
    likelihood on the compressed sufficient statistics ``(x, t_x, T)`` (Fader, Hardie & Lee 2005) and
    returns ``self``. ``penalizer`` adds ``penalizer * sum(params**2)`` to the mean negative
    log-likelihood (an L2 shrinkage useful on small data, 0 by default).
    """

    param_names: ClassVar[tuple[str, ...]]

    params_: dict[str, float]
    log_likelihood_: float
    n_customers_: int
    n_rows_: int
    converged_: bool
    n_evaluations_: int

    def __init__(self, *, penalizer: float = 0.0, max_iter: int = 2000) -> None:
        """Store the settings: ``penalizer`` (L2 coefficient, >= 0) and ``max_iter`` of the optimiser."""
        self.penalizer = penalizer
        self.max_iter = max_iter

    # -- to be provided by the models -------------------------------------------------------------
    @staticmethod
    @abstractmethod
    def _loglik(params: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
        """Per-row log-likelihood for natural parameters ``params`` (in ``param_names`` order)."""

    @abstractmethod
    def _initial_params(self, data: CompressedRFM) -> FloatArray:
        """Starting values (natural scale)."""

    def _total_loglik_and_grad(self, data: CompressedRFM) -> Callable[..., tuple[float, Any]] | None:
        """Optional: ``(params, need_grad=True) -> (sum of weighted log-likelihoods, its gradient)``.

        Models that can give an analytic gradient return a function that precomputes, once per fit,
        what does not depend on the parameters; ``None`` (the default) means central differences.
        With ``need_grad=False`` the function may skip the gradient (and return None for it).
        """
        return None

    # -- fitting ----------------------------------------------------------------------------------
    @staticmethod
    def _validate(
        frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        x = as_float(frequency, "frequency")
        t_x = as_float(recency, "recency")
        t = as_float(T, "T")
        x, t_x, t = np.broadcast_arrays(x, t_x, t)
        if (x < 0).any() or (np.floor(x) != x).any():
            raise ValueError("frequency must hold non-negative integers")
        if (t_x < 0).any():
            raise ValueError("recency must be non-negative")
        if (t_x > t * (1 + 1e-12) + 1e-12).any():
            raise ValueError("recency must not exceed T")
        if ((x == 0) & (t_x != 0)).any():
            raise ValueError("recency must be 0 for customers with frequency 0")
        return (
            np.asarray(x, dtype=np.float64),
            np.asarray(t_x, dtype=np.float64),
            np.asarray(t, dtype=np.float64),
        )

    def _nll(self, theta: FloatArray, data: CompressedRFM) -> float:
        params = np.exp(theta)
        ll = self._loglik(params, data.x, data.t_x, data.T)
        total = float(np.dot(data.weights, ll))
        return -total / float(data.weights.sum()) + self.penalizer * float(np.sum(params**2))

    def fit(
        self,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        weights: ArrayLike | None = None,
    ) -> Self:
        """Estimate the parameters by maximum likelihood (Fader, Hardie & Lee 2005).

        ``frequency`` (x), ``recency`` (t_x) and ``T`` are per-customer (or per-row with ``weights``
        giving how many customers share the row). Raises :class:`NotEnoughDataError` when fewer than
        three distinct rows are given or nobody made a repeat purchase.
        """
        x, t_x, t = self._validate(frequency, recency, T)
        data = compress_rfm(x, t_x, t, weights)
        if (data.weights < 0).any():
            raise ValueError("weights must be non-negative")
        keep = data.weights > 0
        data = CompressedRFM(
            data.x[keep], data.t_x[keep], data.T[keep], data.weights[keep], np.empty(0, dtype=np.int64)
        )
        if len(data) < 3:
            raise NotEnoughDataError(
                f"{type(self).__name__} needs at least 3 distinct (x, t_x, T) rows, got {len(data)}"
            )
        if not (data.x > 0).any():
            raise NotEnoughDataError(f"{type(self).__name__} needs at least one repeat buyer")
        if not (data.T > 0).any():
            raise NotEnoughDataError(f"{type(self).__name__} needs customers observed for some time")
        theta0 = np.log(self._initial_params(data))
        info: dict[str, Any] = {}
        total_and_grad = self._total_loglik_and_grad(data)
        if total_and_grad is None:
            theta, value, converged = minimize_nll(
                lambda th: self._nll(th, data), theta0, max_iter=self.max_iter, info=info
            )
        else:
            scale = 1.0 / float(data.weights.sum())
            penalizer = float(self.penalizer)
            grad_fn = total_and_grad

            def objective(th: FloatArray) -> tuple[float, FloatArray]:
                params = np.exp(th)
                total, grad = grad_fn(params)
                value = -total * scale + penalizer * float(np.sum(params**2))
                # Chain rule to the log-parameters: d/dlog(p) = p d/dp.
                g = (-scale * grad + 2.0 * penalizer * params) * params
                return value, g

            def objective_value(th: FloatArray) -> float:
                params = np.exp(th)
                total = float(grad_fn(params, need_grad=False)[0])
                return -total * scale + penalizer * float(np.sum(params**2))

            theta, value, converged = minimize_nll(
                objective, theta0, max_iter=self.max_iter, jac=True, info=info, value_only=objective_value
            )
        params = np.exp(theta)
        ll = float(np.dot(data.weights, self._loglik(params, data.x, data.t_x, data.T)))
        if not math.isfinite(ll):
            raise ConvergenceError(
                f"{type(self).__name__}: the likelihood optimiser ended on a non-finite value"
            )
        if not converged:
            warnings.warn(
                f"{type(self).__name__}: the optimiser did not report convergence",
                RuntimeWarning,
                stacklevel=2,
            )
        self.params_ = dict(zip(self.param_names, (float(p) for p in params), strict=True))
        self.log_likelihood_ = ll
        self.n_customers_ = int(round(float(data.weights.sum())))
        self.n_rows_ = len(data)
        self.converged_ = converged
        self.n_evaluations_ = int(info.get("nfev", 0))
        self._data = data
        self._theta = theta
        return self

    def _check_fitted(self) -> FloatArray:
        if not hasattr(self, "params_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted yet: call fit() first")
        return np.array([self.params_[k] for k in self.param_names])

    def standard_errors(self) -> dict[str, float]:
        """Asymptotic standard errors of the parameters (inverse observed information, delta method).

        The Hessian of the total negative log-likelihood is taken numerically on the log-parameters
        at the optimum (the penalty, if any, is ignored).
        """
        self._check_fitted()
        data = self._data
        total_w = float(data.weights.sum())

        def total_nll(theta: FloatArray) -> float:
            return -float(np.dot(data.weights, self._loglik(np.exp(theta), data.x, data.t_x, data.T)))

        hess = numerical_hessian(total_nll, self._theta)
        try:
            cov = np.linalg.inv(hess)
        except np.linalg.LinAlgError:
            cov = np.full_like(hess, np.nan)
        se_log = (
            np.sqrt(np.clip(np.diag(cov), 0.0, None)) if total_w > 0 else np.full(len(self._theta), np.nan)
        )
        params = np.exp(self._theta)
        return dict(zip(self.param_names, (float(v) for v in params * se_log), strict=True))

    def __repr__(self) -> str:
        """Show the fitted parameters, if any."""
        if not hasattr(self, "params_"):
            return f"{type(self).__name__}(penalizer={self.penalizer})"
        inside = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        return f"<{type(self).__name__} fitted on {self.n_customers_} customers: {inside}>"

    # -- predictions ------------------------------------------------------------------------------
    def _predict_inputs(
        self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        params = self._check_fitted()
        x, t_x, t = self._validate(frequency, recency, T)
        return params, x, t_x, t

    @abstractmethod
    def conditional_probability_alive(
        self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """P(customer still alive at T | x, t_x, T)."""

    @abstractmethod
    def conditional_expected_number_of_purchases_up_to_time(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """E[number of purchases in (T, T + t] | x, t_x, T]."""

    @abstractmethod
    def expected_number_of_purchases_up_to_time(self, t: ArrayLike) -> FloatArray:
        """E[number of repeat purchases in (0, t]] for a customer who made a first purchase at 0."""

    def log_likelihood(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
        """Per-customer log-likelihood under the fitted parameters."""
        params, x, t_x, t = self._predict_inputs(frequency, recency, T)
        return self._loglik(params, x, t_x, t)

    def _as_time(self, t: ArrayLike) -> FloatArray:
        arr = as_float(t, "t")
        if (arr < 0).any():
            raise ValueError("t must be non-negative")
        return arr
