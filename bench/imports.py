"""Import benchmark: Cartera's import against django-import-export, and memory on a million rows.

    .venv/bin/python -m bench.imports [--rows 100000] [--existing 100000] [--die-rows 10000]
    .venv/bin/python -m bench.imports --rows 20000 --existing 20000 --no-die --no-million --no-doc

Runs on a throw-away SQLite database under ``var/bench-imports/``. django-import-export is installed
only here, into ``var/bench-imports/die/`` (never into the project's environment), and imports the
same file into the same models through a ``ModelResource`` in a child process. The results replace the
section of ``docs/benchmarks.md`` between the ``bench:issue4`` markers (and nothing else), unless
``--no-doc``. The machine is often shared, so the load average is recorded next to every figure, with
the CPU time the import used (the writing process and its reading workers), which the load does not
change much, unlike the elapsed time.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.doc import replace_section
from bench.machine import machine_facts

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "var" / "bench-imports"
DOC = ROOT / "docs" / "benchmarks.md"
START_MARK = "<!-- bench:issue4:start -->"
END_MARK = "<!-- bench:issue4:end -->"
GOAL_ROWS_PER_S = 10_000
GOAL_SPEEDUP = 10
GOAL_RSS_MB = 500
FIRST = ["Lucía", "María", "José", "Antonio", "Carmen", "Manuel", "Ana", "Javier", "Laura", "David", "Elena",
         "Pablo", "Marta", "Sergio", "Paula", "Jorge", "Sara", "Álvaro", "Irene", "Raúl"]  # fmt: skip
LAST = ["García", "Martínez", "López", "Sánchez", "Pérez", "Gómez", "Martín", "Jiménez", "Ruiz", "Hernández",
        "Díaz", "Moreno", "Muñoz", "Álvarez", "Romero", "Alonso", "Gutiérrez", "Navarro", "Torres", "Domínguez"]  # fmt: skip
CITIES = ["Madrid", "Barcelona", "Valencia", "Sevilla", "Bilbao", "Zaragoza", "Málaga", "Murcia"]


def person(i: int) -> dict[str, str]:
    rnd = random.Random(i)
    return {
        "Nombre": rnd.choice(FIRST),
        "Apellidos": f"{rnd.choice(LAST)} {rnd.choice(LAST)}",
        "Correo electrónico": f"cliente{i}@example.es",
        "Teléfono": f"6{i:08d}",
        "Ciudad": rnd.choice(CITIES),
        "Código postal": f"{28000 + i % 1000:05d}",
        "Fecha de nacimiento": f"{1 + i % 28:02d}/{1 + i % 12:02d}/{1950 + i % 50}",
    }


def write_csv(path: Path, rows: int, existing: int, errors_every: int = 200) -> None:
    """Every other row is a customer already in the database (of ``existing``), the rest are new."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(person(0)), delimiter=";")
        writer.writeheader()
        for n in range(rows):
            row = person(n // 2 if n % 2 == 0 and n // 2 < existing else existing + n)
            if errors_every and n % errors_every == 7:
                row["Correo electrónico"] = "no-es-un-correo"
            writer.writerow(row)


def setup_django(db_dir: Path) -> None:
    os.environ["CARTERA_VAR_DIR"] = str(db_dir)
    os.environ["CARTERA_MAX_UPLOAD_BYTES"] = str(4 * 1024**3)  # the million-row file is about 85 MB
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cartera.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed(existing: int) -> None:
    from cartera.core.text import fold
    from cartera.customers.models import Customer

    batch = []
    for i in range(existing):
        p = person(i)
        batch.append(
            Customer(
                first_name=p["Nombre"],
                last_name=p["Apellidos"],
                email=p["Correo electrónico"],
                phone=f"+346{i:08d}",
                city=p["Ciudad"],
                first_name_key=fold(p["Nombre"]),
                last_name_key=fold(p["Apellidos"]),
            )  # fmt: skip
        )
        if len(batch) == 5000:
            Customer.objects.bulk_create(batch)
            batch = []
    Customer.objects.bulk_create(batch)


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def cartera_import(path: Path, dry_run: bool = False) -> tuple[float, dict[str, int]]:
    seconds, report, _cpu_used = cartera_import_measured(path, dry_run)
    return seconds, report


def cartera_import_measured(
    path: Path, dry_run: bool = False
) -> tuple[float, dict[str, int], dict[str, Any]]:
    """Elapsed seconds, the job's report, and CPU seconds and load averages around the import."""
    from cartera.accounts.models import User
    from cartera.imports.services import import_job_create_from_path, import_job_run

    user = User.objects.filter(username="bench").first()
    if user is None:
        user = User.objects.create_superuser("bench", password="bench-only-password")  # noqa: S106
    load_before = os.getloadavg()[0]
    own, workers = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    job = import_job_create_from_path(actor=user, path=path, kind="customers")
    job = import_job_run(job=job, dry_run=dry_run)
    seconds = time.perf_counter() - start
    cpu = {
        "writer_cpu_s": _cpu(resource.RUSAGE_SELF) - own,
        "workers_cpu_s": _cpu(resource.RUSAGE_CHILDREN) - workers,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
    }
    return seconds, job.report, cpu


DIE_SCRIPT = r"""
import os, sys, time
os.environ["CARTERA_VAR_DIR"] = sys.argv[2]
os.environ["DJANGO_SETTINGS_MODULE"] = "cartera.settings"
import django
django.setup()
import tablib
from import_export import resources, fields
from cartera.customers.models import Customer

class CustomerResource(resources.ModelResource):
    first_name = fields.Field(attribute="first_name", column_name="Nombre")
    last_name = fields.Field(attribute="last_name", column_name="Apellidos")
    email = fields.Field(attribute="email", column_name="Correo electrónico")
    phone = fields.Field(attribute="phone", column_name="Teléfono")
    city = fields.Field(attribute="city", column_name="Ciudad")
    postal_code = fields.Field(attribute="postal_code", column_name="Código postal")
    class Meta:
        model = Customer
        import_id_fields = ("email",)
        fields = ("first_name", "last_name", "email", "phone", "city", "postal_code")
        skip_unchanged = True
        use_bulk = True
        batch_size = 1000

data = open(sys.argv[1], encoding="utf-8").read()
dataset = tablib.Dataset().load(data, format="csv", delimiter=";")
start = time.perf_counter()
result = CustomerResource().import_data(dataset, dry_run=False, raise_errors=False, collect_failed_rows=True)
print(time.perf_counter() - start, len(dataset), result.totals)
"""


def die_import(path: Path, db_dir: Path) -> tuple[float, int, str]:
    site = WORK / "die"
    if not (site / "import_export").exists():
        subprocess.run(  # noqa: S603  # fixed arguments
            [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(site),
             "django-import-export==4.4.3", "tablib", "diff-match-patch", "--no-deps"],
            check=True,
        )  # fmt: skip
    env = {**os.environ, "PYTHONPATH": f"{site}:{ROOT}"}
    out = (
        subprocess.run(  # noqa: S603  # fixed arguments
            [sys.executable, "-c", DIE_SCRIPT, str(path), str(db_dir)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    seconds, rows, totals = out.split(" ", 2)
    return float(seconds), int(rows), totals


def _rss_parts_mb(pid: int) -> tuple[float, float]:
    """Anonymous and file-backed resident memory of process ``pid`` now (Linux), in MB."""
    parts = {"RssAnon:": 0.0, "RssFile:": 0.0}
    try:
        with open(f"/proc/{pid}/status") as status:  # noqa: PTH123
            for line in status:
                name, *rest = line.split()
                if name in parts:
                    parts[name] = int(rest[0]) / 1024
    except OSError:
        pass
    return parts["RssAnon:"], parts["RssFile:"]


def run_sampled(command: list[str]) -> tuple[str, float, float]:
    """Run ``command``; its output and the largest anonymous and file-backed RSS seen, sampled every
    half second from here (a thread in the importing process would turn its parallel reading off)."""
    anon = file = 0.0
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as child:  # noqa: S603
        while child.poll() is None:
            a, f = _rss_parts_mb(child.pid)
            anon, file = max(anon, a), max(file, f)
            time.sleep(0.5)
        out = child.stdout.read() if child.stdout else ""
        if child.returncode:
            raise subprocess.CalledProcessError(child.returncode, command)
    return out, anon, file


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_worker_rss_mb() -> float:
    """The largest reading worker (children are counted once they have exited)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--existing", type=int, default=100_000)
    parser.add_argument("--die-rows", type=int, default=10_000)
    parser.add_argument("--no-die", action="store_true", help="skip django-import-export")
    parser.add_argument("--no-million", action="store_true", help="skip the streaming run")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/benchmarks.md")
    parser.add_argument(
        "--repeat", type=int, default=3, help="Cartera imports of the same file (median kept)"
    )
    parser.add_argument("--die-repeat", type=int, default=3, help="django-import-export runs, median kept")
    parser.add_argument("--note", default="", help="a remark printed under the results (e.g. other runs)")
    parser.add_argument("--from-result", action="store_true", help="only rewrite the docs from result.json")
    parser.add_argument("--million", action="store_true", help="child run: stream a --stream-rows file")
    parser.add_argument("--stream-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    if args.from_result:
        result = json.loads((WORK / "result.json").read_text())
        if args.note:
            result["note"] = args.note
            (WORK / "result.json").write_text(json.dumps(result, indent=2))
        write_section(render(result))
        return
    if args.million:
        db_dir = WORK / "million"
        shutil.rmtree(db_dir, ignore_errors=True)
        setup_django(db_dir)
        path = WORK / f"stream-{args.stream_rows}.csv"
        if not path.exists():
            write_csv(path, args.stream_rows, 0)
        seconds, report, cpu = cartera_import_measured(path)
        print(
            json.dumps(
                {
                    "seconds": seconds,
                    "report": report,
                    "peak_rss_mb": peak_rss_mb(),
                    "worker_rss_mb": peak_worker_rss_mb(),
                    **cpu,
                }
            )
        )
        return

    db_dir = WORK / "db"
    shutil.rmtree(db_dir, ignore_errors=True)
    setup_django(db_dir)
    t0 = time.perf_counter()
    seed(args.existing)
    seed_s = time.perf_counter() - t0
    # Half the file is already in the database (by email), half is new; 1 row in 200 has a bad email.
    path = WORK / "customers.csv"
    write_csv(path, args.rows, args.existing)
    backup = WORK / "db-seeded.sqlite3"
    shutil.copyfile(db_dir / "cartera.sqlite3", backup)
    # The machine is shared, so the same import runs --repeat times, each on a fresh copy of the
    # seeded database, and the median is kept (every run is recorded).
    runs = []
    for attempt in range(max(1, args.repeat)):
        if attempt:
            from django.db import connections

            connections.close_all()
            for suffix in ("-wal", "-shm"):
                (db_dir / f"cartera.sqlite3{suffix}").unlink(missing_ok=True)
            shutil.copyfile(backup, db_dir / "cartera.sqlite3")
        seconds, report, cpu = cartera_import_measured(path)
        runs.append({"seconds": seconds, "rows_per_s": args.rows / seconds, "report": report, **cpu})
        print(
            f"cartera: {args.rows:,} rows in {seconds:.2f} s = {args.rows / seconds:,.0f} rows/s {report} {cpu}"
        )
    median = sorted(runs, key=lambda run: run["seconds"])[len(runs) // 2]
    seconds, report = median["seconds"], median["report"]
    cpu = {k: median[k] for k in ("writer_cpu_s", "workers_cpu_s", "load_before", "load_after")}
    ours = args.rows / seconds

    die: dict[str, Any] | None = None
    if not args.no_die:
        # django-import-export on the first --die-rows rows of the same file, into the same seeded database,
        # --die-repeat times like ours (each on a fresh copy), median kept.
        head = WORK / "customers-head.csv"
        with path.open(encoding="utf-8") as src, head.open("w", encoding="utf-8") as dst:
            for n, line in enumerate(src):
                if n > args.die_rows:
                    break
                dst.write(line)
        die_runs: list[dict[str, Any]] = []
        for _attempt in range(max(1, args.die_repeat)):
            die_dir = WORK / "die-db"
            shutil.rmtree(die_dir, ignore_errors=True)
            die_dir.mkdir()
            shutil.copyfile(backup, die_dir / "cartera.sqlite3")
            load_before = os.getloadavg()[0]
            die_s, die_n, totals = die_import(head, die_dir)
            die_runs.append(
                {
                    "rows": die_n,
                    "seconds": die_s,
                    "rows_per_s": die_n / die_s,
                    "totals": totals,
                    "load_before": load_before,
                    "load_after": os.getloadavg()[0],
                }
            )
            print(
                f"django-import-export: {die_n:,} rows in {die_s:.2f} s = {die_n / die_s:,.0f} rows/s {totals}"
            )
        die = {**sorted(die_runs, key=lambda run: run["seconds"])[len(die_runs) // 2], "runs": die_runs}

    stream: dict[str, Any] | None = None
    if not args.no_million:
        out, anon, file = run_sampled(
            [sys.executable, "-m", "bench.imports", "--million", "--stream-rows", str(args.stream_rows)]
        )
        stream = {**json.loads(out.strip().splitlines()[-1]), "anon_rss_mb": anon, "file_rss_mb": file}
        print(
            f"{args.stream_rows:,} rows streamed: {stream['seconds']:.1f} s, "
            f"peak RSS {stream['peak_rss_mb']:.0f} MB {stream['report']}"
        )
    result = {
        "date": datetime.date.today().isoformat(),
        "machine": machine_facts(),
        "seed_seconds": seed_s,
        "rows": args.rows,
        "existing": args.existing,
        "cartera_seconds": seconds,
        "cartera_rows_per_s": ours,
        "cartera_report": report,
        "cartera_cpu": cpu,
        "cartera_runs": runs,
        "die": die,
        "speedup": ours / die["rows_per_s"] if die else None,
        "stream_rows": args.stream_rows,
        "stream": stream,
        "note": args.note,
    }
    (WORK / "result.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    if not args.no_doc:
        if die is None or stream is None:
            print("not writing docs/benchmarks.md: a part was skipped")
        else:
            write_section(render(result))


def _met(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def render(r: dict[str, Any]) -> str:
    """The issue-4 section of docs/benchmarks.md from one run's results."""
    m, cpu, die, stream = r["machine"], r["cartera_cpu"], r["die"], r["stream"]
    rep = r["cartera_report"]
    runs = r.get("cartera_runs") or [{"rows_per_s": r["cartera_rows_per_s"], **cpu}]
    loads = [cpu["load_before"], cpu["load_after"], die["load_before"], die["load_after"]]
    loads += [stream["load_before"], stream["load_after"]]
    loads += [run[k] for run in runs for k in ("load_before", "load_after")]
    die_runs = die.get("runs") or [die]
    die_each = ", ".join(f"{run['rows_per_s']:,.0f} (load {run['load_before']:.1f})" for run in die_runs)
    loads += [run[k] for run in die_runs for k in ("load_before", "load_after")]
    each = ", ".join(f"{run['rows_per_s']:,.0f} (load {run['load_before']:.1f})" for run in runs)
    lines = [
        START_MARK,
        "## Import throughput",
        "",
        f"`.venv/bin/python -m bench.imports` — {r['date']}, {m['cpu']}, {m['cores']} CPUs, {m['ram_gib']} GiB RAM, "
        f"{m['os']}, Python {m['python']}, SQLite (WAL).",
        f"One-minute load average during the runs: {min(loads):.1f} to {max(loads):.1f} on {m['cores']} CPUs "
        "(the machine is shared with other jobs; elapsed times grow with the load, CPU times much less).",
        "",
        "| run | rows | time | rows/s | CPU (writer + readers) | load (before → after) | notes |",
        "|---|---:|---:|---:|---:|---|---|",
        f"| Cartera import, {r['rows']:,}-row CSV against {r['existing']:,} customers"
        f"{f', median of {len(runs)}' if len(runs) > 1 else ''} | {r['rows']:,} "
        f"| {r['cartera_seconds']:.1f} s | **{r['cartera_rows_per_s']:,.0f}** "
        f"| {cpu['writer_cpu_s']:.1f} s + {cpu['workers_cpu_s']:.1f} s "
        f"| {cpu['load_before']:.1f} → {cpu['load_after']:.1f} "
        f"| full validation (email-validator, phonenumbers, dates), exact + fuzzy de-duplication; "
        f"{rep['create']:,} created, {rep['duplicate']:,} duplicates ({rep['skip']:,} skipped), "
        f"{rep['error']:,} rejected; an ImportRecord per created row |",
        f"| django-import-export 4.4.3, same file (first {die['rows']:,} rows), same models, same database"
        f"{f', median of {len(die_runs)}' if len(die_runs) > 1 else ''} "
        f"| {die['rows']:,} | {die['seconds']:.1f} s | {die['rows_per_s']:,.0f} | – "
        f"| {die['load_before']:.1f} → {die['load_after']:.1f} "
        '| `ModelResource`, `import_id_fields=("email",)`, `use_bulk=True`, no phone/email normalisation |',
        f"| **speed-up** | | | **{r['speedup']:.0f}×** | | | target ≥ {GOAL_SPEEDUP}× |",
        f"| {r['stream_rows']:,}-row CSV streamed into an empty database | {r['stream_rows']:,} "
        f"| {stream['seconds']:.0f} s | {r['stream_rows'] / stream['seconds']:,.0f} "
        f"| {stream['writer_cpu_s']:.0f} s + {stream['workers_cpu_s']:.0f} s "
        f"| {stream['load_before']:.1f} → {stream['load_after']:.1f} "
        f"| peak RSS of the importing process **{stream['peak_rss_mb']:.0f} MB** (SQLite's 64 MB cache and "
        f"256 MB memory map included), largest reading worker {stream['worker_rss_mb']:.0f} MB |",
        "",
        f"Targets: ≥ {GOAL_ROWS_PER_S:,} rows/s — {_met(r['cartera_rows_per_s'] >= GOAL_ROWS_PER_S)} "
        f"({r['cartera_rows_per_s']:,.0f}); ≥ {GOAL_SPEEDUP}× django-import-export — "
        f"{_met(r['speedup'] >= GOAL_SPEEDUP)} ({r['speedup']:.0f}×); peak RSS ≤ {GOAL_RSS_MB} MB on "
        f"{r['stream_rows']:,} rows — {_met(stream['peak_rss_mb'] <= GOAL_RSS_MB)} "
        f"({stream['peak_rss_mb']:.0f} MB).",
        "",
        f"Every Cartera run of the {r['rows']:,}-row file, rows/s: {each}; every django-import-export run: "
        f"{die_each}. Elapsed time depends on how much "
        "of the 2 CPUs the other jobs leave: the writing process is the critical path and needs about "
        f"{cpu['writer_cpu_s']:.1f} s of CPU for the file ({r['rows'] / cpu['writer_cpu_s']:,.0f} rows per "
        "CPU-second), more than half of it in SQLite inserting into the customer table's 13 b-trees and "
        "committing, the rest planning (one candidate query per key and batch) and building rows; the "
        "reading worker (parsing, email-validator, phonenumbers, dates) needs "
        f"{cpu['workers_cpu_s']:.1f} s. On an idle machine the import is bounded by the writer's CPU time.",
        "Memory on the million rows, sampled every half second: the importing process's anonymous memory "
        f"(Python, SQLite's 64 MB page cache) peaked at {stream.get('anon_rss_mb', 0):.0f} MB; the rest "
        f"of its RSS (largest {stream.get('file_rss_mb', 0):.0f} MB) is the database file mapped by SQLite "
        "(`mmap_size`, at most 256 MB), which grows with the file up to that limit. A reading worker "
        "holds at most 4 batches of 1,000 rows waiting.",
        *(["", f"Note: {r['note']}"] if r.get("note") else []),
        END_MARK,
    ]
    return "\n".join(lines)


def write_section(section: str) -> None:
    """This benchmark's section of docs/benchmarks.md (bench/doc.py)."""
    replace_section(START_MARK, END_MARK, section)


if __name__ == "__main__":
    main()
