"""Planner statistics after bulk work: full, so that filters pick the right index."""

from __future__ import annotations

import pytest
from django.db import connection

from cartera.core.database import update_planner_statistics
from cartera.customers.models import Customer, Stage
from cartera.customers.services import customer_create


def test_statistics_count_every_row_of_a_low_cardinality_index(owner):
    for i in range(30):
        customer_create(actor=owner, fields={"first_name": f"C{i}", "stage": Stage.PROSPECT})
    update_planner_statistics([Customer._meta.db_table])
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT stat FROM sqlite_stat1 WHERE idx = 'customer_stage_id'")
            rows, per_stage, _ = (int(v) for v in cursor.fetchone()[0].split()[:3])
            # 30 rows, all in one stage: a sampled ANALYZE would not see the whole index.
            assert (rows, per_stage) == (30, 30)
        else:
            cursor.execute(
                "SELECT n_distinct FROM pg_stats WHERE tablename = %s AND attname = 'stage'",
                [Customer._meta.db_table],
            )
            assert cursor.fetchone()[0] == 1


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_postgresql_also_vacuums(owner):
    customer_create(actor=owner, fields={"first_name": "Ana"})
    update_planner_statistics([Customer._meta.db_table])
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT count(*) FROM sqlite_stat1 WHERE tbl = %s", [Customer._meta.db_table])
            assert cursor.fetchone()[0] > 0
            return
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT last_vacuum IS NOT NULL, last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = %s",
            [Customer._meta.db_table],
        )
        assert cursor.fetchone() == (True, True)


@pytest.mark.django_db(transaction=True)
def test_dbstats_command(owner):
    from io import StringIO

    from django.core.management import call_command

    customer_create(actor=owner, fields={"first_name": "Ana"})
    out = StringIO()
    call_command("dbstats", "--lang", "en", stdout=out)
    assert "Planner statistics refreshed" in out.getvalue()
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT count(*) FROM sqlite_stat1 WHERE tbl = %s", [Customer._meta.db_table])
        else:
            cursor.execute("SELECT count(*) FROM pg_stats WHERE tablename = %s", [Customer._meta.db_table])
        assert cursor.fetchone()[0] > 0


def test_the_refresh_leaves_statistics_for_the_rewritten_metrics(analysed_portfolio):
    from cartera.insights.models import CustomerMetrics

    table = CustomerMetrics._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            # The rewrite rebuilds the indexes, which drops their statistics; the refresh restores them.
            cursor.execute("SELECT count(*) FROM sqlite_stat1 WHERE idx = 'metrics_segment_cover'")
        else:
            cursor.execute("SELECT count(*) FROM pg_stats WHERE tablename = %s", [table])
        assert cursor.fetchone()[0] > 0


def test_the_refresh_copies_every_customers_stage(analysed_portfolio):
    from django.db.models import F

    from cartera.insights.models import CustomerMetrics

    assert CustomerMetrics.objects.count() > 0
    assert not CustomerMetrics.objects.exclude(stage=F("customer__stage")).exists()
