"""Background work: the dashboard figures of the latest snapshot, when a refresh did not compute them
and the portfolio is too big for a page view to do it (``services.figures_current``)."""

from __future__ import annotations

import datetime as dt
import time

from cartera.core.tasks import enqueue_once, task

#: Far longer than the figures take at 1,000,000 customers (about 30 s).
RUNNING_AT_MOST = dt.timedelta(minutes=15)


@task()
def compute_figures() -> str:
    """Compute the figures of the latest snapshot unless they are there already (a refresh may have
    written them since the task was queued)."""
    from cartera.insights.models import PortfolioSnapshot
    from cartera.segments.models import PortfolioFigures
    from cartera.segments.services.portfolio import figures_refresh

    snapshot = PortfolioSnapshot.objects.order_by("-taken_on").first()
    if snapshot is None:
        return "no snapshot"
    if PortfolioFigures.objects.filter(
        taken_on=snapshot.taken_on, snapshot_computed_at=snapshot.computed_at
    ).exists():
        return f"figures of {snapshot.taken_on} already there"
    started = time.perf_counter()
    figures_refresh(snapshot=snapshot)
    return f"figures of {snapshot.taken_on} computed in {time.perf_counter() - started:.1f} s"


def figures_schedule() -> None:
    """Queue :func:`compute_figures` once the current transaction commits, unless one is waiting or
    running (every page view asks while they are missing; one computation answers them all)."""
    enqueue_once(compute_figures, running_for_less_than=RUNNING_AT_MOST)
