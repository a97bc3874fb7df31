"""What each request of the load mix (issue 16) costs, in CPU instructions and queries.

Response times and even CPU times on a shared 2-core machine depend on what the other jobs do (cache
misses, frequency, time slices); the number of instructions a request executes does not. This script
runs the requests of ``bench/load.py``'s mix (the same kinds, the same production settings, the same
sales rep and token) one at a time in one Django process under Valgrind's ``callgrind`` and reports,
per kind, the instructions executed by the Django process per request (the database server's work is
not in it: the number of queries stands for it).

Run from the repository root::

    .venv/bin/python -m bench.instructions --database-url postgres://postgres@127.0.0.1:5432/cartera_x
    .venv/bin/python -m bench.instructions --kinds list,"customer page" --requests 3
    .venv/bin/python -m bench.instructions --label after --compare before   # a table of both

The database is prepared like ``bench.run`` prepares it (``migrate``; ``manage.py demo`` with
``--customers`` customers when it is empty; the analysis once), so a small portfolio (20,000
customers by default) serves: the Python work of a page does not grow with the customer file (the
pages show 50 rows at most and ask the database for counts), only the database's does.

Under callgrind, a small C library (compiled here with ``cc`` from Valgrind's ``callgrind.h``) zeroes
the counters before the timed requests of a kind and writes them out after, so start-up, imports
and warm-up requests are not counted. Each kind has 2 warm-up requests, then ``--requests`` counted
ones; customers and search terms come from a seeded generator, so two runs make the same requests.
Results go to ``var/bench/instructions-<label>.json``.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.load import manage, prepare_workload, request_kinds, server_env
from bench.run import DEMO_TODAY, PG_BASE, prepare, say

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench"
WARM_UP = 2
# The requests of the people at work (the login kinds measure an attack, not the mix).
MIX = (
    "list",
    "list (filtered or sorted)",
    "search",
    "customer page",
    "log a call",
    "home",
    "api: list",
    "api: search",
    "api: customer",
)
MARKS_C = """
#include <valgrind/callgrind.h>
void cartera_zero(void) { CALLGRIND_ZERO_STATS; }
void cartera_dump(const char *label) { CALLGRIND_DUMP_STATS_AT(label); }
"""


def marks_library() -> Path:
    """The shared library whose two functions zero and dump callgrind's counters (no-ops outside it)."""
    library = VAR / "callgrind-marks.so"
    if not library.exists():
        VAR.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            source = Path(tmp) / "marks.c"
            source.write_text(MARKS_C)
            subprocess.run(  # noqa: S603 - the system's C compiler on our own source
                [shutil.which("cc") or "cc", "-O1", "-shared", "-fPIC", "-o", str(library), str(source)],
                check=True,
            )
    return library


def worker(result: Path, workload_file: Path, kinds: list[str], requests: int) -> None:
    """(Under callgrind, with Django set up on the benchmark database.) Count each kind's requests."""
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    marks = ctypes.CDLL(str(marks_library()))
    calls = request_kinds(json.loads(workload_file.read_text()), lock_out=False)
    out: dict[str, Any] = {}
    for name in kinds:
        call = calls[name]
        for _ in range(WARM_UP):
            call()
        with CaptureQueriesContext(connection) as queries:
            status = call().status_code
        assert status in (200, 429), (name, status)
        # Counted now: the captured list is a slice of the connection's log, which the next request resets.
        out[name] = {"queries": len(queries.captured_queries)}
        marks.cartera_zero()
        for _ in range(requests):
            call()
        marks.cartera_dump(name.encode())
    result.write_text(json.dumps(out))


def parse_dumps(directory: Path) -> dict[str, int]:
    """Instructions (``Ir``) of each dump written by ``cartera_dump``, by its label."""
    totals: dict[str, int] = {}
    for dump in directory.glob("callgrind.out.*"):
        text = dump.read_text(errors="replace")
        trigger = re.search(r"^desc: Trigger: Client Request: (.*)$", text, re.MULTILINE)
        total = re.search(r"^(?:totals|summary): (\d+)", text, re.MULTILINE)
        if trigger and total:
            totals[trigger.group(1).strip()] = int(total.group(1))
    return totals


def measure(url: str, customers: int, kinds: list[str], requests: int) -> dict[str, Any]:
    """Prepare the database, run the worker under callgrind, return instructions and queries per kind."""
    prepare(url, customers, regenerate=False)
    env = server_env(url, VAR / "load-static")
    say("running the analysis once (refresh --if-never-run)")
    manage(["refresh", "--if-never-run", "--as-of", DEMO_TODAY.isoformat(), "-v0"], env)
    workload_file = VAR / "instructions-workload.json"
    if not workload_file.exists():
        prepare_workload(url, workload_file, users=3)
    marks_library()
    with tempfile.TemporaryDirectory() as tmp:
        dumps, result = Path(tmp), Path(tmp) / "result.json"
        command = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={dumps}/callgrind.out.%p",
            "--dump-line=no",
            *[sys.executable, "-m", "bench.instructions", "--worker", "--result", str(result)],
            *["--workload", str(workload_file), "--kinds", ",".join(kinds), "--requests", str(requests)],
        ]
        say(f"callgrind: {len(kinds)} kinds, {WARM_UP} + {requests} requests each")
        subprocess.run(command, check=True, env=env, cwd=ROOT, stderr=subprocess.DEVNULL)  # noqa: S603
        counts = json.loads(result.read_text())
        totals = parse_dumps(dumps)
    return {
        name: {"instructions": round(totals[name] / requests), "queries": counts[name]["queries"]}
        for name in kinds
    }


def table(results: dict[str, dict[str, Any]], labels: list[str]) -> str:
    """A Markdown table: millions of instructions and queries per request for each label."""
    head = "| request | " + " | ".join(f"{label}: M instructions | {label}: queries" for label in labels)
    lines = [head + " |", "|---" * (1 + 2 * len(labels)) + "|"]
    for name in results[labels[0]]["kinds"]:
        cells = []
        for label in labels:
            kind = results[label]["kinds"].get(name)
            cells += [f"{kind['instructions'] / 1e6:.1f}", str(kind["queries"])] if kind else ["", ""]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    mean = {
        label: statistics.fmean(k["instructions"] for k in results[label]["kinds"].values()) / 1e6
        for label in labels
    }
    lines.append("| mean of the kinds | " + " | ".join(f"{mean[label]:.1f} | " for label in labels) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=PG_BASE.rstrip("/") + "/cartera_bench_instructions")
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--kinds", default=",".join(MIX), help="comma-separated kinds of request")
    parser.add_argument("--requests", type=int, default=5, help="counted requests of each kind")
    parser.add_argument("--label", default="now", help="the name the results are kept under")
    parser.add_argument("--compare", default="", help="labels of earlier results to show next to these")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--workload", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    kinds = [k for k in args.kinds.split(",") if k]
    if args.worker:
        worker(args.result, args.workload, kinds, args.requests)
        return
    results = {"kinds": measure(args.database_url, args.customers, kinds, args.requests)}
    results |= {"customers": args.customers, "requests": args.requests, "load": os.getloadavg()[0]}
    (VAR / f"instructions-{args.label}.json").write_text(json.dumps(results, indent=2))
    every = {args.label: results}
    for label in filter(None, args.compare.split(",")):
        every[label] = json.loads((VAR / f"instructions-{label}.json").read_text())
    print(table(every, [*[lab for lab in every if lab != args.label], args.label]))


if __name__ == "__main__":
    main()
