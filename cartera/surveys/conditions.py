"""Survey answers as segment conditions: the latest NPS and CSAT score, the date of the latest answer,
the NPS category (detractor / passive / promoter) and the latest lapse reason.

Segments sit below surveys, so they never import this: :func:`register` adds one field per condition
through :func:`cartera.segments.rules.register_field`, from ``SurveysConfig.ready()``. The segment
rules check each value's type and range (an NPS of 11 is refused with a message) before ``q()`` runs.

Each condition reads the customer's *latest* answer of its kind (a correlated subquery on the
``response_customer_when`` index); a customer who never answered matches only "is empty".
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db.models import OuterRef, Q, Subquery
from django.db.models.functions import TruncDate
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    In,
    IsNull,
    LessThan,
    LessThanOrEqual,
)
from django.utils.translation import gettext_lazy as _

from cartera.segments.rules import Field, register_field
from cartera.surveys.models import LapseReason, SurveyKind, SurveyResponse

SURVEYS = _("Surveys")
NPS_CATEGORIES = [
    ("detractor", _("Detractor (0-6)")),
    ("passive", _("Passive (7-8)")),
    ("promoter", _("Promoter (9-10)")),
]
_NPS_RANGES = {"detractor": (0, 6), "passive": (7, 8), "promoter": (9, 10)}
_COMPARE = {
    "eq": Exact,
    "gt": GreaterThan,
    "gte": GreaterThanOrEqual,
    "lt": LessThan,
    "lte": LessThanOrEqual,
}


def _latest(value: Any, **lookups: Any) -> Subquery:
    """The customer's latest answer's ``value`` (a field name or an expression) among ``lookups``."""
    answers = SurveyResponse.objects.filter(customer=OuterRef("pk"), **lookups).order_by(
        "-answered_at", "-id"
    )
    if isinstance(value, str):
        return Subquery(answers.values(value)[:1])
    return Subquery(answers.annotate(latest_value=value).values("latest_value")[:1])


def _presence(expr: Subquery, op: str) -> Q | None:
    if op in ("empty", "not_empty"):
        return Q(IsNull(expr, op == "empty"))
    return None


def number_q(expr: Subquery, op: str, value: Any) -> Q:
    """A cleaned number condition (``=, ≠, >, ≥, <, ≤, between, empty``) on ``expr``."""
    present = _presence(expr, op)
    if present is not None:
        return present
    if op == "between":
        return Q(GreaterThanOrEqual(expr, Decimal(value[0]))) & Q(LessThanOrEqual(expr, Decimal(value[1])))
    if op == "neq":
        return ~Q(Exact(expr, Decimal(value)))
    return Q(_COMPARE[op](expr, Decimal(value)))


def date_q(expr: Subquery, op: str, value: Any, today: dt.date) -> Q:
    """A cleaned date condition (on, before, after, between, last N days, more than N days ago)."""
    present = _presence(expr, op)
    if present is not None:
        return present
    if op == "last_days":
        return Q(GreaterThanOrEqual(expr, today - dt.timedelta(days=int(value))))
    if op == "older_days":
        return Q(LessThan(expr, today - dt.timedelta(days=int(value))))
    if op == "between":
        low, high = dt.date.fromisoformat(value[0]), dt.date.fromisoformat(value[1])
        return Q(GreaterThanOrEqual(expr, low)) & Q(LessThanOrEqual(expr, high))
    lookup = {"eq": Exact, "before": LessThan, "after": GreaterThan}[op]
    return Q(lookup(expr, dt.date.fromisoformat(value)))


def choice_q(expr: Subquery, op: str, value: Any) -> Q:
    present = _presence(expr, op)
    if present is not None:
        return present
    q = Q(In(expr, list(value)))
    return q if op == "in" else ~q


def _score(kind: str) -> Subquery:
    return _latest("score", survey__kind=kind, score__isnull=False)


def last_nps_q(op: str, value: Any, today: dt.date) -> Q:
    return number_q(_score(SurveyKind.NPS), op, value)


def last_csat_q(op: str, value: Any, today: dt.date) -> Q:
    return number_q(_score(SurveyKind.CSAT), op, value)


def last_answer_q(op: str, value: Any, today: dt.date) -> Q:
    return date_q(_latest(TruncDate("answered_at")), op, value, today)


def nps_category_q(op: str, value: Any, today: dt.date) -> Q:
    expr = _score(SurveyKind.NPS)
    present = _presence(expr, op)
    if present is not None:
        return present
    q = Q(pk__in=[])
    for category in value:
        low, high = _NPS_RANGES[category]
        q |= Q(GreaterThanOrEqual(expr, low)) & Q(LessThanOrEqual(expr, high))
    return q if op == "in" else ~q


def lapse_reason_q(op: str, value: Any, today: dt.date) -> Q:
    return choice_q(_latest("reason", reason__in=LapseReason.values), op, value)


def _choices(pairs: Any) -> Any:
    return lambda: [(str(v), str(label)) for v, label in pairs]


# Built once, so that registering again (Django runs ready() again when a test overrides the
# installed apps) hands segments the very same objects.
CONDITIONS: dict[str, Field] = {
    "survey_last_nps": Field(_("last NPS score"), "number", "survey_responses", None, SURVEYS,
                             bounds=(Decimal(0), Decimal(10)), q=last_nps_q),
    "survey_last_csat": Field(_("last CSAT score"), "number", "survey_responses", None, SURVEYS,
                              bounds=(Decimal(1), Decimal(5)), q=last_csat_q),
    "survey_last_answer": Field(_("last survey answer"), "date", "survey_responses", None, SURVEYS,
                                q=last_answer_q),
    "survey_nps_category": Field(_("NPS category"), "choice", "survey_responses", _choices(NPS_CATEGORIES),
                                 SURVEYS, q=nps_category_q),
    "survey_lapse_reason": Field(_("lapse reason"), "choice", "survey_responses",
                                 _choices(LapseReason.choices), SURVEYS, q=lapse_reason_q),
}  # fmt: skip


def register() -> None:
    """Add the survey conditions to the segment rules (one field each)."""
    for name, field in CONDITIONS.items():
        register_field(name, field)
