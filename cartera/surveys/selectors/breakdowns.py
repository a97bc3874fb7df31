"""Survey results broken down by segment, persona, status and product category, and the service-audit
scores next to the NPS month by month: one report page and its CSV export.

Small groups are flagged, never hidden: a group with fewer than :data:`SMALL_GROUP` answers gets
``small = True`` (its interval is wide; the page says so).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np
from django.core.exceptions import ValidationError
from django.db.models import Avg, Count, QuerySet
from django.db.models.functions import TruncMonth
from django.utils import timezone

from cartera.core.scoping import restrict
from cartera.customers.classification import Lifecycle
from cartera.sales.models import Order
from cartera.segments.models import Persona, Segment
from cartera.segments.selectors.personas import persona_members
from cartera.segments.selectors.segments import segment_members
from cartera.surveys.models import (
    Audit,
    AuditChannel,
    AuditStatus,
    InvitationChannel,
    Survey,
    SurveyFigures,
    SurveyKind,
    SurveyResponse,
)
from cartera.surveys.selectors.surveys import (
    local_month_of,
    nps_of_counts,
    other_surveys,
    responses_for,
    score_of_counts,
)

SMALL_GROUP = 30
MAX_GROUPS = 30


def _row(kind: str, label: str, counts: Mapping[int, int]) -> dict[str, Any]:
    score = score_of_counts(kind, counts)
    return {"group": label, "n": score.n, "score": score, "small": score.n < SMALL_GROUP}


def breakdowns(
    *, user: Any, survey: Survey, months: int = 12, figures: SurveyFigures | None = None
) -> dict[str, list[dict[str, Any]]]:
    """The survey's score (NPS, or % satisfied for CSAT / CES) per status, segment, persona and product
    category the customer has bought, over the last ``months`` months.

    With ``figures`` (a survey with many answers, see :mod:`cartera.surveys.services.figures`), from what
    the worker counted (:func:`breakdown_tally`), keeping the segments and personas the user may see."""
    if figures is not None:
        stored = (figures.tally or {}).get("breakdowns") or EMPTY_BREAKDOWNS
        return _rows_of_tally(user, survey, stored)
    since = timezone.now() - dt.timedelta(days=31 * months)
    answers = responses_for(user=user)
    segments = list(restrict(Segment.objects.all(), user, "view").order_by("name")[:MAX_GROUPS])
    personas = list(restrict(Persona.objects.all(), user, "view").order_by("name")[:MAX_GROUPS])
    tally = breakdown_tally(
        survey=survey,
        since=since,
        answers=answers,
        segments=[(s, partial(segment_members, user=user, segment=s)) for s in segments],
        personas=[(p, partial(persona_members, user=user, persona=p)) for p in personas],
        orders=restrict(Order.objects.all(), user, "view"),
    )
    return _rows_of_tally(user, survey, tally, check_access=False)


EMPTY_BREAKDOWNS: dict[str, list[Any]] = {"status": [], "segment": [], "persona": [], "category": []}
SCORES = 11  # NPS 0-10; CSAT 1-5 and CES 1-7 fit in the same columns


def breakdown_tally(
    *,
    survey: Survey,
    since: dt.datetime,
    answers: QuerySet[SurveyResponse],
    segments: list[tuple[Segment, Callable[[], Any]]],
    personas: list[tuple[Persona, Callable[[], Any]]],
    orders: QuerySet[Order],
) -> dict[str, list[Any]]:
    """How many gave each score, per status, per segment and persona (``members`` gives each one's
    customers) and per product category bought, as JSON-ready lists (``[score, n]`` pairs).

    Each customer's answers are counted by the database into one row of a score table (customers ×
    11 scores); a group's counts are the sum of its members' rows: no list of answers in memory, and a
    million answers cost one GROUP BY plus one read of each group's member ids."""
    scored = answers.filter(
        survey=survey, score__isnull=False, customer__isnull=False, answered_at__gte=since
    )
    status_counts: dict[str, Counter[int]] = defaultdict(Counter)
    for lifecycle, score, n in (
        scored.values("customer__metrics__lifecycle", "score")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("customer__metrics__lifecycle", "score", "n")
    ):
        status_counts[lifecycle or ""][score or 0] += n
    rows = list(
        scored.values("customer_id", "score")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("customer_id", "score", "n")
    )
    table = np.zeros((0, SCORES), dtype=np.int64)
    ids = np.array(sorted({r[0] for r in rows}), dtype=np.int64)
    if rows:
        table = np.zeros((len(ids), SCORES), dtype=np.int64)
        data = np.array(rows, dtype=np.int64)
        np.add.at(table, (np.searchsorted(ids, data[:, 0]), np.clip(data[:, 1], 0, SCORES - 1)), data[:, 2])

    def counts_of(members: np.ndarray) -> list[list[int]]:
        members = np.unique(members)
        at = np.searchsorted(ids, members)
        inside = at[(at < len(ids)) & (ids[np.minimum(at, len(ids) - 1)] == members)] if len(ids) else at[:0]
        total = table[inside].sum(axis=0) if len(inside) else np.zeros(SCORES, dtype=np.int64)
        return [[score, int(n)] for score, n in enumerate(total) if n]

    def group_rows(groups: list[tuple[Any, Callable[[], Any]]]) -> list[list[Any]]:
        out = []
        for group, members in groups:
            try:
                answered = members().filter(pk__in=scored.values("customer_id"))
                member_ids = np.fromiter(answered.values_list("pk", flat=True).iterator(), dtype=np.int64)
            except ValidationError:
                continue  # a broken stored rule: its own page says why
            out.append([group.pk, group.name, counts_of(member_ids)])
        return out

    by_category: dict[str, list[int]] = defaultdict(list)
    bought = (
        orders.filter(customer_id__in=scored.values("customer_id"))
        .exclude(category="")
        .values_list("category", "customer_id")
        .distinct()
    )
    for category, customer_id in bought.iterator():
        by_category[category].append(customer_id)
    return {
        "status": [
            [lifecycle, [[s, n] for s, n in sorted(c.items())]] for lifecycle, c in status_counts.items()
        ],
        "segment": group_rows(segments),
        "persona": group_rows(personas),
        "category": [
            [category, counts_of(np.array(pks, dtype=np.int64))] for category, pks in by_category.items()
        ],
    }


def _rows_of_tally(
    user: Any, survey: Survey, tally: Mapping[str, list[Any]], check_access: bool = True
) -> dict[str, list[dict[str, Any]]]:
    """The page's rows from a :func:`breakdown_tally`: statuses in words, the segments and personas the
    user may see (under their current names; at most :data:`MAX_GROUPS` of each), the biggest groups
    first."""
    statuses = dict(Lifecycle.choices)

    def counts(pairs: list[list[int]]) -> Counter[int]:
        return Counter({int(score): int(n) for score, n in pairs})

    def groups(kind: str, model: Any) -> list[dict[str, Any]]:
        entries = tally.get(kind, [])
        names = {pk: name for pk, name, _pairs in entries}
        if check_access:
            visible = restrict(model.objects.all(), user, "view").filter(pk__in=list(names))
            names = dict(visible.order_by("name").values_list("pk", "name")[:MAX_GROUPS])
        rows = [_row(survey.kind, names[pk], counts(pairs)) for pk, _name, pairs in entries if pk in names]
        return sorted(rows, key=lambda r: (-r["n"], r["group"]))

    by_status: dict[str, Counter[int]] = defaultdict(Counter)
    for lifecycle, pairs in tally.get("status", []):
        by_status[str(statuses.get(lifecycle, "—"))].update(counts(pairs))
    return {
        "status": sorted((_row(survey.kind, k, v) for k, v in by_status.items()), key=lambda r: r["group"]),
        "segment": groups("segment", Segment),
        "persona": groups("persona", Persona),
        "category": sorted(
            (_row(survey.kind, k, counts(v)) for k, v in tally.get("category", [])),
            key=lambda r: (-r["n"], r["group"]),
        )[:MAX_GROUPS],
    }


def nps_and_audits_by_month(
    *,
    user: Any,
    months: int = 12,
    stored: Sequence[SurveyFigures] = (),
) -> list[dict[str, Any]]:
    """Month by month: the NPS of every NPS survey's answers, and the mean score of the service audits
    submitted that month (overall and per location), side by side. The answers of surveys in ``stored``
    are taken from what the worker counted (:mod:`cartera.surveys.services.figures`)."""
    now = timezone.now()
    since = now - dt.timedelta(days=31 * months)
    scores: dict[str, Counter[int]] = defaultdict(Counter)
    for figures in stored:
        if figures.survey.kind == SurveyKind.NPS:
            for month, score, _owner, _status, n in (figures.tally or {}).get("scores", []):
                scores[month][score] += n
    for month, score, n in (
        other_surveys(responses_for(user=user), stored)
        .filter(survey__kind=SurveyKind.NPS, score__isnull=False, answered_at__gte=since)
        .annotate(month=local_month_of("answered_at", since, now))
        .values("month", "score")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("month", "score", "n")
    ):
        scores[month][score or 0] += n
    audits: dict[str, dict[str, Any]] = defaultdict(lambda: {"mean": None, "n": 0, "locations": []})
    audited = restrict(Audit.objects.all(), user, "view").filter(
        status=AuditStatus.SUBMITTED, scheduled_on__gte=since.date(), score__isnull=False
    )
    for row in (
        audited.annotate(month=TruncMonth("scheduled_on"))
        .values("month")
        .annotate(mean=Avg("score"), n=Count("id"))
    ):
        audits[f"{row['month']:%Y-%m}"].update(mean=round(float(row["mean"]), 1), n=row["n"])
    for row in (
        audited.annotate(month=TruncMonth("scheduled_on"))
        .values("month", "location")
        .annotate(mean=Avg("score"), n=Count("id"))
        .order_by("location")
    ):
        audits[f"{row['month']:%Y-%m}"]["locations"].append(
            {"location": row["location"], "mean": round(float(row["mean"]), 1), "n": row["n"]}
        )
    return [
        {"month": month, "nps": nps_of_counts(scores.get(month, Counter())), "audits": audits[month]}
        for month in sorted(set(scores) | set(audits))
    ]


# Where an answer was given, as the channel a service audit checks: a counter link or its QR code is
# answered in the shop, a personal link or QR code mostly on the website or in a chat.
AUDIT_CHANNEL_OF_INVITATION: dict[str, str] = {
    InvitationChannel.COUNTER: AuditChannel.SHOP,
    InvitationChannel.PHONE: AuditChannel.PHONE,
    InvitationChannel.EMAIL: AuditChannel.EMAIL,
    InvitationChannel.LINK: AuditChannel.WEB,
}


def channel_tally(answers: QuerySet[SurveyResponse], since: dt.datetime) -> list[list[Any]]:
    """How many NPS answers since ``since`` gave each score through each invitation channel:
    ``[channel, score, n]`` rows (what the worker stores for a survey with many answers)."""
    return [
        list(row)
        for row in answers.filter(survey__kind=SurveyKind.NPS, score__isnull=False, answered_at__gte=since)
        .values("invitation__channel", "score")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("invitation__channel", "score", "n")
    ]


def nps_and_audits_by_channel(
    *,
    user: Any,
    months: int = 12,
    stored: Sequence[SurveyFigures] = (),
) -> list[dict[str, Any]]:
    """For each channel of the service (shop, phone, e-mail, website): the NPS of the answers given
    through it (:data:`AUDIT_CHANNEL_OF_INVITATION`) next to the mean score of the audits of that channel
    submitted in the last ``months`` months. The answers of surveys in ``stored`` are taken from what
    the worker counted."""
    since = timezone.now() - dt.timedelta(days=31 * months)
    scores: dict[str, Counter[int]] = defaultdict(Counter)
    rows = channel_tally(other_surveys(responses_for(user=user), stored), since)
    for figures in stored:
        rows += (figures.tally or {}).get("channels", [])
    for invitation_channel, score, n in rows:
        channel = AUDIT_CHANNEL_OF_INVITATION.get(invitation_channel or "")
        if channel is not None:
            scores[channel][score or 0] += n
    audits = {
        row["channel"]: row
        for row in restrict(Audit.objects.all(), user, "view")
        .filter(status=AuditStatus.SUBMITTED, scheduled_on__gte=since.date(), score__isnull=False)
        .values("channel")
        .annotate(mean=Avg("score"), n=Count("id"))
        .order_by()
    }
    return [
        {
            "channel": code,
            "label": label,
            "nps": nps_of_counts(scores.get(code, Counter())),
            "audit_mean": round(float(audits[code]["mean"]), 1) if code in audits else None,
            "audits": audits[code]["n"] if code in audits else 0,
        }
        for code, label in AuditChannel.choices
    ]
