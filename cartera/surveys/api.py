"""REST API for surveys and service audits: each customer's survey standing (score, last answer, lapse
reason, referral candidate), the answers, the surveys and the audits with their scores.

Who may do what is decided by :mod:`cartera.core.scoping`, as for the web pages.
No ``from __future__ import annotations``: django-ninja reads the annotations at run time.
"""

import datetime
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema

from cartera.core.api_common import READ_ERRORS, responses
from cartera.core.scoping import get_for_user
from cartera.customers.models import Customer
from cartera.surveys.models import (
    AuditChannel,
    AuditStatus,
    LapseReason,
    Question,
    QuestionAnswer,
    QuestionKind,
    Survey,
    SurveyKind,
    SurveyResponse,
)
from cartera.surveys.selectors import audits as audit_selectors
from cartera.surveys.selectors import surveys as selectors
from cartera.surveys.services.figures import figures_current

survey_router = Router(tags=["surveys"])

LIST_LIMIT = 500


class SurveyOut(Schema):
    id: int
    name: str
    kind: SurveyKind
    trigger: str
    cap_days: int
    anonymous: bool
    active: bool
    questions_version: int = Field(description="Version of the questions that new answers get (custom).")


class QuestionOut(Schema):
    id: int
    version: int
    position: int
    kind: QuestionKind
    text_es: str
    text_en: str
    required: bool
    choices_es: list[str] = Field(description="Single / multiple choice: the choices, in order.")
    choices_en: list[str]
    scale_min: int | None = None
    scale_max: int | None = None

    @staticmethod
    def resolve_choices_es(obj: Question) -> list[str]:
        return obj.choices("es") if obj.has_choices else []

    @staticmethod
    def resolve_choices_en(obj: Question) -> list[str]:
        return obj.choices("en") if obj.has_choices else []

    @staticmethod
    def resolve_scale_min(obj: Question) -> int | None:
        return obj.scale_min if obj.kind == QuestionKind.SCALE else None

    @staticmethod
    def resolve_scale_max(obj: Question) -> int | None:
        return obj.scale_max if obj.kind == QuestionKind.SCALE else None


class QuestionAnswerOut(Schema):
    question_id: int
    choices: list[int] = Field(description="Positions (from 0) of the chosen choices in the question's list.")
    value: int | None = Field(None, description="The value on a scale question.")
    text: str

    @staticmethod
    def resolve_choices(obj: QuestionAnswer) -> list[int]:
        return [int(i) for i in obj.choices or []]


class StandingOut(Schema):
    customer_id: int
    last_score: int | None = Field(
        None, description="Score of the latest answer (NPS 0-10, CSAT 1-5, CES 1-7)."
    )
    last_kind: SurveyKind | None = None
    last_answer_at: datetime.datetime | None = None
    lapse_reason: LapseReason | None = Field(
        None, description="The latest reason given for no longer buying."
    )
    unhappy: bool = Field(False, description="Latest answer was a detractor (NPS 0-6), CSAT 1-2 or CES 1-3.")
    referral_candidate: bool = Field(False, description="Latest NPS answer was 9 or 10.")
    nps_category: Literal["detractor", "passive", "promoter"] | None = Field(
        None, description="Category of the latest NPS answer: detractor 0-6, passive 7-8, promoter 9-10."
    )


class ResponseOut(Schema):
    id: int
    survey_id: int
    customer_id: int | None
    score: int | None
    reason: str
    comment: str
    language: str
    answered_at: datetime.datetime
    follow_up_task_id: int | None = None
    questions_version: int | None = Field(None, description="Custom questionnaires: the version answered.")
    answers: list[QuestionAnswerOut] = Field(
        description="Custom questionnaires: the answer to each question."
    )

    @staticmethod
    def resolve_answers(obj: SurveyResponse) -> list[QuestionAnswer]:
        return list(obj.answers.all())

    @staticmethod
    def resolve_follow_up_task_id(obj: SurveyResponse) -> int | None:
        return obj.follow_up_id


class AuditOut(Schema):
    id: int
    template_id: int
    auditor_id: int
    location: str
    channel: AuditChannel
    employee: str
    scheduled_on: datetime.date
    status: AuditStatus
    score: float | None


@survey_router.get("/", response=responses({200: list[SurveyOut]}, *READ_ERRORS), summary="List surveys")
def list_surveys(request: HttpRequest) -> Any:
    user = request.auth  # type: ignore[attr-defined]
    return list(selectors.surveys_for(user=user)[:LIST_LIMIT])


@survey_router.get(
    "/responses", response=responses({200: list[ResponseOut]}, *READ_ERRORS), summary="List survey answers"
)
def list_survey_responses(request: HttpRequest, survey_id: int | None = None) -> Any:
    """The latest answers (at most 500), newest first; optionally of one survey."""
    user = request.auth  # type: ignore[attr-defined]
    rows = selectors.responses_for(user=user).prefetch_related("answers")
    if survey_id is not None:
        rows = rows.filter(survey_id=survey_id)
    return list(rows[:LIST_LIMIT])


@survey_router.get(
    "/{int:survey_id}/questions",
    response=responses({200: list[QuestionOut]}, *READ_ERRORS),
    summary="A custom questionnaire's questions",
)
def list_survey_questions(request: HttpRequest, survey_id: int, version: int | None = None) -> Any:
    """The questions of one version (the current one unless ``version`` is given), in order; empty for
    surveys that are not custom questionnaires or a version that does not exist."""
    user = request.auth  # type: ignore[attr-defined]
    survey = get_for_user(Survey.objects.all(), user, "view", pk=survey_id)
    return list(Question.objects.filter(survey=survey, version=version or survey.questions_version))


class ScoreOut(Schema):
    n: int = Field(description="Answers with a score.")
    value: float | None = Field(
        description="NPS (−100..100), or % satisfied for CSAT / CES; null with no answer."
    )
    low: float | None = Field(description="Lower end of the 95 % interval.")
    high: float | None = Field(description="Upper end of the 95 % interval.")


class MonthOut(Schema):
    month: str = Field(description="YYYY-MM, in the site's time zone.")
    score: ScoreOut
    invited: int
    rate: float | None = Field(description="% of that month's personal invitations answered.")


class GroupScoreOut(Schema):
    group: str
    score: ScoreOut


class ResultsOut(Schema):
    overall: ScoreOut
    months: list[MonthOut]
    by_owner: list[GroupScoreOut]
    by_status: list[GroupScoreOut]
    invited: int
    answered: int
    as_of: datetime.datetime | None = Field(
        description="For a survey with many answers, when the worker counted these figures; null when "
        "counted for this request."
    )
    pending: bool = Field(
        description="A newer count (or the first one) is on its way: ask again in a minute."
    )


@survey_router.get(
    "/{int:survey_id}/results",
    response=responses({200: ResultsOut}, *READ_ERRORS),
    summary="A survey's results over the last twelve months",
)
def get_survey_results(request: HttpRequest, survey_id: int) -> Any:
    """The survey's score (NPS, or % satisfied for CSAT / CES) with its 95 % interval, overall, by month
    with the response rate, by owner and by status; what the survey page shows. A custom questionnaire
    or a lapse survey has no score: its figures are empty."""

    user = request.auth  # type: ignore[attr-defined]
    survey = get_for_user(Survey.objects.all(), user, "view", pk=survey_id)
    figures = None if survey.custom else figures_current(user=user, survey=survey)
    found = selectors.results(user=user, survey=survey, figures=figures)
    return {
        **found,
        "by_owner": [{"group": name, "score": score} for name, score in found["by_owner"]],
        "by_status": [{"group": name, "score": score} for name, score in found["by_status"]],
    }


@survey_router.get(
    "/customers/{int:customer_id}/standing",
    response=responses({200: StandingOut}, *READ_ERRORS),
    summary="A customer's survey standing",
)
def get_survey_standing(request: HttpRequest, customer_id: int) -> Any:
    """The latest score and answer date, the latest lapse reason, and the flags they raise."""
    user = request.auth  # type: ignore[attr-defined]
    customer = get_for_user(Customer.objects.all(), user, "view", pk=customer_id)
    return selectors.customer_standing(user=user, customer=customer)


@survey_router.get(
    "/audits", response=responses({200: list[AuditOut]}, *READ_ERRORS), summary="List service audits"
)
def list_audits(request: HttpRequest) -> Any:
    """The audits the caller may see (an auditor: only their own), newest first."""
    user = request.auth  # type: ignore[attr-defined]
    return list(audit_selectors.audits_for(user=user)[:LIST_LIMIT])
