"""Survey results counted by the worker for surveys with many answers.

A results page counts a survey's answers itself while they are few (up to
``CARTERA_SURVEY_RESULTS_INLINE_MAX`` in the last twelve months: a few tens of milliseconds). Above,
counting a million answers joined to their customers takes seconds, longer than a page may take and
repeated by every manager who opens it; there the worker counts them (``surveys.tasks.
compute_figures``, queued once), stores the tally (:class:`~cartera.surveys.models.SurveyFigures`),
and the pages show the stored figures with the time they were counted, saying when newer answers are
being counted. An answer, new invitations or a refresh of the analysis mark the figures wanted again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import partial
from typing import Any

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from cartera.core.scoping import sees_every_row
from cartera.sales.models import Order
from cartera.segments.models import Persona, Segment
from cartera.segments.selectors.personas import persona_members
from cartera.segments.selectors.segments import segment_members
from cartera.surveys.models import Invitation, Survey, SurveyFigures, SurveyResponse
from cartera.surveys.selectors.breakdowns import EMPTY_BREAKDOWNS, breakdown_tally, channel_tally
from cartera.surveys.selectors.surveys import follow_up_counts, results_since, results_tally


def many_answers(survey: Survey, now: dt.datetime | None = None) -> bool:
    """Whether the survey has more answers, or more invitations, in the results' window than a page
    view counts itself (counting at most one more than that, so the check costs the same at any size:
    a survey sent to 100,000 customers is too big to count in a page even before they answer)."""
    limit = settings.CARTERA_SURVEY_RESULTS_INLINE_MAX
    since = results_since(now=now)
    for recent in (
        SurveyResponse.objects.filter(survey=survey, answered_at__gte=since),
        Invitation.objects.filter(survey=survey, created_at__gte=since),
    ):
        if recent.values("pk")[: limit + 1].count() > limit:
            return True
    return False


def figures_current(*, user: Any, survey: Survey) -> SurveyFigures | None:
    """The figures the worker counted for ``survey``, for a page to show instead of counting; ``None``
    when the page counts itself (few answers, or a user who does not see every answer).

    Queues the worker when the figures are missing or stale; a survey with many answers and no
    figures yet gets an empty row, marked pending, so the page says they are being counted."""
    if not (sees_every_row(user, SurveyResponse) and sees_every_row(user, Invitation)):
        return None
    figures = SurveyFigures.objects.filter(survey=survey).first()
    if figures is None:
        if not many_answers(survey):
            return None
        figures, _created = SurveyFigures.objects.get_or_create(survey=survey)
    figures.survey = survey  # the caller's row: readers of ``figures.survey`` need no query of their own
    if figures.stale():
        figures_schedule()
    return figures


def figures_wanted(*, survey_ids: Iterable[int] | None = None) -> int:
    """Mark the stored figures of these surveys (of every survey when ``None``) as wanted again, and
    queue the worker when there are any. Returns how many were marked."""
    rows = SurveyFigures.objects.all()
    if survey_ids is not None:
        rows = rows.filter(survey_id__in=list(survey_ids))
    marked = rows.update(wanted_at=timezone.now())
    if marked:
        figures_schedule()
    return marked


def figures_wanted_after_refresh(**kwargs: Any) -> int:
    """Answers the ``analysis_refreshed`` hook: statuses changed, so every stored tally is stale."""
    return figures_wanted()


def figures_schedule() -> None:
    """Queue :func:`cartera.surveys.tasks.compute_figures` once (every answer and page view may ask)."""
    from cartera.surveys.tasks import figures_schedule as schedule

    schedule()


def figures_count(figures: SurveyFigures) -> SurveyFigures:
    """Count ``figures.survey``'s answers again and store the tally, timed from the start of the count
    (an answer arriving meanwhile leaves the figures wanted, so they are counted once more)."""
    started = timezone.now()
    survey = figures.survey
    answers = SurveyResponse.objects.filter(survey=survey)
    tally: dict[str, Any] = results_tally(survey=survey, since=results_since(now=started))
    tally["reasons"] = [
        [r["reason"], r["n"]]
        for r in answers.exclude(reason="").values("reason").annotate(n=Count("id")).order_by()
    ]
    tally["effect"] = follow_up_counts(answers)
    tally["channels"] = channel_tally(answers, results_since(now=started))
    tally["breakdowns"] = _breakdowns(survey, started) if survey.asks_score else EMPTY_BREAKDOWNS
    SurveyFigures.objects.filter(pk=figures.pk).update(tally=tally, computed_at=started)
    figures.refresh_from_db()
    return figures


#: The most segments and personas (each, by name) whose breakdown is stored; a page shows at most 30
#: of those its user may see.
STORED_GROUPS = 200


def _breakdowns(survey: Survey, now: dt.datetime) -> dict[str, list[Any]]:
    """The survey's breakdowns for every user: each segment and persona as its owner defined it (a rule
    "my customers" means the owner's), every order's category."""
    segments = Segment.objects.filter(owner__isnull=False).select_related("owner").order_by("name")
    personas = Persona.objects.filter(owner__isnull=False).select_related("owner").order_by("name")
    return breakdown_tally(
        survey=survey,
        since=results_since(now=now),
        answers=SurveyResponse.objects.all(),
        segments=[(s, partial(segment_members, user=s.owner, segment=s)) for s in segments[:STORED_GROUPS]],
        personas=[(p, partial(persona_members, user=p.owner, persona=p)) for p in personas[:STORED_GROUPS]],
        orders=Order.objects.all(),
    )


def figures_count_stale() -> list[int]:
    """Count again every stored tally that is stale; the ids of the surveys counted."""
    counted = []
    for figures in SurveyFigures.objects.select_related("survey").order_by("pk"):
        if figures.stale():
            figures_count(figures)
            counted.append(figures.survey_id)
    return counted
