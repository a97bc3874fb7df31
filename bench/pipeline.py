"""Issue 15 speed benchmark: the opportunity board with 10,000 open opportunities (goal p95 ≤ 300 ms),
and the bottleneck report over the same pipeline.

Run from the repository root::

    .venv/bin/python -m bench.pipeline                 # SQLite file var/bench-pipeline.sqlite3
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cartera_bench_pipeline .venv/bin/python -m bench.pipeline

It builds its own database (migrated, then 2,000 customers and 10,000 open opportunities spread over
the four stages of the default pipeline, a tenth of them rotting, each with its opening history row),
unless that database already holds them. Requests go in-process through Django's test ``Client`` with a
manager (who sees every opportunity) logged in by ``force_login``: 3 warm-up requests, then
``--requests`` timed ones; p50 and p95 are nearest-rank. Results go to docs/benchmarks.md between the
``bench:issue15`` markers (``--no-doc`` to skip).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_MARK = "<!-- bench:issue15:start -->"
END_MARK = "<!-- bench:issue15:end -->"
OPEN_OPPORTUNITIES = 10_000
CUSTOMERS = 2_000
GOAL_MS = 300.0


def _nearest_rank(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(round(fraction * len(ordered) + 0.5)) - 1))]


def _prepare() -> None:
    from decimal import Decimal

    from django.core.management import call_command
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    from cartera.accounts.models import User
    from cartera.accounts.services import user_create
    from cartera.customers.models import Customer
    from cartera.pipeline import selectors, services
    from cartera.pipeline.models import Opportunity, OpportunityStageChange

    if Opportunity.objects.filter(status="open").count() >= OPEN_OPPORTUNITIES:
        return
    manager = User.objects.filter(username="bench-manager").first() or user_create(
        username="bench-manager", password=os.urandom(12).hex(), role="manager"
    )
    stages = selectors.stages_of(services.pipeline_defaults_ensure())
    pipeline = stages[0].pipeline
    Customer.objects.bulk_create(
        [
            Customer(first_name=f"Cliente {i}", first_name_key=f"cliente {i}", owner=manager)
            for i in range(CUSTOMERS)
        ],
        batch_size=1_000,
    )
    ids = list(Customer.objects.values_list("pk", flat=True)[:CUSTOMERS])
    now = timezone.now()
    old = now - dt.timedelta(days=40)
    rows = []
    for i in range(OPEN_OPPORTUNITIES):
        stage = stages[i % len(stages)]
        idle = old if i % 10 == 0 else now
        rows.append(Opportunity(
            pipeline=pipeline, stage=stage, customer_id=ids[i % len(ids)], title=f"Oportunidad {i}",
            value=Decimal(100 + (i * 37) % 50_000), probability=stage.probability, owner=manager,
            source="referral", expected_close_on=(now + dt.timedelta(days=i % 180)).date(),
            stage_entered_at=idle, last_activity_at=idle,
        ))  # fmt: skip
    Opportunity.objects.bulk_create(rows, batch_size=1_000)
    OpportunityStageChange.objects.bulk_create(
        [OpportunityStageChange(opportunity=o, to_stage_id=o.stage_id, changed_by=manager, changed_at=o.stage_entered_at)
         for o in Opportunity.objects.only("pk", "stage_id", "stage_entered_at")],
        batch_size=2_000,
    )  # fmt: skip


def _time(client, url: str, requests: int) -> list[float]:
    for _ in range(3):
        assert client.get(url, secure=True).status_code == 200
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        response = client.get(url, secure=True)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{ROOT / 'var' / 'bench-pipeline.sqlite3'}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cartera.settings")
    (ROOT / "var").mkdir(exist_ok=True)
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    settings.ALLOWED_HOSTS = ["*"]
    started = time.perf_counter()
    _prepare()
    prepared_s = time.perf_counter() - started
    from cartera.accounts.models import User

    client = Client()
    client.force_login(User.objects.get(username="bench-manager"))
    results = []
    for label, url in (
        ("board, 10,000 open opportunities", "/pipeline/"),
        ("board filtered by close month", f"/pipeline/?close_month={dt.date.today():%Y-%m}"),
        ("list: open and rotting", "/pipeline/opportunities/?status=open&rotting=on"),
        ("bottleneck report", "/pipeline/report/"),
    ):
        times = _time(client, url, args.requests)
        results.append((label, statistics.median(times), _nearest_rank(times, 0.95)))
        print(f"{label}: p50 {results[-1][1]:.0f} ms, p95 {results[-1][2]:.0f} ms", file=sys.stderr)
    if args.no_doc:
        return
    from bench.doc import replace_section
    from bench.machine import machine_facts

    m = machine_facts()
    load = os.getloadavg()
    lines = [
        START_MARK,
        "## Pipeline board (issue 15)",
        "",
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {connection.vendor}, {m['cpu']} ({m['cores']} cores, {m['ram_gib']} GiB), "
        f"Python {m['python']}; load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (the machine is shared). "
        f"{OPEN_OPPORTUNITIES:,} open opportunities in four stages, a tenth rotting; database prepared in {prepared_s:.0f} s. "
        f"{args.requests} timed requests each, in-process, as a manager. Goal: the board's p95 ≤ {GOAL_MS:.0f} ms. "
        "Run: `.venv/bin/python -m bench.pipeline`.",
        "",
        "| page | p50 (ms) | p95 (ms) |",
        "|---|---:|---:|",
        *[f"| {label} | {p50:.0f} | {p95:.0f} |" for label, p50, p95 in results],
        END_MARK,
    ]
    replace_section(START_MARK, END_MARK, "\n".join(lines))


if __name__ == "__main__":
    main()
