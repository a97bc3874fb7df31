"""Analytics benchmark (issue 3, "Speed and memory"): Cartera's ``customerbase`` against ``lifetimes``.

Run from the repository root with the project's venv::

    .venv/bin/python -m bench.analytics                 # everything, at the goals' sizes
    .venv/bin/python -m bench.analytics --quick         # small sizes, a minute or two
    .venv/bin/python -m bench.analytics --parts fits,rfm --customers 200000

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
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import hashlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from bench.machine import machine_facts

ROOT = Path(__file__).resolve().parent.parent
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


# --------------------------------------------------------------------------------------------------
# inputs


def cdnow_calibration() -> dict[str, np.ndarray]:
    """The CDNOW 39-week calibration summary (weeks) computed exactly from the raw transactions.

    The published CSV is rounded to 2 decimals (a few rows then have t_x > T, which both libraries
    refuse); the raw transactions give the same summary unrounded.
    """
    from customerbase import compress_rfm, summary_from_transactions

    raw = np.loadtxt(CDNOW_FILE, dtype=str)
    days = np.array([f"{s[:4]}-{s[4:6]}-{s[6:]}" for s in raw[:, 2]], dtype="datetime64[D]")
    s = summary_from_transactions(
        raw[:, 1].astype(np.int64),
        days,
        raw[:, 4].astype(np.float64),
        observation_end="1997-09-30",
        freq_days=7,
    )
    x = s.frequency.astype(np.float64)
    c = compress_rfm(x, s.recency, s.T)
    return {"x": x, "t_x": s.recency, "T": s.T, "cx": c.x, "ct": c.t_x, "cT": c.T, "cw": c.weights}


def simulated_calibration(n: int, seed: int) -> dict[str, np.ndarray]:
    """A CDNOW-like population: BG/NBD with the published CDNOW parameters, 39 weeks, days rounded.

    First purchases fall on days 0..83 (a 12-week acquisition cohort, like CDNOW's first quarter of
    1997), the calibration period ends on day 273 (week 39); times are whole days expressed in weeks,
    as ``summary_from_transactions(freq_days=7)`` gives them for real orders dated by day.
    """
    from customerbase import compress_rfm
    from customerbase.simulate import simulate_bgnbd

    rng = np.random.default_rng(seed)
    first_day = rng.integers(0, 84, n)
    t_days = (273 - first_day).astype(np.float64)
    sim = simulate_bgnbd(n, **CDNOW_BGNBD, T=t_days / 7.0, rng=rng)
    rec_days = np.where(sim.frequency > 0, np.minimum(np.ceil(sim.recency * 7.0 - 1e-9), t_days), 0.0)
    x = sim.frequency.astype(np.float64)
    t_x = rec_days / 7.0
    T = t_days / 7.0
    c = compress_rfm(x, t_x, T)
    return {"x": x, "t_x": t_x, "T": T, "cx": c.x, "ct": c.t_x, "cT": c.T, "cw": c.weights}


def cached_npz(path: Path, build: Callable[[], dict[str, np.ndarray]]) -> Path:
    if not path.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, **build())
        tmp.rename(path)
    return path


TX_FIRST_DAY = np.datetime64("2023-11-21", "D")
TX_DAYS = 1096


def transactions(n_tx: int, seed: int) -> dict[str, np.ndarray]:
    """``n_tx`` transactions of ``n_tx / 10`` customers over three years, as a log ordered by date.

    Each customer has a first purchase day, 1 + NegBin(0.6, mean 9) purchases spread uniformly from
    it to the end, and a gamma-distributed spend level; ids are shuffled 7-digit numbers.
    """
    rng = np.random.default_rng(seed)
    n_cust = max(n_tx // 10, 1)
    first = rng.integers(0, TX_DAYS, n_cust)
    counts = 1 + rng.negative_binomial(0.6, 0.6 / 9.6, n_cust)
    total = int(counts.sum())
    if total < n_tx:
        counts += np.bincount(rng.integers(0, n_cust, n_tx - total), minlength=n_cust)
    owner = np.repeat(np.arange(n_cust), counts)[:n_tx]
    is_first = np.empty(n_tx, dtype=bool)
    is_first[0] = True
    is_first[1:] = owner[1:] != owner[:-1]
    span = TX_DAYS - first[owner]
    day = first[owner] + np.where(is_first, 0, np.floor(rng.random(n_tx) * span).astype(np.int64))
    level = rng.gamma(3.0, 15.0, n_cust)
    amount = np.round(rng.gamma(4.0, 1.0, n_tx) * level[owner] / 4.0 + 1.0, 2)
    ids = 1_000_003 + 7 * rng.permutation(n_cust).astype(np.int64)
    order = np.argsort(day, kind="stable")
    return {
        "customer_ids": ids[owner][order],
        "days": (day[order] + TX_FIRST_DAY.astype(np.int64)).astype(np.int64),
        "amounts": amount[order],
    }


def tx_observation_end() -> str:
    return str(TX_FIRST_DAY + np.timedelta64(TX_DAYS - 1, "D"))


# --------------------------------------------------------------------------------------------------
# goal 1: fits


def _count_evaluations(cls: type, counter: list[int]) -> Callable[[], None]:
    """Add each fit's likelihood evaluations (``n_evaluations_``) to ``counter``; return the undo.

    The models evaluate the likelihood and its gradient in one closure built per fit (not through
    ``_loglik``), and report how many times the optimiser called it.
    """
    original = cls.__dict__["fit"]

    @functools.wraps(original)
    def fit(self: Any, *a: Any, **k: Any) -> Any:
        out = original(self, *a, **k)
        counter[0] += int(getattr(self, "n_evaluations_", 0))
        return out

    cls.fit = fit  # type: ignore[attr-defined]
    return lambda: setattr(cls, "fit", original)


def ours_fit(model: str, data: Any, repeat: int) -> dict[str, Any]:
    import warnings

    from customerbase import BGNBD, ParetoNBD

    cls = {"bgnbd": BGNBD, "paretonbd": ParetoNBD}[model]
    seconds: list[float] = []
    cpu: list[float] = []
    caught: list[str] = []
    for _ in range(repeat):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            start, cpu0 = time.perf_counter(), time.process_time()
            fitted = cls().fit(data["x"], data["t_x"], data["T"])
            seconds.append(time.perf_counter() - start)
            cpu.append(time.process_time() - cpu0)
        caught = [str(x.message) for x in w]
    return {
        "seconds": seconds,
        "cpu": cpu,
        "params": dict(fitted.params_),
        "log_likelihood": float(fitted.log_likelihood_),
        "rows": int(fitted.n_rows_),
        "evaluations": int(fitted.n_evaluations_),
        "warnings": caught,
    }


def log_likelihood(model: str, params: dict[str, float], data: Any) -> float:
    """Total log-likelihood of ``params`` with Cartera's formula (so both parameter sets are judged alike)."""
    from customerbase import BGNBD, ParetoNBD

    cls = {"bgnbd": BGNBD, "paretonbd": ParetoNBD}[model]
    theta = np.array([params[k] for k in cls.param_names])
    ll = cls._loglik(theta, data["cx"], data["ct"], data["cT"])
    return float(np.dot(data["cw"], ll))


def part_fits(args: argparse.Namespace, size: dict[str, Any], lt_py: Path) -> dict[str, Any]:
    cdnow = cached_npz(WORK / "cdnow-calibration.npz", cdnow_calibration)
    n = int(args.customers or size["customers"])
    sim = cached_npz(WORK / f"simulated-{n}-seed{SEED}.npz", lambda: simulated_calibration(n, SEED))
    # Interpreter start-up and imports of the lifetimes worker, subtracted from a timed-out run.
    _, startup = run_json([str(lt_py), str(LIFETIMES_SCRIPT), "versions"])
    datasets = [("CDNOW calibration (weeks)", cdnow, args.repeat), (f"simulated, {n:,} customers", sim, 1)]
    rows: list[dict[str, Any]] = []
    for label, path, repeat in datasets:
        data = dict(np.load(path))
        for model in ("bgnbd", "paretonbd"):
            say(f"fits: {label}, {model}: Cartera ({repeat}x)")
            ours = ours_fit(model, data, repeat)
            ours_t = statistics.median(ours["seconds"])
            row: dict[str, Any] = {
                "data": label,
                "model": model,
                "customers": int(data["x"].shape[0]),
                "distinct_rows": int(data["cx"].shape[0]),
                "repeat": repeat,
                "ours": ours,
                "ours_seconds": ours_t,
                "ours_cpu": statistics.median(ours["cpu"]),
            }
            # lifetimes gets at least 12x our time (so an unfinished run still decides the goal),
            # at least 120 s, at most --lifetimes-timeout.
            limit = min(args.lifetimes_timeout, max(120.0, 12.0 * ours_t * repeat + startup))
            for variant, extra in (("lifetimes", []), ("lifetimes_weighted", ["--weighted"])):
                if variant == "lifetimes_weighted" and args.no_weighted:
                    continue
                say(f"fits: {label}, {model}: {variant} ({repeat}x, limit {limit:.0f} s)")
                cmd = [str(lt_py), str(LIFETIMES_SCRIPT), "fit", "--data", str(path), "--model", model]
                res, wall = run_json([*cmd, *extra, "--repeat", str(repeat)], timeout=limit)
                if res is None:
                    row[variant] = {
                        "finished": False,
                        "limit": limit,
                        "lower_bound": (wall - startup) / repeat,
                    }
                    say(f"   {variant} stopped after {wall:.0f} s")
                    continue
                res["finished"] = True
                res["median"] = statistics.median(res["seconds"])
                if res.get("cpu"):
                    res["median_cpu"] = statistics.median(res["cpu"])
                res["log_likelihood"] = log_likelihood(model, res["params"], data)
                res["max_rel_diff"] = max(
                    abs(ours["params"][k] - v) / abs(v) for k, v in res["params"].items()
                )
                row[variant] = res
            lt = row["lifetimes"]
            lt_t = lt["median"] if lt["finished"] else lt["lower_bound"]
            row["speedup"] = lt_t / ours_t
            row["speedup_is_lower_bound"] = not lt["finished"]
            if lt.get("median_cpu"):
                row["speedup_cpu"] = lt["median_cpu"] / row["ours_cpu"]
            say(
                f"   Cartera {ours_t:.3f} s, lifetimes {'>=' if not lt['finished'] else ''}{lt_t:.3f} s:"
                f" {row['speedup']:.1f}x"
            )
            rows.append(row)
    ok_speed = all(r["speedup"] >= GOAL_FIT_SPEEDUP for r in rows)
    same = [r["lifetimes"].get("max_rel_diff") for r in rows if r["lifetimes"]["finished"]]
    return {
        "rows": rows,
        "lifetimes_startup_seconds": startup,
        "met": ok_speed,
        "params_max_rel_diff": max(same) if same else None,
        "params_unchecked": [f"{r['data']} {r['model']}" for r in rows if not r["lifetimes"]["finished"]],
    }


# --------------------------------------------------------------------------------------------------
# goal 2: RFM summary


def worker_rfm(args: argparse.Namespace) -> dict[str, Any]:
    """Cartera's side of the RFM measurement, in a fresh process (``--worker rfm``)."""
    from customerbase import summary_from_transactions

    rss_before = rss_kib()
    peak_before = peak_kib()
    data = np.load(args.data)
    ids = data["customer_ids"]
    days = data["days"].view("datetime64[D]")
    amounts = data["amounts"]
    del data
    rss_after = rss_kib()
    start, cpu0 = time.perf_counter(), time.process_time()
    s = summary_from_transactions(ids, days, amounts, observation_end=args.observation_end, freq_days=1.0)
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    peak = peak_kib()
    ru_peak = ru_maxrss_kib()
    np.savez(
        args.out,
        customer_ids=s.customer_ids.astype(np.int64),
        frequency=s.frequency.astype(np.float64),
        recency=s.recency,
        T=s.T,
        monetary=s.monetary,
    )
    return {
        "seconds": seconds,
        "cpu": cpu,
        "transactions": int(ids.shape[0]),
        "customers": len(s),
        "rss_before_inputs_kib": rss_before,
        "peak_before_inputs_kib": peak_before,
        "rss_after_inputs_kib": rss_after,
        "peak_kib": peak,
        "ru_maxrss_kib": ru_peak,
    }


def part_rfm(args: argparse.Namespace, size: dict[str, Any], lt_py: Path) -> dict[str, Any]:
    n = int(args.transactions or size["transactions"])
    path = cached_npz(WORK / f"transactions-{n}-seed{SEED}.npz", lambda: transactions(n, SEED))
    end = tx_observation_end()
    out_ours, out_lt = WORK / "rfm-out-cartera.npz", WORK / "rfm-out-lifetimes.npz"
    say(f"rfm: Cartera on {n:,} transactions (fresh process)")
    ours, _ = run_json(
        [sys.executable, "-m", "bench.analytics", "--worker", "rfm", "--data", str(path),
         "--observation-end", end, "--out", str(out_ours)]
    )  # fmt: skip
    assert ours is not None
    say(f"   {ours['seconds']:.2f} s, peak {ours['peak_kib'] / 1024:.0f} MiB")
    say(f"rfm: lifetimes on {n:,} transactions (fresh process)")
    lt, wall = run_json(
        [str(lt_py), str(LIFETIMES_SCRIPT), "rfm", "--data", str(path), "--observation-end", end,
         "--out", str(out_lt)],
        timeout=args.lifetimes_timeout,
    )  # fmt: skip
    if lt is None:
        raise BenchError(f"lifetimes' summary did not finish in {wall:.0f} s")
    say(f"   {lt['seconds']:.2f} s, peak {lt['peak_kib'] / 1024:.0f} MiB")
    a, b = np.load(out_ours), np.load(out_lt)
    same_ids = bool(np.array_equal(a["customer_ids"], b["customer_ids"]))
    diff: dict[str, float | None] = {}
    for col in ("frequency", "recency", "T", "monetary"):
        diff[col] = float(np.max(np.abs(a[col] - b[col]))) if same_ids else None
    for side in (ours, lt):
        side["increment_kib"] = side["peak_kib"] - side["rss_before_inputs_kib"]
        side["call_increment_kib"] = side["peak_kib"] - side["rss_after_inputs_kib"]
    speedup = lt["seconds"] / ours["seconds"]
    memory_ratio = ours["increment_kib"] / lt["increment_kib"]
    return {
        "transactions": n,
        "observation_end": end,
        "ours": ours,
        "lifetimes": lt,
        "same_customers": same_ids,
        "max_abs_diff": diff,
        "speedup": speedup,
        "memory_ratio": memory_ratio,
        "total_peak_ratio": ours["peak_kib"] / lt["peak_kib"],
        "met": speedup >= GOAL_RFM_SPEEDUP and memory_ratio <= GOAL_RFM_MEMORY,
    }


# --------------------------------------------------------------------------------------------------
# goal 3: refresh


def _emit(obj: dict[str, Any]) -> None:
    print(json.dumps(obj, default=str), flush=True)


class _Tracer:
    """Wall time of selected functions, by call path (patched into the worker process only)."""

    def __init__(self) -> None:
        self.stack: list[str] = []
        self.totals: dict[tuple[str, ...], list[float]] = {}
        self.first_seen: dict[tuple[str, ...], int] = {}

    def wrap(self, owner: Any, name: str, label: str | None = None) -> None:
        func = getattr(owner, name)
        tracer = self

        @functools.wraps(func)
        def timed(*a: Any, **k: Any) -> Any:
            tag = label or name
            if name == "analyse":
                tag = f"analyse(as_of={k.get('as_of')})"
            tracer.stack.append(tag)
            tracer.first_seen.setdefault(tuple(tracer.stack), len(tracer.first_seen))
            start = time.perf_counter()
            try:
                return func(*a, **k)
            finally:
                key = tuple(tracer.stack)
                tracer.stack.pop()
                slot = tracer.totals.setdefault(key, [0, 0.0])
                slot[0] += 1
                slot[1] += time.perf_counter() - start

        setattr(owner, name, timed)

    def report(self) -> list[dict[str, Any]]:
        keys = sorted(self.totals, key=lambda k: self.first_seen[k])
        return [
            {"path": list(k), "calls": int(self.totals[k][0]), "seconds": self.totals[k][1]} for k in keys
        ]


def worker_dbinfo(args: argparse.Namespace) -> dict[str, Any]:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cartera.settings")
    django.setup()
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM customers_customer")
        customers = cur.fetchone()[0]
        cur.execute("SELECT COUNT(*), MAX(ordered_on) FROM sales_order")
        orders, last = cur.fetchone()
        if connection.vendor == "sqlite":
            cur.execute("SELECT sqlite_version()")
        else:
            cur.execute("SHOW server_version")
        version = cur.fetchone()[0]
    return {"vendor": connection.vendor, "customers": customers, "orders": orders, "last_order": str(last),
            "version": version}  # fmt: skip


def worker_refresh(args: argparse.Namespace) -> dict[str, Any]:
    """``insights_refresh()`` timed by phase, in a fresh process (``--worker refresh``)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cartera.settings")
    django.setup()
    from django.utils import timezone

    import customerbase
    from cartera.insights import analysis, selectors, services
    from cartera.insights.models import RefreshRun

    # A benchmark run that was stopped leaves its RefreshRun "running"; it would block this one.
    RefreshRun.objects.filter(status=RefreshRun.Status.RUNNING, trigger="bench").update(
        status=RefreshRun.Status.FAILED, finished_at=timezone.now(), note="benchmark run stopped"
    )
    tracer = _Tracer()
    for name in ("order_arrays", "customer_ids"):
        tracer.wrap(selectors, name, f"selectors.{name}")
    # The refresh evolves with the app: time whatever of these exists.
    for name in ("analyse", "statuses_at", "_write_metrics", "_write_snapshot", "flows", "_refresh_figures"):
        if hasattr(services, name):
            tracer.wrap(services, name)
    with contextlib.suppress(ImportError):
        from cartera.segments import services as segment_services

        if hasattr(segment_services, "figures_refresh"):
            tracer.wrap(segment_services, "figures_refresh")
        # Since the services became a package, the figures' helpers live in its ``portfolio`` module.
        inner = getattr(segment_services, "portfolio", segment_services)
        for name in ("_grouped", "_at_risk_ids"):
            if hasattr(inner, name):
                tracer.wrap(inner, name)
        fig = getattr(inner, "figures", None)
        for name in ("revenue_per_customer", "cohort_table", "rfm_moves", "pareto_curve"):
            if fig is not None and hasattr(fig, name):
                tracer.wrap(fig, name, f"figures.{name}")
    for name in ("summary_from_transactions", "classify_lifecycle", "rfm_scores", "abc_classes",
                 "revenue_share_of_top", "detect_decline", "customer_lifetime_value"):  # fmt: skip
        tracer.wrap(analysis, name)
    tracer.wrap(customerbase.BGNBD, "fit", "BGNBD.fit")
    tracer.wrap(customerbase.GammaGamma, "fit", "GammaGamma.fit")
    tracer.wrap(customerbase.BGNBD, "conditional_probability_alive", "BGNBD.p_alive")
    tracer.wrap(
        customerbase.BGNBD, "conditional_expected_number_of_purchases_up_to_time", "BGNBD.expected_purchases"
    )
    evaluations = {"bgnbd": [0], "gammagamma": [0]}
    _count_evaluations(customerbase.BGNBD, evaluations["bgnbd"])
    _count_evaluations(customerbase.GammaGamma, evaluations["gammagamma"])
    captured: list[Any] = []
    inner_analyse = services.analyse

    def keep_first(*a: Any, **k: Any) -> Any:
        result = inner_analyse(*a, **k)
        if not captured:
            captured.append(result)
        return result

    services.analyse = keep_first  # type: ignore[assignment]

    as_of = dt.date.fromisoformat(args.as_of)
    start, cpu0 = time.perf_counter(), time.process_time()
    phases: list[dict[str, Any]] = []

    def progress(msg: str) -> None:
        phases.append({"at": time.perf_counter() - start, "cpu": time.process_time() - cpu0, "msg": msg})
        _emit({"event": "phase", **phases[-1]})

    rss_before = rss_kib()
    run = services.insights_refresh(trigger="bench", as_of=as_of, progress=progress)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    peak = peak_kib()
    _emit({"event": "phase", "at": wall, "cpu": cpu, "msg": "done"})
    result: dict[str, Any] = {
        "wall": wall,
        "cpu": cpu,
        "run_seconds": run.seconds,
        "customers": run.customers,
        "orders": run.orders,
        "model": run.model_name,
        "params": run.model_params,
        "note": run.note,
        "phases": phases,
        "calls": tracer.report(),
        "evaluations": {k: v[0] for k, v in evaluations.items()},
        "rss_before_kib": rss_before,
        "peak_kib": peak,
    }
    if args.diagnose and captured:
        # How much of "writing metrics" is building the Python values (no database involved).
        metrics = captured[0]
        t0 = time.perf_counter()
        if hasattr(services, "_columns"):
            services._columns(metrics, timezone.now())
        else:
            for _row in services._rows(metrics, timezone.now()):
                pass
        result["rows_python_seconds"] = time.perf_counter() - t0
    return result


def _pg_url(name: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{name}"


def _ensure_pg_database(name: str) -> bool:
    """Create the database if it does not exist; True when it was created now."""
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            return False
        conn.execute(f'CREATE DATABASE "{name}"')
        return True


def ensure_portfolio(vendor: str, url: str, customers: int) -> dict[str, Any]:
    """Migrate the benchmark database and load the demo portfolio into it when it is empty."""
    env = dict(os.environ, DATABASE_URL=url, DJANGO_SETTINGS_MODULE="cartera.settings")
    created = False
    if vendor == "postgresql":
        created = _ensure_pg_database(url.rsplit("/", 1)[1])
    manage = [sys.executable, str(ROOT / "manage.py")]
    migrate = [*manage, "migrate", "--no-input", "--skip-checks", "-v0"]
    subprocess.run(migrate, check=True, env=env, cwd=ROOT)  # noqa: S603 - our own manage.py
    info, _ = run_json([sys.executable, "-m", "bench.analytics", "--worker", "dbinfo"], env=env)
    assert info is not None
    load_seconds = None
    if info["customers"] == 0:
        size = ["--big"] if customers == 1_000_000 else ["--customers", str(customers)]
        say(f"refresh: loading the demo portfolio ({customers:,} customers) into {vendor}; this is done once")
        t0 = time.perf_counter()
        demo = [*manage, "demo", *size, "--today", DEMO_TODAY.isoformat(), "--skip-checks", "-v0"]
        subprocess.run(demo, check=True, env=env, cwd=ROOT)  # noqa: S603 - our own manage.py
        load_seconds = time.perf_counter() - t0
        info, _ = run_json([sys.executable, "-m", "bench.analytics", "--worker", "dbinfo"], env=env)
        assert info is not None
    info["created_database"] = created
    info["load_seconds"] = load_seconds
    return info


def run_refresh(url: str, as_of: str, timeout: float, diagnose: bool) -> dict[str, Any]:
    """Run the refresh worker, following its phases; on timeout keep what was reached."""
    env = dict(os.environ, DATABASE_URL=url, DJANGO_SETTINGS_MODULE="cartera.settings")
    cmd = [sys.executable, "-m", "bench.analytics", "--worker", "refresh", "--as-of", as_of]
    if diagnose:
        cmd.append("--diagnose")
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT
    )
    events: list[dict[str, Any]] = []
    lines: list[str] = []
    err: list[str] = []

    def read_out() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith('{"event"'):
                ev = json.loads(line)
                events.append(ev)
                say(f"   {ev['at']:7.1f} s  {ev['msg']}")

    def read_err() -> None:
        assert proc.stderr is not None
        err.extend(proc.stderr)

    threads = [threading.Thread(target=read_out, daemon=True), threading.Thread(target=read_err, daemon=True)]
    for t in threads:
        t.start()
    start = time.perf_counter()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        for t in threads:
            t.join(5)
        return {"finished": False, "limit": timeout, "elapsed": time.perf_counter() - start, "events": events}
    for t in threads:
        t.join(5)
    if proc.returncode != 0:
        raise BenchError(f"refresh worker failed ({proc.returncode}):\n{''.join(err)[-3000:]}")
    result = json.loads([ln for ln in lines if ln.startswith("{") and not ln.startswith('{"event"')][-1])
    result["finished"] = True
    result["events"] = events
    return result


def part_refresh(args: argparse.Namespace, size: dict[str, Any]) -> dict[str, Any]:
    customers = int(args.refresh_customers or size["refresh_customers"])
    targets = {
        "sqlite": f"sqlite:///{size['sqlite']}",
        "postgresql": _pg_url(size["pg_name"]),
    }
    out: dict[str, Any] = {"customers_target": customers, "databases": {}}
    for vendor in args.dbs:
        url = targets[vendor]
        say(f"refresh: {vendor} at {url}")
        info = ensure_portfolio(vendor, url, customers)
        say(f"   {info['customers']:,} customers, {info['orders']:,} orders, last order {info['last_order']}")
        as_of = (dt.date.fromisoformat(info["last_order"]) + dt.timedelta(days=1)).isoformat()
        load_before = os.getloadavg()
        res = run_refresh(url, as_of, args.refresh_timeout, not args.no_diagnose)
        res["db"] = info
        res["as_of"] = as_of
        res["date"] = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
        res["load_before"] = [round(x, 2) for x in load_before]
        res["load_after"] = [round(x, 2) for x in os.getloadavg()]
        if res["finished"]:
            res["met"] = res["wall"] <= GOAL_REFRESH_SECONDS
            say(f"   refresh {res['wall']:.1f} s")
        else:
            res["met"] = False
            say(f"   refresh stopped after {res['elapsed']:.0f} s (limit)")
        out["databases"][vendor] = res
    out["met"] = (
        bool(out["databases"])
        and all(r["met"] for r in out["databases"].values())
        and set(out["databases"]) == {"sqlite", "postgresql"}
    )
    return out


# --------------------------------------------------------------------------------------------------
# machine, report


def machine() -> dict[str, Any]:
    facts = machine_facts()
    import django
    import scipy

    return {
        **{k: v for k, v in facts.items() if k != "os"},
        "kernel": platform.release(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "django": django.__version__,
    }


def _mib(kib: float) -> str:
    return f"{kib / 1024:,.0f} MiB"


def _s(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{x:.3f} s" if x < 10 else f"{x:.1f} s"


def _params(p: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.4g}" for k, v in p.items())


def _verdict(met: bool | None) -> str:
    return "**met**" if met else "**not met**"


def render_fits(res: dict[str, Any]) -> list[str]:
    out = [
        "| data | model | customers (distinct rows) | Cartera | lifetimes | speed-up (wall) | speed-up (CPU) "
        "| lifetimes, compressed rows + `weights=` |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in res["rows"]:
        lt, lw = r["lifetimes"], r.get("lifetimes_weighted")
        lt_s = _s(lt["median"]) if lt["finished"] else f"> {_s(lt['lower_bound'])} (stopped)"
        lw_s = "–" if lw is None else (_s(lw["median"]) if lw["finished"] else f"> {_s(lw['lower_bound'])}")
        if lw and lw.get("finished"):
            lw_s += f" ({lw['median'] / r['ours_seconds']:.1f}x)"
        sp = f"{'≥ ' if r['speedup_is_lower_bound'] else ''}{r['speedup']:.1f}x"
        sp_cpu = f"{r['speedup_cpu']:.1f}x" if "speedup_cpu" in r else "–"
        ours_s = _s(r["ours_seconds"]) + (f" (CPU {_s(r['ours_cpu'])})" if "ours_cpu" in r else "")
        if lt["finished"] and "median_cpu" in lt:
            lt_s += f" (CPU {_s(lt['median_cpu'])})"
        out.append(
            f"| {r['data']} | {r['model']} | {r['customers']:,} ({r['distinct_rows']:,}) | {ours_s} "
            f"| {lt_s} | {sp} | {sp_cpu} | {lw_s} |"
        )
    out += ["", "Parameters (Cartera / lifetimes) and log-likelihood of each set under the same formula:", ""]
    out += ["| data | model | Cartera | lifetimes | max rel. diff | LL Cartera | LL lifetimes |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in res["rows"]:
        lt = r["lifetimes"] if r["lifetimes"]["finished"] else (r.get("lifetimes_weighted") or {})
        src = "" if r["lifetimes"]["finished"] else " (from the `weights=` run)"
        if lt.get("finished"):
            out.append(
                f"| {r['data']} | {r['model']} | {_params(r['ours']['params'])} | {_params(lt['params'])}{src} "
                f"| {lt['max_rel_diff']:.1e} | {r['ours']['log_likelihood']:,.2f} | {lt['log_likelihood']:,.2f} |"
            )
        else:
            out.append(
                f"| {r['data']} | {r['model']} | {_params(r['ours']['params'])} | not finished | – | – | – |"
            )
    evals = ", ".join(
        f"{r['data'].split(',')[0].split(' (')[0]} {r['model']} {r['ours']['evaluations']}"
        for r in res["rows"]
    )
    out += [
        "",
        f"Times are the median of {res['rows'][0]['repeat']} fits on CDNOW and one fit on the simulated "
        "population, `fit()` only, inputs already in memory. lifetimes is given one row per customer as "
        "its documentation shows; the last column gives it Cartera's own trick (distinct (x, t_x, T) rows "
        "with their counts, lifetimes' `weights=` argument) to show how much of the gap is compression. "
        "A lifetimes run that is stopped at its time limit (12x Cartera's time, at least 120 s) counts as "
        f"a lower bound (limit minus {res['lifetimes_startup_seconds']:.1f} s of start-up). "
        f"Likelihood evaluations per Cartera fit: {evals}.",
    ]
    return out


def render_rfm(res: dict[str, Any]) -> list[str]:
    o, lt = res["ours"], res["lifetimes"]
    d = res["max_abs_diff"]
    diff = ", ".join(f"{k} {v:.2g}" for k, v in d.items()) if res["same_customers"] else "customers differ!"
    return [
        "| | Cartera `summary_from_transactions` | lifetimes `summary_data_from_transaction_data` | ratio |",
        "|---|---|---|---|",
        f"| wall time of the call | {_s(o['seconds'])} | {_s(lt['seconds'])} | {res['speedup']:.1f}x faster |",
        *(
            [
                f"| CPU time of the call | {_s(o['cpu'])} | {_s(lt['cpu'])} | {lt['cpu'] / o['cpu']:.1f}x less |"
            ]
            if "cpu" in o and "cpu" in lt
            else []
        ),
        f"| peak RSS − RSS before the inputs (compared) | {_mib(o['increment_kib'])} | {_mib(lt['increment_kib'])} "
        f"| {res['memory_ratio']:.2f} |",
        f"| total peak RSS of the process (VmHWM) | {_mib(o['peak_kib'])} | {_mib(lt['peak_kib'])} "
        f"| {res['total_peak_ratio']:.2f} |",
        *(
            [
                f"| ru_maxrss (carries the launching driver's peak, see below) | {_mib(o['ru_maxrss_kib'])} "
                f"| {_mib(lt['ru_maxrss_kib'])} | |"
            ]
            if "ru_maxrss_kib" in o and "ru_maxrss_kib" in lt
            else []
        ),
        f"| RSS before the inputs (interpreter + imports) | {_mib(o['rss_before_inputs_kib'])} "
        f"| {_mib(lt['rss_before_inputs_kib'])} | |",
        f"| peak − RSS with the inputs loaded (the call alone) | {_mib(o['call_increment_kib'])} "
        f"| {_mib(lt['call_increment_kib'])} | {o['call_increment_kib'] / lt['call_increment_kib']:.2f} |",
        "",
        f"{res['transactions']:,} seeded transactions of {o['customers']:,} customers over three years (ending "
        f"{res['observation_end']}), read by both sides from one binary file; time unit days. Each side runs "
        "in its own fresh process. The compared memory is the increment of peak RSS over the RSS just "
        "before the inputs are loaded: it counts the inputs in each library's own form (numpy arrays; a "
        "pandas DataFrame with a datetime64[ns] column) plus the call's working memory, and leaves out the "
        "interpreter and the imported libraries (pandas alone weighs more than numpy), which are not the "
        "summary's cost. Peaks are the kernel's high-water mark of each worker's own process image "
        "(VmHWM): `ru_maxrss` would be the same for a process started from a shell, but here it also "
        "carries the peak of the driver that started the worker (Linux keeps the larger of the two across "
        "exec). The two summaries are identical (max abs. difference: " + diff + ").",
    ]


def render_refresh(res: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for vendor, r in res["databases"].items():
        db = r["db"]
        head = (
            f"**{vendor}** ({db['version']}): {db['customers']:,} customers, {db['orders']:,} orders "
            f"(`manage.py demo`, as of {r['as_of']}): "
        )
        if "date" in r:
            head += (
                f"measured {r['date']}, load average {r['load_before'][0]:.1f} → {r['load_after'][0]:.1f}: "
            )
        if not r["finished"]:
            out.append(head + f"**stopped at the time limit of {r['limit']:.0f} s**; phases reached:")
        else:
            out.append(head + f"**{r['wall']:.1f} s** (RefreshRun.seconds {r['run_seconds']:.1f} s), peak RSS "
                       f"{_mib(r['peak_kib'])}.")  # fmt: skip
        out += ["", "| phase | wall seconds | CPU seconds of the Python process |", "|---|---|---|"]
        events = r["events"]
        for a, b in zip(events, events[1:], strict=False):
            cpu = f"{b['cpu'] - a['cpu']:.1f}" if "cpu" in a and "cpu" in b else "–"
            out.append(f"| {a['msg']} | {b['at'] - a['at']:.1f} | {cpu} |")
        if not r["finished"] and events:
            out.append(f"| {events[-1]['msg']} (unfinished) | > {r['elapsed'] - events[-1]['at']:.0f} | |")
        if r["finished"]:
            out += [
                "",
                "Inside the phases (wall seconds and calls, in call order; under 0.01 s left out):",
                "",
            ]
            for c in r["calls"]:
                if c["seconds"] < 0.01:
                    continue
                depth = len(c["path"]) - 1
                out.append(f"{'  ' * depth}- `{c['path'][-1]}`: {c['seconds']:.2f} s ({c['calls']}x)")
            ev = r["evaluations"]
            out.append(
                f"- likelihood evaluations: BG/NBD {ev['bgnbd']}, Gamma-Gamma {ev['gammagamma']}"
                + (
                    f"; building the metric rows in Python alone: {r['rows_python_seconds']:.1f} s"
                    if "rows_python_seconds" in r
                    else ""
                )  # fmt: skip
            )
        out.append("")
    return out


def _measured(part: dict[str, Any]) -> str:
    text = f"Measured {part['date']} (this part took {part['part_seconds']:.0f} s)."
    if "load_before" in part:
        lb, la = part["load_before"][0], part["load_after"][0]
        text += f" Load average (1 min) {lb:.1f} before, {la:.1f} after"
        text += (
            ": other work shared the 2 cores, so wall times are pessimistic." if max(lb, la) > 2.5 else "."
        )
    return text


def render(results: dict[str, Any]) -> str:
    m = results.get("machine") or machine()
    lt_v = results.get("lifetimes_versions", {})
    lines = [
        START_MARK,
        "## Customer-base analytics against lifetimes (issue 3)",
        "",
        "Written by `.venv/bin/python -m bench.analytics` (options: `--help`). Machine: "
        f"{m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM, Linux {m['kernel']}. Cartera side: Python "
        f"{m['python']}, numpy {m['numpy']}, scipy {m['scipy']}, Django {m['django']}. lifetimes side (its own "
        f"venv, `bench/requirements-lifetimes.txt`): " + ", ".join(f"{k} {v}" for k, v in lt_v.items()) + ".",
        "",
    ]
    verdicts: list[str] = []
    part = results.get("fits")
    lines += ["### 1. BG/NBD and Pareto/NBD fits: at least 10x faster than lifetimes, same parameters", ""]
    if part:
        lines += [_measured(part), "", *render_fits(part), ""]
        slow = [f"{r['data'].split(',')[0].split(' (')[0]} {r['model']} {r['speedup']:.1f}x"
                for r in part["rows"] if r["speedup"] < GOAL_FIT_SPEEDUP]  # fmt: skip
        same = part["params_max_rel_diff"]
        verdicts.append(
            f"1. Fits ≥ 10x faster than lifetimes, same parameters: {_verdict(part['met'])}"
            + (f" (below 10x: {', '.join(slow)})" if slow else "")
            + (f"; parameters agree to {same:.1e} (max relative difference)" if same is not None else "")
            + "."
        )
    else:
        lines += ["Not run yet.", ""]
        verdicts.append("1. Fits: not measured.")
    part = results.get("rfm")
    lines += ["### 2. RFM summary of 10,000,000 transactions: ≥ 5x faster, ≤ 1/4 of the peak memory", ""]
    if part:
        lines += [_measured(part), "", *render_rfm(part), ""]
        verdicts.append(
            f"2. RFM summary ≥ 5x faster with ≤ 1/4 of the memory: {_verdict(part['met'])} "
            f"({part['speedup']:.1f}x faster, {part['memory_ratio']:.2f} of lifetimes' memory, "
            f"{part['transactions']:,} transactions)."
        )
    else:
        lines += ["Not run yet.", ""]
        verdicts.append("2. RFM summary: not measured.")
    part = results.get("refresh")
    lines += ["### 3. Full refresh of 1,000,000 customers / 10,000,000 orders in at most 60 s", ""]
    if part:
        lines += [_measured(part), "", *render_refresh(part)]
        times = []
        for vendor, r in part["databases"].items():
            times.append(
                f"{vendor} {r['wall']:.1f} s" if r["finished"] else f"{vendor} > {r['elapsed']:.0f} s"
            )
        verdicts.append(
            f"3. Refresh of {part['customers_target']:,} customers in ≤ 60 s on SQLite and PostgreSQL: "
            f"{_verdict(part['met'])} ({', '.join(times)}"
            + ("" if len(times) == 2 else "; both databases are needed")
            + ")."
        )
    else:
        lines += ["Not run yet.", ""]
        verdicts.append("3. Refresh: not measured.")
    lines += ["### Verdicts", "", *verdicts, "", END_MARK]
    return "\n".join(lines)


def _keep_unmeasured(section: str, old: str) -> str:
    """Keep, from the document's current section, the subsections and verdicts of parts not measured.

    The results of a part live in ``var/bench/analytics-results.json``; when that file lacks a part
    (a fresh checkout, or a run on another machine) the section would say "Not run yet" and lose
    the figures already published. Subsections are the ``### N.`` blocks, verdicts the ``N.`` lines.
    """

    def blocks(text: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for chunk in text.split("\n### ")[1:]:
            head = chunk.split(" ", 1)[0]
            if head[:-1].isdigit():
                out[head] = "### " + chunk.split("\n### ", 1)[0].rstrip("\n") + "\n"
        return out

    def verdicts(text: str) -> dict[str, str]:
        tail = text.split("### Verdicts", 1)[-1]
        return {ln.split(" ", 1)[0]: ln for ln in tail.splitlines() if ln[:1].isdigit()}

    old_blocks, new_blocks = blocks(old), blocks(section)
    old_verdicts, new_verdicts = verdicts(old), verdicts(section)
    for head, block in new_blocks.items():
        if "\nNot run yet.\n" in block and head in old_blocks and "\nNot run yet.\n" not in old_blocks[head]:
            section = section.replace(block, old_blocks[head])
            if head in new_verdicts and head in old_verdicts:
                section = section.replace(new_verdicts[head], old_verdicts[head])
    return section


def write_doc(section: str) -> None:
    """Replace only the text between our markers (re-reading the file right before writing)."""
    DOC.parent.mkdir(parents=True, exist_ok=True)
    text = DOC.read_text() if DOC.exists() else ""
    if START_MARK in text and END_MARK in text:
        section = _keep_unmeasured(section, text.split(START_MARK, 1)[1].split(END_MARK, 1)[0])
        before = text.split(START_MARK, 1)[0]
        after = text.split(END_MARK, 1)[1]
        new = before + section + after
    elif text:
        new = text.rstrip("\n") + "\n\n" + section + "\n"
    else:
        new = "# Benchmarks\n\n" + section + "\n"
    DOC.write_text(new)


def print_summary(results: dict[str, Any], parts: list[str]) -> None:
    print()
    if "fits" in parts and "fits" in results:
        print(
            f"{'data':<30} {'model':<10} {'Cartera':>10} {'lifetimes':>12} {'speed-up':>9} {'max rel diff':>12}"
        )
        for r in results["fits"]["rows"]:
            lt = r["lifetimes"]
            lt_s = f"{lt['median']:.3f}" if lt["finished"] else f">{lt['lower_bound']:.0f}"
            diff = f"{lt['max_rel_diff']:.1e}" if lt["finished"] else "-"
            print(f"{r['data']:<30} {r['model']:<10} {r['ours_seconds']:>10.3f} {lt_s:>12} "
                  f"{r['speedup']:>8.1f}x {diff:>12}")  # fmt: skip
    if "rfm" in parts and "rfm" in results:
        r = results["rfm"]
        print(f"RFM {r['transactions']:,} tx: Cartera {r['ours']['seconds']:.2f} s / {_mib(r['ours']['increment_kib'])}"
              f", lifetimes {r['lifetimes']['seconds']:.2f} s / {_mib(r['lifetimes']['increment_kib'])}: "
              f"{r['speedup']:.1f}x, memory {r['memory_ratio']:.2f}")  # fmt: skip
    if "refresh" in parts and "refresh" in results:
        for vendor, r in results["refresh"]["databases"].items():
            status = f"{r['wall']:.1f} s" if r["finished"] else f"> {r['elapsed']:.0f} s (stopped)"
            print(f"refresh {vendor}: {status}")
    print()
    for line in render(results).splitlines():
        if line.startswith(("1. ", "2. ", "3. ")):
            print(line.replace("**", ""))


# --------------------------------------------------------------------------------------------------


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
    size = SIZES[profile]
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


if __name__ == "__main__":
    sys.exit(main())
