"""Background work of the surveys app: running the automatic survey triggers, and counting the results
of surveys with many answers, in the worker."""

from __future__ import annotations

import datetime as dt
import time

from cartera.core.tasks import enqueue_once, task
from cartera.surveys.services.figures import figures_count_stale
from cartera.surveys.services.triggers import triggers_run


@task()
def run_triggers() -> str:
    """Invite the customers matching each automatic survey (also run after every refresh)."""
    sent = triggers_run()
    return ", ".join(f"survey {pk}: {n}" for pk, n in sent.items()) or "nothing to send"


#: Far longer than counting a million answers takes (a few seconds).
COUNTING_AT_MOST = dt.timedelta(minutes=15)


@task()
def compute_figures() -> str:
    """Count again the stored results of every survey whose figures are stale (see
    :mod:`cartera.surveys.services.figures`)."""
    started = time.perf_counter()
    counted = figures_count_stale()
    if not counted:
        return "every survey's figures are current"
    return f"surveys {', '.join(map(str, counted))} counted in {time.perf_counter() - started:.1f} s"


def figures_schedule() -> None:
    """Queue :func:`compute_figures` once the current transaction commits, unless one is waiting or
    running (every answer and page view may ask; one count answers them all)."""
    enqueue_once(compute_figures, running_for_less_than=COUNTING_AT_MOST)
