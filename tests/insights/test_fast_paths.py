"""The refresh's fast paths give exactly what the plain, row-by-row ways give.

Each fast path (reading orders, building metric rows, rebuilding the table, the figures) is compared
with a straightforward reference implementation on data chosen to hit its edge cases.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from django.db import connection
from django.utils import timezone

from cartera.insights import selectors, services, storage
from cartera.insights.analysis import OrderArrays, PortfolioMetrics, analyse, statuses_at
from cartera.insights.models import CustomerMetrics
from cartera.segments import figures
from customerbase import rfm_scores, summary_from_transactions

END = dt.date(1998, 6, 30)


def _plain_orders() -> list[tuple[int, dt.date, float]]:
    """Every order in id order, amount as the database's own double."""
    amount = "amount::float8" if connection.vendor == "postgresql" else "CAST(amount AS REAL)"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT customer_id, ordered_on, {amount} FROM sales_order ORDER BY id")  # noqa: S608
        return [
            (int(c), d if isinstance(d, dt.date) else dt.date.fromisoformat(d), float(a))
            for c, d, a in cursor
        ]


@pytest.fixture(params=["fast", "plain"])
def paths(request, settings):
    """Each test runs with the fast paths, and again with their plain twins forced."""
    settings.CARTERA_BULK_PLAIN = request.param == "plain"
    return request.param


def test_order_arrays_are_the_stored_orders(owner, monkeypatch, paths):
    from cartera.customers.services import customer_create
    from cartera.sales.services import order_create

    people = [customer_create(actor=owner, fields={"first_name": f"P{i}"}) for i in range(4)]
    days = [dt.date(1965, 3, 1), dt.date(1970, 1, 1), dt.date(1969, 12, 31), dt.date(2026, 11, 19)]
    amounts = ["0.10", "12.35", "0.00", "99999.99", "1234567890.12", "7.05"]
    for n in range(30):
        order_create(
            actor=owner,
            customer=people[n % 4],
            fields={"ordered_on": days[n % 4] + dt.timedelta(days=n // 8), "amount": amounts[n % 6]},
        )
    if connection.vendor == "sqlite":
        # A double that is not a whole number of cents over 100 (stored by some other writer): its
        # chunk must be read as plain rows.
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE sales_order SET amount = 0.1 + 0.2 WHERE id = (SELECT min(id) + 3 FROM sales_order)"
            )
        # Small chunks, so that several are read and joined.
        monkeypatch.setattr(storage, "_SQLITE_ROWIDS_PER_QUERY", 7)
    orders = selectors.order_arrays()
    got = list(
        zip(
            orders.customer_ids.tolist(),
            [d.astype(object) for d in orders.days],
            orders.amounts.tolist(),
            strict=True,
        )
    )
    assert got == _plain_orders()
    assert orders.customer_ids.dtype == np.int64 and orders.amounts.dtype == np.float64
    assert selectors.customer_ids().tolist() == sorted(p.pk for p in people)


def _old_rows(m: PortfolioMetrics) -> list[tuple[Any, ...]]:
    """The metric rows as the refresh used to build them, one value at a time (the reference)."""

    def num(v: float) -> Decimal | None:
        return None if not math.isfinite(v) else Decimal(repr(round(float(v), 2)))

    def day(v: np.datetime64) -> str | None:
        return None if np.isnat(v) else str(v.astype("datetime64[D]"))

    rows = []
    for i in range(len(m)):
        reason = {}
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
        opt = lambda v: None if not math.isfinite(v) else float(v)  # noqa: E731
        opt_int = lambda v: None if not math.isfinite(v) else int(v)  # noqa: E731
        rows.append(
            (
                int(m.customer_ids[i]), int(m.orders_count[i]), num(m.revenue[i]) or Decimal("0"),
                day(m.first_order[i]), day(m.last_order[i]), opt_int(m.recency_days[i]), int(m.frequency[i]),
                num(m.monetary[i]) or Decimal("0"), opt_int(m.tenure_days[i]), opt(m.usual_interval_days[i]),
                opt(m.p_alive[i]), opt(m.expected_90d[i]), opt(m.p_purchase_90d[i]), num(m.clv_12m[i]), int(m.r_score[i]) or None,
                int(m.f_score[i]) or None, int(m.m_score[i]) or None, str(m.rfm_segment[i]), str(m.abc_class[i]),
                str(m.lifecycle[i]), str(m.reason_code[i]), json.dumps(reason), bool(m.declining[i]),
                day(m.decline_since[i]), day(m.left_on[i]), "now",
            )
        )  # fmt: skip
    return rows


def test_metric_columns_are_the_row_by_row_values():
    n = 9
    nan, nat = math.nan, np.datetime64("NaT", "D")
    # Half cents that numpy and Python round differently (12.365, 0.285), whole numbers, -0.0,
    # infinities, NaN and NaT, zero scores, large values.
    money = np.array([12.365, 0.285, 10.0, -0.0, 1e16, 2.675, nan, 1234567.891, 0.005])
    m = PortfolioMetrics(
        as_of=END,
        customer_ids=np.arange(1, n + 1, dtype=np.int64),
        orders_count=np.array([3, 1, 0, 2, 5, 1, 0, 9, 4]),
        revenue=money,
        first_order=np.array(
            [
                "1997-01-01",
                "1969-12-31",
                nat,
                "2026-11-19",
                "1997-02-03",
                nat,
                nat,
                "1997-01-01",
                "1998-06-30",
            ],
            dtype="datetime64[D]",
        ),  # fmt: skip
        last_order=np.array(
            [
                "1997-05-01",
                "1969-12-31",
                nat,
                "2026-11-19",
                "1998-02-03",
                nat,
                nat,
                "1998-01-01",
                "1998-06-30",
            ],
            dtype="datetime64[D]",
        ),  # fmt: skip
        recency_days=np.array([425.0, 10.0, nan, 0.0, 147.0, nan, nan, 180.0, 0.0]),
        frequency=np.array([2, 0, 0, 1, 4, 0, 0, 8, 3]),
        monetary=money[::-1].copy(),
        tenure_days=np.array([545.0, 10.0, nan, 0.0, 512.0, nan, nan, 545.0, 0.0]),
        usual_interval_days=np.array([60.0, nan, nan, 1.0 / 3, 91.25, nan, nan, 45.6875, math.inf]),
        p_alive=np.array([0.12345, nan, nan, 1.0, 0.0005, nan, nan, 0.9994999, 0.5]),
        expected_90d=np.array([0.1, nan, nan, 2.5, 1e-9, nan, nan, 3.25, -math.inf]),
        p_purchase_90d=np.array([0.05, nan, nan, 0.9, 1e-12, nan, nan, 0.75, 0.0]),
        clv_12m=money * 3,
        r_score=np.array([1, 5, 0, 3, 2, 0, 0, 4, 5]),
        f_score=np.array([2, 1, 0, 3, 5, 0, 0, 5, 4]),
        m_score=np.array([3, 2, 0, 4, 1, 0, 0, 5, 2]),
        rfm_segment=np.array(
            ["lost", "new", "", "loyal", "at_risk", "", "", "champions", "new"], dtype=object
        ),
        abc_class=np.array(["C", "B", "C", "A", "A", "C", "C", "A", "B"], dtype=object),
        lifecycle=np.array(
            ["inactive", "new", "prospect", "active", "at_risk", "prospect", "prospect", "active", "active"],
            dtype=object,
        ),  # fmt: skip
        reason_code=np.array(
            [
                "stopped",
                "first_purchase_recent",
                "no_purchase",
                "on_rhythm",
                "overdue",
                "no_purchase",
                "no_purchase",
                "on_rhythm",
                "on_rhythm",
            ],
            dtype=object,
        ),  # fmt: skip
        reason_overdue_factor=np.array([7.0833333, nan, nan, 0.0, 1.611, nan, nan, 3.9398, 0.0]),
        reason_threshold_days=np.array([240.0, nan, nan, 30.0, 182.5, nan, nan, 91.375, 30.0]),
        declining=np.array([True, False, False, False, True, False, False, False, True]),
        decline_since=np.array(
            ["1997-03-01", nat, nat, nat, "1969-12-31", nat, nat, nat, "1998-06-01"], dtype="datetime64[D]"
        ),  # fmt: skip
        left_on=np.array(["1997-09-28", nat, nat, nat, nat, nat, nat, nat, nat], dtype="datetime64[D]"),
    )
    columns = services._columns(m, "now")
    got = list(zip(*columns, strict=True))
    expected = _old_rows(m)
    assert len(got) == len(expected) == n
    for row, old in zip(got, expected, strict=True):
        for name, value, reference in zip(services._COMPUTED_COLUMNS, row, old, strict=True):
            if isinstance(reference, Decimal):
                # Stored from a float now: the same number, and the same text that PostgreSQL reads.
                assert isinstance(value, float) and Decimal(repr(value)) == reference, name
            else:
                assert value == reference and type(value) is type(reference), (name, value, reference)


def _reference_cohorts(orders: OrderArrays, *, as_of: dt.date, months: int = 12) -> dict[str, Any]:
    """The cohort table with a loop over the cohorts (the former implementation)."""
    end = np.datetime64(as_of, "D")
    o = orders.until(end)
    if len(o) == 0:
        return {"cohorts": [], "months": months}
    m = figures.month_index(o.days)
    pairs = np.unique(np.stack([o.customer_ids, m], axis=1), axis=0)
    cust, first_pos = np.unique(pairs[:, 0], return_index=True)
    first_month = pairs[first_pos, 1]
    cohort_of_pair = first_month[np.searchsorted(cust, pairs[:, 0])]
    offset = pairs[:, 1] - cohort_of_pair
    last = int(figures.month_index(np.array([end]))[0])
    cohorts, sizes = np.unique(first_month, return_counts=True)
    rows = []
    for cohort, size in zip(cohorts[-months:].tolist(), sizes[-months:].tolist(), strict=True):
        counts = np.bincount(offset[cohort_of_pair == cohort], minlength=months)[:months]
        retention = [round(float(counts[i]) / size, 4) for i in range(min(last - cohort + 1, months))]
        rows.append({"cohort": figures._month_label(cohort), "size": size, "retention": retention})
    return {"cohorts": rows, "months": months}


def _reference_moves(orders: OrderArrays, *, as_of: dt.date) -> dict[str, Any]:
    """RFM moves counted customer by customer (the former implementation)."""

    def segments_at(day: dt.date) -> dict[int, str]:
        s = summary_from_transactions(
            orders.customer_ids, orders.days, orders.amounts, observation_end=np.datetime64(day, "D")
        )
        if len(s) == 0:
            return {}
        seg = rfm_scores(s.days_since_last, s.frequency, s.monetary).segments()
        return dict(zip(s.customer_ids.tolist(), seg.tolist(), strict=True))

    previous = as_of.replace(day=1) - dt.timedelta(days=1)
    now, before = segments_at(as_of), segments_at(previous)
    moves: dict[str, dict[str, int]] = {}
    for customer, b in now.items():
        a = before.get(customer, "")
        if a != b:
            moves.setdefault(a or "none", {})
            moves[a or "none"][b] = moves[a or "none"].get(b, 0) + 1
    return moves


@pytest.mark.parametrize("as_of", [dt.date(1997, 1, 10), dt.date(1997, 4, 30), END])
def test_figures_are_the_loops_results(cdnow_portfolio, as_of):
    orders = selectors.order_arrays()
    ids = selectors.customer_ids()
    assert figures.cohort_table(orders, as_of=as_of) == _reference_cohorts(orders, as_of=as_of)
    assert figures.cohort_table(orders, as_of=as_of, months=3) == _reference_cohorts(
        orders, as_of=as_of, months=3
    )
    moves = figures.rfm_moves(orders, as_of=as_of)
    reference = _reference_moves(orders, as_of=as_of)
    assert moves["moves"] == reference
    # Same keys in the same order (the order in which the moves are first met).
    assert json.dumps(moves["moves"]) == json.dumps(reference)
    # The refresh hands over today's segments from its own analysis: the same moves.
    m = analyse(orders, ids, as_of=as_of, with_models=False, with_decline=False)
    buyers = m.orders_count > 0
    current = (m.customer_ids[buyers], m.rfm_segment[buyers])
    assert figures.rfm_moves(orders, as_of=as_of, current=current) == moves
    # The period-start statuses are the full analysis's statuses.
    assert statuses_at(orders, ids, as_of=as_of).lifecycle.tolist() == m.lifecycle.tolist()


def _index_definitions() -> set[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'insights_customermetrics'")
        else:
            cursor.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'insights_customermetrics'"
                " AND sql IS NOT NULL"
            )
        return {row[0] for row in cursor.fetchall()}


def _foreign_keys() -> list[Any]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT conname, pg_get_constraintdef(oid), convalidated FROM pg_constraint"
                " WHERE conrelid = 'insights_customermetrics'::regclass AND contype = 'f'"
            )
        else:
            cursor.execute("PRAGMA foreign_key_list(insights_customermetrics)")
        return cursor.fetchall()


@pytest.mark.django_db(transaction=True)
def test_rewrite_keeps_indexes_and_keys_and_checks_customers(owner, paths):
    """Outside a test transaction, as in production: indexes rebuilt, foreign keys back on; the
    fast rewrite (on PostgreSQL a new table swapped in) and its plain twin alike."""
    from cartera.customers.services import customer_create
    from cartera.sales.services import order_create

    people = [customer_create(actor=owner, fields={"first_name": f"P{i}"}) for i in range(5)]
    for n in range(20):
        order_create(
            actor=owner,
            customer=people[n % 4],
            fields={"ordered_on": dt.date(2026, 1, 1) + dt.timedelta(days=11 * n), "amount": f"{n + 1}.50"},
        )
    with connection.cursor() as cursor:
        # An index added later (by a migration or by hand) must survive the rewrite too.
        cursor.execute("CREATE INDEX metrics_test_extra ON insights_customermetrics (p_alive, customer_id)")
    try:
        _check_rewrite(people)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP INDEX metrics_test_extra")


def _check_rewrite(people: list[Any]) -> None:
    indexes, keys = _index_definitions(), _foreign_keys()
    services.insights_refresh(as_of=dt.date(2026, 11, 1))
    services.insights_refresh(as_of=dt.date(2026, 11, 2))
    assert _index_definitions() == indexes and any("metrics_test_extra" in d for d in indexes)
    assert _foreign_keys() == keys and keys
    assert CustomerMetrics.objects.count() == 5
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            assert cursor.execute("PRAGMA foreign_keys").fetchone()[0] == 1

    # A metrics row for a customer who is not there (deleted while the refresh ran) is refused, and
    # the old rows stay.
    orders, ids = selectors.order_arrays(), selectors.customer_ids()
    m = analyse(orders, np.append(ids, ids.max() + 1000), as_of=dt.date(2026, 11, 3), with_models=False)
    with pytest.raises(Exception, match=r"(?i)foreign key|violates"):
        services._write_metrics(m, timezone.now())
    assert CustomerMetrics.objects.count() == 5
    assert _index_definitions() == indexes
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            assert cursor.execute("PRAGMA foreign_keys").fetchone()[0] == 1
