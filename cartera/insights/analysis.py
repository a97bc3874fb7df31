"""The portfolio analysis as one pure function: arrays of orders in, arrays of metrics out.

Kept free of Django (only :mod:`customerbase` and numpy) so it can be tested and benchmarked on
its own; :mod:`cartera.insights.services` loads the orders and writes the results.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from customerbase import (
    GammaGamma,
    LifecycleThresholds,
    NotEnoughDataError,
    abc_classes,
    classify_lifecycle,
    customer_lifetime_value,
    detect_decline,
    frequency_spend_correlation,
    revenue_share_of_top,
    rfm_scores,
    summary_from_transactions,
)
from customerbase.backtest import MODELS
from customerbase.errors import CustomerBaseError
from customerbase.lifecycle import LifecycleResult

WEEK = 7.0
HORIZON_DAYS = 90
CLV_MONTHS = 12
MONTHLY_DISCOUNT = 0.01  # about 12.7% a year, a usual cost of capital for a small business
# One-time buyers between the first 90 days and a year were "at risk" before they had a status of their
# own; they stay in the active base, so that the figure keeps its meaning across the change.
ACTIVE_BASE = ("new", "one_time", "active", "at_risk")
GONE = ("inactive", "lost")
# The model behind the shown figures until a backtest has chosen one on the portfolio's own history:
# Pareto/NBD, which predicted CDNOW best and has no "every one-time buyer is alive" artefact.
DEFAULT_MODEL = "paretonbd"
# Gamma-Gamma assumes that what a customer spends does not depend on how often they buy (Fader, Hardie
# & Lee 2005, JMR: 0.11 on CDNOW). Beyond this correlation the assumption fails and each customer's
# own mean spend is used instead.
MAX_SPEND_CORRELATION = 0.3


@dataclass(frozen=True)
class Note:
    """A remark of the analysis for the refresh's record: an English ``message`` with ``%(name)s``
    fields, translated by the caller (:mod:`cartera.insights.services`; the Spanish is in django.po),
    since this module stays free of Django."""

    message: str
    params: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message % self.params


def _not_fitted(model: str, exc: Exception) -> Note:
    """Why the ``model`` ("purchase" or "spend") was not fitted; too little data needs no details."""
    if isinstance(exc, NotEnoughDataError):
        if model == "purchase":
            return Note("too little purchase history for the purchase model: rules only")
        return Note("too little repeat spending for the spend model: own mean spend used")
    if model == "purchase":
        return Note("purchase model not fitted, rules only: %(error)s", {"error": str(exc)})
    return Note("spend model not fitted: %(error)s", {"error": str(exc)})


@dataclass(frozen=True)
class OrderArrays:
    """Every order as three aligned arrays (customer id, day, amount)."""

    customer_ids: npt.NDArray[np.int64]
    days: npt.NDArray[np.datetime64]
    amounts: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.customer_ids.shape[0])

    def until(self, day: np.datetime64) -> OrderArrays:
        """Only the orders on or before ``day``."""
        keep = self.days <= day
        if keep.all():
            return self  # the usual case (today's analysis): no copy of every array
        return OrderArrays(self.customer_ids[keep], self.days[keep], self.amounts[keep])


@dataclass
class PortfolioMetrics:
    """Per-customer metrics aligned with ``customer_ids`` (every customer, buyers or not)."""

    as_of: dt.date
    customer_ids: npt.NDArray[np.int64]
    orders_count: npt.NDArray[np.int64]
    revenue: npt.NDArray[np.float64]
    first_order: npt.NDArray[np.datetime64]
    last_order: npt.NDArray[np.datetime64]
    recency_days: npt.NDArray[np.float64]
    frequency: npt.NDArray[np.int64]
    monetary: npt.NDArray[np.float64]
    tenure_days: npt.NDArray[np.float64]
    usual_interval_days: npt.NDArray[np.float64]
    p_alive: npt.NDArray[np.float64]
    expected_90d: npt.NDArray[np.float64]
    p_purchase_90d: npt.NDArray[np.float64]
    clv_12m: npt.NDArray[np.float64]
    r_score: npt.NDArray[np.int64]
    f_score: npt.NDArray[np.int64]
    m_score: npt.NDArray[np.int64]
    rfm_segment: npt.NDArray[Any]
    abc_class: npt.NDArray[Any]
    lifecycle: npt.NDArray[Any]
    reason_code: npt.NDArray[Any]
    reason_overdue_factor: npt.NDArray[np.float64]
    reason_threshold_days: npt.NDArray[np.float64]
    declining: npt.NDArray[np.bool_]
    decline_since: npt.NDArray[np.datetime64]
    # The day an inactive or lost customer left the active base: the first day after their last
    # purchase past the limit they crossed (NaT for everyone in the active base or who never bought).
    left_on: npt.NDArray[np.datetime64]
    model_name: str = ""
    model_params: dict[str, float] = field(default_factory=dict)
    log_likelihood: float | None = None
    top20_share: float | None = None
    notes: list[Note] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.customer_ids.shape[0])

    def counts(self) -> dict[str, int]:
        """Customers by lifecycle status, statuses in alphabetical order."""
        # Counter over the strings: np.unique would sort a million Python strings.
        counted = Counter(self.lifecycle.tolist())
        return {str(v): int(counted[v]) for v in sorted(counted)}


def _spread(
    index: npt.NDArray[np.intp], values: npt.NDArray[Any], n: int, fill: Any, dtype: Any
) -> npt.NDArray[Any]:
    out = np.full(n, fill, dtype=dtype)
    out[index] = values
    return out


FIT_SAMPLE = 200_000
# Pareto/NBD and MBG/NBD have no cheap gradient: a fit costs about half a second per thousand
# distinct histories (bench/holdout.py), so they are fitted on a smaller sample to keep the refresh
# within its minute. 25,000 customers still estimate four population parameters to a few per cent.
MODEL_FIT_SAMPLE = {"bgnbd": FIT_SAMPLE, "mbgnbd": 50_000, "paretonbd": 25_000}


def _fit_sample(n: int, size: int = FIT_SAMPLE) -> npt.NDArray[np.intp]:
    """Positions of the customers the models are fitted on: all of them, or a seeded sample."""
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(2026).choice(n, size=size, replace=False))


def _buyer_positions(
    all_customer_ids: npt.NDArray[np.int64], buyer_ids: npt.NDArray[Any]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.intp]]:
    """The sorted customer list and the position of each buyer in it (buyers are sorted by id)."""
    all_ids = np.sort(all_customer_ids)
    n = int(all_ids.shape[0])
    pos = np.searchsorted(all_ids, buyer_ids.astype(np.int64))
    pos = pos[(pos < n)]
    buyers = buyer_ids.shape[0]
    if pos.shape[0] != buyers or (buyers and not np.array_equal(all_ids[pos], buyer_ids)):
        raise ValueError("orders refer to customers that are not in the customer list")
    return all_ids, pos


@dataclass(frozen=True)
class PeriodStart:
    """Every customer's lifecycle status at the start of a period: all that :func:`flows` needs of it."""

    as_of: dt.date
    lifecycle: npt.NDArray[Any]


def statuses_at(
    orders: OrderArrays,
    all_customer_ids: npt.NDArray[np.int64],
    *,
    as_of: dt.date,
    thresholds: LifecycleThresholds | None = None,
) -> PeriodStart:
    """Lifecycle statuses as of the end of ``as_of`` from the rules alone, aligned with the sorted ids.

    The same statuses as ``analyse(..., with_models=False).lifecycle``, without the scores, classes and
    per-customer figures that the start of a period does not need.
    """
    end = np.datetime64(as_of, "D")
    summary = summary_from_transactions(
        orders.customer_ids, orders.days, orders.amounts, observation_end=end, freq_days=1.0
    )
    all_ids, pos = _buyer_positions(all_customer_ids, summary.customer_ids)
    status = np.full(all_ids.shape[0], "prospect", dtype=object)
    if summary.customer_ids.shape[0]:
        life = classify_lifecycle(
            n_purchase_days=summary.n_purchase_days,
            days_since_first=summary.days_since_first,
            days_since_last=summary.days_since_last,
            mean_interval_days=summary.mean_interval_days,
            thresholds=thresholds or LifecycleThresholds(),
        )
        status[pos] = life.status
    return PeriodStart(as_of=as_of, lifecycle=status)


def analyse(
    orders: OrderArrays,
    all_customer_ids: npt.NDArray[np.int64],
    *,
    as_of: dt.date,
    thresholds: LifecycleThresholds | None = None,
    with_decline: bool = True,
    with_models: bool = True,
    model_name: str = DEFAULT_MODEL,
) -> PortfolioMetrics:
    """Compute every metric for every customer as of the end of ``as_of``.

    Buyers get the full analysis; people who never bought are prospects. The transaction model named
    by ``model_name`` (the one the latest backtest chose: BG/NBD, MBG/NBD or Pareto/NBD) gives
    P(alive), the probability of buying in the next 90 days and the expected purchases; Gamma-Gamma
    the expected spend (unless spend and frequency are correlated beyond
    :data:`MAX_SPEND_CORRELATION`, when each customer's own mean is used) and so the 12-month CLV. When the data is too small to fit them, those numbers stay
    empty and the lifecycle status falls back to the rules alone. The models are fitted on a seeded
    sample of at most :data:`FIT_SAMPLE` customers (population parameters need no more) and then
    applied to everyone. ``with_models=False`` skips them (statuses from the rules alone), which is
    enough to compare statuses at the start of a period.
    """
    thresholds = thresholds or LifecycleThresholds()
    end = np.datetime64(as_of, "D")
    orders = orders.until(end)
    n = int(all_customer_ids.shape[0])
    notes: list[Note] = []

    summary = summary_from_transactions(
        orders.customer_ids, orders.days, orders.amounts, observation_end=end, freq_days=1.0
    )
    all_ids, pos = _buyer_positions(all_customer_ids, summary.customer_ids)
    buyers = summary.customer_ids.shape[0]

    x = summary.frequency
    t_x_w = summary.recency / WEEK
    t_w = summary.T / WEEK
    p_alive_b = np.full(buyers, np.nan)
    exp_b = np.full(buyers, np.nan)
    buy_b = np.full(buyers, np.nan)
    clv_b = np.full(buyers, np.nan)
    params: dict[str, float] = {}
    ll: float | None = None
    if buyers and with_models:
        try:
            fit_rows = _fit_sample(buyers, MODEL_FIT_SAMPLE.get(model_name, FIT_SAMPLE))
            model = MODELS[model_name]().fit(x[fit_rows], t_x_w[fit_rows], t_w[fit_rows])
            params, ll = dict(model.params_), float(model.log_likelihood_)
            p_alive_b = model.conditional_probability_alive(x, t_x_w, t_w)
            exp_b = model.conditional_expected_number_of_purchases_up_to_time(
                HORIZON_DAYS / WEEK, x, t_x_w, t_w
            )
            buy_b = model.conditional_probability_of_purchase(HORIZON_DAYS / WEEK, x, t_x_w, t_w)
            spend: GammaGamma | None = None
            repeat = x > 0
            spend_rows = fit_rows[repeat[fit_rows]]
            correlation = frequency_spend_correlation(x[spend_rows], summary.monetary[spend_rows])
            if math.isfinite(correlation):
                params["spend_correlation"] = correlation
            if abs(correlation) > MAX_SPEND_CORRELATION:
                notes.append(
                    Note(
                        "spend depends on frequency (correlation %(correlation).2f): own mean spend used",
                        {"correlation": correlation},
                    )
                )
            else:
                try:
                    spend = GammaGamma().fit(x[spend_rows], summary.monetary[spend_rows])
                    params.update({f"gg_{k}": v for k, v in spend.params_.items()})
                except CustomerBaseError as exc:
                    notes.append(_not_fitted("spend", exc))
            # One-time buyers have no repeat spend yet: value them at their first order, which is the
            # best estimate of what a next purchase is worth when Gamma-Gamma cannot be used.
            mean_value = np.where(repeat, summary.monetary, summary.revenue)
            # CLV is computed customer by customer, so each group is valued on its own rows only:
            # Gamma-Gamma is defined for repeat buyers; the others keep their first-order value.
            groups = (
                [(repeat, spend), (~repeat, None)] if spend is not None else [(np.ones(buyers, bool), None)]
            )
            for rows, spend_model in groups:
                if not rows.any():
                    continue
                clv_b[rows] = customer_lifetime_value(
                    model, x[rows], t_x_w[rows], t_w[rows], mean_value[rows], spend_model=spend_model,
                    horizon_months=CLV_MONTHS, discount_rate=MONTHLY_DISCOUNT, freq_days=WEEK,
                )  # fmt: skip
        except (NotEnoughDataError, CustomerBaseError) as exc:
            notes.append(_not_fitted("purchase", exc))
            params, ll = {}, None

    days_since_last = summary.days_since_last
    life = classify_lifecycle(
        n_purchase_days=summary.n_purchase_days,
        days_since_first=summary.days_since_first,
        days_since_last=days_since_last,
        mean_interval_days=summary.mean_interval_days,
        p_alive=None if np.isnan(p_alive_b).all() else p_alive_b,
        thresholds=thresholds,
    ) if buyers else None  # fmt: skip

    scores = rfm_scores(days_since_last, x, summary.monetary) if buyers else None
    abc = abc_classes(summary.revenue) if buyers else None
    # Over buyers only: prospects would push the share towards 100% as they are added.
    top20 = revenue_share_of_top(summary.revenue) if buyers else None

    declining_b = np.zeros(buyers, dtype=bool)
    since_b = np.full(buyers, np.datetime64("NaT", "D"), dtype="datetime64[D]")
    if with_decline and buyers:
        dec = detect_decline(orders.customer_ids, orders.days, as_of=end)
        dpos = np.searchsorted(summary.customer_ids, dec.customer_ids)
        declining_b[dpos] = dec.declining
        since_b[dpos] = np.where(dec.declining, dec.change_date, np.datetime64("NaT", "D"))

    def spread(values: npt.NDArray[Any], fill: Any, dtype: Any) -> npt.NDArray[Any]:
        return _spread(pos, values, n, fill, dtype)

    nat = np.datetime64("NaT", "D")
    return PortfolioMetrics(
        as_of=as_of,
        customer_ids=all_ids,
        orders_count=spread(summary.n_orders, 0, np.int64),
        revenue=spread(summary.revenue, 0.0, np.float64),
        first_order=spread(summary.first_purchase, nat, "datetime64[D]"),
        last_order=spread(summary.last_purchase, nat, "datetime64[D]"),
        recency_days=spread(days_since_last, np.nan, np.float64),
        frequency=spread(x, 0, np.int64),
        monetary=spread(summary.monetary, 0.0, np.float64),
        tenure_days=spread(summary.days_since_first, np.nan, np.float64),
        usual_interval_days=spread(summary.mean_interval_days, np.nan, np.float64),
        p_alive=spread(p_alive_b, np.nan, np.float64),
        expected_90d=spread(exp_b, np.nan, np.float64),
        p_purchase_90d=spread(buy_b, np.nan, np.float64),
        clv_12m=spread(clv_b, np.nan, np.float64),
        r_score=spread(scores.r, 0, np.int64) if scores else np.zeros(n, np.int64),
        f_score=spread(scores.f, 0, np.int64) if scores else np.zeros(n, np.int64),
        m_score=spread(scores.m, 0, np.int64) if scores else np.zeros(n, np.int64),
        rfm_segment=spread(scores.segments(), "", object) if scores else np.full(n, "", object),
        # No class for people who never bought: ABC divides the revenue of those who did.
        abc_class=spread(abc.classes, "", object) if abc else np.full(n, "", object),
        lifecycle=spread(life.status, "prospect", object) if life else np.full(n, "prospect", object),
        reason_code=spread(life.reason_code, "no_purchase", object)
        if life
        else np.full(n, "no_purchase", object),
        reason_overdue_factor=spread(life.overdue_factor, np.nan, np.float64) if life else np.full(n, np.nan),
        reason_threshold_days=spread(life.threshold_days, np.nan, np.float64) if life else np.full(n, np.nan),
        declining=spread(declining_b, False, bool),
        decline_since=spread(since_b, nat, "datetime64[D]"),
        left_on=spread(_left_on(summary.last_purchase, life), nat, "datetime64[D]"),
        model_name=model_name if ll is not None else "",
        model_params=params,
        log_likelihood=ll,
        top20_share=top20,
        notes=notes,
    )


def _left_on(last_purchase: npt.NDArray[Any], life: LifecycleResult | None) -> npt.NDArray[np.datetime64]:
    """The day each buyer out of the active base left it: the first whole day past the limit they
    crossed after their last purchase (NaT for buyers still in the active base)."""
    last = last_purchase.astype("datetime64[D]")
    if life is None:
        return np.full(last.shape[0], np.datetime64("NaT", "D"), dtype="datetime64[D]")
    after = life.left_after_days
    gone = np.isfinite(after)
    days = np.where(gone, np.floor(np.where(gone, after, 0.0)) + 1, 0).astype("timedelta64[D]")
    return np.where(gone, last + days, np.datetime64("NaT", "D"))


@dataclass(frozen=True)
class PeriodFlows:
    """How the portfolio moved between two analyses."""

    new_customers: int
    reactivated: int
    newly_inactive: int
    revenue: float


def flows(
    before: PortfolioMetrics | PeriodStart, after: PortfolioMetrics, orders: OrderArrays
) -> PeriodFlows:
    """New, reactivated and newly inactive customers, and revenue, between two dates.

    New: first purchase in the period. Reactivated: inactive or lost at the start, bought again in
    the period. Newly inactive: in the active base at the start, inactive or lost at the end.
    Both analyses must cover the same customers.
    """
    start = np.datetime64(before.as_of, "D")
    end = np.datetime64(after.as_of, "D")
    first = after.first_order
    new = int(((first > start) & (first <= end)).sum())
    was_gone = np.isin(before.lifecycle, GONE)
    bought = (after.last_order > start) & (after.last_order <= end)
    reactivated = int((was_gone & bought).sum())
    newly_inactive = int((np.isin(before.lifecycle, ACTIVE_BASE) & np.isin(after.lifecycle, GONE)).sum())
    in_period = (orders.days > start) & (orders.days <= end)
    revenue = float(orders.amounts[in_period].sum())
    return PeriodFlows(new, reactivated, newly_inactive, revenue)


def settle_left_on(before: PortfolioMetrics | PeriodStart, after: PortfolioMetrics) -> None:
    """Make ``after.left_on`` agree with the period's movements (:func:`flows`), in place.

    The day estimated from each customer's limit uses today's population rhythm, which drifts a
    little from the one the start of the period was judged by. So a customer who left during the
    period (in the active base at its start, out of it at its end) gets a day inside the period, and
    one already out at its start a day no later than the start: "who left between two refreshes" is
    then exactly the newly inactive customers the snapshot counts.
    """
    start = np.datetime64(before.as_of, "D")
    end = np.datetime64(after.as_of, "D")
    gone = np.isin(after.lifecycle, GONE)
    newly = gone & np.isin(before.lifecycle, ACTIVE_BASE)
    earlier = gone & ~newly
    estimate = after.left_on
    # A customer out of the base without an estimate (never the case for buyers) takes the bound.
    within = np.where(
        np.isnat(estimate), end, np.minimum(np.maximum(estimate, start + np.timedelta64(1, "D")), end)
    )
    already = np.where(np.isnat(estimate), start, np.minimum(estimate, start))
    after.left_on = np.where(newly, within, np.where(earlier, already, np.datetime64("NaT", "D"))).astype(
        "datetime64[D]"
    )


def finite_or_none(value: float) -> float | None:
    """``None`` for NaN and infinities (stored as NULL)."""
    return None if value is None or not math.isfinite(value) else float(value)
