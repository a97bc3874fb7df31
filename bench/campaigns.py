"""Issue 13 speed benchmark: a campaign to 100,000 customers — review counts, freezing the audience and
queuing the personalised e-mails, sending to the local aiosmtpd sink, and the results page.

Run from the repository root::

    .venv/bin/python -m bench.campaigns                       # SQLite file var/bench-campaigns.sqlite3
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cartera_campaigns17_bench .venv/bin/python -m bench.campaigns

It builds its own database unless it already holds the customers: migrated, then ``--customers``
at-risk customers (e-mail, marketing consent, one order each, owned by one manager) and a segment of
them, and ``--others`` active customers the segment leaves out (900,000: the issue's audience of
100,000 drawn from a file of 1,000,000). Each run creates and sends a new campaign (10 % control group, a unique promotion code per
recipient), so the frequency cap is off. Timed: the review counts (``campaign_plan``), the send
(freeze the audience, create the codes, render and queue every e-mail, write the timelines), then
``--send`` e-mails delivered over one SMTP connection to the local aiosmtpd sink (in a process of
its own, as ``make run`` has it, on port ``--port``; rate limit off), then the results page in-process (3 warm-up requests and ``--requests``
timed ones, nearest-rank p95). Peak memory is the process's own memory (``RssAnon``, sampled every 20
ms; SQLite's mapped database file is page cache the kernel shares and reclaims, and is reported apart
as the whole resident set size). Results go to
docs/benchmarks.md between the ``bench:issue13`` markers (``--no-doc`` to skip), keeping what the
section holds under "### Earlier runs". Each step also reports the process's CPU seconds (steadier
than elapsed time on a shared machine). ``--database-url`` picks the database (PostgreSQL);
``--profile DIR`` writes a cProfile of each step; ``--save`` writes the figures as JSON and
``--before`` puts such a file's figures in a "before" column.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
START_MARK = "<!-- bench:issue13:start -->"
END_MARK = "<!-- bench:issue13:end -->"
GOALS = {"review": 5.0, "send": 60.0, "rate": 100.0, "results": 300.0}


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _own_mib() -> float:
    """The process's own memory now (``RssAnon``: what Python, the drivers and SQLite's page cache
    allocate), leaving out the database file SQLite maps into the process (``mmap_size``, up to 256
    MiB), which the kernel shares and takes back, and which PostgreSQL's client never has."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    return 0.0


class PeakMemory:
    """The highest :func:`_own_mib` while the block runs, sampled every 20 ms by a thread."""

    def __init__(self) -> None:
        self.peak = _own_mib()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._done.wait(0.02):
            self.peak = max(self.peak, _own_mib())

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, _own_mib())


def _cpu_s() -> float:
    """CPU seconds this process has used (user + system): on a shared, loaded machine a steadier
    measure of the work than the elapsed time, which includes waiting for a core."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _nearest_rank(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(round(fraction * len(ordered) + 0.5)) - 1))]


class QueryCount:
    """Counts the SQL statements run on the default connection while active (a number that does not
    depend on the load of the machine, unlike the times)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        self.count += 1
        return execute(sql, params, many, context)

    def __enter__(self) -> QueryCount:
        from django.db import connection

        self._cm = connection.execute_wrapper(self)
        self._cm.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._cm.__exit__(*exc)


class Profiled:
    """cProfile of one step, written to ``DIR/<name>.prof`` (nothing when ``folder`` is None)."""

    def __init__(self, folder: str | None, name: str) -> None:
        self.folder, self.name = folder, name

    def __enter__(self) -> Profiled:
        if self.folder:
            import cProfile

            self.profile = cProfile.Profile()
            self.profile.enable()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.folder:
            self.profile.disable()
            Path(self.folder).mkdir(parents=True, exist_ok=True)
            self.profile.dump_stats(str(Path(self.folder) / f"{self.name}.prof"))


def _run_sink(port: int, folder: str, ready: Any, stop: Any) -> None:
    """The local aiosmtpd sink, in a child process, until ``stop`` is set."""
    import django

    django.setup()
    from cartera.messaging.sink import start_sink

    controller = start_sink(host="127.0.0.1", port=port, folder=Path(folder))
    ready.set()
    stop.wait()
    controller.stop()


def _prepare(customers: int, others: int = 0) -> None:
    from decimal import Decimal

    from django.core.management import call_command
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    from cartera.accounts.models import User
    from cartera.accounts.services import user_create
    from cartera.customers.models import Customer
    from cartera.insights.models import CustomerMetrics
    from cartera.sales.models import Order
    from cartera.segments.models import Segment
    from cartera.segments.services import segment_create

    manager = User.objects.filter(username="bench-manager").first() or user_create(
        username="bench-manager", password=os.urandom(12).hex(), role="manager", email="bench@cartera.example"
    )
    have = Customer.objects.count()
    if have < customers:
        today = timezone.localdate()
        now = timezone.now()
        for start in range(have, customers, 10_000):
            part = [
                Customer(
                    first_name=f"Cliente{i}", first_name_key=f"cliente{i}", last_name="Prueba",
                    email=f"c{i}@bench.example", opt_in_email=True, stage="customer", owner=manager,
                )
                for i in range(start, min(customers, start + 10_000))
            ]  # fmt: skip
            Customer.objects.bulk_create(part, batch_size=2_000)
            CustomerMetrics.objects.bulk_create(
                [
                    CustomerMetrics(
                        customer=c, orders_count=1, revenue=Decimal("40"), lifecycle="at_risk",
                        last_order_on=today - dt.timedelta(days=200), first_order_on=today - dt.timedelta(days=200),
                        recency_days=200, tenure_days=200, frequency=0, computed_at=now,
                    )
                    for c in part
                ],
                batch_size=2_000,
            )  # fmt: skip
            Order.objects.bulk_create(
                [
                    Order(
                        customer=c,
                        ordered_on=today - dt.timedelta(days=200),
                        amount=Decimal("40"),
                        category="Café",
                    )
                    for c in part
                ],
                batch_size=2_000,
            )
            print(f"  {min(customers, start + 10_000):,} customers", file=sys.stderr)
    # The rest of the file: active customers the segment leaves out (the audience of 100,000
    # is drawn from 1,000,000 customers).
    have_others = CustomerMetrics.objects.filter(lifecycle="active").count()
    if have_others < others:
        now = timezone.now()
        for start in range(have_others, others, 20_000):
            part = [
                Customer(
                    first_name=f"Otro{i}", first_name_key=f"otro{i}", last_name="Activo",
                    email=f"o{i}@bench.example", opt_in_email=True, stage="customer", owner=manager,
                )
                for i in range(start, min(others, start + 20_000))
            ]  # fmt: skip
            Customer.objects.bulk_create(part, batch_size=5_000)
            CustomerMetrics.objects.bulk_create(
                [CustomerMetrics(customer=c, orders_count=3, revenue=Decimal("120"), lifecycle="active",
                                 computed_at=now) for c in part],
                batch_size=5_000,
            )  # fmt: skip
            print(f"  {min(others, start + 20_000):,} other customers", file=sys.stderr)
    if not Segment.objects.filter(name="Bench en riesgo").exists():
        segment_create(
            actor=manager,
            fields={
                "name": "Bench en riesgo",
                "definition": {
                    "match": "all",
                    "groups": [
                        {"match": "all", "rules": [{"field": "lifecycle", "op": "in", "value": ["at_risk"]}]}
                    ],
                },
            },
        )


EARLIER = "### Earlier runs"


def _verdict(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _table(f: dict[str, Any], before: dict[str, Any] | None, plan: Any) -> list[str]:
    """The results table: each step's elapsed time, CPU time and SQL statements (and, with
    ``--before``, the same figures of that run), the goal and whether it is met."""

    def was(key: str, fmt: str) -> str:
        return "" if before is None or key not in before else format(before[key], fmt)

    head = "| step | measured | CPU | SQL | goal | met |"
    rule = "|---|---:|---:|---:|---:|---|"
    if before is not None:
        head = "| step | before | before: SQL | measured | CPU | SQL | goal | met |"
        rule = "|---|---:|---:|---:|---:|---:|---:|---|"

    def row(step: str, old: str, old_q: str, now: str, cpu: str, q: str, goal: str, ok: bool) -> str:
        cells = [step, *([old, old_q] if before is not None else []), now, cpu, q, goal, _verdict(ok)]
        return "| " + " | ".join(cells) + " |"

    return [
        head,
        rule,
        row(f"review counts ({plan.audience:,} in the audience)", was("review_s", ".1f") + " s", was("review_q", ","),
            f"{f['review_s']:.1f} s", f"{f['review_cpu']:.1f} s", f"{f['review_q']:,}", f"≤ {GOALS['review']:.0f} s", f["review_s"] <= GOALS["review"]),
        row(f"freeze, codes, render and queue {plan.treated:,} e-mails", was("send_s", ".1f") + " s", was("send_q", ","),
            f"{f['send_s']:.1f} s", f"{f['send_cpu']:.1f} s", f"{f['send_q']:,}", f"≤ {GOALS['send']:.0f} s", f["send_s"] <= GOALS["send"]),
        row(f"peak memory of the process while reviewing and sending, its own (RssAnon; {f['base_own']:.0f} MiB "
            f"before the review; RSS with SQLite's mapped file {f['peak_rss']:.0f} MiB)", was("peak_own", ".0f") + " MiB", "",
            f"{f['peak_own']:.0f} MiB", "", "", "≤ 300 MiB", f["peak_own"] <= 300),
        row("memory while sending: own memory before → at most", "", "",
            f"{f['deliver_own_before']:.0f} → {f['deliver_own_peak']:.0f} MiB", "", "", "flat",
            f["deliver_own_peak"] - f["deliver_own_before"] <= 20),
        row(f"send {f['sent']:,} e-mails to the local aiosmtpd sink (its own process), one connection", was("rate", ".0f") + " /s", was("deliver_q", ","),
            f"{f['rate']:.0f} /s", f"{f['deliver_cpu']:.1f} s", f"{f['deliver_q']:,}", f"≥ {GOALS['rate']:.0f} /s", f["rate"] >= GOALS["rate"]),
        row("results page, p50 / p95 of the requests", (was("p50", ".0f") + " / " + was("p95", ".0f") + " ms") if before else "", was("results_q", ""),
            f"{f['p50']:.0f} / {f['p95']:.0f} ms", f"{f['results_cpu_ms']:.0f} ms a request", f"{f['results_q']} a request", f"≤ {GOALS['results']:.0f} ms", f["p95"] <= GOALS["results"]),
    ]  # fmt: skip


def _earlier() -> list[str]:
    """What the section held under :data:`EARLIER` (runs and notes of earlier work), kept."""
    from bench.doc import DOC

    text = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    if START_MARK not in text or END_MARK not in text:
        return []
    section = text.split(START_MARK, 1)[1].split(END_MARK, 1)[0]
    if EARLIER not in section:
        return []
    return ["", EARLIER + section.split(EARLIER, 1)[1].rstrip("\n")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000, help="the audience: at-risk customers")
    parser.add_argument(
        "--others", type=int, default=900_000, help="active customers besides, left out by the segment"
    )
    parser.add_argument("--send", type=int, default=10_000, help="how many e-mails to deliver (timed)")
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--port", type=int, default=8131, help="the local SMTP sink's port")
    parser.add_argument("--no-doc", action="store_true")
    parser.add_argument(
        "--database-url",
        help="e.g. postgres://postgres@127.0.0.1:5432/cartera_bench (default: DATABASE_URL, else SQLite)",
    )
    parser.add_argument(
        "--profile", metavar="DIR", help="write a cProfile of each timed step to DIR/<step>.prof"
    )
    parser.add_argument(
        "--before", metavar="JSON", help="a run's figures (--save) shown as the 'before' column of the table"
    )
    parser.add_argument("--save", metavar="JSON", help="write this run's figures to JSON")
    args = parser.parse_args()
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{ROOT / 'var' / 'bench-campaigns.sqlite3'}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cartera.settings")
    os.environ["CARTERA_EMAIL_PORT"] = str(args.port)  # Django's SMTP backend talks to the sink below
    os.environ["CARTERA_EMAIL_BACKEND"] = "django.core.mail.backends.smtp.EmailBackend"
    (ROOT / "var").mkdir(exist_ok=True)
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    settings.ALLOWED_HOSTS = ["*"]
    started = time.perf_counter()
    _prepare(args.customers, args.others)
    prepared_s = time.perf_counter() - started

    from cartera.accounts.models import User
    from cartera.campaigns import selectors, services
    from cartera.messaging.models import OutboxMessage, OutboxState
    from cartera.messaging.services import deliver_pending
    from cartera.segments.models import Segment

    manager = User.objects.get(username="bench-manager")
    segment = Segment.objects.get(name="Bench en riesgo")
    # The e-mails an earlier run queued but did not send (it sends --send of them) would go first.
    OutboxMessage.objects.filter(state__in=(OutboxState.QUEUED, OutboxState.HELD)).update(
        state=OutboxState.CANCELLED, error="left by an earlier benchmark run"
    )
    campaign = services.campaign_create(
        actor=manager,
        fields={
            "name": f"Bench {dt.datetime.now():%H%M%S}", "control_percent": 10, "frequency_cap_days": 0,
            "promo_mode": "unique", "promo_code": f"B{dt.datetime.now():%H%M%S}", "promo_discount": 10,
        },
        segments=[segment],
    )  # fmt: skip
    base_rss = _rss_mib()
    base_own = _own_mib()
    load_before = os.getloadavg()
    t0, c0 = time.perf_counter(), _cpu_s()
    with QueryCount() as review_q, Profiled(args.profile, "review"), PeakMemory() as review_memory:
        plan = selectors.campaign_plan(campaign=campaign, user=manager)
    review_s, review_cpu = time.perf_counter() - t0, _cpu_s() - c0
    print(
        f"review: {plan.treated:,} receive it, {plan.control:,} control, {review_s:.1f} s ({review_cpu:.1f} s CPU), "
        f"{review_q.count:,} queries",
        file=sys.stderr,
    )
    # The review page and the send are two requests: the send computes its own plan.
    plan_counts = SimpleNamespace(audience=plan.audience, treated=plan.treated, control=plan.control)
    del plan
    t0, c0 = time.perf_counter(), _cpu_s()
    with QueryCount() as send_q, Profiled(args.profile, "send"), PeakMemory() as send_memory:
        campaign = services.campaign_send(actor=manager, campaign=campaign)
    send_s, send_cpu = time.perf_counter() - t0, _cpu_s() - c0
    peak_rss = _rss_mib()
    print(
        f"freeze, render and queue: {send_s:.1f} s ({send_cpu:.1f} s CPU), {send_q.count:,} queries, "
        f"peak RSS {peak_rss:.0f} MiB ({base_rss:.0f} before the review), own memory at most "
        f"{max(review_memory.peak, send_memory.peak):.0f} MiB ({base_own:.0f} before the review)",
        file=sys.stderr,
    )

    mail_dir = Path(tempfile.mkdtemp(prefix="bench-mailsink-"))
    # The sink runs in a process of its own, as with `make run` (the web server's process holds it,
    # the worker sends): in this process it would share the interpreter lock with the sender.
    spawn = multiprocessing.get_context("spawn")
    ready, stop = spawn.Event(), spawn.Event()
    sink = spawn.Process(target=_run_sink, args=(args.port, str(mail_dir), ready, stop), daemon=True)
    sink.start()
    if not ready.wait(60):
        raise SystemExit("the SMTP sink did not start")
    try:
        t0, c0 = time.perf_counter(), _cpu_s()
        deliver_base = _own_mib()
        with QueryCount() as deliver_q, Profiled(args.profile, "deliver"), PeakMemory() as deliver_memory:
            report = deliver_pending(max_messages=args.send, rate=0)
        deliver_s, deliver_cpu = time.perf_counter() - t0, _cpu_s() - c0
    finally:
        stop.set()
        sink.join(30)
    received = len(list(mail_dir.iterdir()))
    rate = report.sent / deliver_s if deliver_s else 0.0
    print(
        f"sent {report.sent:,} ({received:,} at the sink) in {deliver_s:.1f} s ({deliver_cpu:.1f} s CPU): {rate:.0f}/s, "
        f"{deliver_q.count:,} queries",
        file=sys.stderr,
    )

    client = Client()
    client.force_login(manager)
    url = f"/campaigns/{campaign.pk}/results/"
    for _ in range(3):
        assert client.get(url, secure=True).status_code == 200
    times = []
    c0 = _cpu_s()
    with QueryCount() as results_q, Profiled(args.profile, "results"):
        for _ in range(args.requests):
            t0 = time.perf_counter()
            response = client.get(url, secure=True)
            times.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200
    results_queries = results_q.count // max(1, args.requests)
    results_cpu_ms = (_cpu_s() - c0) * 1000 / max(1, args.requests)
    p50, p95 = statistics.median(times), _nearest_rank(times, 0.95)
    print(
        f"results page: p50 {p50:.0f} ms, p95 {p95:.0f} ms ({results_cpu_ms:.0f} ms CPU a request), "
        f"{results_queries} queries",
        file=sys.stderr,
    )
    figures = {
        "when": f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC", "vendor": connection.vendor,
        "load_before": list(load_before), "load_after": list(os.getloadavg()),
        "review_s": review_s, "review_cpu": review_cpu, "review_q": review_q.count,
        "send_s": send_s, "send_cpu": send_cpu, "send_q": send_q.count,
        "base_rss": base_rss, "peak_rss": peak_rss, "base_own": base_own,
        "peak_own": max(review_memory.peak, send_memory.peak),
        "deliver_own_before": deliver_base, "deliver_own_peak": deliver_memory.peak,
        "sent": report.sent, "rate": rate, "deliver_cpu": deliver_cpu, "deliver_q": deliver_q.count,
        "p50": p50, "p95": p95, "results_cpu_ms": results_cpu_ms, "results_q": results_queries,
    }  # fmt: skip
    if args.save:
        Path(args.save).write_text(json.dumps(figures, indent=1), encoding="utf-8")
    if args.no_doc:
        return
    from bench.doc import replace_section
    from bench.machine import machine_facts

    m = machine_facts()
    load = os.getloadavg()

    lines = [
        START_MARK,
        f"## Campaigns at {args.customers:,} customers (issue 13, `bench/campaigns.py`)",
        "",
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {connection.vendor}, {m['cpu']} ({m['cores']} cores, "
        f"{m['ram_gib']} GiB), Python {m['python']}; load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} "
        f"at the end (the machine is shared; {load_before[0]:.2f} / {load_before[1]:.2f} / {load_before[2]:.2f} at the start). {args.customers:,} at-risk customers with e-mail and consent in a file of {args.customers + args.others:,}, one segment, "
        f"10 % control group, a unique code per recipient; database prepared in {prepared_s:.0f} s. "
        "Run: `make bench-campaigns`.",
        "",
        *_table(figures, json.loads(Path(args.before).read_text(encoding="utf-8")) if args.before else None, plan_counts),
        *_earlier(),
        END_MARK,
    ]  # fmt: skip
    replace_section(START_MARK, END_MARK, "\n".join(lines))


if __name__ == "__main__":
    main()
