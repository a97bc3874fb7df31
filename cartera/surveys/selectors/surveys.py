"""Reads for surveys: NPS / CSAT / CES over time with confidence intervals and response rates, broken
down by owner and status; verbatims; lapse reasons ranked; whether a follow-up brought unhappy
customers back; each customer's latest answer (for the customer page, the dashboard and the API)."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Case, CharField, Count, Exists, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import TruncDate
from django.utils import timezone

from cartera.accounts.models import User
from cartera.core.scoping import restrict
from cartera.customers.classification import Lifecycle
from cartera.sales.models import Order
from cartera.surveys.models import (
    Invitation,
    LapseReason,
    Question,
    QuestionAnswer,
    QuestionKind,
    Survey,
    SurveyFigures,
    SurveyKind,
    SurveyResponse,
)

Z95 = 1.959964
UNHAPPY_RECENT_DAYS = 90


def surveys_for(*, user: Any) -> QuerySet[Survey]:
    return restrict(Survey.objects.all(), user, "view").select_related("created_by")


def responses_for(*, user: Any) -> QuerySet[SurveyResponse]:
    return restrict(SurveyResponse.objects.all(), user, "view").select_related("survey", "customer")


@dataclass
class Score:
    """One survey score over a group of answers, with its 95 % confidence interval."""

    n: int
    value: float | None
    low: float | None
    high: float | None


def nps(scores: Iterable[int]) -> Score:
    """Net Promoter Score (−100..100): % promoters (9-10) − % detractors (0-6); the interval is the
    normal approximation of the difference of two proportions of one multinomial sample."""
    return nps_of_counts(Counter(scores))


def nps_of_counts(counts: Mapping[int, int]) -> Score:
    """:func:`nps` of answers given as how many gave each score."""
    n = sum(counts.values())
    if n == 0:
        return Score(0, None, None, None)
    promoters = sum(c for s, c in counts.items() if s >= 9) / n
    detractors = sum(c for s, c in counts.items() if s <= 6) / n
    value = promoters - detractors
    variance = (promoters + detractors - value**2) / n
    half = Z95 * math.sqrt(max(variance, 0.0))
    return Score(
        n, round(100 * value, 1), round(100 * max(-1, value - half), 1), round(100 * min(1, value + half), 1)
    )


def share_satisfied(scores: Iterable[int], threshold: int) -> Score:
    """% of answers at or above ``threshold`` (CSAT 4-5, CES 5-7), with a Wilson score interval."""
    return share_satisfied_of_counts(Counter(scores), threshold)


def share_satisfied_of_counts(counts: Mapping[int, int], threshold: int) -> Score:
    """:func:`share_satisfied` of answers given as how many gave each score."""
    n = sum(counts.values())
    if n == 0:
        return Score(0, None, None, None)
    p = sum(c for s, c in counts.items() if s >= threshold) / n
    denominator = 1 + Z95**2 / n
    centre = (p + Z95**2 / (2 * n)) / denominator
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / denominator
    return Score(n, round(100 * p, 1), round(100 * (centre - half), 1), round(100 * (centre + half), 1))


def score_of(kind: str, scores: Iterable[int]) -> Score:
    return score_of_counts(kind, Counter(scores))


def score_of_counts(kind: str, counts: Mapping[int, int]) -> Score:
    if kind == SurveyKind.NPS:
        return nps_of_counts(counts)
    return share_satisfied_of_counts(counts, 4 if kind == SurveyKind.CSAT else 5)


EMPTY_TALLY: dict[str, list[list[Any]]] = {"scores": [], "invited": [], "answered": []}


def results_since(months: int = 12, now: dt.datetime | None = None) -> dt.datetime:
    """The start of the window the results cover: the last ``months`` months."""
    return (now or timezone.now()) - dt.timedelta(days=31 * months)


def local_month_of(field: str, since: dt.datetime, until: dt.datetime) -> Case:
    """The month (``"YYYY-MM"``, in the site's time zone) of the datetime column ``field``, as a SQL
    CASE over the month starts from ``since``'s month to ``until``'s: what ``TruncMonth`` gives,
    computed by the database itself (on SQLite ``TruncMonth`` calls Python for every row, 40 s at a
    million answers). Rows before ``since``'s month are labelled ``"before"``."""
    zone = timezone.get_current_timezone()
    first = timezone.localtime(since, zone).date().replace(day=1)
    last = timezone.localtime(until, zone).date().replace(day=1)
    months = [first]
    while months[-1] <= last:
        day = months[-1]
        months.append(
            day.replace(year=day.year + 1, month=1) if day.month == 12 else day.replace(month=day.month + 1)
        )
    starts = [timezone.make_aware(dt.datetime.combine(day, dt.time()), zone) for day in months]
    whens = [When(**{f"{field}__lt": starts[0]}, then=Value("before"))]
    whens += [
        When(**{f"{field}__lt": starts[i + 1]}, then=Value(f"{day:%Y-%m}"))
        for i, day in enumerate(months[:-1])
    ]
    return Case(*whens, default=Value(f"{months[-1]:%Y-%m}"), output_field=CharField())


def results_tally(
    *, survey: Survey, since: dt.datetime, answers: QuerySet[SurveyResponse] | None = None,
    invitations: QuerySet[Invitation] | None = None,
) -> dict[str, list[list[Any]]]:  # fmt: skip
    """What the results pages need of a survey's answers since ``since``, counted by the database:
    how many gave each score per month, owner and status (``scores``: ``[month, score, owner id,
    status, n]``), how many were invited per month (``invited``) and how many of those answered per
    month of their invitation (``answered``). A few thousand rows at most, whatever the number of
    answers; stored as they are by :func:`cartera.surveys.services.figures.figures_refresh`.

    ``answers`` and ``invitations`` narrow the rows to those a user may see (every row by default)."""
    answers = (SurveyResponse.objects.all() if answers is None else answers).filter(
        survey=survey, answered_at__gte=since
    )
    now = timezone.now()
    invitations = Invitation.objects.all() if invitations is None else invitations
    scores = [
        [r["month"], r["score"], r["customer__owner_id"], r["customer__metrics__lifecycle"] or "", r["n"]]
        for r in answers.filter(score__isnull=False)
        .annotate(month=local_month_of("answered_at", since, now))
        .values("month", "score", "customer__owner_id", "customer__metrics__lifecycle")
        .annotate(n=Count("id"))
        .order_by()
    ]  # fmt: skip
    invited = [
        [r["month"], r["n"]]
        for r in invitations.filter(survey=survey, open=False, created_at__gte=since)
        .annotate(month=local_month_of("created_at", since, now))
        .values("month")
        .annotate(n=Count("id"))
        .order_by()
    ]
    answered = [
        [r["month"], r["n"]]
        for r in answers.filter(invitation__open=False)
        .annotate(month=local_month_of("invitation__created_at", since, now))
        .values("month")
        .annotate(n=Count("id"))
        .order_by()
    ]
    return {"scores": scores, "invited": invited, "answered": answered}


def results(
    *, user: Any, survey: Survey, months: int = 12, figures: SurveyFigures | None = None
) -> dict[str, Any]:
    """The survey's score by month (with interval and response rate), by owner and by status.

    With ``figures`` (what the worker counted for a survey with many answers,
    :func:`cartera.surveys.services.figures.figures_current`), from them: ``as_of`` says when they were
    counted (``None``: not yet) and ``pending`` whether a newer count is on its way."""
    if figures is not None:
        counted = results_of_tally(survey, figures.tally or EMPTY_TALLY)
        counted.update(as_of=figures.computed_at, pending=figures.stale())
        return counted
    tally = results_tally(
        survey=survey,
        since=results_since(months),
        answers=restrict(SurveyResponse.objects.all(), user, "view"),
        invitations=restrict(Invitation.objects.all(), user, "view"),
    )
    return {**results_of_tally(survey, tally), "as_of": None, "pending": False}


def results_of_tally(survey: Survey, tally: Mapping[str, list[list[Any]]]) -> dict[str, Any]:
    """The results of :func:`results` from a :func:`results_tally`: the same figures, whether the tally
    was counted now or stored by the worker."""
    by_month: dict[str, Counter[int]] = defaultdict(Counter)
    by_owner_id: dict[int | None, Counter[int]] = defaultdict(Counter)
    by_status: dict[str, Counter[int]] = defaultdict(Counter)
    statuses = dict(Lifecycle.choices)
    for month, score, owner_id, lifecycle, n in tally["scores"]:
        by_month[month][score] += n
        by_owner_id[owner_id][score] += n
        by_status[str(statuses.get(lifecycle, "—"))][score] += n
    names = {
        pk: f"{first} {last}".strip() or username
        for pk, username, first, last in User.objects.filter(
            pk__in=[k for k in by_owner_id if k]
        ).values_list("pk", "username", "first_name", "last_name")
    }
    by_owner: dict[str, Counter[int]] = defaultdict(Counter)
    for owner_id, counts in by_owner_id.items():
        by_owner[names.get(owner_id, "—") if owner_id else "—"].update(counts)
    invited: Counter[str] = Counter(dict(tally["invited"]))
    answered: Counter[str] = Counter(dict(tally["answered"]))
    timeline = []
    for month in sorted(set(by_month) | set(invited)):
        rate = round(100 * answered[month] / invited[month], 1) if invited[month] else None
        timeline.append(
            {"month": month, "score": score_of_counts(survey.kind, by_month.get(month, Counter())),
             "invited": invited[month], "rate": rate}
        )  # fmt: skip
    every: Counter[int] = Counter()
    for counts in by_month.values():
        every.update(counts)
    return {
        "overall": score_of_counts(survey.kind, every),
        "months": timeline,
        "by_owner": sorted(
            ((k, score_of_counts(survey.kind, v)) for k, v in by_owner.items()), key=lambda r: r[0]
        ),
        "by_status": sorted(
            ((k, score_of_counts(survey.kind, v)) for k, v in by_status.items()), key=lambda r: r[0]
        ),
        "invited": sum(invited.values()),
        "answered": sum(answered.values()),
    }


def lapse_reasons(
    *, user: Any, since: dt.datetime | None = None, stored: Iterable[SurveyFigures] = ()
) -> list[dict[str, Any]]:
    """Why customers stopped buying, most given reason first. The answers of surveys in ``stored`` are
    taken from what the worker counted (see :func:`results`); the others are counted now."""
    rows = responses_for(user=user).exclude(reason="")
    if since:
        rows = rows.filter(answered_at__gte=since)
    counts: Counter[str] = Counter()
    stored = [] if since else list(stored)
    for figures in stored:
        counts.update(dict(figures.tally.get("reasons", [])))
    rows = other_surveys(rows, stored)
    counts.update({r["reason"]: r["n"] for r in rows.values("reason").annotate(n=Count("id")).order_by()})
    total = sum(counts.values())
    labels = dict(LapseReason.choices)
    return [
        {
            "reason": reason,
            "label": str(labels.get(reason, reason)),
            "count": n,
            "share": round(100 * n / total, 1),
        }
        for reason, n in counts.most_common()
    ]


def other_surveys(
    answers: QuerySet[SurveyResponse], stored: Sequence[SurveyFigures]
) -> QuerySet[SurveyResponse]:
    """``answers`` but those of the surveys in ``stored``, named survey by survey (through the survey's
    index) rather than by exclusion (which reads every answer of the big surveys to drop them)."""
    if not stored:
        return answers
    others = Survey.objects.exclude(pk__in=[f.survey_id for f in stored]).values_list("pk", flat=True)
    return answers.filter(survey_id__in=list(others))


def follow_up_counts(answers: QuerySet[SurveyResponse]) -> dict[str, list[int]]:
    """Of the unhappy ``answers`` with a customer, how many there are and how many bought again after
    answering: ``{"followed": [n, came back], "not_followed": [n, came back]}`` (followed: a follow-up
    task done; not followed: no task, or a task never ticked off). Counted by the database."""
    unhappy = answers.filter(customer__isnull=False).filter(
        Q(survey__kind=SurveyKind.NPS, score__lte=6)
        | Q(survey__kind=SurveyKind.CSAT, score__lte=2)
        | Q(survey__kind=SurveyKind.CES, score__lte=3)
    )
    # Orders carry a day, not a time: an order on the day of the answer counts as coming back.
    bought_after = Order.objects.filter(
        customer=OuterRef("customer"), ordered_on__gte=OuterRef("answered_on")
    )
    groups = {"followed": [0, 0], "not_followed": [0, 0]}
    for row in (
        unhappy.annotate(answered_on=TruncDate("answered_at"), came_back=Exists(bought_after))
        .values("follow_up__done", "came_back")
        .annotate(n=Count("id"))
        .order_by()
    ):
        group = groups["followed" if row["follow_up__done"] else "not_followed"]
        group[0] += row["n"]
        group[1] += row["n"] if row["came_back"] else 0
    return groups


def follow_up_effect(*, user: Any, stored: Iterable[SurveyFigures] = ()) -> dict[str, Any]:
    """Of the unhappy customers, how many bought again after answering: with a follow-up task done,
    and without one (no task, or a task never ticked off). The answers of surveys in ``stored`` are
    taken from what the worker counted (see :func:`results`); the others are counted now."""
    stored = list(stored)
    groups = follow_up_counts(other_surveys(responses_for(user=user), stored))
    for figures in stored:
        for key, (n, back) in figures.tally.get("effect", {}).items():
            groups[key][0] += n
            groups[key][1] += back
    return {
        key: {"customers": n, "came_back": back, "rate": round(100 * back / n, 1) if n else None}
        for key, (n, back) in groups.items()
    }


def verbatims(
    *, user: Any, q: str = "", survey_id: int | None = None, mood: str = ""
) -> QuerySet[SurveyResponse]:
    """Answers with words, newest first; search in the words, filter by survey and by mood."""
    rows = responses_for(user=user).exclude(comment="")
    if q:
        for word in q.split()[:5]:
            rows = rows.filter(comment__icontains=word)
    if survey_id:
        rows = rows.filter(survey_id=survey_id)
    if mood == "unhappy":
        rows = rows.filter(
            Q(survey__kind=SurveyKind.NPS, score__lte=6)
            | Q(survey__kind=SurveyKind.CSAT, score__lte=2)
            | Q(survey__kind=SurveyKind.CES, score__lte=3)
        )
    elif mood == "promoter":
        rows = rows.filter(survey__kind=SurveyKind.NPS, score__gte=9)
    elif mood == "lapsed":
        rows = rows.exclude(reason="")
    return rows


def latest_answers(*, user: Any, customer_ids: list[int]) -> dict[int, SurveyResponse]:
    """Each customer's most recent survey answer (one query)."""
    latest: dict[int, SurveyResponse] = {}
    for row in (
        responses_for(user=user).filter(customer_id__in=customer_ids).order_by("customer_id", "-answered_at")
    ):
        latest.setdefault(row.customer_id, row)  # type: ignore[arg-type]
    return latest


def unhappy_customer_ids(*, user: Any, days: int = UNHAPPY_RECENT_DAYS) -> list[int]:
    """Customers whose latest answer in the last ``days`` days was unhappy, most recent first."""
    since = timezone.now() - dt.timedelta(days=days)
    rows = (
        responses_for(user=user)
        .filter(customer__isnull=False, answered_at__gte=since)
        .order_by("-answered_at")
    )
    seen: dict[int, bool] = {}
    for row in rows[:2000]:
        seen.setdefault(row.customer_id, row.unhappy)  # type: ignore[arg-type]
    return [pk for pk, unhappy in seen.items() if unhappy]


def customer_responses(*, user: Any, customer: Any, limit: int = 50) -> list[SurveyResponse]:
    """A customer's answers for their timeline, newest first."""
    return list(responses_for(user=user).filter(customer=customer).select_related("follow_up")[:limit])


def referral_candidates(*, user: Any, limit: int = 100) -> list[SurveyResponse]:
    """Promoters (NPS 9-10) of the last year: customers to ask for a referral."""
    since = timezone.now() - dt.timedelta(days=365)
    return list(
        responses_for(user=user)
        .filter(survey__kind=SurveyKind.NPS, score__gte=9, customer__isnull=False, answered_at__gte=since)
        .select_related("customer__owner")[:limit]
    )


def customer_standing(*, user: Any, customer: Any) -> dict[str, Any]:
    """A customer's survey standing: latest score and date, latest lapse reason, and its flags."""
    answers = responses_for(user=user).filter(customer=customer)
    latest = answers.filter(score__isnull=False).first()
    lapse = answers.exclude(reason="").first()
    last_any = answers.first()
    last_nps = answers.filter(survey__kind=SurveyKind.NPS, score__isnull=False).first()
    return {
        "customer_id": customer.pk,
        "last_score": latest.score if latest else None,
        "last_kind": latest.survey.kind if latest else None,
        "last_answer_at": last_any.answered_at if last_any else None,
        "lapse_reason": lapse.reason if lapse else None,
        "unhappy": bool(latest and latest.unhappy),
        "referral_candidate": bool(latest and latest.promoter),
        "nps_category": nps_category(last_nps.score) if last_nps and last_nps.score is not None else None,
    }


def nps_category(score: int) -> str:
    """detractor (0-6), passive (7-8) or promoter (9-10)."""
    return "detractor" if score <= 6 else "passive" if score <= 8 else "promoter"


def unhappy_reason(response: SurveyResponse) -> str:
    """The sentence added to an unhappy customer's status reason, e.g. "Unhappy: answered 3 (NPS) on 2 May"."""
    from django.utils.formats import date_format
    from django.utils.translation import gettext as _

    return _("Unhappy: answered %(score)s to the survey “%(survey)s” on %(date)s.") % {
        "score": response.score,
        "survey": response.survey.name,
        "date": date_format(timezone.localtime(response.answered_at).date(), "SHORT_DATE_FORMAT"),
    }


def questionnaire_answered(*, survey: Survey) -> bool:
    """Whether the current version of a custom questionnaire has answers (a change makes a new one)."""
    return SurveyResponse.objects.filter(survey=survey, questions_version=survey.questions_version).exists()


def questionnaire_versions(*, survey: Survey) -> list[int]:
    """The versions of a custom questionnaire that have questions, newest first."""
    return sorted(
        set(Question.objects.filter(survey=survey).values_list("version", flat=True))
        | {survey.questions_version},
        reverse=True,
    )


def question_results(
    *, user: Any, survey: Survey, version: int | None = None, language: str = "es", texts: int = 5
) -> dict[str, Any]:
    """Per question of one version of a custom questionnaire: how many answered, and the counts of each
    choice (single / multiple choice), of each value with the mean (scale), or the latest words (text)."""
    version = version or survey.questions_version
    questions = list(Question.objects.filter(survey=survey, version=version))
    answered = responses_for(user=user).filter(survey=survey, questions_version=version)
    answers = QuestionAnswer.objects.filter(response__in=answered.values("pk"), question__in=questions)
    per_question: dict[int, list[tuple[list[int], int | None, str]]] = defaultdict(list)
    for question_id, choices, value, text in answers.values_list("question_id", "choices", "value", "text"):
        per_question[question_id].append((choices or [], value, text))
    blocks = []
    for question in questions:
        rows = per_question.get(question.pk, [])
        n = len(rows)
        block: dict[str, Any] = {"question": question, "text": question.text(language), "n": n}
        if question.has_choices:
            counts = Counter(i for choices, _value, _text in rows for i in choices)
            block["rows"] = [
                {"label": label, "count": counts[i], "share": round(100 * counts[i] / n, 1) if n else 0.0}
                for i, label in enumerate(question.choices(language))
            ]
        elif question.kind == QuestionKind.SCALE:
            values = Counter(value for _choices, value, _text in rows if value is not None)
            total = sum(v * c for v, c in values.items())
            block["rows"] = [
                {"label": str(v), "count": values[v], "share": round(100 * values[v] / n, 1) if n else 0.0}
                for v in range(question.scale_min, question.scale_max + 1)
            ]
            block["mean"] = round(total / n, 2) if n else None
            block["labels"] = question.labels(language)
        else:
            block["texts"] = list(
                answers.filter(question=question)
                .exclude(text="")
                .order_by("-response__answered_at", "-pk")
                .values_list("text", flat=True)[:texts]
            )
        blocks.append(block)
    return {
        "version": version,
        "versions": questionnaire_versions(survey=survey),
        "responses": answered.count(),
        "questions": blocks,
    }
