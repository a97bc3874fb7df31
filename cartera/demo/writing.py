"""How the demo writes rows: numpy helpers, dates as stored text, the driver's fastest insert path,
and the bulk-load mode (secondary indexes dropped and rebuilt, durability relaxed) for big sizes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast
from zoneinfo import ZoneInfo

import numpy as np
from django.db import connection, models

from cartera.core.text import fold

Progress = Callable[[str, int, int], None]


# --- small helpers --------------------------------------------------------------------------------


def _weights(values: Sequence[float] | np.ndarray) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    result: np.ndarray = array / array.sum()
    return result


def _values(options: Sequence[tuple[Any, ...]]) -> np.ndarray:
    """The first item of each option (a choice), as plain strings in an object array."""
    return _objects([str(o[0]) for o in options])


def _objects(values: Sequence[Any]) -> np.ndarray:
    """A numpy object array (numpy would turn a list of strings into a fixed-width unicode array)."""
    array = np.empty(len(values), dtype=object)
    array[:] = list(values)
    return array


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _cif(letter: str, digits: str) -> str:
    """A Spanish CIF with a correct control character (digit or letter, as the entity type says)."""
    odd = sum(sum(divmod(int(d) * 2, 10)) for d in digits[0::2])
    even = sum(int(d) for d in digits[1::2])
    control = (10 - (odd + even) % 10) % 10
    if letter in "PQRSNW":
        return f"{letter}{digits}{'JABCDEFGHI'[control]}"
    return f"{letter}{digits}{control}"


def _slug(text: str, limit: int = 40) -> str:
    words = "".join(ch if ch.isalnum() else " " for ch in fold(text)).split()
    return "-".join(words)[:limit].strip("-")


def _alnum(text: str) -> str:
    return "".join(ch for ch in fold(text) if ch.isalnum())


class _Clock:
    """Turns local days and seconds into the text the database stores for dates and timestamps.

    Day 0 is the first day of the three-year window. Timestamps are business hours in the site's
    time zone, stored in UTC like Django does (naive UTC text on SQLite, ``+00`` on PostgreSQL).
    """

    def __init__(self, start: dt.date, days: int, zone: ZoneInfo, vendor: str) -> None:
        self.start = start
        dates = [start + dt.timedelta(days=d) for d in range(days)]
        self.date_text = _objects([d.isoformat() for d in dates])
        # Offsets at noon hold for the whole business day: DST changes happen at night.
        self.offset = np.array(
            [int(dt.datetime.combine(d, dt.time(12), zone).utcoffset().total_seconds()) for d in dates],  # type: ignore[union-attr]
            dtype=np.int64,
        )
        suffix = "+00" if vendor == "postgresql" else ""
        self.time_text = _objects(
            [f" {s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}{suffix}" for s in range(86400)]
        )
        self.zone = zone

    def dates(self, day: np.ndarray) -> np.ndarray:
        result: np.ndarray = self.date_text[day]
        return result

    def stamps(self, day: np.ndarray, local_second: np.ndarray) -> np.ndarray:
        """Local (day, second) pairs as stored UTC timestamps; seconds must be within 03:00-22:00."""
        utc_second = local_second - self.offset[day]
        result: np.ndarray = self.date_text[day] + self.time_text[utc_second]
        return result

    def aware(self, day: int, local_second: int) -> dt.datetime:
        moment = dt.datetime.combine(self.start + dt.timedelta(days=int(day)), dt.time(), self.zone)
        return moment + dt.timedelta(seconds=int(local_second))


class _Pending:
    """Rows built for one table, to be written later (by the thread that owns the connection)."""

    def __init__(self) -> None:
        self.batches: list[list[tuple[Any, ...]]] = []

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        self.batches.append(rows)


class _Writer:
    """Appends rows to one table through the driver's fastest path.

    Values must already be in a form the database parses: ints, floats, bools, ``None`` and strings
    (dates and timestamps as text from :class:`_Clock`, JSON as text).
    """

    def __init__(self, model: type[models.Model], fields: Sequence[str]) -> None:
        opts = model._meta
        qn = connection.ops.quote_name
        columns = ", ".join(
            qn(str(cast("models.Field[Any, Any]", opts.get_field(name)).column)) for name in fields
        )
        self.vendor = connection.vendor
        table = qn(opts.db_table)
        if self.vendor == "postgresql":
            self.sql = f"COPY {table} ({columns}) FROM STDIN"
        else:
            marker = "?" if self.vendor == "sqlite" else "%s"
            self.sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join([marker] * len(fields))})"  # noqa: S608 - names come from the models
        self.rows = 0

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if self.vendor == "postgresql":
            with connection.cursor() as cursor, cursor.cursor.copy(self.sql) as copy:
                for row in rows:
                    copy.write_row(row)
        elif self.vendor == "sqlite":
            connection.ensure_connection()
            connection.connection.executemany(self.sql, rows)
        else:
            with connection.cursor() as cursor:
                cursor.executemany(self.sql, rows)
        self.rows += len(rows)


# --- bulk-load mode -------------------------------------------------------------------------------


def _secondary_indexes(table: str) -> list[tuple[str, str]]:
    """(name, DDL) of the indexes of ``table`` that no primary key or constraint depends on."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s AND sql IS NOT NULL",
                [table],
            )
        elif connection.vendor == "postgresql":
            cursor.execute(
                """
                SELECT i.relname, pg_get_indexdef(x.indexrelid)
                FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                WHERE x.indrelid = %s::regclass AND NOT x.indisprimary
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
                """,
                [connection.ops.quote_name(table)],
            )
        else:
            return []
        return [(name, sql) for name, sql in cursor.fetchall()]


def _foreign_keys(table: str) -> list[tuple[str, str]]:
    """(name, definition) of the foreign keys of ``table`` (PostgreSQL; SQLite turns them off)."""
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'",
            [connection.ops.quote_name(table)],
        )
        return [(name, sql) for name, sql in cursor.fetchall()]


@contextmanager
def _without_indexes(tables: Sequence[str], progress: Progress) -> Iterator[None]:
    """Drop secondary indexes (and PostgreSQL foreign keys) of empty tables; rebuild them after.

    Runs inside the load's transaction: if the load fails, the rollback brings the indexes back.
    """
    qn = connection.ops.quote_name
    indexes = [ddl for table in tables for ddl in _secondary_indexes(table)]
    fks = [(table, name, sql) for table in tables for name, sql in _foreign_keys(table)]
    with connection.cursor() as cursor:
        for table, name, _sql in fks:
            cursor.execute(f"ALTER TABLE {qn(table)} DROP CONSTRAINT {qn(name)}")
        for name, _sql in indexes:
            cursor.execute(f"DROP INDEX {qn(name)}")
    yield
    total = len(indexes) + len(fks)
    progress("Indexes", 0, total)
    with connection.cursor() as cursor:
        for done, (_name, sql) in enumerate(indexes, start=1):
            cursor.execute(sql)
            progress("Indexes", done, total)
        for done, (table, name, sql) in enumerate(fks, start=len(indexes) + 1):
            cursor.execute(f"ALTER TABLE {qn(table)} ADD CONSTRAINT {qn(name)} {sql}")
            progress("Indexes", done, total)


@contextmanager
def _fast_session(enabled: bool) -> Iterator[None]:
    """Connection settings for a one-off bulk load, put back afterwards.

    SQLite: a rollback journal instead of WAL (a WAL file would grow to the size of the database and
    be copied back at the end), no fsync, a large page cache, no per-row foreign key checks (the
    generator writes consistent ids). PostgreSQL: asynchronous commit and memory for index builds.
    Only outside a transaction, as SQLite requires for these pragmas; inside one (a caller's
    ``atomic`` block, a test) the load runs with the connection as it is.
    """
    if not enabled or connection.in_atomic_block:
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
