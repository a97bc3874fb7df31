"""Analytics benchmark (issue 3, "Speed and memory"): Cartera's ``customerbase`` against ``lifetimes``.

Run from the repository root with the project's venv::

    .venv/bin/python -m bench.analytics                 # everything, at the goals' sizes
    .venv/bin/python -m bench.analytics --quick         # small sizes, a minute or two
    .venv/bin/python -m bench.analytics --parts fits,rfm --customers 200000
    .venv/bin/python -m bench.analytics --parts refresh --sqlite-file var/other.sqlite3 --pg-name cartera_other

Goals measured side by side (``docs/benchmarks.md``, between the ``bench:issue3`` markers):

1. ``fits``: BG/NBD and Pareto/NBD fitted on the CDNOW calibration summary (weeks) and on a simulated
   CDNOW-like population of 1,000,000 customers; Cartera at least 10x faster than lifetimes, same
   parameters.
2. ``rfm``: the RFM summary of 10,000,000 transactions, ``customerbase.summary_from_transactions``
   against ``lifetimes.utils.summary_data_from_transaction_data``; at least 5x faster with at most a
   quarter of lifetimes' peak memory. Each side runs in its own fresh process.
3. ``refresh``: ``insights_refresh()`` over 1,000,000 customers and about 10,000,000 orders (the
   ``demo --big`` portfolio) on SQLite and on PostgreSQL, at most 60 s each, timed by phase.

lifetimes is installed only for the benchmark, into ``var/bench-lifetimes/`` from
``bench/requirements-lifetimes.txt``; Cartera never imports it. Generated inputs are cached under
``var/bench/`` (seeded, so every run reads the same bytes); results of each part are kept in
``var/bench/analytics-results.json`` so that a run of one part rewrites the document with the latest
numbers of every part.

Layout: :mod:`bench.analytics.common` (paths, goals, memory readings, the lifetimes venv),
:mod:`~bench.analytics.inputs` (generated and cached inputs), one module per part
(:mod:`~bench.analytics.fits`, :mod:`~bench.analytics.rfm`, :mod:`~bench.analytics.refresh`, each with
the worker that runs in a fresh process), :mod:`~bench.analytics.report` (tables and the document
section) and, here, the command line.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.analytics.common import (
    CDNOW_FILE,
    DOC,
    LIFETIMES_SCRIPT,
    PARTS,
    RESULTS,
    ROOT,
    SEED,
    SIZES,
    START_MARK,
    WORK,
    lifetimes_python,
    run_json,
    say,
)
from bench.analytics.fits import part_fits
from bench.analytics.inputs import cdnow_calibration, cdnow_summary, simulated_calibration, transactions
from bench.analytics.refresh import part_refresh, worker_dbinfo, worker_refresh
from bench.analytics.report import machine, print_summary, render, write_doc
from bench.analytics.rfm import part_rfm, worker_rfm

# What other benchmarks import from here (bench.optimiser: the CDNOW and simulated inputs).
__all__ = [
    "CDNOW_FILE",
    "SEED",
    "cdnow_calibration",
    "cdnow_summary",
    "main",
    "parse",
    "simulated_calibration",
    "transactions",
]


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.analytics",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, from {', '.join(PARTS)}")
    p.add_argument(
        "--quick", action="store_true", help="small sizes (does not write the document unless --write-doc)"
    )
    p.add_argument("--customers", type=int, help="simulated customers for the fits (default 1,000,000)")
    p.add_argument("--transactions", type=int, help="transactions for the RFM summary (default 10,000,000)")
    p.add_argument(
        "--refresh-customers", type=int, help="customers of the refresh portfolio (default 1,000,000)"
    )
    p.add_argument("--dbs", default="sqlite,postgresql", help="refresh databases: sqlite,postgresql")
    p.add_argument(
        "--sqlite-file",
        help="SQLite file of the refresh portfolio (default var/bench-big.sqlite3; made if empty)",
    )
    p.add_argument("--pg-name", help="PostgreSQL database of the refresh portfolio (default cartera_bench)")
    p.add_argument("--repeat", type=int, default=5, help="fits on CDNOW per side (the median is reported)")
    p.add_argument("--lifetimes-timeout", type=float, default=900.0, help="cap on one lifetimes run, seconds")
    p.add_argument("--refresh-timeout", type=float, default=300.0, help="limit of one refresh, seconds")
    p.add_argument("--no-weighted", action="store_true", help="skip lifetimes' weights= variant of the fits")
    p.add_argument(
        "--no-diagnose", action="store_true", help="skip timing the metric rows alone after a refresh"
    )
    p.add_argument(
        "--lifetimes-python", help="interpreter for the lifetimes venv (default: this Python's base)"
    )
    p.add_argument("--write-doc", action="store_true", help="write docs/benchmarks.md even with --quick")
    p.add_argument("--no-doc", action="store_true", help="do not write docs/benchmarks.md")
    p.add_argument("--doc-only", action="store_true", help="rewrite the document from the stored results")
    # internal: the measured sides that run in fresh processes
    p.add_argument("--worker", choices=("rfm", "refresh", "dbinfo"), help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    p.add_argument("--observation-end", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--as-of", help=argparse.SUPPRESS)
    p.add_argument("--diagnose", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


@contextlib.contextmanager
def _timed(label: str, log: dict[str, float]) -> Iterator[None]:
    t0 = time.perf_counter()
    try:
        yield
    finally:
        log[label] = time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.worker:
        worker = {"rfm": worker_rfm, "refresh": worker_refresh, "dbinfo": worker_dbinfo}[args.worker]
        print(json.dumps(worker(args), default=str), flush=True)
        return 0
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise SystemExit(f"unknown parts: {', '.join(sorted(unknown))}")
    args.dbs = [d.strip().replace("postgres", "postgresql").replace("postgresqlql", "postgresql")
                for d in args.dbs.split(",") if d.strip()]  # fmt: skip
    profile = "quick" if args.quick else "full"
    size = dict(SIZES[profile])
    if args.sqlite_file:
        size["sqlite"] = Path(args.sqlite_file).resolve()
    if args.pg_name:
        size["pg_name"] = args.pg_name
    WORK.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cartera.settings")
    sys.path.insert(0, str(ROOT))

    store_path = RESULTS if profile == "full" else WORK / "analytics-results-quick.json"
    results: dict[str, Any] = json.loads(store_path.read_text()) if store_path.exists() else {}
    if args.doc_only:
        write_doc(render(results))
        say(f"wrote {DOC.relative_to(ROOT)} from {store_path.relative_to(ROOT)}")
        return 0
    durations: dict[str, float] = {}
    lt_py: Path | None = None
    if {"fits", "rfm"} & set(parts):
        with _timed("lifetimes venv", durations):
            lt_py = lifetimes_python(args.lifetimes_python)
            versions, _ = run_json([str(lt_py), str(LIFETIMES_SCRIPT), "versions"])
            results["lifetimes_versions"] = versions
    for part in parts:
        say(f"== {part} ({profile} sizes)")
        load_before = os.getloadavg()
        if load_before[0] > 1.0:
            say(f"note: load average {load_before[0]:.1f} on {os.cpu_count()} cores: other work is running")
        with _timed(part, durations):
            if part == "fits":
                assert lt_py is not None
                res = part_fits(args, size, lt_py)
            elif part == "rfm":
                assert lt_py is not None
                res = part_rfm(args, size, lt_py)
            else:
                res = part_refresh(args, size)
                # A run on one database keeps the other database's last result.
                previous = results.get("refresh", {}).get("databases", {})
                res["databases"] = {**previous, **res["databases"]}
                res["met"] = set(res["databases"]) == {"sqlite", "postgresql"} and all(
                    r["met"] for r in res["databases"].values()
                )
        res["date"] = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
        res["profile"] = profile
        res["part_seconds"] = durations[part]
        res["load_before"] = [round(x, 2) for x in load_before]
        res["load_after"] = [round(x, 2) for x in os.getloadavg()]
        results[part] = res
        results["machine"] = machine()
        # Another run (the refresh part, say) may have stored its results meanwhile: re-read the
        # file and replace only what this run measured.
        stored: dict[str, Any] = json.loads(store_path.read_text()) if store_path.exists() else {}
        stored.update({k: results[k] for k in (part, "machine", "lifetimes_versions") if k in results})
        results = {**results, **stored}
        store_path.write_text(json.dumps(stored, indent=1, default=str))
    print_summary(results, parts)
    say("durations: " + ", ".join(f"{k} {v:.0f} s" for k, v in durations.items()))
    if not args.no_doc and (profile == "full" or args.write_doc):
        write_doc(render(results))
        say(f"wrote {DOC.relative_to(ROOT)} (section {START_MARK})")
    return 0
