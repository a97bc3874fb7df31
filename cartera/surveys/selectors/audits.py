"""Reads for service-quality audits: scores per audit and per journey step, trends per location,
channel and employee, and the weakest criteria."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.db.models.functions import TruncMonth

from cartera.core.scoping import restrict
from cartera.surveys.models import (
    STEP_ORDER,
    Audit,
    AuditAnswer,
    AuditStatus,
    AuditTemplate,
    JourneyStep,
)


def audits_for(*, user: Any, status: str = "", location: str = "") -> QuerySet[Audit]:
    """The audits ``user`` may see (an auditor: only theirs), newest date first."""
    rows = restrict(Audit.objects.all(), user, "view").select_related("template", "auditor")
    if status:
        rows = rows.filter(status=status)
    if location:
        rows = rows.filter(location__icontains=location)
    return rows


def templates_for(*, user: Any) -> QuerySet[AuditTemplate]:
    """The current version of each checklist."""
    return restrict(AuditTemplate.objects.filter(current=True), user, "view")


def _weighted(answers: list[AuditAnswer]) -> float | None:
    """Weighted mean of the marks (0-100); criteria that do not apply or have no mark do not count."""
    total = weight = 0.0
    for answer in answers:
        if answer.not_applicable or answer.value is None:
            continue
        total += answer.criterion.weight * answer.criterion.fraction(answer.value)
        weight += answer.criterion.weight
    return None if weight == 0 else 100 * total / weight


def _answers(audit: Audit) -> list[AuditAnswer]:
    return list(AuditAnswer.objects.filter(audit=audit).select_related("criterion"))


def audit_score(audit: Audit) -> float | None:
    """The audit's score, 0-100, weighted by each criterion's weight."""
    return _weighted(_answers(audit))


@dataclass
class StepView:
    """One journey step of an audit: its criteria with the answers given, its photos and its score."""

    step: str
    label: str
    rows: list[dict[str, Any]]
    photos: list[Any]
    score: float | None


def audit_steps(audit: Audit) -> list[StepView]:
    """The audit step by step, in journey order (steps without criteria left out)."""
    answers = {a.criterion_id: a for a in _answers(audit)}
    photos: dict[str, list[Any]] = defaultdict(list)
    for photo in audit.photos.defer("image"):
        photos[photo.step].append(photo)
    by_step: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for criterion in audit.template.criteria.all():
        by_step[criterion.step].append({"criterion": criterion, "answer": answers.get(criterion.pk)})
    labels = dict(JourneyStep.choices)
    views = []
    for step in STEP_ORDER:
        if step not in by_step:
            continue
        step_answers = [r["answer"] for r in by_step[step] if r["answer"] is not None]
        views.append(StepView(step, str(labels[step]), by_step[step], photos[step], _weighted(step_answers)))
    return views


DIMENSIONS = {"location": "location", "channel": "channel", "employee": "employee"}


def score_trends(
    *, user: Any, dimension: str = "location", since: dt.date | None = None
) -> list[dict[str, Any]]:
    """Mean submitted score per location / channel / employee and month, with the number of audits."""
    column = DIMENSIONS.get(dimension, "location")
    rows = audits_for(user=user, status=AuditStatus.SUBMITTED).filter(score__isnull=False)
    if since:
        rows = rows.filter(scheduled_on__gte=since)
    grouped: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for name, month, score in rows.annotate(month=TruncMonth("scheduled_on")).values_list(
        column, "month", "score"
    ):
        grouped[name or "—"][f"{month:%Y-%m}"].append(float(score))
    labels = dict(Audit._meta.get_field("channel").choices or [])
    result = []
    for name, months in sorted(grouped.items()):
        points = [
            {"month": m, "score": round(sum(v) / len(v), 1), "audits": len(v)}
            for m, v in sorted(months.items())
        ]
        every = [s for v in months.values() for s in v]
        result.append(
            {
                "name": str(labels.get(name, name)) if column == "channel" else name,
                "points": points,
                "mean": round(sum(every) / len(every), 1),
                "audits": len(every),
            }
        )
    result.sort(key=lambda r: float(r["mean"]))  # type: ignore[arg-type]
    return result


def step_means(*, user: Any, since: dt.date | None = None) -> list[dict[str, Any]]:
    """Mean score of each journey step over the submitted audits (weakest first)."""
    answers = _submitted_answers(user, since)
    by_step: dict[str, list[AuditAnswer]] = defaultdict(list)
    for answer in answers:
        by_step[answer.criterion.step].append(answer)
    labels = dict(JourneyStep.choices)
    rows = [
        {"step": step, "label": str(labels[step]), "score": _weighted(items)}
        for step, items in by_step.items()
    ]
    return sorted((r for r in rows if r["score"] is not None), key=lambda r: r["score"])


def _submitted_answers(user: Any, since: dt.date | None) -> list[AuditAnswer]:
    audits = audits_for(user=user, status=AuditStatus.SUBMITTED)
    if since:
        audits = audits.filter(scheduled_on__gte=since)
    return list(
        AuditAnswer.objects.filter(audit__in=audits.values("pk"), not_applicable=False, value__isnull=False)
        .select_related("criterion")
        .order_by()
    )


def weak_criteria(*, user: Any, since: dt.date | None = None, limit: int = 10) -> list[dict[str, Any]]:
    """Criteria ranked from the weakest (lowest mean mark, 0-100), across checklist versions."""
    grouped: dict[tuple[str, str], list[float]] = defaultdict(list)
    for answer in _submitted_answers(user, since):
        c = answer.criterion
        grouped[(c.step, c.text)].append(c.fraction(answer.value or 0))
    labels = dict(JourneyStep.choices)
    rows = [
        {"step": str(labels[step]), "text": text, "score": round(100 * sum(v) / len(v), 1), "answers": len(v)}
        for (step, text), v in grouped.items()
    ]
    rows.sort(key=lambda r: (float(r["score"]), -int(r["answers"])))  # type: ignore[call-overload,arg-type]
    return rows[:limit]
