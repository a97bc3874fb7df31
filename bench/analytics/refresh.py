"""Goal 3: ``insights_refresh()`` over the ``demo --big`` portfolio on SQLite and PostgreSQL, timed by
phase in a fresh process (``--worker refresh``).

Part of ``python -m bench.analytics`` (see :mod:`bench.analytics`).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import json
import os
import subprocess
import sys
import threading
import time
from typing import Any

from bench.analytics.common import (
    DEMO_TODAY,
    GOAL_REFRESH_SECONDS,
    PG_ADMIN_URL,
    ROOT,
    BenchError,
    peak_kib,
    rss_kib,
    run_json,
    say,
)
from bench.analytics.fits import _count_evaluations


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
    from django.utils import timezone, translation

    # The phases are named by the refresh's progress messages: in English, as the rest of the document.
    translation.activate("en")

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
