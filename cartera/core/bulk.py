"""The bulk-write toolkit: the database tricks that make large rewrites fast, in one place.

Each trick has a plain twin (the ORM, or row-by-row SQL that every database runs) and
``CARTERA_BULK_PLAIN=1`` forces the plain twins everywhere (:func:`fast_paths`), so that the suite
can prove both give the same rows. What is here:

- :func:`copy_rows` (PostgreSQL ``COPY``) and :func:`insert_rows` (the driver's ``executemany``);
- :func:`write_rows`: whichever of the two the database does best;
- :func:`secondary_indexes` and :func:`without_secondary_indexes`: drop the indexes (and, for a
  load that writes consistent ids, the foreign keys) of a table being rewritten and build each
  again in one sort at the end, inside the caller's transaction;
- :func:`relaxed_durability`: no fsync and a big cache for a one-off load (the demo);
- :func:`lean_reads` (SQLite): sorts spilled to disk and no memory-mapped file while a pass reads a
  whole big table (the duplicate finder), so its memory does not grow with the table;
- :func:`atomic_with_keys_checked_at_end` (SQLite): one check of the whole table instead of a lookup per row;
- :func:`swap_in_new_table` (PostgreSQL): build a table's new contents in a fresh table and swap it
  in, so that readers of the old one never wait for the rewrite.

Table and index names come from the models and the catalogues, never from users.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import OperationalError, connection, transaction

Cursor = Any  # Django's CursorWrapper (its ``.cursor`` is the driver's own)


def fast_paths() -> bool:
    """False when ``CARTERA_BULK_PLAIN`` forces the plain twins (the ORM, row by row)."""
    return not getattr(settings, "CARTERA_BULK_PLAIN", False)


def qn(name: str) -> str:
    """A quoted identifier for the current database."""
    return str(connection.ops.quote_name(name))


# --- loading rows ---------------------------------------------------------------------------------


def copy_rows(
    cursor: Cursor, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], *, freeze: bool = False
) -> None:
    """PostgreSQL: stream ``rows`` into ``table`` with ``COPY`` (psycopg formats each row in C).

    ``freeze`` writes the rows already frozen and their pages all-visible (index-only scans work
    at once, no vacuum needed); PostgreSQL allows it only into a table created or emptied by
    ``TRUNCATE`` in the same (sub)transaction.
    """
    options = " (FREEZE)" if freeze else ""
    sql = f"COPY {qn(table)} ({', '.join(qn(c) for c in columns)}) FROM STDIN{options}"
    with cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def insert_rows(cursor: Cursor, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Insert ``rows`` with one prepared statement run by the driver (``executemany``).

    On SQLite the driver's own cursor is fed straight from the iterable (no list of parameters
    built first, no Django wrapper per row).
    """
    if connection.vendor == "sqlite":
        marks = ", ".join(["?"] * len(columns))
        sql = f"INSERT INTO {qn(table)} ({', '.join(qn(c) for c in columns)}) VALUES ({marks})"  # noqa: S608
        cursor.cursor.executemany(sql, rows)
    else:
        marks = ", ".join(["%s"] * len(columns))
        sql = f"INSERT INTO {qn(table)} ({', '.join(qn(c) for c in columns)}) VALUES ({marks})"  # noqa: S608
        cursor.executemany(sql, list(rows))


def write_rows(cursor: Cursor, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Append ``rows`` to ``table`` the fastest way the database has: ``COPY`` on PostgreSQL, the
    driver's ``executemany`` elsewhere. The plain twin is Django's cursor with one parameterised
    ``INSERT`` run per row. Values must already be in a form the database parses (ints, floats,
    bools, ``None``, strings; dates as ISO text)."""
    if not rows:
        return
    if not fast_paths():
        marks = ", ".join(["%s"] * len(columns))
        sql = f"INSERT INTO {qn(table)} ({', '.join(qn(c) for c in columns)}) VALUES ({marks})"  # noqa: S608
        cursor.executemany(sql, [list(row) for row in rows])
    elif connection.vendor == "postgresql":
        copy_rows(cursor, table, columns, rows)
    else:
        insert_rows(cursor, table, columns, rows)


# --- indexes and keys -----------------------------------------------------------------------------


def secondary_indexes(table: str) -> list[tuple[str, str]]:
    """(name, DDL) of the indexes of ``table`` that no primary key or constraint depends on."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s AND sql IS NOT NULL",
                [table],
            )
        elif connection.vendor == "postgresql":
            cursor.execute(
                "SELECT i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x "
                "JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = %s::regclass "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
                [qn(table)],
            )
        else:
            return []
        return [(str(name), str(sql)) for name, sql in cursor.fetchall()]


def foreign_keys(table: str) -> list[tuple[str, str]]:
    """(name, definition) of the foreign keys of ``table`` (PostgreSQL; elsewhere none are dropped)."""
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'",
            [qn(table)],
        )
        return [(str(name), str(sql)) for name, sql in cursor.fetchall()]


@contextmanager
def without_secondary_indexes(
    *tables: str, keys: bool = False, progress: Callable[[int, int], None] | None = None
) -> Iterator[None]:
    """Drop the secondary indexes of ``tables``, and build each again (one sort) when the block ends.

    Filling a table and then sorting each index once is faster than updating every index row by
    row. With ``keys`` the PostgreSQL foreign keys go too and are checked once, at the end, over
    the whole table (for a load that writes consistent ids, such as the demo). ``progress`` is
    told (done, total) as each index or key is rebuilt. Use inside a transaction: if the block
    fails, the rollback brings the indexes back. The plain twin keeps everything in place.
    """
    if not fast_paths():
        yield
        return
    indexes = [ddl for table in tables for ddl in secondary_indexes(table)]
    fks = [(table, name, sql) for table in tables if keys for name, sql in foreign_keys(table)]
    with connection.cursor() as cursor:
        for table, name, _sql in fks:
            cursor.execute(f"ALTER TABLE {qn(table)} DROP CONSTRAINT {qn(name)}")
        for name, _ddl in indexes:
            cursor.execute(f"DROP INDEX {qn(name)}")
    yield
    total = len(indexes) + len(fks)
    if progress:
        progress(0, total)
    with connection.cursor() as cursor:
        for done, (_name, ddl) in enumerate(indexes, start=1):
            cursor.execute(ddl)
            if progress:
                progress(done, total)
        for done, (table, name, sql) in enumerate(fks, start=len(indexes) + 1):
            cursor.execute(f"ALTER TABLE {qn(table)} ADD CONSTRAINT {qn(name)} {sql}")
            if progress:
                progress(done, total)


@contextmanager
def relaxed_durability(enabled: bool = True) -> Iterator[None]:
    """Connection settings for a one-off bulk load (the demo), put back afterwards.

    SQLite: a rollback journal instead of WAL (a WAL file would grow to the size of the database and
    be copied back at the end), no fsync, a large page cache, no per-row foreign key checks (the
    caller writes consistent ids). PostgreSQL: asynchronous commit and memory for index builds.
    Only outside a transaction, as SQLite requires for these pragmas; inside one (a caller's
    ``atomic`` block, a test) the load runs with the connection as it is, as in the plain twin.
    """
    if not enabled or not fast_paths() or connection.in_atomic_block:
        yield
        return
    vendor = connection.vendor
    if vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            journal = cursor.fetchone()[0]
            cursor.execute("PRAGMA journal_mode=TRUNCATE")  # refused (kept as is) if others are connected
            cursor.execute("PRAGMA synchronous=OFF")
            cursor.execute("PRAGMA cache_size=-1048576")
            cursor.execute("PRAGMA threads=2")
        enabled_fk = not connection.disable_constraint_checking()
        try:
            yield
        finally:
            if not enabled_fk:
                connection.enable_constraint_checking()
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA journal_mode={journal}")
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.execute("PRAGMA cache_size=-65536")
    elif vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit = off")
            cursor.execute("SET maintenance_work_mem = '1GB'")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET synchronous_commit")
                cursor.execute("RESET maintenance_work_mem")
    else:
        yield


@contextmanager
def lean_reads() -> Iterator[None]:
    """SQLite: read a whole big table without the connection's memory settings growing with it.

    The connection normally keeps temporary sorts in memory and maps the file into memory (fast for
    the pages' small reads); a one-off pass that sorts a million rows would hold the whole sort and
    256 MB of mapped file. Here sorts spill to a temporary file beyond the page cache and the file
    is read, not mapped, so the memory used is the page cache's, whatever the size of the table;
    the settings come back afterwards. SQLite allows it only outside a transaction: inside one (a
    test's), the pass runs with the connection as it is, as in the plain twin (and other databases).
    """
    if not fast_paths() or connection.vendor != "sqlite" or connection.in_atomic_block:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA temp_store")
        temp_store = int(cursor.fetchone()[0])
        cursor.execute("PRAGMA mmap_size")
        mapped = cursor.fetchone()  # no row for an in-memory database (the tests')
        cursor.execute("PRAGMA temp_store=FILE")
        if mapped:
            cursor.execute("PRAGMA mmap_size=0")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA temp_store={temp_store}")
            if mapped:
                cursor.execute(f"PRAGMA mmap_size={int(mapped[0])}")


@contextmanager
def atomic_with_keys_checked_at_end(table: str) -> Iterator[None]:
    """A transaction in which SQLite checks ``table``'s foreign keys once, at the end, not per row.

    With foreign keys enforced, SQLite visits every deleted row's dependants and looks up every
    inserted row's parent. Here they are off for the transaction and the whole table is checked
    before the commit (``IntegrityError``, and the rollback, when a row points nowhere). SQLite can
    only turn them off outside a transaction: inside a caller's, the block runs with per-row checks.
    Elsewhere, a plain ``transaction.atomic()``.
    """
    unchecked = connection.vendor == "sqlite" and connection.disable_constraint_checking()
    try:
        with transaction.atomic():
            yield
            if unchecked:
                connection.check_constraints(table_names=[table])
    finally:
        if unchecked:
            connection.enable_constraint_checking()


# --- PostgreSQL: new contents in a fresh table, swapped in ---------------------------------------

_INDEX_HEAD = re.compile(r"^CREATE (UNIQUE )?INDEX \S+ ON (?:ONLY )?\S+ USING ")
SWAP_LOCK_TIMEOUT_MS = 500
SWAP_ATTEMPTS = 20


def swap_blockers(table: str) -> list[str]:
    """What would stop :func:`swap_in_new_table` on ``table``: views on it, foreign keys into it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT 'view ' || v.oid::regclass::text FROM pg_depend d "
            "JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class "
            "WHERE d.refobjid = %s::regclass AND v.oid <> d.refobjid "
            "UNION ALL SELECT 'foreign key ' || conname || ' of ' || conrelid::regclass::text "
            "FROM pg_constraint WHERE confrelid = %s::regclass AND contype = 'f'",
            [qn(table), qn(table)],
        )
        return [str(row[0]) for row in cursor.fetchall()]


def swap_in_new_table(
    table: str,
    *,
    fill: Callable[[Cursor, str], None],
    before_swap: Callable[[Cursor, str], None] | None = None,
) -> None:
    """Replace every row of ``table`` (PostgreSQL) without making its readers wait.

    The new rows go into a fresh table of the same definition (``fill(cursor, new_table)``), which
    then gets the old table's indexes, constraints, foreign keys, triggers and grants, and its
    planner statistics, and takes the old table's place under one short exclusive lock (renames
    only). Until then, readers read the old rows as usual. The swap waits for the readers already
    in the table, never the other way round for more than a moment: it gives up its place in the
    queue after ``SWAP_LOCK_TIMEOUT_MS`` and tries again. The old table is dropped afterwards, in a
    transaction of its own. Names of everything end up as they were, so Django (and its
    migrations) see the same table.

    Adding the foreign keys checks every row with one query (a refused row fails the whole call and
    leaves the old table as it was) and locks the referenced tables against writes, not reads,
    until the commit: ``before_swap(cursor, new_table)`` runs then, when rows copied from those
    tables can be brought up to date and stay so.

    Not carried over: comments, row-level security and per-column statistics targets. Call
    :func:`swap_blockers` first; a view or a foreign key pointing to ``table`` stops the swap.
    """
    new, old = f"{table}__new", f"{table}__old"
    oid = qn(table)
    _drop_table(old)  # left by a process killed between a swap and its clean-up
    inside_caller_transaction = connection.in_atomic_block
    with transaction.atomic(), connection.cursor() as cursor:
        deferred = inside_caller_transaction and _flush_deferred_checks(cursor)
        cursor.execute(
            f"CREATE TABLE {qn(new)} (LIKE {qn(table)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
            "INCLUDING STORAGE INCLUDING COMPRESSION INCLUDING GENERATED INCLUDING IDENTITY)"
        )
        fill(cursor, new)
        # Room to sort each index in memory (the default spills a million rows to disk).
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        # Index names are unique in the schema: the new table's get temporary names, and at the
        # swap the old table's step aside and the new ones take their names.
        renames: list[str] = []
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype IN ('p', 'u', 'x') ORDER BY conname",
            [oid],
        )
        for k, (name, definition) in enumerate(cursor.fetchall()):
            temporary, aside = f"{table[:40]}__new_c{k}", f"{table[:40]}__old_c{k}"
            cursor.execute(f"ALTER TABLE {qn(new)} ADD CONSTRAINT {qn(temporary)} {definition}")
            renames.insert(0, f"ALTER TABLE {qn(old)} RENAME CONSTRAINT {qn(name)} TO {qn(aside)}")
            renames.append(f"ALTER TABLE {qn(table)} RENAME CONSTRAINT {qn(temporary)} TO {qn(name)}")
        for k, (name, ddl) in enumerate(secondary_indexes(table)):
            temporary, aside = f"{table[:40]}__new_i{k}", f"{table[:40]}__old_i{k}"
            head = _INDEX_HEAD.match(ddl)
            if head is None:
                raise ValueError(f"unexpected index definition: {ddl}")
            cursor.execute(
                f"CREATE {head.group(1) or ''}INDEX {qn(temporary)} ON {qn(new)} USING {ddl[head.end() :]}"
            )
            renames.insert(0, f"ALTER INDEX {qn(name)} RENAME TO {qn(aside)}")
            renames.append(f"ALTER INDEX {qn(temporary)} RENAME TO {qn(name)}")
        cursor.execute(
            "SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal",
            [oid],
        )
        for (ddl,) in cursor.fetchall():
            cursor.execute(re.sub(r" ON \S+ ", f" ON {qn(new)} ", ddl, count=1))
        cursor.execute(
            "SELECT a.privilege_type, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END "
            "FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee "
            "WHERE c.oid = %s::regclass AND a.grantee <> c.relowner",
            [oid],
        )
        for privilege, grantee in cursor.fetchall():
            cursor.execute(f"GRANT {privilege} ON {qn(new)} TO {grantee}")
        # Foreign keys last: each checks all rows in one query and keeps the referenced table
        # from changing until the commit. Their names are per table: the final ones already.
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'",
            [oid],
        )
        for name, definition in cursor.fetchall():
            cursor.execute(f"ALTER TABLE {qn(new)} ADD CONSTRAINT {qn(name)} {definition}")
        if before_swap is not None:
            before_swap(cursor, new)
        # Statistics before the swap: the first reader after it plans with them.
        cursor.execute(f"ANALYZE {qn(new)}")
        _with_short_lock_waits(
            [
                f"LOCK TABLE {qn(table)} IN ACCESS EXCLUSIVE MODE",
                f"ALTER TABLE {qn(table)} RENAME TO {qn(old)}",
                f"ALTER TABLE {qn(new)} RENAME TO {qn(table)}",
                *renames,
            ]
        )
        if deferred:
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    # Dropping the old table removes its foreign keys' triggers from the referenced tables, which
    # takes those tables' exclusive lock for a moment: alone, after the swap has committed.
    _drop_table(old)


def _flush_deferred_checks(cursor: Cursor) -> bool:
    """Inside a caller's transaction: run the checks it has queued (PostgreSQL refuses to alter a
    table with pending trigger events); True so that the caller defers them again afterwards."""
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    return True


def _drop_table(name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [qn(name)])
        exists = cursor.fetchone()[0] is not None
    if exists:
        _with_short_lock_waits([f"DROP TABLE {qn(name)}"])


def _with_short_lock_waits(statements: list[str]) -> None:
    """Run ``statements`` in one (sub)transaction whose lock requests never queue readers for long.

    A reader in the middle of a query holds its tables; an exclusive lock request waiting for it
    would queue every later reader behind it. So each attempt gives up after
    ``SWAP_LOCK_TIMEOUT_MS``, lets them pass, and tries again (the last attempt waits as long as
    it takes).
    """
    for attempt in range(SWAP_ATTEMPTS + 1):
        last = attempt == SWAP_ATTEMPTS
        try:
            with transaction.atomic(), connection.cursor() as cursor:  # a savepoint inside a transaction
                if not last:
                    cursor.execute(f"SET LOCAL lock_timeout = {SWAP_LOCK_TIMEOUT_MS}")
                for statement in statements:
                    cursor.execute(statement)
                cursor.execute("SET LOCAL lock_timeout = DEFAULT")
            return
        except OperationalError as exc:
            if last or getattr(exc.__cause__, "sqlstate", None) != "55P03":  # lock_not_available
                raise
            time.sleep(0.05 * (attempt + 1))
