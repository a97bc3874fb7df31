"""Shared maximum-likelihood machinery of the "buy till you die" models.

Every model is fitted as in Fader, Hardie & Lee (2005), "Counting your customers the easy way",
*Marketing Science* 24(2): maximum likelihood on the sufficient statistics ``(x, t_x, T)``, each
distinct row evaluated once with a weight, parameters optimised on the log scale.
"""

from __future__ import annotations

import functools
import inspect
import math
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np
from scipy import optimize, special  # type: ignore[import-untyped,unused-ignore]
from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped,unused-ignore]

from customerbase._types import ArrayLike, FloatArray
from customerbase.errors import ConvergenceError, NotEnoughDataError, NotFittedError
from customerbase.rfm import CompressedRFM, compress_rfm

__all__ = [
    "Objective",
    "TransactionModel",
    "as_float",
    "log1mexp",
    "minimize_nll",
    "numerical_hessian",
    "wsum",
]

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


@functools.cache
def _blas_threads() -> ThreadpoolController:
    """The BLAS libraries loaded (numpy's and scipy's OpenBLAS), found once, after scipy is imported."""
    return ThreadpoolController()


def minimize_nll(
    nll: Callable[[FloatArray], Any],
    theta0: FloatArray,
    *,
    bounds: list[tuple[float, float]] | None = None,
    max_iter: int = 2000,
    jac: bool = False,
    info: dict[str, Any] | None = None,
) -> tuple[FloatArray, float, bool]:
    """Minimise a negative log-likelihood over log-parameters with scipy's L-BFGS-B, BLAS on one thread.

    L-BFGS-B (and a Nelder-Mead polish when it does not converge), as a robust version of the
    estimation procedure of Fader, Hardie & Lee (2005). With ``jac=True``, ``nll`` returns
    ``(value, gradient)`` (analytic gradients: a few dozen evaluations); otherwise the gradient is
    taken by central differences (about ten times as many evaluations). Returns
    ``(theta, value, converged)``; ``info``, if given, receives the number of evaluations
    (``nfev``) and iterations (``nit``).

    Own optimiser or a library: this replaced a hand-written BFGS (``bench/optimiser.py`` keeps it as
    the reference). With BLAS limited to one thread, L-BFGS-B is as fast or faster on every model
    (BG/NBD, MBG/NBD, Pareto/NBD, Gamma-Gamma; CDNOW and 1,000,000 customers) and reaches the same
    optimum (``docs/benchmarks.md``, "Optimiser: hand-written BFGS vs scipy L-BFGS-B"). The limit is
    what makes it so: L-BFGS-B calls BLAS on tiny arrays, and an unlimited OpenBLAS then spins its
    threads between the many small calls, 3 to 100 times slower on a shared 2-core machine.
    """
    with _blas_threads().limit(limits=1, user_api="blas"):
        return _minimize_nll(nll, theta0, bounds=bounds, max_iter=max_iter, jac=jac, info=info)


def _minimize_nll(
    nll: Callable[[FloatArray], Any],
    theta0: FloatArray,
    *,
    bounds: list[tuple[float, float]] | None,
    max_iter: int,
    jac: bool,
    info: dict[str, Any] | None,
) -> tuple[FloatArray, float, bool]:
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
        res = optimize.minimize(
            safe_grad,
            theta0,
            method="L-BFGS-B",
            jac=True,
            bounds=bounds,
            # ftol 1e-13 (not the default 2.2e-9): the optima then agree with a 1e-9-gradient BFGS to
            # about 1e-7 relative; a smaller ftol only adds failing line searches at the optimum.
            options={"maxiter": max_iter, "ftol": 1e-13, "gtol": 1e-9},
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


class Estimator:
    """The scikit-learn estimator contract every model of :mod:`customerbase` follows.

    ``__init__`` only stores its keyword settings, under their own names (no data, no checks, no
    fitting); ``fit`` sets the fitted attributes, whose names end in ``_``, and returns the model;
    methods that need them call :meth:`_check_is_fitted`, which raises :class:`NotFittedError` before
    ``fit``. ``get_params`` / ``set_params`` read and change the settings
    (``type(m)(**m.get_params())`` is an unfitted copy). ``tests/customerbase/test_contract.py``
    checks every estimator against this.
    """

    @classmethod
    def _setting_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [p.name for p in signature.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY]

    def get_params(self) -> dict[str, Any]:
        """The settings given to ``__init__`` (name -> value)."""
        return {name: getattr(self, name) for name in self._setting_names()}

    def set_params(self, **params: Any) -> Self:
        """Change settings (the names of ``__init__``); returns the model. Refit to use them."""
        known = set(self._setting_names())
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(f"{type(self).__name__} has no setting {', '.join(unknown)}")
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def _check_is_fitted(self) -> None:
        """Raise :class:`NotFittedError` unless :meth:`fit` has set the fitted attributes (``*_``)."""
        if not any(k.endswith("_") and not k.startswith("_") for k in vars(self)):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet: call fit() first")


@dataclass(frozen=True)
class Objective:
    """A model's fitting problem: what :func:`minimize_nll` minimises, from where, within which box.

    ``fun`` maps log-parameters to the mean penalised negative log-likelihood (with ``jac=True``, to
    ``(value, gradient)``); ``value_only`` optionally gives the value alone (L-BFGS-B does not use
    it; the hand-written BFGS kept as the reference in ``bench/optimiser.py`` does, for its line
    search). Built by each model's ``_objective`` so that :meth:`fit` and the optimiser benchmark
    solve exactly the same problem.
    """

    fun: Callable[[FloatArray], Any]
    theta0: FloatArray
    bounds: list[tuple[float, float]]
    jac: bool
    value_only: Callable[[FloatArray], float] | None = None

    def minimize(
        self, *, max_iter: int = 2000, info: dict[str, Any] | None = None
    ) -> tuple[FloatArray, float, bool]:
        """:func:`minimize_nll` on this problem."""
        return minimize_nll(
            self.fun, self.theta0, bounds=self.bounds, max_iter=max_iter, jac=self.jac, info=info
        )


class TransactionModel(Estimator, ABC):
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

    def _prepare(
        self,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        weights: ArrayLike | None = None,
    ) -> CompressedRFM:
        """Check the inputs and group them into the distinct ``(x, t_x, T)`` rows :meth:`fit` uses."""
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
        return data

    def _objective(self, data: CompressedRFM) -> Objective:
        """The mean penalised negative log-likelihood over the log-parameters, as the optimiser sees it."""
        theta0 = np.log(self._initial_params(data))
        bounds = [(-_LOG_BOUND, _LOG_BOUND)] * theta0.shape[0]
        total_and_grad = self._total_loglik_and_grad(data)
        if total_and_grad is None:
            return Objective(lambda th: self._nll(th, data), theta0, bounds, jac=False)
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

        return Objective(objective, theta0, bounds, jac=True, value_only=objective_value)

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
        data = self._prepare(frequency, recency, T, weights)
        info: dict[str, Any] = {}
        theta, _, converged = self._objective(data).minimize(max_iter=self.max_iter, info=info)
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
        self._check_is_fitted()
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

    def conditional_probability_of_purchase(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """P(at least one purchase in (T, T + t] | x, t_x, T): the "probability of buying again" shown.

        ``P(alive) * (1 - P(no purchase in t | alive))``. Given alive at ``T``, the purchase rate's
        posterior is Gamma(r + x, alpha + T) in all three models (Fader, Hardie & Lee 2005, eq. A4;
        Schmittlein et al. 1987), so the second factor is a closed form (BG/NBD, MBG/NBD: dropping
        out only happens at a purchase) or a one-dimensional integral (Pareto/NBD). Unlike BG/NBD's
        P(alive), it is not 1 for every one-time buyer: it falls with the time since the first purchase.
        """
        params, x, t_x, big_t = self._predict_inputs(frequency, recency, T)
        tt = self._as_time(t)
        x, t_x, big_t, tt = np.broadcast_arrays(x, t_x, big_t, tt)
        p_alive = special.expit(-self._log_odds_dead(params, x, t_x, big_t))
        quiet = self._p_no_purchase_if_alive(params, tt, x, big_t)
        return np.asarray(np.clip(p_alive * (1.0 - quiet), 0.0, 1.0), dtype=np.float64)

    @staticmethod
    @abstractmethod
    def _log_odds_dead(params: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
        """log(P(dead) / P(alive)) given ``(x, t_x, T)``; each model gives its own."""

    @staticmethod
    def _p_no_purchase_if_alive(
        params: FloatArray, t: FloatArray, x: FloatArray, T: FloatArray
    ) -> FloatArray:
        """P(no purchase in (T, T + t] | alive at T, x, T) for the BG/NBD family: a customer can only
        drop out right after a purchase, so no purchase means a Poisson count of zero, averaged over
        the rate's posterior Gamma(r + x, alpha + T): ``((alpha + T) / (alpha + T + t))^(r + x)``."""
        r, alpha = float(params[0]), float(params[1])
        return np.asarray(np.exp(-(r + x) * np.log1p(t / (alpha + T))), dtype=np.float64)

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
