"""The test's database opened from other processes (a worker, a command) in tests that kill them."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import connection, transaction


def share_database(tmp_path: Path) -> dict[str, Any]:
    """A ``DATABASE_URL`` other processes can open that holds this test's database (committed).

    PostgreSQL: the test database itself. SQLite: the in-memory test database copied to a file; the
    test then reads the file back with :func:`query`.
    """
    if connection.vendor == "postgresql":
        s = connection.settings_dict
        url = f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
        return {"url": url, "file": None}
    path = tmp_path / "shared.sqlite3"
    connection.ensure_connection()
    target = sqlite3.connect(path)
    connection.connection.backup(target)
    target.close()
    return {"url": f"sqlite:///{path}", "file": path}


def query(db: dict[str, Any], sql: str) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` from the shared database (the file for SQLite)."""
    if db["file"] is None:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall()
    with sqlite3.connect(db["file"], timeout=20) as conn:
        return conn.execute(sql).fetchall()


def lock_probe() -> Any:
    """PostgreSQL: a second, autocommit connection to the test database, to watch for waiting locks."""
    import psycopg

    s = connection.settings_dict
    return psycopg.connect(
        dbname=s["NAME"],
        user=s["USER"],
        host=s["HOST"] or "127.0.0.1",
        port=s["PORT"] or 5432,
        autocommit=True,
    )


def someone_waits_for_a_lock(probe: Any) -> bool:
    """Whether any session of the server waits for a lock (seen through ``probe``)."""
    row = probe.execute("SELECT count(*) FROM pg_locks WHERE NOT granted").fetchone()
    return bool(row[0])


@dataclass
class Race:
    """How :func:`race` ended: what ``first`` returned, what ``second`` returned or raised, and whether
    ``second`` waited for a lock ``first``'s transaction held."""

    first: Any
    second: Any = None
    error: BaseException | None = None
    waited: bool = False


def race(first: Callable[[], Any], second: Callable[[], Any], *, patience: float = 20) -> Race:
    """PostgreSQL: run ``first`` in a transaction of this thread and, before it commits, ``second`` in
    another thread (its own connection); commit once ``second`` waits for a lock (or has finished, or
    ``patience`` seconds have passed), then let ``second`` end."""
    first_done = threading.Event()
    ended = Race(first=None)

    def run_second() -> None:
        first_done.wait(10)
        try:
            ended.second = second()
        except Exception as exc:  # kept for the test to read: it says what went wrong
            ended.error = exc
        finally:
            connection.close()

    probe = lock_probe()
    other = threading.Thread(target=run_second)
    other.start()
    try:
        with transaction.atomic():
            ended.first = first()  # done, not committed
            first_done.set()
            deadline = time.monotonic() + patience
            while other.is_alive() and not someone_waits_for_a_lock(probe) and time.monotonic() < deadline:
                time.sleep(0.02)
            ended.waited = other.is_alive()
    finally:
        first_done.set()
        other.join(60)
        probe.close()
    return ended
