"""``cartera refresh``: recompute the customer metrics and today's portfolio snapshot."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from cartera.core.commands import LanguageCommand
from cartera.insights.models import RefreshRun
from cartera.insights.services import (
    RefreshAlreadyRunning,
    describe_holder,
    insights_backfill,
    insights_refresh,
)
from cartera.insights.tasks import refresh_insights


class Command(LanguageCommand):
    help = "Recompute every customer's metrics (status, P(alive), CLV, RFM, ABC) and the portfolio snapshot."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--as-of", type=dt.date.fromisoformat, help="analyse as of this day (YYYY-MM-DD)")
        parser.add_argument(
            "--period-days", type=int, help="length of the snapshot period (default: since the last one)"
        )
        parser.add_argument(
            "--backfill-months", type=int, default=0, help="also write month-end snapshots for N months back"
        )
        parser.add_argument(
            "--background", action="store_true", help="queue the refresh for the worker and return"
        )
        parser.add_argument(
            "--if-never-run", action="store_true", help="do nothing once a refresh has completed"
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="take over the lock of a refresh that is still marked running (one killed, or stuck)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["if_never_run"] and RefreshRun.objects.filter(status=RefreshRun.Status.DONE).exists():
            return
        if options["background"]:
            result = refresh_insights.enqueue(trigger="cli")
            self.stdout.write(_("Queued refresh (task %(id)s).") % {"id": result.id})
            return
        say = (lambda msg: self.stdout.write(f"· {msg}")) if options["verbosity"] >= 1 else None
        if options["backfill_months"]:
            n = insights_backfill(months=options["backfill_months"], as_of=options["as_of"], progress=say)
            self.stdout.write(
                ngettext("%(n)s month-end snapshot written.", "%(n)s month-end snapshots written.", n)
                % {"n": n}
            )
        try:
            run = insights_refresh(
                trigger="cli",
                as_of=options["as_of"],
                period_days=options["period_days"],
                progress=say,
                force=options["force"],
            )
        except RefreshAlreadyRunning as exc:
            raise CommandError(
                _(
                    "A refresh is already running (%(holder)s); try again when it ends, "
                    "or run `cartera refresh --force` if that process is stuck."
                )
                % {"holder": describe_holder(exc.run)}
            ) from exc
        self.stdout.write(
            self.style.SUCCESS(
                _("Refreshed %(customers)s customers and %(orders)s orders in %(seconds).1f s (%(model)s).")
                % {
                    "customers": f"{run.customers:,}",
                    "orders": f"{run.orders:,}",
                    "seconds": run.seconds,
                    "model": run.model_name or _("rules only"),
                }
            )
        )
        if run.note:
            self.stdout.write(run.note)
