"""Issue 15 speed benchmark: the opportunity board with 10,000 open opportunities (goal p95 ≤ 300 ms,
columns paged), the bottleneck report over a big file (goal ≤ 1 s with 1,000,000 customers and
200,000 opportunities), and the public lead form's submission (goal p95 ≤ 100 ms).

Run from the repository root::

    .venv/bin/python -m bench.pipeline                 # SQLite file var/bench-pipeline.sqlite3
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cartera_bench_pipeline .venv/bin/python -m bench.pipeline \
        --customers 1000000 --closed 190000           # the issue's sizes

It builds its own database (migrated, then ``--customers`` customers and 10,000 open opportunities
spread over the four stages of the default pipeline, a tenth of them rotting, each with its opening
history row; ``--closed`` more opportunities that went some stages along and were won or lost, each
with its whole history: opening, every move with its time in stage, the close), unless that database
already holds them. On PostgreSQL the customers beyond the first thousand are copied by one
``INSERT … SELECT generate_series`` (a million in about a minute). Requests go in-process through
Django's test ``Client`` with a manager (who sees every opportunity) logged in by ``force_login``: 3
warm-up requests, then ``--requests`` timed ones; p50 and p95 are nearest-rank. The lead form is
posted as a visitor, a new person each time (its e-mail, task, history line and answer written), from
a new address each time so that the rate limit does not answer instead. Results go to
docs/benchmarks.md between the ``bench:issue15`` markers (``--no-doc`` to skip).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
START_MARK = "<!-- bench:issue15:start -->"
END_MARK = "<!-- bench:issue15:end -->"
OPEN_OPPORTUNITIES = 10_000
CUSTOMERS = 2_000
GOAL_MS = 300.0
REPORT_GOAL_MS = 1_000.0
LEAD_GOAL_MS = 100.0


def _nearest_rank(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(round(fraction * len(ordered) + 0.5)) - 1))]


def _customers(manager: object, count: int) -> None:
    """``count`` customers of ``manager``: the first thousand through the ORM, the rest copied from
    them by the database on PostgreSQL (one ``INSERT … SELECT``), else in batches."""
    from django.db import connection

    from cartera.customers.models import Customer

    have = Customer.objects.count()
    if have >= count:
        return
    seed = min(count - have, 1_000)
    Customer.objects.bulk_create(
        [
            Customer(first_name=f"Cliente {have + i}", first_name_key=f"cliente {have + i}", owner=manager)
            for i in range(seed)
        ],
        batch_size=1_000,
    )
    rest = count - have - seed
    if rest <= 0:
        return
    if connection.vendor != "postgresql":
        for start in range(0, rest, 10_000):
            Customer.objects.bulk_create(
                [Customer(first_name=f"Cliente {i}", first_name_key=f"cliente {i}", owner=manager)
                 for i in range(start, min(rest, start + 10_000))],
                batch_size=2_000,
            )  # fmt: skip
        return
    template = Customer.objects.order_by("-pk").first()
    columns = [f.column for f in Customer._meta.concrete_fields if not f.primary_key]
    chosen = {"first_name": "'Cliente ' || g", "first_name_key": "'cliente ' || g", "email": "NULL"}
    select = ", ".join(chosen.get(c, f"t.{connection.ops.quote_name(c)}") for c in columns)
    table = connection.ops.quote_name(Customer._meta.db_table)
    with connection.cursor() as cursor:
        names = ", ".join(connection.ops.quote_name(c) for c in columns)
        sql = f"INSERT INTO {table} ({names}) SELECT {select} FROM {table} t, generate_series(1, %s) g WHERE t.id = %s"  # noqa: S608 - our own names
        cursor.execute(sql, [rest, template.pk])


def _closed(manager: object, stages: list, count: int, customer_ids: list[int]) -> None:
    """``count`` closed opportunities with their whole history, in batches of 10,000."""
    import random
    from decimal import Decimal

    from django.utils import timezone

    from cartera.pipeline.models import LostReason, Opportunity, OpportunityStageChange

    rng = random.Random(15)
    reasons = list(LostReason.objects.all()) or [LostReason.objects.create(name="Precio")]
    now = timezone.now()
    done = 0
    while done < count:
        batch = min(10_000, count - done)
        plans = []
        for i in range(batch):
            steps = rng.randint(1, len(stages))  # how far along it went
            won = steps == len(stages) or rng.random() < 0.3
            opened = now - dt.timedelta(days=rng.randint(20, 700), seconds=rng.randint(0, 86_400))
            spans = [rng.randint(3_600, 40 * 86_400) for _ in range(steps)]
            closed_at = opened + dt.timedelta(seconds=sum(spans))
            last = stages[steps - 1]
            row = Opportunity(
                pipeline=last.pipeline, stage=last, customer_id=customer_ids[(done + i) % len(customer_ids)],
                title=f"Cerrada {done + i}", value=Decimal(100 + ((done + i) * 53) % 80_000),
                probability=last.probability, owner=manager,
                source=("referral", "web", "event", "")[i % 4], status="won" if won else "lost",
                expected_close_on=closed_at.date(), stage_entered_at=closed_at - dt.timedelta(seconds=spans[-1]),
                last_activity_at=closed_at, closed_at=closed_at,
                lost_reason=None if won else reasons[i % len(reasons)],
            )  # fmt: skip
            plans.append((row, opened, spans, won))
        Opportunity.objects.bulk_create([p[0] for p in plans], batch_size=2_000)
        changes = []
        for row, opened, spans, won in plans:
            at = opened
            changes.append(OpportunityStageChange(
                opportunity=row, to_stage=stages[0], outcome="open", changed_by=manager, changed_at=at))  # fmt: skip
            for step, span in enumerate(spans):
                at += dt.timedelta(seconds=span)
                final = step == len(spans) - 1
                changes.append(OpportunityStageChange(
                    opportunity=row, from_stage=stages[step], to_stage=None if final else stages[step + 1],
                    outcome=("won" if won else "lost") if final else "open", changed_by=manager,
                    changed_at=at, seconds_in_stage=span,
                ))  # fmt: skip
        OpportunityStageChange.objects.bulk_create(changes, batch_size=5_000)
        Opportunity.objects.filter(pk__in=[p[0].pk for p in plans]).update(created_at=_opened_at())
        done += batch


def _opened_at() -> Any:
    """Each closed opportunity's creation time: its first history line (its opening)."""
    from django.db.models import OuterRef, Subquery

    from cartera.pipeline.models import OpportunityStageChange

    first = OpportunityStageChange.objects.filter(opportunity=OuterRef("pk")).order_by("changed_at")
    return Subquery(first.values("changed_at")[:1])


def _prepare(customers: int, closed: int) -> None:
    from decimal import Decimal

    from django.core.management import call_command
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    from cartera.accounts.models import User
    from cartera.accounts.services import user_create
    from cartera.core.database import update_planner_statistics
    from cartera.customers.models import Customer
    from cartera.pipeline import selectors, services
    from cartera.pipeline.models import Opportunity, OpportunityStageChange

    manager = User.objects.filter(username="bench-manager").first() or user_create(
        username="bench-manager", password=os.urandom(12).hex(), role="manager"
    )
    stages = selectors.stages_of(services.pipeline_defaults_ensure())
    pipeline = stages[0].pipeline
    _customers(manager, customers)
    ids = list(Customer.objects.order_by("pk").values_list("pk", flat=True)[:CUSTOMERS])
    if Opportunity.objects.filter(status="open").count() < OPEN_OPPORTUNITIES:
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
             for o in Opportunity.objects.filter(status="open").only("pk", "stage_id", "stage_entered_at")],
            batch_size=2_000,
        )  # fmt: skip
    have_closed = Opportunity.objects.exclude(status="open").count()
    if have_closed < closed:
        spread = list(Customer.objects.order_by("-pk").values_list("pk", flat=True)[:200_000])
        _closed(manager, stages, closed - have_closed, spread)
    update_planner_statistics()


def _lead_form() -> object:
    """The public form the lead benchmark posts to (built once, by the bench manager)."""
    from cartera.accounts.models import User
    from cartera.pipeline import services
    from cartera.pipeline.models import LeadForm

    found = LeadForm.objects.filter(name="Bench").first()
    if found is not None:
        return found
    manager = User.objects.get(username="bench-manager")
    return services.lead_form_save(
        actor=manager, lead_form=None,
        settings_values={"name": "Bench", "active": True, "title": "Pide información", "language": "es",
                         "stage": "prospect", "consent_text": "Quiero recibir ofertas por correo.",
                         "allowed_origins": "", "assignment": "fixed", "assign_to": manager},
        fields=["last_name", "phone", "city"], required=["last_name"], round_robin_users=[],
    )  # fmt: skip


def _time_leads(requests: int) -> list[float]:
    """Post the public lead form as ``requests`` new visitors (after 3 warm-up posts)."""
    from django.test import Client
    from django.urls import reverse

    from cartera.pipeline import services

    lead_form = _lead_form()
    url = reverse("pipeline:lead_public", args=[lead_form.slug])  # type: ignore[attr-defined]
    visitor = Client()
    stamp = os.urandom(4).hex()
    times = []
    for i in range(requests + 3):
        data = {
            "token": services.lead_page_token(lead_form), "website": "", "f_first_name": "Ana",  # type: ignore[arg-type]
            "f_last_name": f"Bench {i}", "f_email": f"lead-{stamp}-{i}@example.com", "f_city": "Sevilla",
            "consent": "on",
        }  # fmt: skip
        start = time.perf_counter()
        response = visitor.post(
            url, data, secure=True, REMOTE_ADDR=f"10.{i // 65_536 % 256}.{i // 256 % 256}.{i % 256}"
        )
        elapsed = (time.perf_counter() - start) * 1000
        assert response.status_code == 200, response.status_code
        if i >= 3:
            times.append(elapsed)
    return times


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


def _time_report(client: Any, requests: int) -> list[tuple[str, float, float, float | None]]:
    """The report page as a manager of a busy team sees it: the first view ever (it counts the figures
    and keeps them), then each view right after a rep moved an opportunity (the page reads what the
    worker counted, says newer changes are being counted and queues the worker once), and the worker's
    count itself (the figures of the pipeline and where the revenue comes from)."""
    import random

    from cartera.accounts.models import User
    from cartera.pipeline import selectors, services
    from cartera.pipeline.models import Opportunity, OpportunityStatus, ReportFigures
    from cartera.pipeline.tasks import count_report_figures

    manager = User.objects.get(username="bench-manager")
    pipeline = selectors.pipeline_get(None)
    stages = selectors.stages_of(pipeline)
    results: list[tuple[str, float, float, float | None]] = []

    def row(label: str, times: list[float], goal: float | None) -> None:
        results.append((label, statistics.median(times), _nearest_rank(times, 0.95), goal))
        print(f"{label}: p50 {results[-1][1]:.0f} ms, p95 {results[-1][2]:.0f} ms", file=sys.stderr)

    ReportFigures.objects.all().delete()
    start = time.perf_counter()
    assert client.get("/pipeline/report/", secure=True).status_code == 200
    row(
        "bottleneck report, first view ever (counts, then keeps the figures)",
        [(time.perf_counter() - start) * 1000],
        None,
    )
    open_ids = list(
        Opportunity.objects.filter(pipeline=pipeline, status=OpportunityStatus.OPEN).values_list(
            "pk", flat=True
        )[:2000]
    )
    rng = random.Random(15)
    times = []
    for _ in range(3 + requests):
        moved = Opportunity.objects.get(pk=rng.choice(open_ids))
        services.opportunity_move(
            actor=manager, opportunity=moved, stage=rng.choice([s for s in stages if s.pk != moved.stage_id])
        )
        start = time.perf_counter()
        response = client.get("/pipeline/report/", secure=True)
        times.append((time.perf_counter() - start) * 1000)
        assert (
            response.status_code == 200
            and b'report-counted pending" role="status" id="history-counted"' in response.content
        )
    row("bottleneck report, a rep's move before each view (whole page)", times[3:], REPORT_GOAL_MS)
    times = []
    for _ in range(3):
        ReportFigures.objects.update(stamp=[])
        start = time.perf_counter()
        count_report_figures.call()
        times.append((time.perf_counter() - start) * 1000)
    row("· the worker's count of both halves (`count_report_figures`)", times, None)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--customers", type=int, default=CUSTOMERS, help="Customers in the file.")
    parser.add_argument("--closed", type=int, default=0, help="Won and lost opportunities besides the open.")
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args()
    from bench.doc import django_for_bench

    django_for_bench("bench-pipeline.sqlite3")
    from django.db import connection
    from django.test import Client

    started = time.perf_counter()
    _prepare(args.customers, args.closed)
    prepared_s = time.perf_counter() - started
    from cartera.accounts.models import User
    from cartera.customers.models import Customer
    from cartera.pipeline.models import Opportunity, OpportunityStageChange

    sizes = (Customer.objects.count(), Opportunity.objects.count(), OpportunityStageChange.objects.count())
    client = Client()
    client.force_login(User.objects.get(username="bench-manager"))
    results = []
    for label, url, goal in (
        ("board, 10,000 open opportunities", "/pipeline/", GOAL_MS),
        ("board filtered by close month", f"/pipeline/?close_month={dt.date.today():%Y-%m}", GOAL_MS),
        ("list: open and rotting", "/pipeline/opportunities/?status=open&rotting=on", None),
    ):
        times = _time(client, url, args.requests)
        results.append((label, statistics.median(times), _nearest_rank(times, 0.95), goal))
        print(f"{label}: p50 {results[-1][1]:.0f} ms, p95 {results[-1][2]:.0f} ms", file=sys.stderr)
    results.extend(_time_report(client, args.requests))
    times = _time_leads(args.requests)
    results.append(
        (
            "lead form submission (a new person)",
            statistics.median(times),
            _nearest_rank(times, 0.95),
            LEAD_GOAL_MS,
        )
    )
    print(f"{results[-1][0]}: p50 {results[-1][1]:.0f} ms, p95 {results[-1][2]:.0f} ms", file=sys.stderr)
    if args.no_doc:
        return
    from bench.doc import replace_section
    from bench.machine import machine_facts

    m = machine_facts()
    load = os.getloadavg()
    lines = [
        START_MARK,
        "## Pipeline board, bottleneck report and lead form (issue 15)",
        "",
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {connection.vendor}, {m['cpu']} ({m['cores']} cores, {m['ram_gib']} GiB), "
        f"Python {m['python']}; load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} at the end (the machine is shared). "
        f"{sizes[0]:,} customers, {sizes[1]:,} opportunities ({OPEN_OPPORTUNITIES:,} open in four stages, a tenth "
        f"rotting; the rest won or lost) with {sizes[2]:,} history lines; database prepared in {prepared_s:.0f} s. "
        f"{args.requests} timed requests each, in-process, as a manager (the lead form as new visitors; the report after "
        f"a move of a random open opportunity before each view, so that the stored figures are always being counted "
        f"again; the worker's count timed 3 times). "
        f"Run: `.venv/bin/python -m bench.pipeline --customers {args.customers} --closed {args.closed}`.",
        "",
        "| page | p50 (ms) | p95 (ms) | goal (p95) |",
        "|---|---:|---:|---:|",
        *[f"| {label} | {p50:.0f} | {p95:.0f} | {'' if goal is None else f'≤ {goal:.0f} ms'} |"
          for label, p50, p95, goal in results],
        END_MARK,
    ]  # fmt: skip
    replace_section(START_MARK, END_MARK, "\n".join(lines))


if __name__ == "__main__":
    main()
