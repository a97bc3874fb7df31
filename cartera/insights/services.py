"""Recomputing the analysis: per-customer metrics and today's portfolio snapshot."""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import numpy as np
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from cartera.insights import selectors
from cartera.insights.analysis import ACTIVE_BASE, OrderArrays, PortfolioMetrics, analyse, flows
from cartera.insights.models import CustomerMetrics, PortfolioSnapshot, RefreshRun
from customerbase import LifecycleThresholds

log = logging.getLogger(__name__)

DEFAULT_PERIOD_DAYS = 30
STALE_AFTER = dt.timedelta(hours=2)
_WRITE_BATCH = 5_000

Progress = Callable[[str], None]


class RefreshAlreadyRunning(Exception):
    """Another refresh is running; only one runs at a time."""


def lifecycle_thresholds() -> LifecycleThresholds:
    """The lifecycle thresholds: the documented defaults, overridden by ``CARTERA_LIFECYCLE_THRESHOLDS``."""
    return LifecycleThresholds(**settings.CARTERA_LIFECYCLE_THRESHOLDS)


def _start_run(trigger: str) -> RefreshRun:
    """Record a running refresh; the database's unique constraint refuses a second one."""
    now = timezone.now()
    # A refresh whose process died never finishes: after a while it no longer blocks the next one.
    RefreshRun.objects.filter(status=RefreshRun.Status.RUNNING, started_at__lt=now - STALE_AFTER).update(
        status=RefreshRun.Status.FAILED, finished_at=now, note="abandoned (no end recorded)"
    )
    try:
        with transaction.atomic():
            return RefreshRun.objects.create(started_at=now, trigger=trigger[:30])
    except IntegrityError as exc:
        raise RefreshAlreadyRunning("a refresh is already running") from exc


def _num(value: float, places: int = 2) -> Decimal | None:
    if value is None or not math.isfinite(value):
        return None
    return Decimal(repr(round(float(value), places)))


def _date(value: np.datetime64) -> dt.date | None:
    if np.isnat(value):
        return None
    return dt.date.fromordinal(
        dt.date(1970, 1, 1).toordinal() + int(value.astype("datetime64[D]").astype(np.int64))
    )


def _opt_float(value: float) -> float | None:
    return None if not math.isfinite(value) else float(value)


def _opt_int(value: float) -> int | None:
    return None if not math.isfinite(value) else int(value)


def _rows(m: PortfolioMetrics, computed_at: dt.datetime) -> Iterator[tuple[Any, ...]]:
    """Metrics rows in the column order of :data:`_COLUMNS`."""
    for i in range(len(m)):
        reason: dict[str, Any] = {}
        for key, arr in (
            ("days_since_last", m.recency_days),
            ("usual_interval_days", m.usual_interval_days),
            ("overdue_factor", m.reason_overdue_factor),
            ("threshold_days", m.reason_threshold_days),
            ("p_alive", m.p_alive),
        ):
            v = float(arr[i])
            if math.isfinite(v):
                reason[key] = round(v, 3)
        yield (
            int(m.customer_ids[i]),
            int(m.orders_count[i]),
            _num(m.revenue[i]) or Decimal("0"),
            _date(m.first_order[i]),
            _date(m.last_order[i]),
            _opt_int(m.recency_days[i]),
            int(m.frequency[i]),
            _num(m.monetary[i]) or Decimal("0"),
            _opt_int(m.tenure_days[i]),
            _opt_float(m.usual_interval_days[i]),
            _opt_float(m.p_alive[i]),
            _opt_float(m.expected_90d[i]),
            _num(m.clv_12m[i]),
            int(m.r_score[i]) or None,
            int(m.f_score[i]) or None,
            int(m.m_score[i]) or None,
            str(m.rfm_segment[i]),
            str(m.abc_class[i]),
            str(m.lifecycle[i]),
            str(m.reason_code[i]),
            reason,
            bool(m.declining[i]),
            _date(m.decline_since[i]),
            computed_at,
        )


_COLUMNS = [
    "customer_id", "orders_count", "revenue", "first_order_on", "last_order_on", "recency_days", "frequency",
    "monetary", "tenure_days", "usual_interval_days", "p_alive", "expected_purchases_90d", "clv_12m", "r_score",
    "f_score", "m_score", "rfm_segment", "abc_class", "lifecycle", "reason_code", "reason_data", "declining",
    "decline_since", "computed_at",
]  # fmt: skip


def _write_metrics(m: PortfolioMetrics, computed_at: dt.datetime) -> None:
    """Replace every metrics row in one transaction: readers see the old set until it commits."""
    table = CustomerMetrics._meta.db_table
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table}")  # noqa: S608
        if connection.vendor == "postgresql":
            _copy_postgres(table, m, computed_at)
            # Fresh statistics for the planner: the table was just rewritten whole.
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {table}")
            return
        reason_field = CustomerMetrics._meta.get_field("reason_data")
        placeholders = ", ".join(["%s"] * len(_COLUMNS))
        sql = f"INSERT INTO {table} ({', '.join(_COLUMNS)}) VALUES ({placeholders})"  # noqa: S608
        reason_index = _COLUMNS.index("reason_data")
        with connection.cursor() as cursor:
            batch: list[tuple[Any, ...]] = []
            for row in _rows(m, computed_at):
                values = list(row)
                values[reason_index] = reason_field.get_db_prep_value(values[reason_index], connection)
                batch.append(tuple(connection.ops.adapt_datetimefield_value(v) if isinstance(v, dt.datetime)
                                   else (str(v) if isinstance(v, dt.date | Decimal) else v) for v in values))  # fmt: skip
                if len(batch) >= _WRITE_BATCH:
                    cursor.executemany(sql, batch)
                    batch = []
            if batch:
                cursor.executemany(sql, batch)


def _copy_postgres(table: str, m: PortfolioMetrics, computed_at: dt.datetime) -> None:
    import json

    with connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(f"COPY {table} ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
            reason_index = _COLUMNS.index("reason_data")
            for row in _rows(m, computed_at):
                values = list(row)
                values[reason_index] = json.dumps(values[reason_index])
                copy.write_row(values)


def insights_refresh(
    *,
    trigger: str = "manual",
    as_of: dt.date | None = None,
    period_days: int | None = None,
    progress: Progress | None = None,
) -> RefreshRun:
    """Recompute every customer's metrics and today's portfolio snapshot.

    One refresh runs at a time (:class:`RefreshAlreadyRunning` otherwise). The snapshot's period runs
    from the previous snapshot (or ``period_days``, 30 by default) to ``as_of`` (today).
    """
    say = progress or (lambda _msg: None)
    run = _start_run(trigger)
    started = time.perf_counter()
    try:
        as_of = as_of or timezone.localdate()
        say("reading orders")
        orders = selectors.order_arrays()
        ids = selectors.customer_ids()
        say(f"analysing {len(ids):,} customers and {len(orders):,} orders")
        thresholds = lifecycle_thresholds()
        now_metrics = analyse(orders, ids, as_of=as_of, thresholds=thresholds)
        if period_days is None:
            previous = PortfolioSnapshot.objects.filter(taken_on__lt=as_of).order_by("-taken_on").first()
            period_days = (as_of - previous.taken_on).days if previous else DEFAULT_PERIOD_DAYS
        start = as_of - dt.timedelta(days=period_days)
        # The start of the period only needs statuses, for the movements: rules without models.
        before = analyse(
            orders, ids, as_of=start, thresholds=thresholds, with_decline=False, with_models=False
        )
        say("writing metrics")
        computed_at = timezone.now()
        _write_metrics(now_metrics, computed_at)
        say("writing the snapshot")
        _write_snapshot(now_metrics, before, orders, period_days, computed_at)
        say("computing the dashboard figures")
        _refresh_figures()
        run.status = RefreshRun.Status.DONE
        run.customers = len(ids)
        run.orders = len(orders)
        run.model_name = now_metrics.model_name
        run.model_params = now_metrics.model_params
        run.log_likelihood = now_metrics.log_likelihood
        run.note = "; ".join(now_metrics.notes)
    except Exception as exc:
        run.status = RefreshRun.Status.FAILED
        run.note = f"{type(exc).__name__}: {exc}"[:2000]
        log.exception("insights refresh failed")
        raise
    finally:
        run.finished_at = timezone.now()
        run.seconds = round(time.perf_counter() - started, 3)
        run.save()
    return run


def _write_snapshot(
    now: PortfolioMetrics,
    before: PortfolioMetrics,
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
    for _ in range(months):
        month_ends.append(cursor)
        cursor = cursor.replace(day=1) - dt.timedelta(days=1)
    month_ends.reverse()
    written = 0
    thresholds = lifecycle_thresholds()
    previous = analyse(orders, ids, as_of=cursor, thresholds=thresholds, with_decline=False)
    for day in month_ends:
        say(f"snapshot of {day}")
        current = analyse(orders, ids, as_of=day, thresholds=thresholds, with_decline=False)
        _write_snapshot(current, previous, orders, (day - previous.as_of).days, timezone.now())
        previous = current
        written += 1
    _refresh_figures()
    return written


def _refresh_figures() -> None:
    """Precompute what the dashboard, Pareto and RFM pages show, so they never read every order."""
    # Imported here: the segments app builds on this one, not the other way round.
    from cartera.segments.services import figures_refresh

    figures_refresh()
