"""Recomputing the analysis: per-customer metrics and today's portfolio snapshot."""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import socket
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, connections, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from cartera.core import hooks
from cartera.insights import selectors, storage
from cartera.insights.analysis import (
    ACTIVE_BASE,
    OrderArrays,
    PeriodStart,
    PortfolioMetrics,
    analyse,
    flows,
    settle_left_on,
    statuses_at,
)
from cartera.insights.models import Backtest, PortfolioSnapshot, RefreshRun
from customerbase import Backtest as BacktestEstimator
from customerbase import LifecycleThresholds, holdout_data
from customerbase.errors import CustomerBaseError

log = logging.getLogger(__name__)

DEFAULT_PERIOD_DAYS = 30

Progress = Callable[[str], None]


class RefreshAlreadyRunning(Exception):
    """Another refresh is running; only one runs at a time. ``run`` is the one holding the lock."""

    def __init__(self, run: RefreshRun) -> None:
        self.run = run
        # In English, like the server's log (what people read is built from ``run``: see the command).
        with translation.override("en"):
            super().__init__(f"a refresh is already running: {describe_holder(run)}")


def lifecycle_thresholds() -> LifecycleThresholds:
    """The lifecycle thresholds: the documented defaults, overridden by ``CARTERA_LIFECYCLE_THRESHOLDS``."""
    return LifecycleThresholds(**settings.CARTERA_LIFECYCLE_THRESHOLDS)


# --- the one-at-a-time lock -----------------------------------------------------------------------
# The lock is the one RefreshRun row in status "running" (a partial unique constraint refuses a
# second one, whatever process asks). The row names its holder and the holder touches it every few
# seconds, so that a refresh killed with ``kill -9`` (which cannot clean up) blocks nothing for long:
# on the same host a holder whose process is gone is taken over at once, anywhere else one whose
# last sign of life is older than ``CARTERA_REFRESH_STALE_SECONDS``.


def _process_start(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot, from /proc), None where unknown.

    Recorded with the pid so that a pid reused by a later process does not pass for the holder.
    """
    try:
        with open(f"/proc/{pid}/stat") as fh:
            # The command name (2nd field) may hold spaces and parentheses: split after its last ")".
            fields = fh.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] in ("Z", "X"):  # a zombie has finished: it only waits for its parent to reap it
        return -1
    return int(fields[19])


def _this_holder(task_id: str = "") -> dict[str, Any]:
    pid = os.getpid()
    holder: dict[str, Any] = {"host": socket.gethostname(), "pid": pid, "pid_start": _process_start(pid)}
    if task_id:
        holder["task_id"] = task_id
    return holder


def _holder_is_gone(run: RefreshRun) -> bool:
    """True when the holder ran on this host and its process no longer exists (or is another one)."""
    holder = run.holder or {}
    pid = holder.get("pid")
    if holder.get("host") != socket.gethostname() or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # exists, owned by another user
    started = _process_start(pid)
    return started == -1 or (
        holder.get("pid_start") is not None and started not in (None, holder["pid_start"])
    )


def _last_sign_of_life(run: RefreshRun) -> dt.datetime:
    return run.heartbeat_at or run.started_at


# The texts below speak the active language (a command's run language; the worker's is
# LANGUAGE_CODE), like every message the refresh prints or stores.


def refresh_lock_state(run: RefreshRun, *, now: dt.datetime | None = None) -> str:
    """Why a running refresh's lock may be taken over ("" while its holder looks alive)."""
    now = now or timezone.now()
    if _holder_is_gone(run):
        return _("holder process %(pid)s on %(host)s is gone") % {
            "pid": run.holder.get("pid"),
            "host": run.holder.get("host"),
        }
    silent = now - _last_sign_of_life(run)
    if silent > dt.timedelta(seconds=settings.CARTERA_REFRESH_STALE_SECONDS):
        return _("no sign of life for %(seconds)s s") % {"seconds": int(silent.total_seconds())}
    return ""


def describe_holder(run: RefreshRun) -> str:
    """Who holds the lock and since when, for the messages that refuse a second refresh."""
    holder = run.holder or {}
    parts = []
    if holder.get("pid"):
        parts.append(
            _("process %(pid)s on %(host)s") % {"pid": holder["pid"], "host": holder.get("host", "?")}
        )
    if holder.get("task_id"):
        parts.append(_("worker task %(id)s") % {"id": holder["task_id"]})
    parts.append(_("trigger %(trigger)s") % {"trigger": run.trigger})
    since = timezone.localtime(run.started_at).strftime("%Y-%m-%d %H:%M:%S %Z")
    beat = _last_sign_of_life(run)
    age = int((timezone.now() - beat).total_seconds())
    return _("run %(id)s started %(since)s by %(who)s; last sign of life %(age)s s ago") % {
        "id": run.pk,
        "since": since,
        "who": ", ".join(parts),
        "age": age,
    }


def _release(run: RefreshRun, note: str) -> bool:
    """Mark a running refresh failed (only if it still is); True if this call did it."""
    return bool(
        RefreshRun.objects.filter(pk=run.pk, status=RefreshRun.Status.RUNNING).update(
            status=RefreshRun.Status.FAILED, finished_at=timezone.now(), note=note[:2000]
        )
    )


def _start_run(
    trigger: str, *, task_id: str = "", force: bool = False, say: Progress | None = None
) -> RefreshRun:
    """Take the lock: record a running refresh; the database's unique constraint refuses a second one.

    A running refresh whose holder is gone or silent is marked failed and taken over; with
    ``force`` any running one is (``cartera refresh --force``).
    """
    for _attempt in range(3):
        now = timezone.now()
        try:
            with transaction.atomic():
                return RefreshRun.objects.create(
                    started_at=now, heartbeat_at=now, trigger=trigger[:30], holder=_this_holder(task_id)
                )
        except IntegrityError:
            current = RefreshRun.objects.filter(status=RefreshRun.Status.RUNNING).first()
            if current is None:
                continue  # it ended meanwhile
            reason = _("cleared by --force") if force else refresh_lock_state(current, now=now)
            if not reason:
                raise RefreshAlreadyRunning(current) from None
            note = _("abandoned (%(reason)s); taken over by %(who)s") % {
                "reason": reason,
                "who": _describe_self(trigger, task_id),
            }
            if _release(current, note):
                with translation.override("en"):  # the server's log is written in English
                    why = "cleared by --force" if force else refresh_lock_state(current, now=now)
                    log.warning("refresh lock taken over: %s (%s)", describe_holder(current), why)
                if say is not None:
                    say(
                        _("took over the lock of %(holder)s (%(reason)s)")
                        % {"holder": describe_holder(current), "reason": reason}
                    )
    current = RefreshRun.objects.filter(status=RefreshRun.Status.RUNNING).first()
    raise RefreshAlreadyRunning(current) if current else RuntimeError("could not take the refresh lock")


def _describe_self(trigger: str, task_id: str) -> str:
    me = _this_holder(task_id)
    return _("process %(pid)s on %(host)s (%(trigger)s)") % {
        "pid": me["pid"],
        "host": me["host"],
        "trigger": trigger,
    }


def refresh_lock_clear(*, note: str | None = None) -> RefreshRun | None:
    """Release the lock whoever holds it (the running refresh is marked failed); returns that run."""
    current = RefreshRun.objects.filter(status=RefreshRun.Status.RUNNING).first()
    reason = note or _("cleared by hand")
    if current is not None and _release(current, _("abandoned (%(reason)s)") % {"reason": reason}):
        return current
    return None


class _Heartbeat:
    """Touches the running refresh's ``heartbeat_at`` from a thread (its own database connection)
    every ``CARTERA_REFRESH_HEARTBEAT_SECONDS`` while the refresh works."""

    def __init__(self, run: RefreshRun) -> None:
        self.run_pk = run.pk
        self.every = float(settings.CARTERA_REFRESH_HEARTBEAT_SECONDS)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"refresh-heartbeat-{run.pk}", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def _beat(self) -> None:
        try:
            while not self.stop.wait(self.every):
                try:
                    RefreshRun.objects.filter(pk=self.run_pk, status=RefreshRun.Status.RUNNING).update(
                        heartbeat_at=timezone.now()
                    )
                except DatabaseError:
                    # The database is busy (SQLite's one writer is the refresh itself): next beat.
                    log.debug("refresh heartbeat skipped", exc_info=True)
        finally:
            connections.close_all()


def _num(value: float, places: int = 2) -> Decimal | None:
    if value is None or not math.isfinite(value):
        return None
    return Decimal(repr(round(float(value), places)))


_COMPUTED_COLUMNS = [
    "customer_id", "orders_count", "revenue", "first_order_on", "last_order_on", "recency_days", "frequency",
    "monetary", "tenure_days", "usual_interval_days", "p_alive", "expected_purchases_90d", "p_purchase_90d", "clv_12m", "r_score",
    "f_score", "m_score", "rfm_segment", "abc_class", "lifecycle", "reason_code", "reason_data", "declining",
    "decline_since", "left_active_on", "computed_at",
]  # fmt: skip

# The figures behind each status, stored as the JSON object ``reason_data`` (finite ones only).
_REASON_KEYS = ("days_since_last", "usual_interval_days", "overdue_factor", "threshold_days", "p_alive")

FloatArray = npt.NDArray[np.float64]


def _with_nulls(values: list[Any], null: npt.NDArray[np.bool_]) -> list[Any]:
    """``values`` with ``None`` (SQL NULL) where ``null`` is set."""
    for i in np.flatnonzero(null).tolist():
        values[i] = None
    return values


def _rounded(values: FloatArray, places: int) -> list[float]:
    """``round(v, places)`` of each finite value, exactly as Python rounds (NaN elsewhere).

    numpy rounds ``v * 10**places`` to the nearest integer k and returns k / 10**places, the double
    nearest to the decimal k / 10**places, which is what Python's correctly rounded ``round`` returns
    too, unless the scaled value sits within rounding error of a half (where the multiplication may
    tip it either way) or is too large to scale exactly. Only those few are rounded by Python.
    """
    finite = np.isfinite(values)
    safe = np.where(finite, values, 0.0)
    scale = 10.0**places
    scaled = safe * scale
    out: list[float] = (np.rint(scaled) / scale).tolist()
    distance = np.abs(scaled - np.floor(scaled) - 0.5)
    doubtful = (distance <= np.abs(scaled) * 1e-15) | (np.abs(scaled) >= 2.0**52)
    for i in np.flatnonzero(doubtful | ~finite).tolist():
        out[i] = round(float(values[i]), places)
    return out


def _money(values: FloatArray, *, zero_for_missing: bool) -> list[float | None]:
    """Amounts rounded to cents (the ``Decimal(repr(round(v, 2)))`` of one row at a time)."""
    finite = np.isfinite(values)
    out: list[float | None] = list(_rounded(np.where(finite, values, 0.0), 2))
    if not zero_for_missing:
        out = _with_nulls(out, ~finite)
    return out


def _optional(values: FloatArray, as_int: bool = False) -> list[Any]:
    """Floats (or whole numbers, truncated like ``int()``) with NULL for NaN and infinities."""
    finite = np.isfinite(values)
    clean = np.where(finite, values, 0.0)
    return _with_nulls(clean.astype(np.int64).tolist() if as_int else clean.tolist(), ~finite)


def _score(values: npt.NDArray[np.int64]) -> list[int | None]:
    return _with_nulls(values.tolist(), values == 0)


def _dates(values: npt.NDArray[np.datetime64]) -> list[str | None]:
    """ISO dates (as both databases read them) with NULL for NaT."""
    return _with_nulls(np.datetime_as_string(values.astype("datetime64[D]")).tolist(), np.isnat(values))


def _strings(values: npt.NDArray[Any]) -> list[str]:
    """An object array of codes as a list of ``str`` (the objects themselves when they already are)."""
    out: list[Any] = values.tolist()
    return out if all(type(v) is str for v in out) else [str(v) for v in out]


def _reason_json(m: PortfolioMetrics) -> list[str]:
    """Each row's ``reason_data`` as ``json.dumps`` writes it: the finite figures, rounded to 3 places.

    Rows are grouped by which figures they have (at most 32 shapes), and each shape is written with
    one format string, instead of a dict and a ``json.dumps`` call per row.
    """
    arrays = (
        m.recency_days,
        m.usual_interval_days,
        m.reason_overdue_factor,
        m.reason_threshold_days,
        m.p_alive,
    )
    finite = [np.isfinite(a) for a in arrays]
    shape = np.zeros(len(m), dtype=np.int64)
    for bit, f in enumerate(finite):
        shape |= f.astype(np.int64) << bit
    rounded = [np.asarray(_rounded(a, 3), dtype=object) for a in arrays]
    out = np.empty(len(m), dtype=object)
    for code in np.unique(shape).tolist():
        rows = np.flatnonzero(shape == code)
        present = [k for k in range(len(_REASON_KEYS)) if code >> k & 1]
        if not present:
            out[rows] = "{}"
            continue
        # json.dumps writes floats with repr(), as str.format does; the outer braces are escaped.
        template = "{{" + ", ".join(f'"{_REASON_KEYS[k]}": {{}}' for k in present) + "}}"
        columns = [rounded[k][rows].tolist() for k in present]
        out[rows] = [template.format(*values) for values in zip(*columns, strict=True)]
    strings: list[str] = out.tolist()
    return strings


def _columns(m: PortfolioMetrics, computed_at: Any) -> list[list[Any]]:
    """Every computed metrics column as a list of database-ready values, in the order of
    :data:`_COMPUTED_COLUMNS` (the stage copy is added by the writer, :func:`storage.write_metrics`).

    Built column by column with numpy, so that no Python object is made per row and field beyond
    the value itself; ``computed_at`` is given as the database wants it.
    """
    n = len(m)
    return [
        m.customer_ids.tolist(),
        m.orders_count.tolist(),
        _money(m.revenue, zero_for_missing=True),
        _dates(m.first_order),
        _dates(m.last_order),
        _optional(m.recency_days, as_int=True),
        m.frequency.tolist(),
        _money(m.monetary, zero_for_missing=True),
        _optional(m.tenure_days, as_int=True),
        _optional(m.usual_interval_days),
        _optional(m.p_alive),
        _optional(m.expected_90d),
        _optional(m.p_purchase_90d),
        _money(m.clv_12m, zero_for_missing=False),
        _score(m.r_score),
        _score(m.f_score),
        _score(m.m_score),
        _strings(m.rfm_segment),
        _strings(m.abc_class),
        _strings(m.lifecycle),
        _strings(m.reason_code),
        _reason_json(m),
        m.declining.astype(bool).tolist(),
        _dates(m.decline_since),
        _dates(m.left_on),
        [computed_at] * n,
    ]


def _write_metrics(m: PortfolioMetrics, computed_at: dt.datetime) -> None:
    """Replace every metrics row; readers see the old rows until the new ones are all there."""
    storage.write_metrics(
        columns=_columns(m, computed_at), names=_COMPUTED_COLUMNS, customer_ids=m.customer_ids
    )


def insights_refresh(
    *,
    trigger: str = "manual",
    as_of: dt.date | None = None,
    period_days: int | None = None,
    progress: Progress | None = None,
    task_id: str = "",
    force: bool = False,
) -> RefreshRun:
    """Recompute every customer's metrics and today's portfolio snapshot.

    One refresh runs at a time (:class:`RefreshAlreadyRunning` otherwise, naming the holder); a
    running one whose holder died or went silent is taken over, and ``force`` takes over any. The
    snapshot's period runs from the previous snapshot (or ``period_days``, 30 by default) to
    ``as_of`` (today). ``task_id`` names the worker's task, when a worker runs it.
    """
    say = progress or (lambda _msg: None)
    run = _start_run(trigger, task_id=task_id, force=force, say=say)
    started = time.perf_counter()
    try:
        with _Heartbeat(run):
            as_of = as_of or timezone.localdate()
            say(_("reading orders"))
            orders = selectors.order_arrays()
            ids = selectors.customer_ids()
            say(
                _("analysing %(customers)s customers and %(orders)s orders")
                % {"customers": f"{len(ids):,}", "orders": f"{len(orders):,}"}
            )
            thresholds = lifecycle_thresholds()
            model_name, why = selectors.chosen_model()
            now_metrics = analyse(orders, ids, as_of=as_of, thresholds=thresholds, model_name=model_name)
            if period_days is None:
                previous = PortfolioSnapshot.objects.filter(taken_on__lt=as_of).order_by("-taken_on").first()
                period_days = (as_of - previous.taken_on).days if previous else DEFAULT_PERIOD_DAYS
            start = as_of - dt.timedelta(days=period_days)
            # The start of the period only needs statuses, for the movements: rules without models.
            before = statuses_at(orders, ids, as_of=start, thresholds=thresholds)
            settle_left_on(before, now_metrics)
            say(_("writing metrics"))
            computed_at = timezone.now()
            _write_metrics(now_metrics, computed_at)
            say(_("writing the snapshot"))
            snapshot = _write_snapshot(now_metrics, before, orders, period_days, computed_at)
            say(_("computing the dashboard figures"))
            _refresh_figures(snapshot=snapshot, orders=orders, metrics=now_metrics)
            run.status = RefreshRun.Status.DONE
            run.customers = len(ids)
            run.orders = len(orders)
            run.model_name = now_metrics.model_name
            run.model_params = now_metrics.model_params
            run.log_likelihood = now_metrics.log_likelihood
            # The analysis's notes are English messages (it knows no Django): translated here.
            run.note = "; ".join([why, *(_(n.message) % n.params for n in now_metrics.notes)])
    except Exception as exc:
        run.status = RefreshRun.Status.FAILED
        run.note = f"{type(exc).__name__}: {exc}"[:2000]
        log.exception("insights refresh failed")
        raise
    finally:
        run.finished_at = run.heartbeat_at = timezone.now()
        run.seconds = round(time.perf_counter() - started, 3)
        run.save()
    return run


def _write_snapshot(
    now: PortfolioMetrics,
    before: PortfolioMetrics | PeriodStart,
    orders: OrderArrays,
    period_days: int,
    computed_at: dt.datetime,
) -> PortfolioSnapshot:
    counts = now.counts()
    moved = flows(before, now, orders)
    year_ago = np.datetime64(now.as_of - dt.timedelta(days=365), "D")
    in_year = (orders.days > year_ago) & (orders.days <= np.datetime64(now.as_of, "D"))
    snapshot, _ = PortfolioSnapshot.objects.update_or_create(
        taken_on=now.as_of,
        defaults={
            "customers_total": len(now),
            "by_lifecycle": counts,
            "active_base": sum(counts.get(s, 0) for s in ACTIVE_BASE),
            "new_customers": moved.new_customers,
            "reactivated": moved.reactivated,
            "newly_inactive": moved.newly_inactive,
            "period_days": period_days,
            "revenue_period": _num(moved.revenue) or Decimal("0"),
            "revenue_12m": _num(float(orders.amounts[in_year].sum())) or Decimal("0"),
            "top20_share": now.top20_share,
            "model_name": now.model_name,
            "model_params": now.model_params,
            "computed_at": computed_at,
        },
    )
    return snapshot


def insights_backfill(*, months: int, as_of: dt.date | None = None, progress: Progress | None = None) -> int:
    """Snapshots at each of the last ``months`` month ends, so trends exist from the first day.

    Each is computed from the orders up to that day (the purchase model is refitted at each date).
    Returns the number of snapshots written.
    """
    say = progress or (lambda _msg: None)
    as_of = as_of or timezone.localdate()
    orders = selectors.order_arrays()
    ids = selectors.customer_ids()
    month_ends: list[dt.date] = []
    cursor = as_of.replace(day=1) - dt.timedelta(days=1)
    for _month in range(months):
        month_ends.append(cursor)
        cursor = cursor.replace(day=1) - dt.timedelta(days=1)
    month_ends.reverse()
    written = 0
    thresholds = lifecycle_thresholds()
    previous = analyse(orders, ids, as_of=cursor, thresholds=thresholds, with_decline=False)
    for day in month_ends:
        say(_("snapshot of %(day)s") % {"day": day})
        current = analyse(orders, ids, as_of=day, thresholds=thresholds, with_decline=False)
        _write_snapshot(current, previous, orders, (day - previous.as_of).days, timezone.now())
        previous = current
        written += 1
    _refresh_figures()
    return written


def _refresh_figures(
    *,
    snapshot: PortfolioSnapshot | None = None,
    orders: OrderArrays | None = None,
    metrics: PortfolioMetrics | None = None,
) -> None:
    """Precompute what the dashboard, Pareto and RFM pages show, so they never read every order.

    The refresh hands over the orders it has read and the metrics it has just written, so that the
    figures neither read the orders again nor recompute today's RFM segments.
    """
    hooks.fire("metrics_refreshed", snapshot=snapshot, orders=orders, metrics=metrics)
    # Then whatever reacts to the new statuses (automatic surveys), once the figures are in place.
    hooks.fire("analysis_refreshed", snapshot=snapshot)
    # And the prospects' fit score, which learns from the revenue just written (cartera/pipeline).
    hooks.fire("prospect_fit_refresh", snapshot=snapshot)


# --- the backtest: how good the predictions are ---------------------------------------------------

#: The longest period checked by default: a year after the cut-off (or half the history if shorter).
BACKTEST_MAX_HOLDOUT_DAYS = 365


def backtest_dates(
    orders: OrderArrays, *, cutoff: dt.date | None = None, holdout_end: dt.date | None = None
) -> tuple[dt.date, dt.date]:
    """The cut-off and the end of the checked period, defaults filled in and checked.

    By default the checked period ends on the last order (never after today) and starts half the
    history earlier, at most :data:`BACKTEST_MAX_HOLDOUT_DAYS` before. Raises ``ValidationError``
    with a message for the user when the dates cannot work.
    """
    if len(orders) == 0:
        raise ValidationError(
            _("There are no orders yet: predictions can only be checked on a purchase history.")
        )
    first = orders.days.min().astype(dt.date)
    last = orders.days.max().astype(dt.date)
    return backtest_dates_within(first, last, cutoff=cutoff, holdout_end=holdout_end)


def backtest_dates_within(
    first: dt.date, last: dt.date, *, cutoff: dt.date | None = None, holdout_end: dt.date | None = None
) -> tuple[dt.date, dt.date]:
    """:func:`backtest_dates` for a history whose first and last orders are ``first`` and ``last``.

    The API checks the dates a user asks for with it before it queues the backtest (reading only
    the two ends of the history); the backtest itself checks them again on the orders it reads.
    A wrong date is a ``ValidationError`` on its field (``cutoff`` or ``holdout_end``).
    """
    last = min(last, timezone.localdate())
    end = holdout_end or last
    if cutoff is None:
        span = (end - first).days
        cutoff = end - dt.timedelta(days=min(BACKTEST_MAX_HOLDOUT_DAYS, span // 2))
    if not first < cutoff < end:
        raise ValidationError(
            {
                "cutoff": _(
                    "The cut-off must fall after the first order (%(first)s) and before the end of the "
                    "checked period (%(end)s)."
                )
                % {"first": first.isoformat(), "end": end.isoformat()}
            }
        )
    if holdout_end is not None and holdout_end > last:
        raise ValidationError(
            {
                "holdout_end": _(
                    "The checked period must end on or before the last order (%(last)s): what "
                    "customers did after it is not known yet."
                )
                % {"last": last.isoformat()}
            }
        )
    return cutoff, end


def backtest_run(
    *,
    cutoff: dt.date | None = None,
    holdout_end: dt.date | None = None,
    trigger: str = "manual",
    task_id: str = "",
) -> Backtest:
    """Check the predictions on the portfolio's own history and store the result.

    Calibrates every model on the orders up to ``cutoff``, predicts the period up to
    ``holdout_end`` and compares (``customerbase.backtest``); the latest finished backtest chooses the
    model behind the shown figures at the next refresh. A history too short to fit any model is a
    ``ValidationError`` (and a failed row saying why). ``task_id`` names the background task that
    runs it, if any (the API's job status follows it).
    """
    started, clock = timezone.now(), time.perf_counter()
    orders = selectors.order_arrays()
    cutoff, end = backtest_dates(orders, cutoff=cutoff, holdout_end=holdout_end)
    data = holdout_data(
        orders.customer_ids, orders.days, orders.amounts, calibration_end=cutoff, observation_end=end
    )
    row = Backtest(
        started_at=started,
        trigger=trigger,
        cutoff=cutoff,
        holdout_end=end,
        customers=len(data),
        task_id=task_id,
    )
    try:
        estimator = BacktestEstimator(thresholds=lifecycle_thresholds()).fit(
            data.frequency, data.recency, data.T, data.purchases_horizon, data.purchases_holdout,
            horizon=data.horizon, duration=data.duration, mean_value=data.mean_value,
        )  # fmt: skip
    except (CustomerBaseError, ValueError) as exc:
        row.status = Backtest.Status.FAILED
        row.note = f"{type(exc).__name__}: {exc}"[:2000]
        row.seconds = round(time.perf_counter() - clock, 3)
        row.save()
        raise ValidationError(
            _("Not enough history before the cut-off to check the predictions: %(reason)s") % {"reason": exc}
        ) from exc
    row.shown_model = estimator.shown_model_
    row.result = {
        "cutoff": cutoff.isoformat(),
        "holdout_end": end.isoformat(),
        "horizon_days": int(round(data.horizon * 7)),
        **estimator.to_dict(),
    }
    row.seconds = round(time.perf_counter() - clock, 3)
    row.save()
    return row
