"""The database connection cut in the middle of a refresh (issue 16, "Load and faults": ``kill -9`` of
the database connection): the customers keep the figures of the last refresh that finished, nothing is
half written, and the next refresh runs and finishes.

The refresh is a real one in another process, paused once it has analysed the portfolio, right before
it writes the metrics; the test then ends every other session of the test database on the server
(``pg_terminate_backend``, what a database restart or a dropped network does to the client) and lets
it go on. PostgreSQL only: a SQLite connection is a file the process holds, there is no server side
to cut.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from cartera.customers.services import customer_create
from cartera.insights.services import insights_refresh
from cartera.sales.services import order_create
from tests.insights.test_refresh_lock import _env, refresh_command, runs
from tests.shared_db import query, share_database

ROOT = Path(__file__).resolve().parents[2]

# A real refresh that stops once the analysis is done, right before writing, until a file appears.
PAUSED_BEFORE_WRITING = """
import os, sys, time
from pathlib import Path
import django
django.setup()
from django.utils import translation
from cartera.insights.services import insights_refresh

translation.activate("en")
go_on = Path(sys.argv[1])

def pause(message):
    if message == "writing metrics":
        print("paused", flush=True)
        while not go_on.exists():
            time.sleep(0.05)

insights_refresh(trigger="cut", progress=pause)
"""

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="a server connection: PostgreSQL")


def _figures(db: dict[str, Any]) -> list[tuple[Any, ...]]:
    return query(
        db,
        "SELECT customer_id, orders_count, revenue, lifecycle, computed_at FROM insights_customermetrics "
        "ORDER BY customer_id",
    )


@pytest.mark.django_db(transaction=True)
def test_a_refresh_whose_database_connection_is_cut_leaves_the_last_figures_and_blocks_nothing(
    owner, tmp_path
):
    buyers = [customer_create(actor=owner, fields={"first_name": f"C{i}"}) for i in range(3)]
    for i, person in enumerate(buyers):
        order_create(actor=owner, customer=person,
                     fields={"ordered_on": dt.date(2026, 1, 5 + i), "amount": Decimal(100 * (i + 1))})  # fmt: skip
    insights_refresh(trigger="first")
    db = share_database(tmp_path)
    before = _figures(db)
    assert [row[1] for row in before] == [1, 1, 1]
    # An order recorded since: the cut refresh would have counted it.
    order_create(
        actor=owner, customer=buyers[0], fields={"ordered_on": dt.date(2026, 2, 1), "amount": Decimal("5")}
    )

    go_on = tmp_path / "go-on"
    holder = subprocess.Popen(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", PAUSED_BEFORE_WRITING, str(go_on)],
        env=_env(db),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "paused"
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            assert cursor.fetchall(), "the paused refresh's sessions were found"
        go_on.touch()
        _out, errors = holder.communicate(timeout=60)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    assert holder.returncode != 0 and "terminat" in errors.lower()

    # Nothing half written: every customer keeps the figures of the refresh that finished.
    assert _figures(db) == before
    assert [r[1] for r in runs(db)] == ["done", "running"]  # the cut one could not even say so

    after = refresh_command(db)
    assert after.returncode == 0, after.stderr
    assert "took over the lock" in after.stdout
    assert [r[1] for r in runs(db)] == ["done", "failed", "done"]
    assert [row[1] for row in _figures(db)] == [2, 1, 1]
