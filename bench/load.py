"""Issue 16 load benchmark: the production server under 50 people at work, with and without an attacker.

Goal: gunicorn as documented (docs/operations.md, ``gunicorn.conf.py``) on PostgreSQL with
1,000,000 customers; 50 logged-in users, each making a request about every second (1 s think time)
for 60 s, mixing the customer list, search, the customer page, logging a call, the home page and the
API: **0 errors and p95 <= 500 ms** on this 2-core machine; and 10 clients guessing passwords on the
login form at the same time raise the other users' p95 by **at most 50 %**.

Run from the repository root::

    .venv/bin/python -m bench.load                      # the full run (both phases), writes the doc
    .venv/bin/python -m bench.load --database-url postgres://postgres@127.0.0.1:5432/cartera_mine
    .venv/bin/python -m bench.load --phases plain --seconds 20 --no-doc      # a quick look
    .venv/bin/python -m bench.load --profile            # the cost of each request, one at a time

The database is prepared as ``bench.run`` prepares it (``migrate``; ``manage.py demo --big`` once,
when the customer file is empty; the same seed and day, so one generated portfolio serves every
benchmark), then the analysis is run once (``refresh --if-never-run``) so that lists, customer pages
and the home page show figures as they do in production.

Then, for each phase, this script starts gunicorn itself on 127.0.0.1 with the production settings
(``DEBUG`` off, collected static files, the documented ``gunicorn.conf.py``; plain HTTP, so
``CARTERA_HTTPS=0``), resets the login lockouts, and runs locust headless as a subprocess
(``bench/load_locust.py``) with a fixed user count, spawn rate, duration and think time, bounded by a
timeout. Users log in through the login form while they are being started; the measured window is the
``--seconds`` after every user has started plus a settling time. Every answer is recorded and the
percentiles are computed here, per endpoint and over the whole mix. Also recorded: the load average
(sampled every second), the CPU time the gunicorn workers and the PostgreSQL backends serving them
used, divided by the requests answered (the cost of a request, which depends much less on what else
the machine is doing than the response times do), and the CPU of the locust process itself.

``--profile`` measures the same requests one at a time in this process (Django's test client,
production settings, PostgreSQL): CPU time and number of queries of each kind of request.

The results replace the section between ``<!-- bench:load:start -->`` and ``<!-- bench:load:end -->``
in ``docs/benchmarks.md``; the raw figures go to ``var/bench/load-results.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import itertools
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.doc import replace_section
from bench.machine import cpu_seconds, machine_facts
from bench.run import BIG, DEMO_TODAY, PG_BASE, SEED, prepare, say
from cartera.server import gunicorn_command

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench"
RESULTS = VAR / "load-results.json"
PROFILE_RESULTS = VAR / "load-profile.json"
START_MARK = "<!-- bench:load:start -->"
END_MARK = "<!-- bench:load:end -->"
GOAL_P95_MS = 500.0
GOAL_ATTACK_RATIO = 1.5
# The people at work: the demo's two sales reps and its manager (the admin must use two-factor sign-in).
ACCOUNTS = ("ana", "luis", "manager")
# What an attacker tries: the admin's real username, and names people often give an admin account.
ATTACK_USERNAMES = (
    "admin",
    "administrador",
    "root",
    "jefe",
    "ventas",
    "soporte",
    "gerente",
    "oficina",
    "info",
    "test",
)
# A wrong password is the form again (200); a locked-out username gets 429.
OK_STATUS = (200, 429)
ATTACK_PREFIX = "brute force"


def default_url() -> str:
    """The 1,000,000-customer PostgreSQL database every benchmark shares (see bench.run)."""
    return PG_BASE.rstrip("/") + "/cartera_bench"


def manage(args: list[str], env: dict[str, str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """``manage.py`` with ``args`` in ``env``; fails loudly."""
    return subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT, check=True, text=True, **kwargs
    )


def server_env(url: str, static_root: Path) -> dict[str, str]:
    """The environment of the production server as docs/operations.md sets it, over plain HTTP."""
    env = dict(os.environ)
    for name in ("CARTERA_DEBUG", "DJANGO_SETTINGS_MODULE"):
        env.pop(name, None)
    env.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="cartera.settings",
        CARTERA_ALLOWED_HOSTS="127.0.0.1,localhost",
        # The benchmark talks plain HTTP to 127.0.0.1 (no TLS proxy in front): without this the
        # server would redirect to https and the session cookie would be Secure.
        CARTERA_HTTPS="0",
        CARTERA_STATIC_ROOT=str(static_root),
    )
    return env


# --- preparing the data ---------------------------------------------------------------------------


def prepare_workload(url: str, path: Path, users: int) -> dict[str, Any]:
    """Tokens, customers and search terms for the users, written to ``path`` for locust."""
    env = dict(os.environ, DATABASE_URL=url, DJANGO_SETTINGS_MODULE="cartera.settings")
    env.pop("CARTERA_DEBUG", None)
    subprocess.run(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "bench.load",
            "--worker",
            "workload",
            "--result",
            str(path),
            "--users",
            str(users),
        ],
        check=True,
        env=env,
        cwd=ROOT,
    )
    workload: dict[str, Any] = json.loads(path.read_text())
    return workload


def worker_workload(result: Path, users: int) -> None:
    """(In a process with Django set up on the benchmark database.) Write the users' workload."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cartera.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.test import Client
    from django.utils.crypto import get_random_string

    from bench.run import Workload
    from cartera.accounts.models import ApiToken, User
    from cartera.accounts.services import api_token_create

    work = Workload(SEED)
    tokens = {}
    for username in ACCOUNTS:
        user = User.objects.get(username=username)
        ApiToken.objects.filter(user=user, name="load benchmark").delete()
        tokens[username] = api_token_create(user=user, name="load benchmark", days=1)[1]
    sessions = []
    for n in range(users):
        username = ACCOUNTS[n % len(ACCOUNTS)]
        client = Client()
        # A real session, as the login form opens it (the password check itself is left out).
        client.force_login(
            User.objects.get(username=username), backend="cartera.accounts.backends.AccessBackend"
        )
        sessions.append(
            {
                "username": username,
                "session": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "csrf": get_random_string(32),
                "token": tokens[username],
            }
        )
    payload = {
        "sessions": sessions,
        "customer_ids": work.ids,
        "terms": [term for _kind, term in work.terms],
        "list_queries": work.list_queries,
        "attack_usernames": list(ATTACK_USERNAMES),
    }
    result.write_text(json.dumps(payload))


# --- the server -----------------------------------------------------------------------------------


class Server:
    """gunicorn with the documented configuration, started and stopped by the benchmark."""

    def __init__(self, url: str, port: int, static_root: Path, extra: list[str]) -> None:
        self.url, self.port, self.static_root, self.extra = url, port, static_root, extra
        self.env = server_env(url, static_root)
        self.process: subprocess.Popen[bytes] | None = None
        self.log = VAR / "load-gunicorn.log"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return gunicorn_command(self.port, *self.extra)

    def start(self) -> None:
        manage(["collectstatic", "--no-input", "-v0"], self.env)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own gunicorn
                self.command(), env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn stopped at start; see {self.log}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(self.base + "/accounts/login/", timeout=5) as answer,  # noqa: S310
            ):
                if answer.status == 200:
                    return
            time.sleep(0.5)
        raise SystemExit(f"gunicorn did not answer within 60 s; see {self.log}")

    def worker_pids(self) -> list[int]:
        """The gunicorn workers (children of the master)."""
        if self.process is None:
            return []
        with contextlib.suppress(OSError):
            return [
                int(p)
                for p in Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
                .read_text()
                .split()
            ]
        return []

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


class Sampler(threading.Thread):
    """Every second: the load average, and the CPU time of the workers and of their database backends."""

    def __init__(self, server: Server, database: str) -> None:
        super().__init__(daemon=True)
        self.server, self.database = server, database
        self.loads: list[tuple[float, float]] = []
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.backend: set[int] = set()
        self.halt = threading.Event()

    def _backends(self, conn: Any) -> list[int]:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (self.database,),
        ).fetchall()
        return [int(r[0]) for r in rows]

    def run(self) -> None:
        import psycopg

        admin = self.server.url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            while not self.halt.is_set():
                self.loads.append((time.time(), os.getloadavg()[0]))
                backends = self._backends(conn) if self.server.url.startswith("postgres") else []
                self.backend.update(backends)
                for pid in [*self.server.worker_pids(), *backends]:
                    used = cpu_seconds(pid)
                    if used is not None:
                        self.first.setdefault(pid, used)
                        self.last[pid] = used
                self.halt.wait(1.0)

    def mark(self) -> dict[int, float]:
        """The CPU seconds of every process seen so far (a starting point for ``cpu_since``)."""
        return dict(self.last)

    def cpu_since(self, mark: dict[int, float]) -> tuple[float, float]:
        """CPU seconds used since ``mark`` by the gunicorn workers and by the database backends."""
        web = db = 0.0
        for pid, used in self.last.items():
            spent = used - mark.get(pid, self.first[pid])
            if pid in self.backend:
                db += spent
            else:
                web += spent
        return web, db

    def load_between(self, start: float, end: float) -> list[float]:
        return [load for when, load in self.loads if start <= when <= end]


# --- one phase ------------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """The ``p``-th percentile (0-100) by nearest rank, as locust reports them."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, round(p / 100 * len(ordered) + 0.5))
    return ordered[min(rank, len(ordered)) - 1]


def summarise(rows: list[list[Any]], seconds: float) -> dict[str, Any]:
    """Count, errors, p50/p95/p99 (ms) and requests per second of ``rows`` (name, start, ms, failed, status)."""
    times = [float(r[2]) for r in rows]
    return {
        "requests": len(rows),
        "errors": sum(1 for r in rows if r[3]),
        "rps": round(len(rows) / seconds, 1) if seconds else 0.0,
        "p50": round(percentile(times, 50)),
        "p95": round(percentile(times, 95)),
        "p99": round(percentile(times, 99)),
        "max": round(max(times)) if times else 0,
    }


def run_phase(
    server: Server, sampler: Sampler, workload_file: Path, args: argparse.Namespace, *, attackers: int
) -> dict[str, Any]:
    """One locust run; the summary of its measured window."""
    manage(["axes_reset"], server.env, stdout=subprocess.DEVNULL)
    record = VAR / f"load-record-{'attack' if attackers else 'plain'}.json"
    record.unlink(missing_ok=True)
    ramp = args.users / args.spawn_rate + args.settle
    run_time = ramp + args.seconds
    classes = ["PortfolioUser", *(["BruteForcer"] if attackers else [])]
    env = dict(
        os.environ,
        CARTERA_LOAD_WORKLOAD=str(workload_file),
        CARTERA_LOAD_RECORD=str(record),
        CARTERA_LOAD_THINK=str(args.think),
        CARTERA_LOAD_ATTACKERS=str(attackers),
    )
    command = [
        str(Path(sys.executable).with_name("locust")),
        "-f",
        str(ROOT / "bench" / "load_locust.py"),
        "--headless",
        "--users",
        str(args.users + attackers),
        "--spawn-rate",
        str(args.spawn_rate),
        "--run-time",
        f"{int(run_time)}s",
        "--stop-timeout",
        "10",
        "--host",
        server.base,
        "--only-summary",
        "--loglevel",
        "WARNING",
        *classes,
    ]
    say(f"locust: {args.users} users{f' + {attackers} attackers' if attackers else ''}, {int(run_time)} s")
    began = time.time()
    mark = sampler.mark()
    usage = os.times()
    log = VAR / f"load-locust-{'attack' if attackers else 'plain'}.log"
    with log.open("w") as out:
        # Bounded in time: locust stops itself after --run-time; this is the safety net.
        subprocess.run(  # noqa: S603 - our own locust and locustfile
            command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, timeout=run_time + 120
        )
    ended = time.time()
    after = os.times()
    time.sleep(1.5)  # one more sample of the CPU counters
    web_cpu, db_cpu = sampler.cpu_since(mark)
    rows: list[list[Any]] = json.loads(record.read_text())
    window_start, window_end = began + ramp, began + ramp + args.seconds
    measured = [r for r in rows if window_start <= r[1] <= window_end]
    users = [r for r in measured if not r[0].startswith(ATTACK_PREFIX)]
    attack = [r for r in measured if r[0].startswith(ATTACK_PREFIX)]
    everything = rows
    # Until every attacked username is locked out, each wrong password costs a password hash; after
    # that, a try costs about what a small page does. The users' times from then on are the attack's
    # steady state (a longer attack is mostly that).
    first_lockout: dict[str, float] = {}
    for r in rows:
        if r[0].startswith(ATTACK_PREFIX + ": wrong password") and r[4] == 429:
            first_lockout[r[0]] = min(r[1], first_lockout.get(r[0], r[1]))
    all_locked_at = (
        max(first_lockout.values())
        if attackers and len(first_lockout) >= min(attackers, len(ATTACK_USERNAMES))
        else None
    )
    steady = [r for r in users if all_locked_at is not None and r[1] >= all_locked_at + 5]
    names = sorted({r[0] for r in users})
    loads = sampler.load_between(began, ended)
    answered = len([r for r in rows if r[1] >= began])
    return {
        "attackers": attackers,
        "users": args.users,
        "think_s": args.think,
        "seconds": args.seconds,
        "window": [window_start, window_end],
        "all_users": summarise(users, args.seconds),
        "per_endpoint": {name: summarise([r for r in users if r[0] == name], args.seconds) for name in names},
        "attack": summarise(attack, args.seconds)
        | {
            "locked_out": sum(1 for r in attack if r[4] == 429),
        },
        "attack_hashed_tries": sum(
            1 for r in rows if r[0].startswith(ATTACK_PREFIX + ": wrong") and r[4] == 200
        ),
        "all_locked_after_s": round(all_locked_at - began, 1) if all_locked_at else None,
        "steady": summarise(steady, window_end - all_locked_at - 5) if all_locked_at and steady else None,
        "errors_whole_run": sum(1 for r in everything if r[3]),
        "load": {
            "start": round(loads[0], 2) if loads else None,
            "mean": round(statistics.fmean(loads), 2) if loads else None,
            "max": round(max(loads), 2) if loads else None,
        },
        # The whole run (ramp-up and logins included): CPU seconds per answered request.
        "cpu_ms_per_request": {
            "gunicorn": round(1000 * web_cpu / answered, 1) if answered else None,
            "postgresql": round(1000 * db_cpu / answered, 1) if answered else None,
            "locust": round(
                1000
                * (after.children_user + after.children_system - usage.children_user - usage.children_system)
                / answered,
                1,
            )
            if answered
            else None,
        },
        "answered_whole_run": answered,
        "run_seconds": round(ended - began, 1),
    }


# --- one request at a time ------------------------------------------------------------------------


def request_kinds(workload: dict[str, Any], seed: int = SEED, *, lock_out: bool = True) -> dict[str, Any]:
    """(With Django set up.) Each kind of request of the load mix, as a call that makes one of them.

    The web as a logged-in sales rep (the test client skips CSRF checks, so the quick form posts
    without a token), the API with her token, the login form as an anonymous visitor; customers and
    search terms are drawn from ``workload`` with a generator seeded by ``seed``, so two runs of the
    same code make the same requests. The login lockouts are reset and, with ``lock_out``, the admin
    is locked out (five password hashes) for the "login: locked out" kind.
    """
    import random

    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    from cartera.accounts.models import User

    rng = random.Random(seed)
    client = Client(SERVER_NAME="localhost")
    client.force_login(User.objects.get(username="ana"))
    token = {"Authorization": f"Bearer {workload['sessions'][0]['token']}"}

    def customer() -> int:
        return int(rng.choice(workload["customer_ids"]))

    anonymous = Client(SERVER_NAME="localhost")
    guesses = itertools.count()
    kinds: dict[str, Any] = {
        "list": lambda: client.get("/customers/"),
        "list (filtered or sorted)": lambda: client.get(
            "/customers/?" + rng.choice(workload["list_queries"][1:])
        ),
        "search": lambda: client.get("/customers/", {"q": rng.choice(workload["terms"])}),
        "customer page": lambda: client.get(f"/customers/{customer()}/"),
        "log a call": lambda: client.post(
            f"/activity/customers/{customer()}/interactions/",
            {"kind": "call", "subject": "Llamada de seguimiento (prueba de carga)"},
            headers={"HX-Request": "true", "HX-Target": "interaction-form"},
        ),
        "home": lambda: client.get("/"),
        "api: list": lambda: client.get("/api/customers", {"limit": 50}, headers=token),
        "api: search": lambda: client.get(
            "/api/customers", {"q": rng.choice(workload["terms"])}, headers=token
        ),
        "api: customer": lambda: client.get(f"/api/customers/{customer()}", headers=token),
        # An attacker's try for a username that is not locked out yet (a password hash), then one
        # for a username already locked out (no hash): what a brute force costs before and after.
        "login: wrong password": lambda: anonymous.post(
            "/accounts/login/", {"username": f"nobody-{next(guesses)}", "password": "guess"}
        ),
        "login: locked out": lambda: anonymous.post(
            "/accounts/login/", {"username": "admin", "password": "guess"}
        ),
    }
    call_command("axes_reset", verbosity=0)
    for _ in range(settings.AXES_FAILURE_LIMIT if lock_out else 0):
        anonymous.post("/accounts/login/", {"username": "admin", "password": "guess"})
    return kinds


def worker_profile(result: Path, repeat: int, cprofile: str, only: str) -> None:
    """(In a process with Django set up on the benchmark database.) The cost of each kind of request.

    Each kind runs ``repeat`` times after a warm-up, through the whole middleware stack as a logged-in
    sales rep (the API with her token): median CPU time of this process, median wall time, and the
    queries of one request with the time the database took for them.
    """
    import cProfile
    import pstats

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cartera.settings")
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    workload = json.loads((VAR / "load-workload.json").read_text())
    kinds = request_kinds(workload)
    out: dict[str, Any] = {}
    for name, call in kinds.items():
        if only and name not in only.split(","):
            continue
        for _ in range(3):
            assert call().status_code in OK_STATUS, name
        cpu, wall = [], []
        for _ in range(repeat):
            c0, w0 = time.process_time(), time.perf_counter()
            response = call()
            cpu.append(1000 * (time.process_time() - c0))
            wall.append(1000 * (time.perf_counter() - w0))
            assert response.status_code in OK_STATUS, (name, response.status_code)
        counts, db_ms = [], []
        for _ in range(5):
            with CaptureQueriesContext(connection) as queries:
                call()
            counts.append(len(queries.captured_queries))
            db_ms.append(sum(float(q["time"]) * 1000 for q in queries.captured_queries))
        out[name] = {
            "cpu_ms": round(statistics.median(cpu), 1),
            "wall_ms": round(statistics.median(wall), 1),
            "queries": max(counts),
            "db_ms": round(statistics.median(db_ms), 1),
        }
        say(
            f"{name:28} cpu {out[name]['cpu_ms']:7.1f} ms  wall {out[name]['wall_ms']:7.1f} ms  "
            f"queries {out[name]['queries']:3}  db {out[name]['db_ms']:6.1f} ms"
        )
        if cprofile and cprofile == name:
            profile = cProfile.Profile()
            profile.enable()
            for _ in range(repeat):
                call()
            profile.disable()
            pstats.Stats(profile, stream=sys.stderr).sort_stats(
                os.environ.get("CARTERA_PROFILE_SORT", "cumulative")
            ).print_stats(45)
            with CaptureQueriesContext(connection) as queries:
                call()
            for q in queries.captured_queries:
                say(f"  {q['time']}s  {q['sql'][:400]}")
    result.write_text(json.dumps({"kinds": out, "repeat": repeat, "vendor": connection.vendor}))


def profile(url: str, repeat: int, cprofile: str, only: str) -> dict[str, Any]:
    env = server_env(url, VAR / "load-static")
    load_before = os.getloadavg()[0]
    subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bench.load", "--worker", "profile", "--result", str(PROFILE_RESULTS),
         "--repeat", str(repeat), "--cprofile", cprofile, "--kinds", only],
        check=True, env=env, cwd=ROOT,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(PROFILE_RESULTS.read_text())
    result["load"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    result["date"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    PROFILE_RESULTS.write_text(json.dumps(result, indent=2))
    return result


# --- the report -----------------------------------------------------------------------------------


def _row(label: str, s: dict[str, Any]) -> str:
    return f"| {label} | {s['requests']:,} | {s['rps']} | {s['errors']} | {s['p50']} | **{s['p95']}** | {s['p99']} | {s['max']} |"


def write_doc(results: dict[str, Any], profile_result: dict[str, Any] | None) -> None:
    m, data, server = results["machine"], results["data"], results["server"]
    lines = [
        START_MARK,
        "## Load: 50 people at work on the production server, with and without a password-guessing attack (issue 16)",
        "",
        f"Goal: 0 errors and p95 ≤ {GOAL_P95_MS:.0f} ms for 50 logged-in users with a 1 s think time, and 10 "
        f"clients guessing passwords at the same time raise the other users' p95 by at most "
        f"{(GOAL_ATTACK_RATIO - 1) * 100:.0f} %. Run with `make bench-load` (`bench/load.py`, users in "
        "`bench/load_locust.py`).",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM, {m['os']}, Python {m['python']}; "
        "shared with other jobs (the load average below says how much).",
        f"Server: `{server['command']}` (DEBUG off, collected static files, plain HTTP on 127.0.0.1), "
        f"{data['vendor']} {data['version']}, {data['customers']:,} customers, {data['orders']:,} orders, "
        f"{data['interactions']:,} interactions; measured {results['date']}.",
        f"Each user has a session of her own (opened before the run), and every {results['think_s']:g} s opens the customer list "
        "(all, filtered, sorted, or the next page), searches (names, surnames, e-mails, phones, companies "
        "as `bench/run.py` draws them), opens a customer's page, logs a call (the htmx quick form), opens "
        "the home page, or calls the API with a personal token (list, search, one customer), in the "
        "weights of `bench/load_locust.py`. The attackers post wrong passwords for 10 usernames (the "
        "admin's and 9 common guesses) from the same address as the users, without pause. Times are "
        f"measured over {results['seconds']} s, from {results['settle_s']:g} s after the last user started; "
        "the CPU per request is over the whole run.",
        "",
    ]
    for phase in results["phases"]:
        a = phase["all_users"]
        title = f"**With {phase['attackers']} attackers**" if phase["attackers"] else "**Without attackers**"
        load = phase["load"]
        cpu = phase["cpu_ms_per_request"]
        lines += [
            f"{title}: {phase['users']} users; load average (1 min) {load['start']} at the start, "
            f"{load['mean']} on average, {load['max']} at most. CPU per answered request: gunicorn "
            f"{cpu['gunicorn']} ms, PostgreSQL {cpu['postgresql']} ms, locust {cpu['locust']} ms.",
            "",
            f"| requests of the {phase['users']} users | count | req/s | errors | p50 ms | p95 ms | p99 ms | max ms |",
            "|---|---|---|---|---|---|---|---|",
            _row("**all of them**", a),
            *(_row(name, s) for name, s in phase["per_endpoint"].items()),
        ]
        if phase["attackers"]:
            at = phase["attack"]
            lines.append(_row(f"(the attackers' tries: {at['locked_out']:,} refused as locked out)", at))
            lines.append("")
            locked = phase["all_locked_after_s"]
            steady = phase["steady"]
            lines.append(
                f"The attackers' tries that cost a password hash (before their username was locked out): "
                f"{phase['attack_hashed_tries']}; "
                + (
                    f"every attacked username was locked out {locked} s after the start. From 5 s after that "
                    f"to the end (the attack's steady state) the users' p95 was **{steady['p95']} ms** "
                    f"(p50 {steady['p50']} ms, {steady['requests']} requests, {steady['errors']} errors)."
                    if locked is not None and steady
                    else "not every attacked username was locked out before the end of the run."
                )
            )
        lines.append("")
    verdict = results["verdict"]
    lines += [
        f"Verdict: errors {verdict['errors']} (goal 0); p95 {verdict['p95']} ms without attackers (goal ≤ "
        f"{GOAL_P95_MS:.0f} ms: {'met' if verdict['p95_met'] else 'not met'})"
        + (
            f"; with attackers {verdict['p95_attack']} ms, ×{verdict['attack_ratio']} (goal ≤ ×{GOAL_ATTACK_RATIO}: "
            f"{'met' if verdict['attack_met'] else 'not met'})."
            if verdict.get("attack_ratio") is not None
            else "."
        ),
        "",
    ]
    if profile_result:
        lines += [
            f"The same requests one at a time (`bench/load.py --profile`, in-process through the whole "
            f"middleware stack, median of {profile_result['repeat']}; {profile_result['date']}, load average "
            f"{profile_result['load'][0]} → {profile_result['load'][1]}): CPU time of the Django process, "
            "wall time, queries and the database's time for them.",
            "",
            "| request | CPU ms | wall ms | queries | database ms |",
            "|---|---|---|---|---|",
            *(
                f"| {name} | {k['cpu_ms']} | {k['wall_ms']} | {k['queries']} | {k['db_ms']} |"
                for name, k in profile_result["kinds"].items()
            ),
            "",
        ]
    lines.append(END_MARK)
    replace_section(START_MARK, END_MARK, "\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=default_url())
    parser.add_argument("--port", type=int, default=8016)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--spawn-rate", type=float, default=10.0, help="users started per second")
    parser.add_argument("--seconds", type=int, default=60, help="length of the measured window")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds after the last user starts")
    parser.add_argument("--think", type=float, default=1.0, help="seconds each user waits between requests")
    parser.add_argument("--attackers", type=int, default=10)
    parser.add_argument("--phases", default="plain,attack", help="plain, attack or both")
    parser.add_argument("--gunicorn", default="", help="extra gunicorn arguments (for experiments)")
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/benchmarks.md")
    parser.add_argument("--profile", action="store_true", help="measure each request one at a time instead")
    parser.add_argument("--repeat", type=int, default=20, help="with --profile: requests of each kind")
    parser.add_argument("--cprofile", default="", help="with --profile: print cProfile for this kind")
    parser.add_argument("--kinds", default="", help="with --profile: only these kinds (comma-separated)")
    parser.add_argument("--worker", choices=["workload", "profile"], help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker == "workload":
        worker_workload(args.result, args.users)
        return
    if args.worker == "profile":
        worker_profile(args.result, args.repeat, args.cprofile, args.kinds)
        return

    VAR.mkdir(parents=True, exist_ok=True)
    url = args.database_url
    data = prepare(url, BIG, regenerate=False)
    env = dict(os.environ, DATABASE_URL=url, DJANGO_SETTINGS_MODULE="cartera.settings")
    say("running the analysis once (refresh --if-never-run)")
    manage(["refresh", "--if-never-run", "--as-of", DEMO_TODAY.isoformat(), "-v0"], env)
    workload_file = VAR / "load-workload.json"
    prepare_workload(url, workload_file, args.users)
    if args.profile:
        profile(url, args.repeat, args.cprofile, args.kinds)
        return

    server = Server(url, args.port, VAR / "load-static", args.gunicorn.split())
    sampler = Sampler(server, url.rsplit("/", 1)[1])
    server.start()
    sampler.start()
    phases = []
    try:
        for phase in args.phases.split(","):
            attackers = args.attackers if phase == "attack" else 0
            phases.append(run_phase(server, sampler, workload_file, args, attackers=attackers))
            a = phases[-1]["all_users"]
            say(f"{phase}: {a['requests']} requests, {a['errors']} errors, p50 {a['p50']} ms, p95 {a['p95']} ms, "
                f"load {phases[-1]['load']}, cpu/request {phases[-1]['cpu_ms_per_request']}")  # fmt: skip
    finally:
        sampler.halt.set()
        server.stop()
    plain = next((p for p in phases if not p["attackers"]), None)
    attack = next((p for p in phases if p["attackers"]), None)
    errors = sum(p["all_users"]["errors"] + p["errors_whole_run"] for p in phases)
    verdict: dict[str, Any] = {"errors": errors}
    if plain:
        verdict |= {"p95": plain["all_users"]["p95"], "p95_met": plain["all_users"]["p95"] <= GOAL_P95_MS}
    if plain and attack and plain["all_users"]["p95"]:
        ratio = attack["all_users"]["p95"] / plain["all_users"]["p95"]
        verdict |= {
            "p95_attack": attack["all_users"]["p95"],
            "attack_ratio": round(ratio, 2),
            "attack_met": ratio <= GOAL_ATTACK_RATIO,
        }
    results = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_facts(),
        "data": data,
        "server": {"command": " ".join(["gunicorn", *server.command()[1:]]).replace(str(ROOT) + "/", "")},
        "think_s": args.think,
        "seconds": args.seconds,
        "settle_s": args.settle,
        "phases": phases,
        "verdict": verdict,
    }
    RESULTS.write_text(json.dumps(results, indent=2))
    say(json.dumps(verdict))
    if not args.no_doc and plain:
        profile_result = json.loads(PROFILE_RESULTS.read_text()) if PROFILE_RESULTS.exists() else None
        write_doc(results, profile_result)


if __name__ == "__main__":
    main()
