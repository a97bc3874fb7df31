"""Database housekeeping shared by the jobs that rewrite large parts of the portfolio."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection


def update_planner_statistics(tables: Sequence[str] = ()) -> None:
    """Refresh the statistics the query planner chooses indexes with (``ANALYZE``).

        After a bulk load or the nightly rewrite of the metrics, stale or missing statistics make the
        planner pick the wrong index (a stage filter believed to match 1,000 rows when it matches
        250,000), and list pages go from milliseconds to seconds. SQLite gets a full ``ANALYZE``: its
        sampled variant (``analysis_limit``) misjudges low-cardinality columns such as the stage, and a
        full pass over a million customers takes a few seconds. ``tables`` limits the pass to those tables
    (all of them otherwise). PostgreSQL gets ``VACUUM (ANALYZE)``
        when it can (outside a transaction): besides the statistics, the vacuum marks the freshly written
        pages all-visible, which index-only scans (counts from a covering index) need and which
        autovacuum would only do later, or never where it is off.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA analysis_limit=0")
            for statement in [f"ANALYZE {connection.ops.quote_name(t)}" for t in tables] or ["ANALYZE"]:
                cursor.execute(statement)
        elif connection.vendor == "postgresql":
            command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
            names = ", ".join(connection.ops.quote_name(table) for table in tables)
            cursor.execute(f"{command} {names}".strip())


def lock_until_commit(*keys: str) -> None:
    """Make concurrent transactions that name the same ``keys`` run one after the other.

    For a "find, else create" over something no row can be locked for yet (the e-mail address of a
    person who is not in the file): the second transaction waits here until the first commits, then
    finds what the first created. PostgreSQL: a transaction-level advisory lock per key (released at
    commit or rollback), taken in sorted order so two callers never deadlock. SQLite needs nothing:
    its ``IMMEDIATE`` transactions already take the database's write lock when they begin. Call it
    inside ``transaction.atomic``.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for key in sorted({k for k in keys if k}):
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key])


def reset_if_lost() -> None:
    """After a database error: close the connection if it no longer works (the server restarted, the
    network dropped, an administrator ended the session), so that the next query opens a new one.

    Django does this between web requests; a long-lived process (the task worker) must do it itself,
    or every later query fails with "the connection is closed" and the worker stops."""
    if connection.connection is not None and not connection.is_usable():
        connection.close()
