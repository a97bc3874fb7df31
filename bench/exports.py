"""CSV export benchmark: how fast the customer CSV writer runs (issue 16), and cProfile of it.

    .venv/bin/python -m bench.exports [--customers 20000] [--repeat 3] [--profile] [--no-doc]

Runs on a throw-away SQLite database under ``var/bench-exports/`` holding ``--customers`` customers
with what makes the writer work: companies, owners, tags, five admin-defined fields, Spanish phone
numbers, accents, names that look like formulas and empty values. It times the export job's own code
path (``export_source`` then ``exporting.csv_stream``, the same as the streamed CSV: query, row writer
and CSV cells), in both CSV flavours, and prints the SHA-256 of each file, so a faster writer can be
checked to write the same bytes. ``--profile`` prints cProfile's top functions. The results replace
the section of ``docs/benchmarks.md`` between the ``bench:exports`` markers, unless ``--no-doc``.
The machine is often shared, so the load average is recorded next to every figure, with the CPU
time the export used.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import hashlib
import io
import os
import pstats
import random
import resource
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from bench.doc import replace_section
from bench.machine import machine_facts

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "var" / "bench-exports"
START_MARK = "<!-- bench:exports:start -->"
END_MARK = "<!-- bench:exports:end -->"
GOAL_ROWS_PER_S = 10_000
FIRST = ["Lucía", "María", "José", "Antonio", "Carmen", "Manuel", "Ana", "Javier", "Laura", "Íñigo", "Elena",
         "Pablo", "Marta", "Sergio", "Paula", "Jorge", "Sara", "Álvaro", "Irene", "Raúl"]  # fmt: skip
LAST = ["García", "Martínez", "López", "Sánchez", "Pérez", "Gómez", "Martín", "Jiménez", "Ruiz", "Hernández",
        "Díaz", "Moreno", "Muñoz", "Álvarez", "Romero", "Alonso", "Gutiérrez", "Navarro", "Torres", "Domínguez"]  # fmt: skip
CITIES = ["Madrid", "Barcelona", "Valencia", "Sevilla", "Bilbao", "Zaragoza", "Málaga", "A Coruña", ""]


def setup_django(db_dir: Path) -> None:
    os.environ["CARTERA_VAR_DIR"] = str(db_dir)
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cartera.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed(customers: int) -> Any:
    """The portfolio (deterministic: the same rows every run) and the manager who exports it."""
    from cartera.accounts.services import user_create
    from cartera.core.text import fold
    from cartera.customers.models import Company, Customer, CustomField, Tag

    password = "bench-only-password"  # noqa: S105
    manager = user_create(username="bench-manager", password=password, role="manager")
    reps = [
        user_create(username=f"bench-rep{i}", password=password, role="sales_rep", first_name=name)
        for i, name in enumerate(["Ana", "Luis"])
    ]
    for position, (key, label, kind, choices) in enumerate(
        [
            ("nivel", "Nivel", "choice", "Oro\nPlata\nBronce"),
            ("puntos", "Puntos", "number", ""),
            ("alta", "Fecha de alta", "date", ""),
            ("vip", "VIP", "boolean", ""),
            ("nota", "Nota interna", "text", ""),
        ]
    ):
        CustomField.objects.create(key=key, label=label, field_type=kind, choices=choices, position=position)
    companies = Company.objects.bulk_create(
        [Company(name=f"Empresa {i} S.L.", tax_id=f"B{i:08d}") for i in range(200)]
    )
    tags = Tag.objects.bulk_create([Tag(name=n) for n in ("VIP", "Feria 2026", "Newsletter", "=cmd")])
    rnd = random.Random(16)
    batch: list[Customer] = []
    for i in range(customers):
        first, last = rnd.choice(FIRST), f"{rnd.choice(LAST)} {rnd.choice(LAST)}"
        if i % 50 == 7:
            first = '=HYPERLINK("http://x","y")'
        custom: dict[str, Any] = {}
        if i % 3:
            custom = {"nivel": rnd.choice(["Oro", "Plata", "Bronce"]), "puntos": str(rnd.randint(-50, 5000)),
                      "alta": f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}", "vip": rnd.choice([True, False]),
                      "nota": rnd.choice(["", "+ llamar", "-5 %", "@ventas", "normal"])}  # fmt: skip
        batch.append(
            Customer(
                first_name=first,
                last_name=last if i % 11 else "",
                email=f"cliente{i}@example.es" if i % 7 else None,
                phone=f"+346{i:08d}" if i % 5 else "",
                city=rnd.choice(CITIES),
                postal_code=f"{28000 + i % 1000:05d}",
                job_title=rnd.choice(["", "Gerente", "Directora de compras", "-"]),
                birth_date=datetime.date(1950 + i % 50, 1 + i % 12, 1 + i % 28) if i % 4 else None,
                stage=rnd.choice(["suspect", "prospect", "customer", "former"]),
                company=companies[i % 200] if i % 3 == 0 else None,
                owner=reps[i % 2] if i % 10 else None,
                notes='Dijo: "llámame"; el martes' if i % 13 == 0 else "",
                custom_fields=custom,
                opt_in_email=bool(i % 2),
                first_name_key=fold(first),
                last_name_key=fold(last),
            )
        )
        if len(batch) == 5000:
            Customer.objects.bulk_create(batch)
            batch = []
    Customer.objects.bulk_create(batch)
    through = Customer.tags.through
    ids = list(Customer.objects.order_by("id").values_list("id", flat=True))
    links = [through(customer_id=cid, tag_id=tags[n % 4].pk) for n, cid in enumerate(ids) if n % 4 != 3]
    links += [
        through(customer_id=cid, tag_id=tags[(n + 1) % 4].pk) for n, cid in enumerate(ids) if n % 9 == 0
    ]
    through.objects.bulk_create(links, ignore_conflicts=True)
    return manager


def write_csv(user: Any, spanish: bool) -> bytes:
    """The customer CSV through the export job's code path, as bytes."""
    from cartera.imports import exporting
    from cartera.imports.services import export_source

    qs, header, row = export_source(user=user, kind="customers", filters={})
    out = io.BytesIO()
    for chunk in exporting.csv_stream(header, (row(c) for c in exporting.export_objects(qs)), spanish):
        out.write(chunk)
    return out.getvalue()


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(user: Any, spanish: bool, repeat: int) -> dict[str, Any]:
    runs = []
    for _ in range(repeat):
        load = os.getloadavg()[0]
        cpu, start = _cpu(), time.perf_counter()
        body = write_csv(user, spanish)
        runs.append({"s": time.perf_counter() - start, "cpu": _cpu() - cpu, "load": load})
    return {
        "rows": body.count(b"\r\n") - 1,
        "sha256": hashlib.sha256(body).hexdigest(),
        "bytes": len(body),
        "runs": runs,
        "median_s": statistics.median(r["s"] for r in runs),
        "median_cpu": statistics.median(r["cpu"] for r in runs),
    }


def profile(user: Any) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    write_csv(user, spanish=False)
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(25)
    return text.getvalue()


def render(customers: int, results: dict[str, dict[str, Any]]) -> str:
    m = machine_facts()
    day = datetime.date.today().isoformat()
    lines = [
        START_MARK,
        "## Customer CSV export (`bench/exports.py`, issue 16)",
        "",
        f"{day}; {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB, {m['os']}, Python {m['python']}; "
        f"SQLite, {customers:,} customers (companies, owners, tags, five custom fields, phones, accents, "
        "formula-like names, empty values). The export job's code path: the query, the row writer and "
        "the CSV cells, written to memory. Median of the runs; CPU is the process's own time.",
        "",
        "| file | rows | median | rows/s | CPU | rows per CPU-second | load average (1 min) at each run | SHA-256 |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for name, r in results.items():
        loads = ", ".join(f"{x['load']:.1f}" for x in r["runs"])
        lines.append(
            f"| {name} | {r['rows']:,} | {r['median_s']:.2f} s | {r['rows'] / r['median_s']:,.0f} | "
            f"{r['median_cpu']:.2f} s | {r['rows'] / r['median_cpu']:,.0f} | {loads} | `{r['sha256'][:16]}…` |"
        )
    best = min(r["rows"] / r["median_s"] for r in results.values())
    verdict = "**met**" if best >= GOAL_ROWS_PER_S else "**not met**"
    lines += [
        "",
        f"Target ≥ {GOAL_ROWS_PER_S:,} rows/s: {verdict} ({best:,.0f} rows/s, the slower flavour).",
        END_MARK,
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--keep", action="store_true", help="reuse the database of the last run")
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args()
    db_dir = WORK / f"c{args.customers}"
    fresh = not (args.keep and (db_dir / "cartera.sqlite3").exists())
    if fresh:
        shutil.rmtree(db_dir, ignore_errors=True)
        db_dir.mkdir(parents=True)
    setup_django(db_dir)
    from django.utils import translation

    from cartera.accounts.models import User

    user = seed(args.customers) if fresh else User.objects.get(username="bench-manager")
    translation.activate("es")
    results = {
        "CSV": measure(user, spanish=False, repeat=args.repeat),
        "CSV for Spanish Excel": measure(user, spanish=True, repeat=args.repeat),
    }
    for name, r in results.items():
        print(f"{name}: {r['rows']} rows, median {r['median_s']:.2f} s = {r['rows'] / r['median_s']:,.0f} rows/s, "
              f"CPU {r['median_cpu']:.2f} s, loads {[round(x['load'], 1) for x in r['runs']]}, sha256 {r['sha256']}")  # fmt: skip
    if args.profile:
        print(profile(user))
    if not args.no_doc:
        replace_section(START_MARK, END_MARK, render(args.customers, results))


if __name__ == "__main__":
    main()
