"""Background work: the prospect fit score, recomputed by the worker after each analysis refresh.

It learns from the revenue the refresh has just written, so it runs after it; as its own task it
keeps the refresh (and its lock) short, and a slow scoring never holds up the statuses.
"""

from __future__ import annotations

import time
from typing import Any

from cartera.core.tasks import enqueue_once, task
from cartera.pipeline.services import prospect_fit_refresh


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
