"""Rewriting every metrics row: the fast way and its plain twin store the same rows, and on
PostgreSQL the new table is swapped in without making readers (or the stage trigger) wait or miss."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from cartera.core import bulk
from cartera.customers.models import Customer
from cartera.insights import selectors, services, storage
from cartera.insights.analysis import analyse
from cartera.insights.models import CustomerMetrics
from cartera.insights.services import insights_refresh
from tests.shared_db import lock_probe

END = dt.date(1998, 6, 30)
FIELDS = [f.attname for f in CustomerMetrics._meta.concrete_fields if f.attname != "computed_at"]


def _all_rows() -> list[tuple[Any, ...]]:
    return list(CustomerMetrics.objects.order_by("customer_id").values_list(*FIELDS))


def test_fast_and_plain_rewrites_store_the_same_rows(cdnow_portfolio, owner, settings):
    from cartera.customers.services import customer_create

    customer_create(actor=owner, fields={"first_name": "Nunca", "last_name": "Compró", "stage": "prospect"})
    insights_refresh(as_of=END, period_days=91)
    fast = _all_rows()
    settings.CARTERA_BULK_PLAIN = True
    insights_refresh(as_of=END, period_days=91)
    plain = _all_rows()
    assert len(fast) == cdnow_portfolio["customers"] + 1
    assert plain == fast
    assert {row[FIELDS.index("stage")] for row in fast} >= {"prospect"}


# --- PostgreSQL: the swap -------------------------------------------------------------------------


def _small_portfolio(owner: Any) -> list[Customer]:
    from cartera.customers.services import customer_create
    from cartera.sales.services import order_create

    people = [
        customer_create(actor=owner, fields={"first_name": f"P{i}", "stage": "customer"}) for i in range(4)
    ]
    for n in range(12):
        order_create(
            actor=owner,
            customer=people[n % 3],
            fields={"ordered_on": dt.date(2026, 1, 1) + dt.timedelta(days=13 * n), "amount": f"{n + 3}.25"},
        )
    insights_refresh(as_of=dt.date(2026, 11, 1))
    return people


def _acl() -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT relacl::text FROM pg_class WHERE oid = 'insights_customermetrics'::regclass")
        row = cursor.fetchone()
        return None if row is None else row[0]


@pytest.mark.django_db(transaction=True)
def test_readers_and_stage_changes_go_on_while_the_new_table_is_built(owner):
    if connection.vendor != "postgresql":
        pytest.skip("the table swap is PostgreSQL's (SQLite readers read the old rows from the WAL)")
    people = _small_portfolio(owner)
    table = storage.METRICS_TABLE
    with connection.cursor() as cursor:
        cursor.execute("GRANT SELECT ON insights_customermetrics TO PUBLIC")
    acl = _acl()
    seen: dict[str, Any] = {}
    other = lock_probe()
    other.execute("SET statement_timeout = '3s'")

    def fill(cursor: Any, new: str) -> None:
        cursor.execute(f"INSERT INTO {new} SELECT * FROM {table}")  # noqa: S608 - the old rows, stages as they were
        # Meanwhile, elsewhere: a reader counts the old rows, and a stage changes (neither waits).
        seen["count"] = other.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
        other.execute("UPDATE customers_customer SET stage = 'former' WHERE id = %s", [people[0].pk])

    bulk.swap_in_new_table(table, fill=fill, before_swap=storage.catch_up_stages)
    other.close()
    assert seen["count"] == 4
    # The stage changed during the build is on the swapped-in rows.
    assert CustomerMetrics.objects.get(customer=people[0]).stage == "former"
    # And the trigger on the customer file keeps updating the table now in place.
    Customer.objects.filter(pk=people[1].pk).update(stage="suspect")
    assert CustomerMetrics.objects.get(customer=people[1]).stage == "suspect"
    assert _acl() == acl and acl is not None and "=r/" in acl
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_class WHERE relname LIKE %s", [f"{table}\\_\\_%"])
        assert cursor.fetchone()[0] == 0  # nothing left behind
    with connection.cursor() as cursor:
        cursor.execute("REVOKE SELECT ON insights_customermetrics FROM PUBLIC")


@pytest.mark.django_db(transaction=True)
def test_the_swap_lets_readers_pass_while_it_waits_for_a_long_one(owner, settings):
    """A long reader holds the table: the swap waits for it without queueing the readers after it."""
    if connection.vendor != "postgresql":
        pytest.skip("the table swap is PostgreSQL's")
    settings.CARTERA_BULK_PLAIN = False  # the swap itself, also when the suite runs the plain twins
    _small_portfolio(owner)
    table = storage.METRICS_TABLE
    long_reader, probe = lock_probe(), lock_probe()
    long_reader.autocommit = False
    long_reader.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - its lock lasts until the commit
    probe.execute("SET statement_timeout = '1500ms'")
    probes: list[float] = []

    def meanwhile() -> None:
        time.sleep(0.3)
        for _ in range(5):
            began = time.perf_counter()
            probe.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
            probes.append(time.perf_counter() - began)
            time.sleep(0.2)
        long_reader.commit()

    metrics = analyse(
        selectors.order_arrays(), selectors.customer_ids(), as_of=dt.date(2026, 11, 2), with_models=False
    )
    helper = threading.Thread(target=meanwhile)
    helper.start()
    began = time.perf_counter()
    services._write_metrics(metrics, timezone.now())
    waited = time.perf_counter() - began
    helper.join()
    long_reader.close()
    probe.close()
    assert len(probes) == 5 and max(probes) < 1.5  # each probe passed while the swap waited
    assert waited > 1.0  # the swap did wait for the long reader
    assert CustomerMetrics.objects.count() == 4
