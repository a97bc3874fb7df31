"""The range of dates a field accepts, checked wherever a date enters (API, forms, services, imports).

An order dated in year 1 or 9999 is a typo, but once stored it wrecks the analysis ("buys every
184,905 days"); a date-time at the very edge of the calendar cannot even be converted to UTC. Each
kind of date has one :class:`DateRange`, declared here, and every way in checks against it:

- the API's schemas (``cartera.core.api_common``: ``DateIn`` / ``DateTimeIn``),
- the services (``order_create``, ``interaction_create``, ``task_create`` and their updates),
- the web forms (the same check plus ``min`` / ``max`` on the date pickers),
- the import (``ORDER_DATES.error(value)`` says in words what is wrong with a parsed date, or ``None``).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import formats, timezone
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext as _

EARLIEST = datetime.date(1900, 1, 1)


def years_after(day: datetime.date, years: int) -> datetime.date:
    """``day`` moved ``years`` years on (29 February becomes 28 February in a common year)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def _as_date(value: datetime.date | datetime.datetime) -> datetime.date:
    # The calendar day as written, without converting the time zone: converting a date-time at the
    # edge of the calendar (year 1 with an offset) is exactly what fails.
    return value.date() if isinstance(value, datetime.datetime) else value


@dataclass(frozen=True)
class DateRange:
    """Dates from ``earliest`` to ``latest`` (fixed) or to today plus ``years_ahead`` years."""

    earliest: datetime.date = EARLIEST
    years_ahead: int | None = None
    latest: datetime.date | None = None

    def bounds(self, today: datetime.date | None = None) -> tuple[datetime.date, datetime.date]:
        """The first and last accepted day, today's way (``today`` defaults to the local date)."""
        if self.latest is not None:
            return self.earliest, self.latest
        today = today or timezone.localdate()
        return self.earliest, years_after(today, self.years_ahead or 0)

    def contains(self, value: datetime.date | datetime.datetime, today: datetime.date | None = None) -> bool:
        earliest, latest = self.bounds(today)
        return earliest <= _as_date(value) <= latest

    def message(self, today: datetime.date | None = None) -> str:
        """The refusal, in the current language, naming the accepted range."""
        earliest, latest = self.bounds(today)
        return _("Enter a date between %(earliest)s and %(latest)s.") % {
            "earliest": formats.date_format(earliest, "SHORT_DATE_FORMAT"),
            "latest": formats.date_format(latest, "SHORT_DATE_FORMAT"),
        }

    def error(self, value: datetime.date | datetime.datetime | None) -> str | None:
        """What is wrong with ``value`` in words, or ``None`` when it is in range (or empty)."""
        if value is None or self.contains(value):
            return None
        return self.message()

    def check(self, value: datetime.date | datetime.datetime | None) -> None:
        """Raise a ``ValidationError`` (code ``date_out_of_range``) when ``value`` is out of range."""
        message = self.error(value)
        if message is not None:
            raise ValidationError(message, code="date_out_of_range")

    @property
    def validator(self) -> DateRangeValidator:
        """A form-field validator for this range."""
        return DateRangeValidator(self)

    def widget_attrs(self, *, with_time: bool = False) -> dict[str, str]:
        """``min`` / ``max`` for an ``<input type="date">`` (or ``datetime-local``)."""
        earliest, latest = self.bounds()
        if with_time:
            return {"min": f"{earliest.isoformat()}T00:00", "max": f"{latest.isoformat()}T23:59"}
        return {"min": earliest.isoformat(), "max": latest.isoformat()}


@deconstructible
class DateRangeValidator:
    """Django validator form of :meth:`DateRange.check` (today is read when it runs, not at start-up)."""

    def __init__(self, date_range: DateRange) -> None:
        self.date_range = date_range

    def __call__(self, value: Any) -> None:
        self.date_range.check(value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DateRangeValidator) and other.date_range == self.date_range

    def __hash__(self) -> int:
        return hash(self.date_range)


def check_dates(obj: Any, ranges: Mapping[str, DateRange]) -> None:
    """Check the date attributes of ``obj`` named in ``ranges``; one ``ValidationError`` for all."""
    errors = {}
    for name, date_range in ranges.items():
        message = date_range.error(getattr(obj, name, None))
        if message is not None:
            errors[name] = ValidationError(message, code="date_out_of_range")
    if errors:
        raise ValidationError(errors)


# Any date the API reads (filters included): the outer bounds, safe to convert to any time zone.
ANY_DATES = DateRange(latest=datetime.date(2100, 12, 31))
# A purchase: from 1900 to a year from today (an order may be booked ahead, not decades ahead).
ORDER_DATES = DateRange(years_ahead=1)
# A birth date: from 1900 to today.
BIRTH_DATES = DateRange(years_ahead=0)
# When a contact happened: from 1900 to a year from today (a meeting logged ahead of time).
INTERACTION_DATES = DateRange(years_ahead=1)
# When a task is due: from 1900 (overdue) to ten years from today (a contract renewal).
TASK_DUE_DATES = DateRange(years_ahead=10)
