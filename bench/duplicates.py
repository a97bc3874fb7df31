"""Issue 11 speed benchmark: the duplicate finder over 1,000,000 customers, and the duplicates page.

Goals (``docs/benchmarks.md``, between the ``bench:duplicates`` markers):

- the finder (``customers.services.duplicate_candidates_refresh``, what the worker runs) over
  1,000,000 customers in at most 60 s, with its peak memory reported (it streams the file, so the
  memory must not grow with it: the run is repeated on a tenth of the file to show that);
- the duplicates page (which reads the stored pairs) in at most 300 ms server time.

Run from the repository root::

    .venv/bin/python -m bench.duplicates                     # 1,000,000 customers, SQLite file in var/
    .venv/bin/python -m bench.duplicates --customers 100000 --no-doc
    .venv/bin/python -m bench.duplicates --database-url postgres://postgres@127.0.0.1:5432/cartera_NAME_bench

The file is made once (and kept) with Spanish names drawn from short lists, so that namesakes are
common: about 2 % of the customers are planted twins of another one (the name re-cased or without
accents, the same phone), and many more share a first name and surname but nothing else. Each step
runs in its own process, so that the finder's peak memory is its own.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.doc import DOC, replace_section
from bench.machine import machine_facts

ROOT = Path(__file__).resolve().parent.parent
START_MARK = "<!-- bench:duplicates:start -->"
END_MARK = "<!-- bench:duplicates:end -->"
FINDER_GOAL_S = 60.0
PAGE_GOAL_MS = 300.0
BENCH_USER = "bench-duplicates"

FIRST = [
    "María",
    "Lucía",
    "Carmen",
    "Ana",
    "Laura",
    "Marta",
    "Sofía",
    "Paula",
    "Elena",
    "Isabel",
    "Rosa",
    "Pilar",
    "Cristina",
    "Raquel",
    "Teresa",
    "Julia",
    "Antonio",
    "José",
    "Manuel",
    "Francisco",
    "David",
    "Juan",
    "Javier",
    "Daniel",
    "Carlos",
    "Jesús",
    "Alejandro",
    "Miguel",
    "Rafael",
    "Pablo",
    "Sergio",
    "Fernando",
    "Jorge",
    "Alberto",
    "Luis",
    "Álvaro",
    "Adrián",
    "Diego",
    "Raúl",
    "Iván",
    "Rubén",
    "Óscar",
    "Andrés",
    "Joaquín",
    "Santiago",
]
LAST = [
    "García",
    "Rodríguez",
    "González",
    "Fernández",
    "López",
    "Martínez",
    "Sánchez",
    "Pérez",
    "Gómez",
    "Martín",
    "Jiménez",
    "Ruiz",
    "Hernández",
    "Díaz",
    "Moreno",
    "Muñoz",
    "Álvarez",
    "Romero",
    "Alonso",
    "Gutiérrez",
    "Navarro",
    "Torres",
    "Domínguez",
    "Vázquez",
    "Ramos",
    "Gil",
    "Ramírez",
    "Serrano",
    "Blanco",
    "Molina",
    "Morales",
    "Suárez",
    "Ortega",
    "Delgado",
    "Castro",
    "Ortiz",
    "Rubio",
    "Marín",
    "Sanz",
    "Núñez",
    "Iglesias",
    "Medina",
    "Garrido",
    "Cortés",
    "Castillo",
    "Santos",
    "Lozano",
    "Guerrero",
    "Cano",
    "Prieto",
    "Méndez",
    "Cruz",
    "Calvo",
    "Gallego",
    "Vidal",
    "León",
    "Márquez",
    "Herrera",
    "Peña",
    "Flores",
    "Cabrera",
    "Campos",
    "Vega",
    "Fuentes",
    "Carrasco",
    "Diez",
    "Caballero",
    "Reyes",
    "Nieto",
]
CITIES = [
    "Madrid",
    "Barcelona",
    "Valencia",
    "Sevilla",
    "Zaragoza",
    "Málaga",
    "Murcia",
    "Palma",
    "Bilbao",
    "Alicante",
    "Córdoba",
    "Valladolid",
    "Vigo",
    "Gijón",
    "Granada",
    "Vitoria",
    "Oviedo",
    "Badajoz",
    "Cartagena",
    "Pamplona",
    "Almería",
    "Burgos",
    "Salamanca",
    "Albacete",
    "Teruel",
]


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def setup(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cartera.settings")
    import django

    django.setup()


def prepare(url: str, customers: int) -> dict[str, Any]:
    """Migrate and fill the database up to ``customers`` customers (kept between runs)."""
    setup(url)
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from cartera.core.text import fold
    from cartera.customers.models import Customer

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    have = Customer.objects.count()
    # Plain multi-row inserts: every column from a template customer, the varying ones set per row.
    template = Customer(first_name="x", country="ES", created_at=timezone.now(), updated_at=timezone.now())
    fields = [f for f in Customer._meta.concrete_fields if not f.primary_key]
    defaults = {f.column: f.get_db_prep_save(getattr(template, f.attname), connection) for f in fields}
    varying = ["first_name", "last_name", "email", "phone", "city", "first_name_key", "last_name_key"]
    columns = varying + [c for c in defaults if c not in varying]
    fixed = [defaults[c] for c in columns[len(varying) :]]
    table = connection.ops.quote_name(Customer._meta.db_table)
    sql = f"INSERT INTO {table} ({', '.join(connection.ops.quote_name(c) for c in columns)}) VALUES ({', '.join(['%s'] * len(columns))})"  # noqa: S608 (names from the model)
    rng = random.Random(11)
    rows: list[list[Any]] = []
    made: list[tuple[str, str, str]] = []
    for i in range(have, customers):
        if made and rng.random() < 0.02:
            first, last, phone = rng.choice(made[-5000:])
            first, last = (first.upper(), fold(last)) if rng.random() < 0.5 else (fold(first), last)
            email = None
        else:
            first = rng.choice(FIRST)
            last = f"{rng.choice(LAST)} {rng.choice(LAST)}"
            phone = f"+346{rng.randrange(10**8):08d}" if rng.random() < 0.8 else ""
            email = f"c{i}@example.es" if rng.random() < 0.7 else None
            made.append((first, last, phone))
            del made[:-5000]
        first_key, last_key = Customer.name_keys(first, last)
        rows.append([first, last, email, phone, rng.choice(CITIES), first_key, last_key, *fixed])
        if len(rows) >= 20_000:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.executemany(sql, rows)
            rows.clear()
            say(f"  {i + 1:,} customers")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(sql, rows)
    return {"customers": Customer.objects.count(), "prepare_s": round(time.perf_counter() - started, 1)}


def cpu_seconds() -> float:
    """This process's CPU time so far: on a shared machine, the part of the time that was its own work
    (the database's share too on SQLite, which runs in the process; not PostgreSQL's server)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def find(url: str) -> dict[str, Any]:
    """Run the finder once; its time and this process's peak memory."""
    import resource

    setup(url)
    from cartera.customers.models import Customer
    from cartera.customers.services import duplicate_candidates_refresh

    count = Customer.objects.count()
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu = cpu_seconds()
    started = time.perf_counter()
    pairs = duplicate_candidates_refresh()
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "customers": count,
        "pairs": pairs,
        "seconds": round(seconds, 1),
        "cpu_s": round(cpu_seconds() - cpu, 1),
        "peak_mib": round(peak / 1024),
        "growth_mib": round((peak - baseline) / 1024),
    }


def subset(url: str, fraction: float) -> dict[str, Any]:
    """The finder over the first ``fraction`` of the customers (memory must not grow with the size)."""
    import resource

    setup(url)
    from cartera.customers import services
    from cartera.customers.models import Customer

    limit = int((Customer.objects.order_by("-id").values_list("id", flat=True).first() or 0) * fraction)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu = cpu_seconds()
    started = time.perf_counter()
    pairs = services.duplicate_candidates_refresh(customers=Customer.objects.filter(id__lte=limit))
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "customers": limit,
        "pairs": pairs,
        "seconds": round(seconds, 1),
        "cpu_s": round(cpu_seconds() - cpu, 1),
        "peak_mib": round(peak / 1024),
        "growth_mib": round((peak - baseline) / 1024),
    }


def page(url: str, requests: int) -> dict[str, Any]:
    """Time the duplicates page for a manager (who sees every pair), in-process."""
    setup(url)
    from django.conf import settings
    from django.test import Client

    from cartera.accounts.models import User
    from cartera.accounts.services import user_create

    user = User.objects.filter(username=BENCH_USER).first() or user_create(
        username=BENCH_USER, password=os.urandom(16).hex(), role="manager"
    )
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    client = Client(HTTP_ACCEPT_LANGUAGE="es")
    client.force_login(user)
    for _ in range(3):
        assert client.get("/customers/duplicates/", secure=True).status_code == 200
    times: list[float] = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get("/customers/duplicates/", secure=True)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 1),
        "requests": requests,
    }


def run_step(step: str, url: str, extra: list[str]) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.duplicates", "--step", step, "--database-url", url, *extra]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)  # noqa: S603 (our own module)
    sys.stderr.write(out.stderr)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def earlier_finder_rows(limit: int = 3) -> list[str]:
    """The whole-file finder rows of the section now in the doc, labelled with their date and load, so
    that a new run keeps the figures it is compared with (the latest ``limit``)."""
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    if START_MARK not in text or END_MARK not in text:
        return []
    old = text.split(START_MARK, 1)[1].split(END_MARK, 1)[0]
    date = re.search(r"\), (\d{4}-\d\d-\d\d), ", old)
    load = re.search(r"load average before the run\s+([\d.]+)", old)
    label = (
        f"| earlier run: finder, {date.group(1) if date else '?'}, load {load.group(1) if load else '?'} |"
    )
    rows = [line for line in old.splitlines() if line.startswith("| earlier run: finder")]
    rows += [
        line.replace("| finder (the worker's job) |", label, 1)
        for line in old.splitlines()
        if line.startswith("| finder (the worker's job) |")
    ]
    return rows[-limit:]


def write_doc(url: str, results: dict[str, Any]) -> None:
    facts = machine_facts()
    find_, part, page_ = results["find"], results["subset"], results["page"]
    vendor = "SQLite" if url.startswith("sqlite") else "PostgreSQL"
    ok = "✓" if find_["seconds"] <= FINDER_GOAL_S else "✗"
    page_ok = "✓" if page_["p95_ms"] <= PAGE_GOAL_MS else "✗"
    earlier = "\n".join(earlier_finder_rows())
    block = f"""{START_MARK}
## Duplicate finder and duplicates page (issue 11)

`make bench-duplicates` (`bench/duplicates.py`), {dt.date.today().isoformat()}, {vendor}; {facts["cpu"]},
{facts["cores"]} cores, {facts["ram_gib"]} GiB, Python {facts["python"]}; load average before the run
{results["load_before"]}, after {results["load_after"]} (a shared machine).

| what | customers | pairs stored | time | goal | peak memory (growth in the run) |
|---|---:|---:|---:|---:|---:|
| finder (the worker's job) | {find_["customers"]:,} | {find_["pairs"]:,} | {find_["seconds"]} s (CPU {find_.get("cpu_s", "?")} s) | ≤ {FINDER_GOAL_S:.0f} s {ok} | {find_["peak_mib"]} MiB (+{find_["growth_mib"]} MiB) |
| finder on a tenth of the file | {part["customers"]:,} | {part["pairs"]:,} | {part["seconds"]} s (CPU {part.get("cpu_s", "?")} s) | | {part["peak_mib"]} MiB (+{part["growth_mib"]} MiB) |
| duplicates page (manager, 100 pairs) | | | p50 {page_["p50_ms"]} ms, p95 {page_["p95_ms"]} ms | ≤ {PAGE_GOAL_MS:.0f} ms {page_ok} | |
{earlier}

The finder reads the customers once in name order (then company and city) and, of those whose phone
someone else has too, in phone order; compares each with the next six in name order and with those
sharing its phone, 50,000 customers at a time in numpy and rapidfuzz's batch scorer (only the pairs the
rules may accept are scored one by one), and replaces the stored pairs in one transaction with the bulk
toolkit. It holds a chunk of customers and the pairs it accepts, not the file (compare the two finder
rows; on SQLite the sort spills to disk and the file is not memory-mapped during the pass). About 2 % of
the generated customers are planted twins; the names come from short lists, so namesakes are common. A
pair that shares only the name and differs on something else (e-mail, phone, tax id, company or city)
is not proposed (docs/import-export.md, *Possible duplicates*): "earlier run" rows stored ~500,000 such
namesake pairs. The page only reads the top 100 stored pairs. Times are wall-clock; CPU is the finder
process's own time (SQLite runs inside it), which a busy machine does not inflate.
{END_MARK}"""
    replace_section(START_MARK, END_MARK, block)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=f"sqlite:///{ROOT / 'var' / 'bench-duplicates.sqlite3'}")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--no-doc", action="store_true")
    parser.add_argument("--step", choices=["prepare", "find", "subset", "page"])
    args = parser.parse_args()
    if args.step == "prepare":
        print(json.dumps(prepare(args.database_url, args.customers)))
        return
    if args.step == "find":
        print(json.dumps(find(args.database_url)))
        return
    if args.step == "subset":
        print(json.dumps(subset(args.database_url, 0.1)))
        return
    if args.step == "page":
        print(json.dumps(page(args.database_url, args.requests)))
        return
    results: dict[str, Any] = {"load_before": " ".join(f"{x:.2f}" for x in os.getloadavg())}
    results["prepare"] = run_step("prepare", args.database_url, ["--customers", str(args.customers)])
    say(f"prepared: {results['prepare']}")
    results["subset"] = run_step("subset", args.database_url, [])
    say(f"finder on a tenth: {results['subset']}")
    results["find"] = run_step("find", args.database_url, [])
    say(f"finder: {results['find']}")
    results["page"] = run_step("page", args.database_url, ["--requests", str(args.requests)])
    say(f"page: {results['page']}")
    results["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(json.dumps(results, indent=2))
    if not args.no_doc:
        write_doc(args.database_url, results)


if __name__ == "__main__":
    main()
