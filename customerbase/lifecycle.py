"""Lifecycle status of each customer, with a structured reason.

A rule-based reading of the customer's own purchase rhythm, in the spirit of the "hiatus" heuristics
that Wübben & von Wangenheim (2008), "Instant customer base analysis: managerial heuristics often
'get it right'", *Journal of Marketing* 72(3), 82-93, found to compete with the Pareto/NBD and BG/NBD
models (Schmittlein, Morrison & Colombo 1987; Fader, Hardie & Lee 2005); a model's P(alive) can be
added as evidence. Statuses:

* ``prospect``: never bought;
* ``new``: one purchase-day, within ``new_window_days`` of it;
* ``one_time``: one purchase-day, between ``new_window_days`` and ``lost_after_days`` ago. One-time
  buyers come back far less often than repeat buyers who are late (on CDNOW, as of week 39: 13.7%
  against 47% for overdue repeat buyers), so they are a status of their own, not "at risk";
* ``lost``: one purchase-day more than ``lost_after_days`` ago, or a repeat buyer silent for more than
  ``lost_after_days`` and twice their inactive limit;
* ``at_risk``: a repeat buyer whose time since the last purchase exceeds ``at_risk_factor`` times
  their usual interval (and ``min_at_risk_days``), or whose P(alive) is below ``at_risk_p_alive`` once
  later than usual (a model's P(alive) never makes anyone inactive on its own: BG/NBD's drops steeply
  for heavy buyers a little late, who then came back at 79% on CDNOW);
* ``inactive``: a repeat buyer silent for more than ``inactive_factor`` times their usual interval
  (and ``min_inactive_days``);
* ``active``: a repeat buyer within their usual rhythm.

The usual interval mixes the customer's own rhythm with the population's: ``(own span +
prior_purchases * population median interval) / (repeat purchases + prior_purchases)``, so that two
purchases three days apart do not make a customer "inactive" after a fortnight, while a customer with
many purchases keeps their own rhythm. ``docs/analytics.md`` gives the return rates by status that
these rules were checked against (``cartera holdout``).

Texts are kept out of the rules: each customer gets a :class:`Reason` (a code plus the numbers that
triggered it), and :func:`describe_reason` renders it in English; another language can render the
same codes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from customerbase._types import AnyArray, ArrayLike, FloatArray

__all__ = [
    "LifecycleResult",
    "LifecycleStatus",
    "LifecycleThresholds",
    "Reason",
    "ReasonCode",
    "classify_lifecycle",
    "describe_reason",
]


class LifecycleStatus(StrEnum):
    """Lifecycle statuses (rule-based, after Wübben & von Wangenheim 2008)."""

    PROSPECT = "prospect"
    NEW = "new"
    ONE_TIME = "one_time"
    ACTIVE = "active"
    AT_RISK = "at_risk"
    INACTIVE = "inactive"
    LOST = "lost"


class ReasonCode(StrEnum):
    """Why a customer got their status (see :func:`describe_reason`; Wübben & von Wangenheim 2008)."""

    NO_PURCHASE = "no_purchase"
    FIRST_PURCHASE_RECENT = "first_purchase_recent"
    NO_SECOND_PURCHASE = "no_second_purchase"
    ONE_TIME_LONG_AGO = "one_time_long_ago"
    ON_RHYTHM = "on_rhythm"
    OVERDUE = "overdue"
    LOW_P_ALIVE = "low_p_alive"
    STOPPED = "stopped"
    STOPPED_LONG_AGO = "stopped_long_ago"
    VERY_LOW_P_ALIVE = "very_low_p_alive"


@dataclass(frozen=True)
class LifecycleThresholds:
    """Thresholds of :func:`classify_lifecycle` (defaults justified in ``docs/analytics.md``).

    Hiatus rules in the spirit of Wübben & von Wangenheim (2008), scaled by each customer's own mean
    inter-purchase interval.
    """

    new_window_days: float = 90.0
    lost_after_days: float = 365.0
    at_risk_factor: float = 2.0
    inactive_factor: float = 4.0
    min_at_risk_days: float = 30.0
    min_inactive_days: float = 90.0
    at_risk_p_alive: float = 0.5
    inactive_p_alive: float = 0.3
    prior_purchases: float = 1.0

    def __post_init__(self) -> None:
        """Check that the thresholds are consistent."""
        if not 0 <= self.new_window_days <= self.lost_after_days:
            raise ValueError("need 0 <= new_window_days <= lost_after_days")
        if not 1.0 <= self.at_risk_factor <= self.inactive_factor:
            raise ValueError("need 1 <= at_risk_factor <= inactive_factor")
        if not 0 <= self.min_at_risk_days <= self.min_inactive_days:
            raise ValueError("need 0 <= min_at_risk_days <= min_inactive_days")
        if not 0.0 <= self.inactive_p_alive <= self.at_risk_p_alive <= 1.0:
            raise ValueError("need 0 <= inactive_p_alive <= at_risk_p_alive <= 1")
        if not self.prior_purchases >= 0:
            raise ValueError("need prior_purchases >= 0")


@dataclass(frozen=True)
class Reason:
    """A structured reason: a code and the numbers behind it (None when not relevant).

    ``threshold_days`` is the limit that was crossed (or not yet reached); ``overdue_factor`` is
    ``days_since_last / usual_interval_days``. See Wübben & von Wangenheim (2008) for the hiatus idea.
    """

    code: ReasonCode
    days_since_last: float | None = None
    days_since_first: float | None = None
    usual_interval_days: float | None = None
    overdue_factor: float | None = None
    threshold_days: float | None = None
    p_alive: float | None = None


@dataclass(frozen=True)
class LifecycleResult:
    """Statuses and reasons of :func:`classify_lifecycle`, as aligned arrays.

    ``status`` and ``reason_code`` hold string codes; numeric arrays hold NaN where a number does not
    apply. :meth:`reason` builds the :class:`Reason` of one customer (Wübben & von Wangenheim 2008).
    """

    status: AnyArray
    reason_code: AnyArray
    days_since_last: FloatArray
    days_since_first: FloatArray
    usual_interval_days: FloatArray
    overdue_factor: FloatArray
    threshold_days: FloatArray
    p_alive: FloatArray
    # For customers out of the active base (inactive or lost): how many days after their last purchase
    # they left it, i.e. the limit they crossed first (the inactive limit of a repeat buyer, even one
    # now lost; ``lost_after_days`` for a one-time buyer). NaN for everyone else.
    left_after_days: FloatArray

    def __len__(self) -> int:
        """Number of customers."""
        return int(self.status.shape[0])

    def reason(self, i: int) -> Reason:
        """The structured reason of customer ``i``."""

        def num(arr: FloatArray) -> float | None:
            v = float(arr[i])
            return None if math.isnan(v) else v

        return Reason(
            code=ReasonCode(str(self.reason_code[i])),
            days_since_last=num(self.days_since_last),
            days_since_first=num(self.days_since_first),
            usual_interval_days=num(self.usual_interval_days),
            overdue_factor=num(self.overdue_factor),
            threshold_days=num(self.threshold_days),
            p_alive=num(self.p_alive),
        )

    def reasons(self) -> list[Reason]:
        """All reasons, in customer order."""
        return [self.reason(i) for i in range(len(self))]

    def counts(self) -> dict[str, int]:
        """Number of customers per status."""
        return {s.value: int((self.status == s.value).sum()) for s in LifecycleStatus}


def _arr(values: ArrayLike | None, n: int, name: str) -> FloatArray:
    if values is None:
        return np.full(n, np.nan)
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.shape[0] != n:
        raise ValueError(f"{name} must have one value per customer")
    return arr


def classify_lifecycle(
    n_purchase_days: ArrayLike,
    days_since_first: ArrayLike,
    days_since_last: ArrayLike,
    mean_interval_days: ArrayLike | None = None,
    p_alive: ArrayLike | None = None,
    *,
    thresholds: LifecycleThresholds | None = None,
) -> LifecycleResult:
    """Lifecycle status and reason of every customer (rules of the module docstring).

    Hiatus rules after Wübben & von Wangenheim (2008), relative to each customer's own rhythm.
    ``mean_interval_days`` defaults to ``(days_since_first - days_since_last) / (n_purchase_days - 1)``
    where missing (NaN). ``p_alive`` (e.g. from a Pareto/NBD model, Schmittlein et al. 1987) is
    optional; it only counts for repeat buyers who are already later than their usual interval. For
    prospects, ``days_since_first`` and ``days_since_last`` are ignored (pass NaN).
    """
    th = thresholds if thresholds is not None else LifecycleThresholds()
    n_days = np.asarray(n_purchase_days, dtype=np.float64).ravel()
    n = n_days.shape[0]
    if (n_days < 0).any() or not np.isfinite(n_days).all():
        raise ValueError("n_purchase_days must be non-negative")
    first = _arr(days_since_first, n, "days_since_first")
    last = _arr(days_since_last, n, "days_since_last")
    interval = _arr(mean_interval_days, n, "mean_interval_days")
    palive = _arr(p_alive, n, "p_alive")

    buyer = n_days >= 1
    if not (np.isfinite(first[buyer]).all() and np.isfinite(last[buyer]).all()):
        raise ValueError("days_since_first and days_since_last are required for customers who bought")
    repeat = n_days >= 2
    with np.errstate(invalid="ignore", divide="ignore"):
        derived = (first - last) / (n_days - 1.0)
        interval = np.where(repeat & ~np.isfinite(interval), derived, interval)
        interval = np.where(repeat, np.maximum(interval, 1.0), np.nan)
        # The population's rhythm weighs like ``prior_purchases`` extra purchases (see the docstring).
        population = float(np.median(interval[repeat])) if repeat.any() else math.nan
        if th.prior_purchases > 0 and math.isfinite(population):
            repeats = n_days - 1.0
            interval = np.where(
                repeat,
                (interval * repeats + th.prior_purchases * population) / (repeats + th.prior_purchases),
                np.nan,
            )
        factor = np.where(repeat, last / interval, np.nan)
    at_risk_limit = np.maximum(th.at_risk_factor * interval, th.min_at_risk_days)
    inactive_limit = np.maximum(th.inactive_factor * interval, th.min_inactive_days)
    lost_limit = np.maximum(2.0 * inactive_limit, th.lost_after_days)
    has_p = np.isfinite(palive)
    late = repeat & (last > interval)

    one = n_days == 1
    one_new = one & (first <= th.new_window_days)
    one_lost = one & (first > th.lost_after_days)
    one_mid = one & ~one_new & ~one_lost
    repeat_lost = repeat & (last > lost_limit)
    stopped = repeat & ~repeat_lost & (last > inactive_limit)
    overdue = repeat & ~repeat_lost & ~stopped & (last > at_risk_limit)
    # A model's P(alive) only raises a flag ("at risk"); alone it never makes anyone inactive.
    low_p = repeat & ~repeat_lost & ~stopped & ~overdue & late & has_p & (palive < th.at_risk_p_alive)
    very_low = palive < th.inactive_p_alive

    conditions = [~buyer, one_new, one_lost, one_mid, repeat_lost, stopped, overdue, low_p]
    status_choices = ["prospect", "new", "lost", "one_time", "lost", "inactive", "at_risk", "at_risk"]
    reason_choices = [
        ReasonCode.NO_PURCHASE.value,
        ReasonCode.FIRST_PURCHASE_RECENT.value,
        ReasonCode.ONE_TIME_LONG_AGO.value,
        ReasonCode.NO_SECOND_PURCHASE.value,
        ReasonCode.STOPPED_LONG_AGO.value,
        ReasonCode.STOPPED.value,
        ReasonCode.OVERDUE.value,
        ReasonCode.LOW_P_ALIVE.value,
    ]
    status = np.select(conditions, status_choices, default="active").astype("<U8")
    reason = np.select(conditions, reason_choices, default=ReasonCode.ON_RHYTHM.value).astype("<U21")
    reason = np.where(low_p & very_low, ReasonCode.VERY_LOW_P_ALIVE.value, reason)

    threshold = np.full(n, np.nan)
    threshold = np.where(one_new | one_mid, th.new_window_days, threshold)
    threshold = np.where(one_lost, th.lost_after_days, threshold)
    threshold = np.where(stopped, inactive_limit, threshold)
    threshold = np.where(repeat_lost, lost_limit, threshold)
    threshold = np.where(
        overdue | (repeat & (reason == ReasonCode.ON_RHYTHM.value)), at_risk_limit, threshold
    )

    left_after = np.full(n, np.nan)
    left_after = np.where(one_lost, th.lost_after_days, left_after)
    left_after = np.where(repeat_lost | stopped, inactive_limit, left_after)

    return LifecycleResult(
        left_after_days=left_after,
        status=status,
        reason_code=reason,
        days_since_last=np.where(buyer, last, np.nan),
        days_since_first=np.where(buyer, first, np.nan),
        usual_interval_days=interval,
        overdue_factor=factor,
        threshold_days=threshold,
        p_alive=np.where(buyer, palive, np.nan),
    )


def _days(v: float | None) -> str:
    if v is None:
        return "?"
    d = round(v)
    return "1 day" if d == 1 else f"{d} days"


def describe_reason(reason: Reason) -> str:
    """Render a :class:`Reason` as one English sentence (rules after Wübben & von Wangenheim 2008).

    Only presentation lives here: the rules produce codes and numbers, so other languages can render
    the same reasons.
    """
    c = reason.code
    last = _days(reason.days_since_last)
    usual = _days(reason.usual_interval_days)
    factor = f"{reason.overdue_factor:.1f}" if reason.overdue_factor is not None else "?"
    p = f"{reason.p_alive:.0%}" if reason.p_alive is not None else "?"
    if c is ReasonCode.NO_PURCHASE:
        return "Has not bought anything yet."
    if c is ReasonCode.FIRST_PURCHASE_RECENT:
        return f"First purchase {last} ago, within the first {_days(reason.threshold_days)}."
    if c is ReasonCode.NO_SECOND_PURCHASE:
        return f"Bought once, {last} ago, and has not come back for a second purchase."
    if c is ReasonCode.ONE_TIME_LONG_AGO:
        return f"Bought once, {last} ago (more than {_days(reason.threshold_days)}), and never came back."
    if c is ReasonCode.ON_RHYTHM:
        return f"Last purchase {last} ago; usually buys every {usual}."
    if c is ReasonCode.OVERDUE:
        return f"Last purchase {last} ago, {factor} times the usual interval of {usual}."
    if c is ReasonCode.STOPPED:
        return f"No purchase for {last}, {factor} times the usual interval of {usual}: has stopped buying."
    if c is ReasonCode.STOPPED_LONG_AGO:
        return (
            f"No purchase for {last} (usually every {usual}), more than {_days(reason.threshold_days)}: lost."
        )
    if c is ReasonCode.LOW_P_ALIVE:
        return (
            f"Last purchase {last} ago (usually every {usual}); the model gives a {p} chance they still buy."
        )
    return (
        f"Last purchase {last} ago (usually every {usual}); the model gives only a {p} chance they still buy."
    )
