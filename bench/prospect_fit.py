"""The prospect fit scoring at the benchmark's size: every suspect and prospect of the
1,000,000-customer portfolio scored against the top 20 % of its ~850,000 paying customers.

Run from the repository root, on databases made by ``manage.py demo --big`` and refreshed once (the
scoring learns from the revenue the refresh writes)::

    .venv/bin/python -m bench.prospect_fit --sqlite-file var/bench1m.sqlite3 --pg-name cartera_bench1m
    .venv/bin/python -m bench.prospect_fit --pg-name cartera_bench1m --code /tmp/old   # older code

Each database is scored in a fresh process (``pipeline.services.prospect_fit_refresh``, the worker
task's work), timed as a whole and in its two parts: learning the model (``fit_model``: reading the
paying customers and fitting) and the rest (reading, scoring, explaining and writing the prospects).
Wall and CPU seconds of the process, its peak RSS (VmHWM), and the load average, because this
machine's two cores are shared. ``--code DIR`` imports ``cartera`` and ``customerbase`` from
another checkout (``git archive`` of an older commit) to measure the code before a change on the same
database. Results go to docs/benchmarks.md between the ``bench:prospect-fit`` markers (``--no-doc``
to skip; a ``--code`` run is printed, never written).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
START_MARK = "<!-- bench:prospect-fit:start -->"
END_MARK = "<!-- bench:prospect-fit:end -->"


def _peak_rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


#: Four personas by rule, as a team would define them, added when the database has none (the demo
#: portfolio has none): each prospect is compared with every persona's paying members too.
BENCH_PERSONAS = [
    ("Comercio de Madrid", [("sector", "Comercio"), ("region", "Madrid")]),
    ("Industria", [("sector", "Industria")]),
    ("Hostelería", [("sector", "Hostelería y restauración")]),
    ("Barcelona", [("region", "Barcelona")]),
]


def _personas() -> int:
    """The personas the prospects are compared with, created by rule when there are none."""
    from cartera.accounts.models import User
    from cartera.segments.models import Persona

    if not Persona.objects.exists():
        owner = User.objects.filter(is_superuser=True).order_by("pk").first()
        for name, rules in BENCH_PERSONAS:
            definition = {"match": "all", "groups": [{"match": "all", "rules": [
                {"field": field, "op": "eq", "value": value} for field, value in rules]}]}  # fmt: skip
            Persona.objects.create(name=name, owner=owner, definition=definition)
    return Persona.objects.count()


def _measure() -> dict[str, Any]:
    """In the child process: score once, timing the learning step on its own."""
    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone

    from cartera.pipeline import services

    learning: list[float] = []
    fit_model = services.fit_model

    def timed_fit_model(today: dt.date) -> Any:
        started = time.perf_counter()
        try:
            return fit_model(today)
        finally:
            learning.append(time.perf_counter() - started)

    services.fit_model = timed_fit_model  # the benchmark's own stopwatch around the learning step
    persona_models = services.persona_models

    def timed_persona_models(*args: Any) -> Any:
        started = time.perf_counter()
        try:
            return persona_models(*args)
        finally:
            learning.append(time.perf_counter() - started)

    services.persona_models = timed_persona_models
    personas = _personas()
    from cartera.customers.models import Customer
    from cartera.insights.models import CustomerMetrics

    buyers = CustomerMetrics.objects.filter(revenue__gt=0).count()
    customers = Customer.objects.count()
    wall, cpu = time.perf_counter(), time.process_time()
    scored = services.prospect_fit_refresh()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "vendor": connection.vendor,
        "server": connection.cursor().connection.info.server_version
        if connection.vendor == "postgresql"
        else __import__("sqlite3").sqlite_version,
        "customers": customers,
        "buyers": buyers,
        "scored": scored,
        "wall": wall,
        "cpu": cpu,
        "learning": sum(learning) if learning else None,
        "personas": personas,
        "peak_mib": _peak_rss_mib(),
        "when": timezone.now().strftime("%Y-%m-%d %H:%M UTC"),
    }


def _run(database_url: str, code: str | None) -> dict[str, Any]:
    env = dict(os.environ, DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="cartera.settings")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [code, str(ROOT)]))
    before = os.getloadavg()
    done = subprocess.run(  # noqa: S603 - our own module
        [sys.executable, str(Path(__file__).resolve()), "--child"],
        env=env,
        cwd=code or ROOT,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["load_before"], result["load_after"] = before[0], os.getloadavg()[0]
    return result


def _line(r: dict[str, Any]) -> str:
    learning = f"{r['learning']:.1f} s" if r["learning"] is not None else "?"
    return (
        f"- **{r['vendor']}** ({r['server']}), {r['when']}, load average (1 min) {r['load_before']:.2f} → "
        f"{r['load_after']:.2f}: {r['customers']:,} customers, {r['buyers']:,} paying; **{r['scored']:,} "
        f"prospects scored in {r['wall']:.1f} s** ({r['cpu']:.1f} s CPU of the Python process; learning "
        f"the model and the {r.get('personas', 0)} personas' models {learning} of it), peak RSS {r['peak_mib']:,.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sqlite-file", help="a SQLite database made by demo --big and refreshed")
    parser.add_argument(
        "--pg-name", help="a PostgreSQL database (127.0.0.1, user postgres) made the same way"
    )
    parser.add_argument("--code", help="import cartera from this checkout instead (an older commit)")
    parser.add_argument("--no-doc", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_measure()))
        return
    urls = []
    if args.sqlite_file:
        urls.append(f"sqlite:///{Path(args.sqlite_file).resolve()}")
    if args.pg_name:
        urls.append(f"postgres://postgres@127.0.0.1:5432/{args.pg_name}")
    if not urls:
        parser.error("give --sqlite-file and/or --pg-name")
    results = [_run(url, args.code) for url in urls]
    lines = [_line(r) for r in results]
    print("\n".join(lines))
    if args.no_doc or args.code:
        return
    from bench.doc import replace_section
    from bench.machine import machine_facts

    m = machine_facts()
    block = "\n".join(
        [
            START_MARK,
            "## Prospect fit scoring at 1,000,000 customers (`bench/prospect_fit.py`)",
            "",
            f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB, {m['os']}, Python {m['python']}. "
            "Method: `.venv/bin/python -m bench.prospect_fit --sqlite-file … --pg-name …` on the "
            "`demo --big` databases after a refresh; `pipeline.services.prospect_fit_refresh` (the work of the "
            "worker task `pipeline.tasks.score_prospects`, queued after each refresh and no longer part of "
            "it) in a fresh process per database.",
            "",
            *lines,
            END_MARK,
        ]
    )
    replace_section(START_MARK, END_MARK, block)


if __name__ == "__main__":
    main()
