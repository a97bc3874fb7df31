"""Import benchmark: Cartera's import against django-import-export, and memory on a million rows.

    .venv/bin/python -m bench.imports [--rows 100000] [--existing 100000] [--die-rows 10000] [--million]

Runs on a throw-away SQLite database under ``var/bench-imports/``. django-import-export is installed
only here, into ``var/bench-imports/die/`` (never into the project's environment), and imports the
same file into the same models through a ``ModelResource`` in a child process.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "var" / "bench-imports"
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


def cartera_import(path: Path, dry_run: bool = False) -> tuple[float, dict[str, int]]:
    from cartera.accounts.models import User
    from cartera.imports.services import import_job_create_from_path, import_job_run

    user = User.objects.filter(username="bench").first()
    if user is None:
        user = User.objects.create_superuser("bench", password="bench-only-password")  # noqa: S106
    start = time.perf_counter()
    job = import_job_create_from_path(actor=user, path=path, kind="customers")
    job = import_job_run(job=job, dry_run=dry_run)
    return time.perf_counter() - start, job.report


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
    parser.add_argument("--million", action="store_true", help="child run: stream a --stream-rows file")
    parser.add_argument("--stream-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    if args.million:
        db_dir = WORK / "million"
        shutil.rmtree(db_dir, ignore_errors=True)
        setup_django(db_dir)
        path = WORK / f"stream-{args.stream_rows}.csv"
        if not path.exists():
            write_csv(path, args.stream_rows, 0)
        seconds, report = cartera_import(path)
        print(
            json.dumps(
                {
                    "seconds": seconds,
                    "report": report,
                    "peak_rss_mb": peak_rss_mb(),
                    "worker_rss_mb": peak_worker_rss_mb(),
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
    seconds, report = cartera_import(path)
    ours = args.rows / seconds
    print(f"cartera: {args.rows:,} rows in {seconds:.2f} s = {ours:,.0f} rows/s {report}")

    # django-import-export on the first --die-rows rows of the same file, into the same seeded database.
    die_dir = WORK / "die-db"
    shutil.rmtree(die_dir, ignore_errors=True)
    die_dir.mkdir()
    shutil.copyfile(backup, die_dir / "cartera.sqlite3")
    head = WORK / "customers-head.csv"
    with path.open(encoding="utf-8") as src, head.open("w", encoding="utf-8") as dst:
        for n, line in enumerate(src):
            if n > args.die_rows:
                break
            dst.write(line)
    die_s, die_n, totals = die_import(head, die_dir)
    theirs = die_n / die_s
    print(f"django-import-export: {die_n:,} rows in {die_s:.2f} s = {theirs:,.0f} rows/s {totals}")

    million = (
        subprocess.run(  # noqa: S603  # fixed arguments
            [sys.executable, "-m", "bench.imports", "--million", "--stream-rows", str(args.stream_rows)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    m = json.loads(million)
    print(
        f"{args.stream_rows:,} rows streamed: {m['seconds']:.1f} s, peak RSS {m['peak_rss_mb']:.0f} MB {m['report']}"
    )
    result = {
        "date": datetime.date.today().isoformat(),
        "machine": f"{platform.node()} · {platform.processor() or platform.machine()} · {os.cpu_count()} CPUs · Python {platform.python_version()}",
        "seed_seconds": seed_s,
        "rows": args.rows,
        "existing": args.existing,
        "cartera_seconds": seconds,
        "cartera_rows_per_s": ours,
        "cartera_report": report,
        "die_rows": die_n,
        "die_seconds": die_s,
        "die_rows_per_s": theirs,
        "speedup": ours / theirs,
        "stream_rows": args.stream_rows,
        "stream": m,
    }
    (WORK / "result.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
