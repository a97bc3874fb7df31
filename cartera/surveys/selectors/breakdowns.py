"""Survey results broken down by segment, persona, status and product category, and the service-audit
scores next to the NPS month by month: one report page and its CSV export.

Small groups are flagged, never hidden: a group with fewer than :data:`SMALL_GROUP` answers gets
``small = True`` (its interval is wide; the page says so).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Avg, Count
from django.db.models.functions import TruncMonth
from django.utils import timezone

from cartera.core.scoping import restrict
from cartera.customers.classification import Lifecycle
from cartera.sales.models import Order
from cartera.segments.models import Persona, Segment
from cartera.segments.selectors.personas import persona_members
from cartera.segments.selectors.segments import segment_members
from cartera.surveys.models import Audit, AuditChannel, AuditStatus, InvitationChannel, Survey, SurveyKind
from cartera.surveys.selectors.surveys import local_month_of, nps_of_counts, responses_for, score_of

SMALL_GROUP = 30
MAX_GROUPS = 30


def _row(kind: str, label: str, scores: list[int]) -> dict[str, Any]:
    score = score_of(kind, scores)
    return {"group": label, "n": score.n, "score": score, "small": score.n < SMALL_GROUP}


def breakdowns(*, user: Any, survey: Survey, months: int = 12) -> dict[str, list[dict[str, Any]]]:
    """The survey's score (NPS, or % satisfied for CSAT / CES) per status, segment, persona and product
    category the customer has bought, over the last ``months`` months."""
    since = timezone.now() - dt.timedelta(days=31 * months)
    answers = list(
        responses_for(user=user)
        .filter(survey=survey, score__isnull=False, customer__isnull=False, answered_at__gte=since)
        .values_list("customer_id", "score", "customer__metrics__lifecycle")
    )
    by_customer: dict[int, list[int]] = defaultdict(list)
    by_status: dict[str, list[int]] = defaultdict(list)
    statuses = dict(Lifecycle.choices)
    for customer_id, score, lifecycle in answers:
        if score is None or customer_id is None:
            continue
        by_customer[customer_id].append(score)
        by_status[str(statuses.get(lifecycle, "—"))].append(score)
    ids = list(by_customer)

    def members_rows(groups: list[tuple[str, Callable[[], Any]]]) -> list[dict[str, Any]]:
        rows = []
        for label, members in groups:
            try:
                inside = set(members().filter(pk__in=ids).values_list("pk", flat=True))
            except ValidationError:
                continue  # a broken stored rule: its own page says why
            rows.append(_row(survey.kind, label, [s for pk in inside for s in by_customer[pk]]))
        return sorted(rows, key=lambda r: (-r["n"], r["group"]))

    segments = restrict(Segment.objects.all(), user, "view").order_by("name")[:MAX_GROUPS]
    personas = restrict(Persona.objects.all(), user, "view").order_by("name")[:MAX_GROUPS]
    by_category: dict[str, list[int]] = defaultdict(list)
    bought = (
        restrict(Order.objects.all(), user, "view")
        .filter(customer_id__in=ids)
        .exclude(category="")
        .values_list("customer_id", "category")
        .distinct()
    )
    for customer_id, category in bought:
        by_category[category].extend(by_customer[customer_id])
    return {
        "status": sorted((_row(survey.kind, k, v) for k, v in by_status.items()), key=lambda r: r["group"]),
        "segment": members_rows([(s.name, partial(segment_members, user=user, segment=s)) for s in segments]),
        "persona": members_rows([(p.name, partial(persona_members, user=user, persona=p)) for p in personas]),
        "category": sorted(
            (_row(survey.kind, k, v) for k, v in by_category.items()), key=lambda r: (-r["n"], r["group"])
        )[:MAX_GROUPS],
    }


def nps_and_audits_by_month(*, user: Any, months: int = 12) -> list[dict[str, Any]]:
    """Month by month: the NPS of every NPS survey's answers, and the mean score of the service audits
    submitted that month (overall and per location), side by side."""
    now = timezone.now()
    since = now - dt.timedelta(days=31 * months)
    scores: dict[str, Counter[int]] = defaultdict(Counter)
    for month, score, n in (
        responses_for(user=user)
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


def nps_and_audits_by_channel(*, user: Any, months: int = 12) -> list[dict[str, Any]]:
    """For each channel of the service (shop, phone, e-mail, website): the NPS of the answers given
    through it (:data:`AUDIT_CHANNEL_OF_INVITATION`) next to the mean score of the audits of that channel
    submitted in the last ``months`` months."""
    since = timezone.now() - dt.timedelta(days=31 * months)
    scores: dict[str, Counter[int]] = defaultdict(Counter)
    for invitation_channel, score, n in (
        responses_for(user=user)
        .filter(survey__kind=SurveyKind.NPS, score__isnull=False, answered_at__gte=since)
        .values("invitation__channel", "score")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("invitation__channel", "score", "n")
    ):
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
