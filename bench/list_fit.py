"""Issue 15 speed benchmark: the fit distribution of a 100,000-row customer file in its dry run.

Run from the repository root::

    .venv/bin/python -m bench.list_fit            # SQLite file var/bench-list-fit.sqlite3
    .venv/bin/python -m bench.list_fit --dry-run  # also the whole dry run of the file, for comparison

It builds its own database (migrated, 5,000 paying customers with their revenue, sectors, provinces and
birth dates), unless it holds them already, and writes a 100,000-row CSV of prospects (a fifth blank
in each attribute). Measured, median of ``--repeat`` runs: gathering the rows' attributes as the dry
run does (``FitRows.add``, per batch of 1,000 checked rows) and scoring them (``FitRows.distribution``:
learning the model from the portfolio, scoring every row, explaining the top ten). Results go to
docs/benchmarks.md between the ``bench:issue15-listfit`` markers (``--no-doc`` to skip).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_MARK = "<!-- bench:issue15-listfit:start -->"
END_MARK = "<!-- bench:issue15-listfit:end -->"
BUYERS = 5_000
ROWS = 100_000
SECTORS = [
    "Industria",
    "Comercio",
    "Hostelería",
    "Servicios",
    "Construcción",
    "Sanidad",
    "Educación",
    "Transporte",
]
REGIONS = ["Madrid", "Barcelona", "Sevilla", "Valencia", "Bilbao", "Zaragoza", "Málaga", "Murcia", "Asturias"]


def _prepare() -> None:
    from decimal import Decimal

    from django.core.management import call_command
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    from cartera.customers.models import Customer
    from cartera.insights.models import CustomerMetrics

    if CustomerMetrics.objects.filter(revenue__gt=0).count() >= BUYERS:
        return
    rng = random.Random(15)
    people = Customer.objects.bulk_create(
        Customer(
            first_name=f"C{i}",
            sector=rng.choice(SECTORS),
            region=rng.choice(REGIONS),
            birth_date=dt.date(1950 + rng.randrange(50), 1 + rng.randrange(12), 1 + rng.randrange(28)),
            stage="customer",
            source=rng.choice(["web", "referral", "event", "telemarketing"]),
        )
        for i in range(BUYERS)
    )
    now = timezone.now()
    CustomerMetrics.objects.bulk_create(
        CustomerMetrics(
            customer=p,
            revenue=Decimal(5000 + rng.randrange(5000))
            if p.sector == "Industria" and rng.random() < 0.8
            else Decimal(50 + rng.randrange(900)),
            computed_at=now,
        )  # fmt: skip
        for p in people
    )


def _rows() -> list:
    from cartera.imports.rows import CleanRow

    rng = random.Random(100)
    rows = []
    for n in range(2, ROWS + 2):
        data = {
            "first_name": f"P{n}",
            "sector": rng.choice(SECTORS) if rng.random() > 0.2 else "",
            "region": rng.choice(REGIONS).upper() if rng.random() > 0.2 else "",
            "birth_date": dt.date(1950 + rng.randrange(55), 1 + rng.randrange(12), 1 + rng.randrange(28))
            if rng.random() > 0.2 else None,
        }  # fmt: skip
        rows.append(CleanRow(n, [], data))
    return rows


def _csv(path: Path, rows: list) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("Nombre;Correo;Sector;Provincia;Fecha de nacimiento\n")
        for row in rows:
            d = row.data
            birth = d["birth_date"].strftime("%d/%m/%Y") if d["birth_date"] else ""
            out.write(f"{d['first_name']};p{row.number}@example.es;{d['sector']};{d['region']};{birth}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dry-run", action="store_true", help="also time the whole dry run of the file")
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{ROOT / 'var' / 'bench-list-fit.sqlite3'}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cartera.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from cartera.imports.services.origin import FitRows

    _prepare()
    rows = _rows()
    gather, score, score_cpu = [], [], []
    result = None
    for _ in range(args.repeat):
        started = time.perf_counter()
        fit = FitRows("purchased_list")
        for start in range(0, len(rows), 1000):
            fit.add(rows[start : start + 1000])
        gathered, cpu = time.perf_counter(), time.process_time()
        result = fit.distribution()
        done = time.perf_counter()
        gather.append(gathered - started)
        score.append(done - gathered)
        score_cpu.append(time.process_time() - cpu)
    assert result is not None and result["scored"], result
    load = os.getloadavg()
    lines = [
        f"- **Date**: {dt.date.today().isoformat()}; `uptime` load average {load[0]:.2f}, {load[1]:.2f}, "
        f"{load[2]:.2f} on {os.cpu_count()} CPUs (shared with other jobs)",
        f"- **Method**: `.venv/bin/python -m bench.list_fit`; SQLite; {BUYERS:,} paying customers to learn "
        f"from; {ROWS:,} checked rows; median of {args.repeat} runs",
        f"- Gathering the rows' attributes during the dry run (`FitRows.add`): **{statistics.median(gather):.3f} s**",
        f"- Learning the model and scoring every row, top ten explained (`FitRows.distribution`): "
        f"**{statistics.median(score):.3f} s** elapsed, {statistics.median(score_cpu):.3f} s of CPU (elapsed "
        f"time grows with the other jobs' load)",
        "- Distribution: " + ", ".join(f"{b['low']}-{b['high']}: {b['count']:,}" for b in result["bands"]),
    ]
    if args.dry_run:
        import io
        import tempfile

        from django.conf import settings

        from cartera.accounts.models import User
        from cartera.accounts.services import user_create
        from cartera.imports.services import import_job_configure, import_job_create, import_job_run

        settings.VAR_DIR = Path(tempfile.mkdtemp())
        actor = User.objects.filter(username="bench-importer").first() or user_create(
            username="bench-importer", password=os.urandom(12).hex(), role="manager"
        )
        path = Path(settings.VAR_DIR) / "list.csv"
        _csv(path, rows)
        job = import_job_create(actor=actor, upload=io.BytesIO(path.read_bytes()), file_name="list.csv",
                                kind="customers", list_origin="purchased")  # fmt: skip
        import_job_configure(actor=actor, job=job, columns=job.columns, options={}, lawful_basis="bench")
        started = time.perf_counter()
        job = import_job_run(job=job, dry_run=True)
        took = time.perf_counter() - started
        lines.append(
            f"- The whole dry run of the same file as a CSV (reading, checking, matching, fit included): "
            f"**{took:.1f} s** ({job.report['rows']:,} rows; the fit's share is the two lines above)"
        )
    text = "\n".join(lines)
    print(text)
    if not args.no_doc:
        doc = ROOT / "docs" / "benchmarks.md"
        body = doc.read_text(encoding="utf-8")
        section = f"{START_MARK}\n## Fit distribution of a purchased list (`bench/list_fit.py`)\n\n{text}\n{END_MARK}"
        if START_MARK in body:
            before, rest = body.split(START_MARK, 1)
            body = before + section + rest.split(END_MARK, 1)[1]
        else:
            body = body.rstrip("\n") + "\n\n" + section + "\n"
        doc.write_text(body, encoding="utf-8")


if __name__ == "__main__":
    main()
