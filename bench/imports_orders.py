"""Issue 11 speed benchmark: an order file that brings its customers (goal ≥ 10,000 rows/s).

    .venv/bin/python -m bench.imports_orders                      # SQLite under var/bench-imports-orders/
    .venv/bin/python -m bench.imports_orders --database-url postgres://postgres@127.0.0.1:5432/cartera_bench_orders

The file is what a shop's till or e-commerce export looks like: one line per order, with the buyer's
e-mail, name and phone, the date, the amount, the product and the order number, in Spanish headings
(``;``-separated, UTF-8). ``--rows`` orders (100,000) by ``--people`` buyers (25,000, four orders each
on average); half of the buyers are already customers (matched by e-mail), the other half are created
by the import (``create_customers``, as the web's "create the customers it names" box or the CLI's
``--create-customers``). One row in 500 has a broken amount and is rejected. The database is made
afresh each run (migrated, the existing half seeded), then the import runs end to end
(``import_job_create_from_path``, ``import_job_configure`` with the suggested columns,
``import_job_run``): reading, validation, matching, creating the customers, writing the orders, the
import record. Timed: elapsed seconds and rows/s, the CPU seconds of the writer and of its reading
workers and of the database server, the load average. ``--repeat`` runs (3), each on an emptied and
re-seeded database; the median goes to docs/benchmarks.md between the ``bench:issue11-orders``
markers (``--no-doc`` to skip).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import random
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
START_MARK = "<!-- bench:issue11-orders:start -->"
END_MARK = "<!-- bench:issue11-orders:end -->"
GOAL_ROWS_S = 10_000
FIRST = ["Lucía", "María", "José", "Antonio", "Carmen", "Manuel", "Ana", "Javier", "Laura", "David"]
LAST = ["García", "Martínez", "López", "Sánchez", "Pérez", "Gómez", "Martín", "Jiménez", "Ruiz", "Díaz"]
PRODUCTS = ["Café", "Té", "Cacao", "Infusiones", "Accesorios"]
HEADERS = ["Correo electrónico", "Nombre del cliente", "Teléfono", "Fecha", "Importe", "Producto", "Pedido"]


def buyer(i: int) -> tuple[str, str, str]:
    rnd = random.Random(i)
    name = f"{rnd.choice(FIRST)} {rnd.choice(LAST)} {rnd.choice(LAST)}"
    return f"comprador{i}@example.es", name, f"6{i:08d}"


def write_csv(path: Path, rows: int, people: int, errors_every: int = 500) -> None:
    rnd = random.Random(11)
    start = dt.date(2024, 1, 1)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(HEADERS)
        for n in range(rows):
            email, name, phone = buyer(rnd.randrange(people))
            amount = f"{rnd.randrange(500, 30000) / 100:.2f}".replace(".", ",")
            if errors_every and n % errors_every == 7:
                amount = "doce euros"
            day = start + dt.timedelta(days=rnd.randrange(700))
            writer.writerow(
                [email, name, phone, day.strftime("%d/%m/%Y"), amount, rnd.choice(PRODUCTS), f"P-{n:07d}"]
            )


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _server_cpu(connection: Any) -> float:
    """CPU seconds of this connection's PostgreSQL server process so far (0 on SQLite, which runs
    inside the writer and is counted with it)."""
    from bench.machine import cpu_seconds

    if connection.vendor != "postgresql":
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    return cpu_seconds(pid) or 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--people", type=int, default=25_000)
    parser.add_argument(
        "--database-url", help="PostgreSQL (made afresh: its tables are flushed); default SQLite"
    )
    parser.add_argument("--no-doc", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="runs (the median is written)")
    args = parser.parse_args()
    work = ROOT / "var" / "bench-imports-orders"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    os.environ["CARTERA_VAR_DIR"] = str(work)
    os.environ["CARTERA_MAX_UPLOAD_BYTES"] = str(4 * 1024**3)
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cartera.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    path = work / "pedidos.csv"
    write_csv(path, args.rows, args.people)
    runs = [_one_run(args, path) for _ in range(args.repeat)]
    for n, run in enumerate(runs, start=1):
        print(f"run {n}: {run['summary']}", file=sys.stderr)
    median = sorted(runs, key=lambda r: r["rate"])[len(runs) // 2]
    if args.no_doc:
        return
    from bench.doc import replace_section
    from bench.machine import machine_facts

    m = machine_facts()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            server = f"PostgreSQL {cursor.fetchone()[0]}"
    else:
        server = f"SQLite {__import__('sqlite3').sqlite_version}"
    every = ", ".join(f"{r['rate']:,.0f}" for r in runs)
    lines = [
        START_MARK,
        "## Orders that bring their customers (issue 11, `bench/imports_orders.py`)",
        "",
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {server}, {m['cpu']} ({m['cores']} cores, {m['ram_gib']} GiB), "
        f"Python {m['python']}; load average {runs[0]['load_before']:.2f} before the first run, "
        f"{runs[-1]['load_after']:.2f} after the last. "
        f"Run: `.venv/bin/python -m bench.imports_orders"
        + (f" --database-url {args.database_url}" if args.database_url else "")
        + "`.",
        "",
        f"A file of {args.rows:,} orders by {args.people:,} buyers (e-mail, name, phone, date, amount, product, "
        f"order number; Spanish headings, `;`), half of the buyers already customers, the other half created "
        f"by the import; one row in 500 with a broken amount. The database is emptied and the existing "
        f"buyers written again before each of {len(runs)} runs; the median run is shown.",
        "",
        "| rows | time | rows/s | CPU (writer + readers + database server) | orders written | customers created | goal |",
        "|---:|---:|---:|---:|---:|---:|---|",
        f"| {args.rows:,} | {median['seconds']:.1f} s | **{median['rate']:,.0f}** | {median['writer_cpu']:.1f} s + "
        f"{median['workers_cpu']:.1f} s + {median['server_cpu']:.1f} s | {median['orders']:,} | "
        f"{median['created']:,} | ≥ {GOAL_ROWS_S:,} rows/s: {'met' if median['rate'] >= GOAL_ROWS_S else '**not met**'} |",
        "",
        f"Every run, rows/s: {every}.",
        END_MARK,
    ]
    replace_section(START_MARK, END_MARK, "\n".join(lines))


def _one_run(args: argparse.Namespace, path: Path) -> dict[str, Any]:
    """Empty the database, write the existing half of the buyers, import the file; the figures."""
    from django.core.management import call_command
    from django.db import connection

    from cartera.accounts.models import User
    from cartera.core.text import fold
    from cartera.customers.models import Customer
    from cartera.imports.services import import_job_configure, import_job_create_from_path, import_job_run
    from cartera.sales.models import Order

    call_command("flush", interactive=False, verbosity=0)
    user = User.objects.create_superuser("bench", password="bench-only-password")  # noqa: S106
    existing = args.people // 2
    for start in range(0, existing, 5000):
        batch = []
        for i in range(start, min(existing, start + 5000)):
            email, name, phone = buyer(i)
            first, last = name.split(" ", 1)
            batch.append(Customer(first_name=first, last_name=last, email=email, phone=f"+34{phone}",
                                  first_name_key=fold(first), last_name_key=fold(last)))  # fmt: skip
        Customer.objects.bulk_create(batch)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    load_before = os.getloadavg()
    own, workers, server_before = (
        _cpu(resource.RUSAGE_SELF),
        _cpu(resource.RUSAGE_CHILDREN),
        _server_cpu(connection),
    )
    started = time.perf_counter()
    job = import_job_create_from_path(actor=user, path=path, kind="orders")
    job = import_job_configure(actor=user, job=job, columns=job.columns, options={"create_customers": True})
    job = import_job_run(job=job, dry_run=False)
    seconds = time.perf_counter() - started
    writer_cpu, workers_cpu = _cpu(resource.RUSAGE_SELF) - own, _cpu(resource.RUSAGE_CHILDREN) - workers
    server_cpu = _server_cpu(connection) - server_before
    load_after = os.getloadavg()
    report: dict[str, Any] = dict(job.report)
    orders, customers = Order.objects.count(), Customer.objects.count()
    assert orders == args.rows - len(range(7, args.rows, 500)), (orders, report)
    rate = args.rows / seconds
    summary = (
        f"{connection.vendor}: {args.rows:,} rows in {seconds:.1f} s = {rate:,.0f} rows/s "
        f"(writer {writer_cpu:.1f} s CPU, reading workers {workers_cpu:.1f} s, database server {server_cpu:.1f} s); "
        f"{orders:,} orders, {customers:,} customers ({customers - existing:,} created); load "
        f"{load_before[0]:.2f} -> {load_after[0]:.2f}; report {report}"
    )
    print(summary, file=sys.stderr)
    return {
        "rate": rate, "seconds": seconds, "writer_cpu": writer_cpu, "workers_cpu": workers_cpu,
        "server_cpu": server_cpu, "orders": orders, "created": customers - existing, "summary": summary,
        "load_before": load_before[0], "load_after": load_after[0],
    }  # fmt: skip


if __name__ == "__main__":
    main()
