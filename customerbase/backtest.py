"""How good the predictions are: calibrate up to a cut-off, predict the following period, compare.

The calibration/holdout validation of Fader, Hardie & Lee (2005), "Counting your customers the easy
way", *Marketing Science* 24(2), fig. 4 and table 1, extended with what a user of the predictions
needs to know:

* per model (BG/NBD, MBG/NBD, Pareto/NBD): parameters, log-likelihood, predicted against actual total
  repeat purchases, the mean by number of calibration purchases, and the AUC for "buys again" of its
  P(alive), its expected purchases and its probability of at least one purchase;
* the calibration of the probability of buying within the shown horizon (90 days): predicted
  against observed by decile of the prediction and the expected calibration error (ECE, Naeini,
  Cooper & Hauskrecht 2015), with the Brier score (Brier 1950);
* plain recency (days since the last purchase) as the baseline every score must beat (Wübben & von
  Wangenheim 2008 found it hard to beat);
* the return rate, in the holdout, of each lifecycle status given at the cut-off.

The model whose probability scores best (lowest Brier score: ranking and calibration in one proper
score) becomes the "shown" one. :func:`holdout_data` turns a transaction log into the inputs;
:class:`Backtest` follows the estimator rules (``fit`` returns ``self``, results end in ``_``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Self

import numpy as np
from scipy.stats import rankdata  # type: ignore[import-untyped,unused-ignore]

from customerbase._base import Estimator, TransactionModel
from customerbase._types import ArrayLike, FloatArray, IntArray
from customerbase.bgnbd import BGNBD
from customerbase.errors import CustomerBaseError
from customerbase.gammagamma import frequency_spend_correlation
from customerbase.lifecycle import LifecycleThresholds, classify_lifecycle
from customerbase.mbgnbd import MBGNBD
from customerbase.paretonbd import ParetoNBD
from customerbase.rfm import calibration_holdout_split, purchase_days_between

__all__ = [
    "MODELS",
    "Backtest",
    "BacktestReport",
    "HoldoutData",
    "ModelCheck",
    "auc",
    "calibration_bins",
    "holdout_data",
]

#: The models a backtest compares, by the name used in reports.
MODELS: dict[str, type[TransactionModel]] = {"bgnbd": BGNBD, "mbgnbd": MBGNBD, "paretonbd": ParetoNBD}
WEEK = 7.0


def auc(scores: ArrayLike, positive: ArrayLike) -> float | None:
    """Area under the ROC curve by the rank-sum (Mann-Whitney) formula, ties counted half.

    0.5 is a coin, 1 a perfect ranking; ``None`` when one of the classes is empty (Hanley & McNeil 1982).
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    pos = np.asarray(positive, dtype=bool).ravel()
    n_pos = int(pos.sum())
    n_neg = int(pos.shape[0]) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = rankdata(s)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def calibration_bins(
    predicted: ArrayLike, observed: ArrayLike, *, bins: int = 10
) -> tuple[list[tuple[float, float, int]], float]:
    """Predicted against observed by quantile bin of the prediction, and the expected calibration error.

    Customers are sorted by the prediction and cut into ``bins`` groups of (nearly) equal size
    (deciles by default); each row is ``(mean predicted, observed rate, customers)``. The ECE is the
    customer-weighted mean of ``|mean predicted - observed rate|`` (Naeini et al. 2015).
    """
    p = np.asarray(predicted, dtype=np.float64).ravel()
    o = np.asarray(observed, dtype=np.float64).ravel()
    if p.shape[0] == 0:
        return [], math.nan
    order = np.argsort(p, kind="stable")
    rows: list[tuple[float, float, int]] = []
    ece = 0.0
    for group in np.array_split(order, min(bins, p.shape[0])):
        if group.shape[0] == 0:
            continue
        mean_p, mean_o = float(p[group].mean()), float(o[group].mean())
        rows.append((mean_p, mean_o, int(group.shape[0])))
        ece += group.shape[0] * abs(mean_p - mean_o)
    return rows, ece / p.shape[0]


@dataclass(frozen=True)
class HoldoutData:
    """What a backtest needs for every customer who bought by the cut-off (times in weeks).

    ``frequency``, ``recency``, ``T`` describe the calibration period as in Fader, Hardie & Lee (2005);
    ``purchases_horizon`` counts purchase-days in the first ``horizon`` weeks after the cut-off and
    ``purchases_holdout`` in the whole holdout of ``duration`` weeks. ``mean_value`` is the mean
    repeat spend in the calibration period (for the Gamma-Gamma assumption check).
    """

    frequency: IntArray
    recency: FloatArray
    T: FloatArray
    purchases_horizon: IntArray
    purchases_holdout: IntArray
    horizon: float
    duration: float
    mean_value: FloatArray

    def __len__(self) -> int:
        """Number of customers."""
        return int(self.frequency.shape[0])


def holdout_data(
    customer_ids: ArrayLike,
    dates: ArrayLike,
    amounts: ArrayLike | None = None,
    *,
    calibration_end: Any,
    observation_end: Any,
    horizon_days: float = 90.0,
) -> HoldoutData:
    """Split a transaction log at ``calibration_end`` into a :class:`HoldoutData` (weeks).

    The horizon is cut to the holdout when the holdout is shorter. Customers first seen after the
    cut-off are left out, as in the CDNOW validation (Fader, Hardie & Lee 2005).
    """
    cal_end = np.datetime64(calibration_end, "D")
    obs_end = np.datetime64(observation_end, "D")
    whole = calibration_holdout_split(
        customer_ids, dates, amounts, calibration_end=cal_end, observation_end=obs_end, freq_days=WEEK
    )
    holdout_days = float((obs_end - cal_end).astype(np.int64))
    horizon = min(float(horizon_days), holdout_days)
    horizon_end = cal_end + np.timedelta64(int(round(horizon)), "D")
    cal = whole.calibration
    # The horizon's purchase-days without summarising the calibration period a second time.
    first = purchase_days_between(
        customer_ids, dates, among=cal.customer_ids, after=cal_end, until=horizon_end
    )
    return HoldoutData(
        frequency=cal.frequency,
        recency=cal.recency,
        T=cal.T,
        purchases_horizon=first,
        purchases_holdout=whole.frequency_holdout,
        horizon=horizon / WEEK,
        duration=holdout_days / WEEK,
        mean_value=cal.monetary,
    )


@dataclass
class ModelCheck:
    """One model's backtest: fit, totals, the mean by calibration purchases, ranking and calibration."""

    params: dict[str, float]
    loglik: float
    predicted_total: float
    actual_total: int
    total_error: float  # (predicted - actual) / actual
    by_frequency: list[tuple[str, int, float, float]]  # (x, customers, mean predicted, mean actual)
    auc_p_alive: float | None
    auc_expected: float | None
    auc_p_purchase: float | None
    calibration: list[tuple[float, float, int]]  # P(buy within the horizon): predicted, observed, n
    ece: float
    brier: float


@dataclass
class BacktestReport:
    """Everything a backtest found; :meth:`to_dict` is the documented JSON form (docs/analytics.md)."""

    customers: int
    horizon_weeks: float
    holdout_weeks: float
    actual_total: int
    came_back: int
    models: dict[str, ModelCheck]
    auc_recency: float | None
    shown_model: str
    shown_score: str
    auc_shown_score: float | None
    ece_shown_score: float
    status_return_rates: dict[str, float]
    status_counts: dict[str, int]
    spend_correlation: float
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain types only (NaN as None), ready for JSON."""
        plain: dict[str, Any] = _plain(asdict(self))
        return plain


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float | np.floating):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


class Backtest(Estimator):
    """Fit each model on the calibration period and check its predictions against the holdout.

    ``fit(frequency, recency, T, purchases_horizon, purchases_holdout, horizon=, duration=)`` (times
    in weeks, e.g. from :func:`holdout_data`) sets ``report_`` (a :class:`BacktestReport`),
    ``shown_model_`` and ``fitted_models_`` (name -> fitted model). Models are fitted on a seeded
    sample of at most ``fit_sample`` customers and scored on everyone: four population parameters
    are estimated from 25,000 customers to within a few per cent, and a Pareto/NBD fit costs about
    half a second per thousand distinct histories, three models in a row (``bench/holdout.py``). Statuses at the cut-off come from :func:`customerbase.lifecycle.classify_lifecycle`
    with ``thresholds``, given the shown model's probability of buying.
    """

    report_: BacktestReport
    shown_model_: str
    fitted_models_: dict[str, TransactionModel]

    def __init__(
        self,
        *,
        models: tuple[str, ...] = ("bgnbd", "mbgnbd", "paretonbd"),
        bins: int = 10,
        max_x: int = 7,
        fit_sample: int = 25_000,
        random_state: int = 2026,
        thresholds: LifecycleThresholds | None = None,
    ) -> None:
        self.models = models
        self.bins = bins
        self.max_x = max_x
        self.fit_sample = fit_sample
        self.random_state = random_state
        self.thresholds = thresholds

    def fit(
        self,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        purchases_horizon: ArrayLike,
        purchases_holdout: ArrayLike,
        *,
        horizon: float,
        duration: float,
        mean_value: ArrayLike | None = None,
    ) -> Self:
        """Run the backtest (see the class docstring); returns ``self``."""
        unknown = sorted(set(self.models) - set(MODELS))
        if unknown or not self.models:
            raise ValueError(f"unknown models: {', '.join(unknown) or 'none given'}")
        if not 0 < horizon <= duration:
            raise ValueError("need 0 < horizon <= duration")
        x, t_x, big_t = TransactionModel._validate(frequency, recency, T)
        in_horizon = np.asarray(purchases_horizon, dtype=np.int64).ravel()
        in_holdout = np.asarray(purchases_holdout, dtype=np.int64).ravel()
        if not (in_horizon.shape == in_holdout.shape == x.shape):
            raise ValueError("one holdout count per customer is needed")
        if (in_horizon > in_holdout).any() or (in_horizon < 0).any():
            raise ValueError("purchases in the horizon must be between 0 and those in the holdout")
        bought_h = in_horizon > 0
        came_back = in_holdout > 0
        n = int(x.shape[0])
        rows = self._sample(n)

        checks: dict[str, ModelCheck] = {}
        fitted: dict[str, TransactionModel] = {}
        p_buy: dict[str, FloatArray] = {}
        p_alive: dict[str, FloatArray] = {}
        notes: list[str] = []
        for name in self.models:
            try:
                model = MODELS[name]().fit(x[rows], t_x[rows], big_t[rows])
            except CustomerBaseError as exc:
                notes.append(f"{name} not fitted: {exc}")
                continue
            fitted[name] = model
            alive = model.conditional_probability_alive(x, t_x, big_t)
            expected = model.conditional_expected_number_of_purchases_up_to_time(duration, x, t_x, big_t)
            buy = model.conditional_probability_of_purchase(horizon, x, t_x, big_t)
            p_buy[name], p_alive[name] = buy, alive
            bins, ece = calibration_bins(buy, bought_h, bins=self.bins)
            predicted_total = float(expected.sum())
            actual_total = int(in_holdout.sum())
            checks[name] = ModelCheck(
                params=dict(model.params_),
                loglik=float(model.log_likelihood_),
                predicted_total=predicted_total,
                actual_total=actual_total,
                total_error=(predicted_total - actual_total) / actual_total if actual_total else math.nan,
                by_frequency=self._by_frequency(x, expected, in_holdout),
                auc_p_alive=auc(alive, came_back),
                auc_expected=auc(expected, came_back),
                auc_p_purchase=auc(buy, came_back),
                calibration=bins,
                ece=ece,
                brier=float(np.mean((buy - bought_h) ** 2)),
            )
        if not checks:
            raise CustomerBaseError("no model could be fitted: " + "; ".join(notes))
        shown = min(checks, key=lambda k: checks[k].brier)
        days_since_last = (big_t - t_x) * WEEK
        # Statuses at the cut-off, as the app would have shown them then (rules plus the shown model).
        life = classify_lifecycle(
            n_purchase_days=x + 1,
            days_since_first=big_t * WEEK,
            days_since_last=days_since_last,
            p_alive=p_alive[shown],
            thresholds=self.thresholds,
        )
        statuses = sorted(set(life.status.tolist()))
        counts = {s: int((life.status == s).sum()) for s in statuses}
        rates = {s: float(came_back[life.status == s].mean()) for s in statuses}
        spend = (
            frequency_spend_correlation(x, np.asarray(mean_value, dtype=np.float64))
            if mean_value is not None
            else math.nan
        )
        self.report_ = BacktestReport(
            customers=n,
            horizon_weeks=float(horizon),
            holdout_weeks=float(duration),
            actual_total=int(in_holdout.sum()),
            came_back=int(came_back.sum()),
            models=checks,
            auc_recency=auc(-days_since_last, came_back),
            shown_model=shown,
            shown_score=f"p_purchase_{shown}",
            auc_shown_score=checks[shown].auc_p_purchase,
            ece_shown_score=checks[shown].ece,
            status_return_rates=rates,
            status_counts=counts,
            spend_correlation=spend,
            notes=notes,
        )
        self.fitted_models_ = fitted
        self.shown_model_ = shown
        return self

    def to_dict(self) -> dict[str, Any]:
        """The report as plain types, the documented JSON form (see :meth:`BacktestReport.to_dict`)."""
        self._check_is_fitted()
        return self.report_.to_dict()

    def _sample(self, n: int) -> IntArray:
        if n <= self.fit_sample:
            return np.arange(n)
        rng = np.random.default_rng(self.random_state)
        return np.sort(rng.choice(n, size=self.fit_sample, replace=False))

    def _by_frequency(
        self, x: FloatArray, expected: FloatArray, actual: IntArray
    ) -> list[tuple[str, int, float, float]]:
        """Mean predicted and actual holdout purchases by calibration purchases (0 .. max_x+)."""
        out: list[tuple[str, int, float, float]] = []
        for k in range(self.max_x + 1):
            sel = x >= k if k == self.max_x else x == k
            if sel.any():
                label = f"{k}+" if k == self.max_x else str(k)
                out.append((label, int(sel.sum()), float(expected[sel].mean()), float(actual[sel].mean())))
        return out
