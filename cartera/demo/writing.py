"""How the demo writes rows: numpy helpers, dates as stored text, and a writer per table on the
bulk-write toolkit (cartera/core/bulk.py), which also gives the bulk-load mode for big sizes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, cast
from zoneinfo import ZoneInfo

import numpy as np
from django.db import connection, models

from cartera.core import bulk
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
    """Appends rows to one table through the bulk-write toolkit's fastest path (``COPY`` or the
    driver's ``executemany``; its plain twin under ``CARTERA_BULK_PLAIN``).

    Values must already be in a form the database parses: ints, floats, bools, ``None`` and strings
    (dates and timestamps as text from :class:`_Clock`, JSON as text).
    """

    def __init__(self, model: type[models.Model], fields: Sequence[str]) -> None:
        opts = model._meta
        self.table = opts.db_table
        self.columns = [str(cast("models.Field[Any, Any]", opts.get_field(name)).column) for name in fields]
        self.rows = 0

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        with connection.cursor() as cursor:
            bulk.write_rows(cursor, self.table, self.columns, rows)
        self.rows += len(rows)
