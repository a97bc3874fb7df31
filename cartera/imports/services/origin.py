"""Where a customer file comes from, and what that asks of the import.

- The dry run scores the file's rows against the portfolio (the ``import_rows_fit`` hook, answered by
  the pipeline app's fit model), so a purchased list can be judged before it is imported for good:
  :class:`FitRows` gathers what the model reads while the rows are checked, in one pass.
- A purchased list needs its lawful basis written down (:func:`check_list_origin`), and once it is
  imported its people must be told where their data came from within a month (GDPR Art. 14(3)(a)):
  :func:`purchased_list_notice` gives the importer a task due then.
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from cartera.activity.models import Task
from cartera.activity.services import task_create
from cartera.core import hooks
from cartera.imports.models import ImportJob, ImportKind, ListOrigin
from cartera.imports.rows import CleanRow


class FitRows:
    """What the fit model reads of each checked row of a customer file, column by column."""

    def __init__(self, default_source: str) -> None:
        self.default_source = default_source
        self.numbers: list[int] = []
        self.columns: dict[str, list[Any]] = {"sector": [], "region": [], "source": [], "birth_date": []}

    def add(self, rows: list[CleanRow]) -> None:
        numbers, columns, default = self.numbers, self.columns, self.default_source
        sector, region, source, birth = (columns[k] for k in ("sector", "region", "source", "birth_date"))
        for row in rows:
            data = row.data
            numbers.append(row.number)
            sector.append(data.get("sector") or "")
            region.append(data.get("region") or "")
            source.append(data.get("source") or default)
            birth.append(data.get("birth_date"))

    def distribution(self) -> dict[str, Any] | None:
        """The fit distribution of the rows gathered (see the hook), or ``None``."""
        if not self.numbers:
            return None
        result: dict[str, Any] | None = hooks.fire(
            "import_rows_fit", columns=self.columns, numbers=self.numbers
        )
        return result


def check_list_origin(job: ImportJob) -> None:
    """A purchased list is imported only with its lawful basis written down."""
    if job.list_origin == ListOrigin.PURCHASED and not job.lawful_basis.strip():
        raise ValidationError(
            {
                "lawful_basis": _(
                    "A purchased list needs its lawful basis: write down why you may use these people's "
                    "data (for example, the provider's consent records for sharing with third parties, "
                    "or your legitimate interest and its assessment)."
                )
            }
        )


def _one_month_after(day: dt.date) -> dt.date:
    """The same day a month later (the month's last day when it has no such day: 31 Jan → 28 Feb)."""
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


def purchased_list_notice(*, job: ImportJob) -> Task | None:
    """After a purchased customer list is imported: a task for the person who imported it to inform
    the people in it (GDPR Art. 14), due one month after the import, the latest the regulation allows
    when the data were not obtained from the person (Art. 14(3)(a); sooner if they are contacted or
    the data disclosed first, Art. 14(3)(b)-(c)). Once per job; none when nobody was created or updated."""
    if job.kind != ImportKind.CUSTOMERS or job.list_origin != ListOrigin.PURCHASED or job.created_by is None:
        return None
    if not (job.created_count or job.updated_count) or job.report.get("art14_task"):
        return None
    imported = timezone.localdate(job.finished_at or timezone.now())
    due = _one_month_after(imported)
    with translation.override(job.options.get("language") or None):
        title = _("Inform these people (GDPR Art. 14) by %(date)s") % {
            "date": formats.date_format(due, "DATE_FORMAT")
        }
        notes = _(
            "%(count)s people came from a purchased list (import “%(file)s”, #%(job)s; provider: %(provider)s). "
            "Tell each of them who you are, where their data came from, what you use it for, the lawful "
            "basis (%(basis)s) and their rights (access, objection, erasure), within one month of the "
            "import and at the latest with the first message you send them (GDPR Art. 14(3))."
        ) % {
            "count": job.created_count + job.updated_count,
            "file": job.file_name,
            "job": job.pk,
            "provider": job.source_detail or "—",
            "basis": job.lawful_basis or "—",
        }
    due_at = timezone.make_aware(dt.datetime.combine(due, dt.time(18, 0)))
    task = task_create(
        actor=job.created_by,
        fields={"title": title[:200], "assignee": job.created_by, "due_at": due_at, "notes": notes},
    )
    ImportJob.objects.filter(pk=job.pk).update(report={**job.report, "art14_task": task.pk})
    job.report = {**job.report, "art14_task": task.pk}
    return task
