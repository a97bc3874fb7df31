"""``cartera dbstats``: refresh the query planner's statistics (after a restore or a huge import)."""

from __future__ import annotations

import time
from typing import Any

from django.utils.translation import gettext as _

from cartera.core.commands import LanguageCommand
from cartera.core.database import update_planner_statistics


class Command(LanguageCommand):
    help = "Refresh the database's planner statistics (ANALYZE; VACUUM (ANALYZE) on PostgreSQL)."

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        update_planner_statistics()
        self.stdout.write(
            _("Planner statistics refreshed in %(seconds).1f s.") % {"seconds": time.perf_counter() - started}
        )
