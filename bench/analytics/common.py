"""Constants, paths and helpers shared by the parts of the analytics benchmark: memory readings
(Linux) and the separate lifetimes venv.

Part of ``python -m bench.analytics`` (see :mod:`bench.analytics`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
VAR = ROOT / "var"
WORK = VAR / "bench"
LIFETIMES_VENV = VAR / "bench-lifetimes"
LIFETIMES_REQUIREMENTS = ROOT / "bench" / "requirements-lifetimes.txt"
LIFETIMES_SCRIPT = ROOT / "bench" / "analytics_lifetimes.py"
RESULTS = WORK / "analytics-results.json"
DOC = ROOT / "docs" / "benchmarks.md"
START_MARK = "<!-- bench:issue3:start -->"
END_MARK = "<!-- bench:issue3:end -->"

PARTS = ("fits", "rfm", "refresh")
SEED = 2026
# Published CDNOW estimates of Fader, Hardie & Lee (2005), used to simulate a CDNOW-like population.
CDNOW_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
CDNOW_FILE = ROOT / "tests" / "data" / "cdnow" / "CDNOW_sample.txt"
# The demo portfolio's "today" for the databases this benchmark creates (orders cover 3 years before).
DEMO_TODAY = dt.date(2026, 11, 20)
PG_ADMIN_URL = os.environ.get("CARTERA_BENCH_PG_ADMIN", "postgres://postgres@127.0.0.1:5432/postgres")

SIZES: dict[str, dict[str, Any]] = {
    "full": {
        "customers": 1_000_000,
        "transactions": 10_000_000,
        "refresh_customers": 1_000_000,
        "sqlite": VAR / "bench-big.sqlite3",
        "pg_name": "cartera_bench",
    },
    "quick": {
        "customers": 20_000,
        "transactions": 200_000,
        "refresh_customers": 10_000,
        "sqlite": VAR / "bench-quick.sqlite3",
        "pg_name": "cartera_bench_quick",
    },
}
GOAL_FIT_SPEEDUP = 10.0
GOAL_RFM_SPEEDUP = 5.0
GOAL_RFM_MEMORY = 0.25
GOAL_REFRESH_SECONDS = 60.0


class BenchError(RuntimeError):
    """A step of the benchmark could not run."""


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --------------------------------------------------------------------------------------------------
# memory helpers (Linux)


def rss_kib() -> int:
    """Current resident set size (VmRSS) in KiB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def peak_kib() -> int:
    """Peak resident set size of this process image so far, in KiB.

    ``ru_maxrss`` (getrusage) is the figure asked for, but on Linux it also carries the peak of the
    process image that called ``exec``: a worker started by this (large) driver would report the
    driver's RSS as its own peak. ``VmHWM`` is the same high-water mark for the current image only,
    so it is used; both are recorded (see :func:`peaks`).
    """
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def ru_maxrss_kib() -> int:
    """``getrusage(RUSAGE_SELF).ru_maxrss`` (KiB on Linux)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


# --------------------------------------------------------------------------------------------------
# the lifetimes venv


def lifetimes_python(base_python: str | None) -> Path:
    """Create ``var/bench-lifetimes`` (once per requirements file) and return its interpreter."""
    py = LIFETIMES_VENV / "bin" / "python"
    stamp = LIFETIMES_VENV / ".installed"
    digest = hashlib.sha256(LIFETIMES_REQUIREMENTS.read_bytes()).hexdigest()
    if py.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return py
    base = base_python or str(
        Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    )
    say(f"creating the lifetimes venv in {LIFETIMES_VENV.relative_to(ROOT)} with {base}")
    if not py.exists():
        subprocess.run([base, "-m", "venv", str(LIFETIMES_VENV)], check=True)  # noqa: S603 - fixed arguments
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1")
    subprocess.run(  # noqa: S603 - fixed arguments
        [str(py), "-m", "pip", "install", "--quiet", "--require-hashes", "-r", str(LIFETIMES_REQUIREMENTS)],
        check=True,
        env=env,
    )
    stamp.write_text(digest + "\n")
    return py


def run_json(
    cmd: list[str], *, timeout: float | None = None, env: dict[str, str] | None = None
) -> tuple[dict[str, Any] | None, float]:
    """Run a worker; return (its last JSON line, wall seconds), or (None, seconds) on timeout."""
    start = time.perf_counter()
    try:
        proc = subprocess.run(  # noqa: S603 - our own interpreters and scripts
            cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT
        )
    except subprocess.TimeoutExpired:
        return None, time.perf_counter() - start
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(cmd[:4])}... failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise BenchError(
            f"{' '.join(cmd[:4])}... printed no result:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
        )
    return json.loads(lines[-1]), wall
