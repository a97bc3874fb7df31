"""Background work: the prospect fit score, recomputed by the worker after each analysis refresh.

It learns from the revenue the refresh has just written, so it runs after it; as its own task it
keeps the refresh (and its lock) short, and a slow scoring never holds up the statuses.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from cartera.core.tasks import enqueue_once, task
from cartera.pipeline.services import prospect_fit_refresh, report_figures_count_stale


@task()
def score_prospects() -> str:
    """Score every suspect and prospect against the top customers (see ``prospect_fit_refresh``)."""
    started = time.perf_counter()
    scored = prospect_fit_refresh()
    return f"{scored} prospects scored in {time.perf_counter() - started:.1f} s"


def prospect_fit_schedule(**_kwargs: Any) -> None:
    """Answer the ``prospect_fit_refresh`` hook: queue the scoring once the refresh commits, unless
    one is already waiting (a burst of refreshes scores once, on the newest revenue)."""
    enqueue_once(score_prospects)


#: Far longer than counting the report of 200,000 opportunities and a million customers takes.
COUNTING_AT_MOST = dt.timedelta(minutes=15)


@task()
def count_report_figures() -> str:
    """Count again the stored report figures whose data changed (see
    ``services.report_history_current`` and ``services.attribution_current``)."""
    started = time.perf_counter()
    counted = report_figures_count_stale()
    if not counted:
        return "every report figure is current"
    return f"{', '.join(counted)} counted in {time.perf_counter() - started:.1f} s"


def report_figures_schedule() -> None:
    """Queue :func:`count_report_figures` once the current transaction commits, unless one is waiting
    or running (every page view may ask; one count answers them all)."""
    enqueue_once(count_report_figures, running_for_less_than=COUNTING_AT_MOST)
