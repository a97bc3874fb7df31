"""Writes for custom questionnaires: adding, changing, moving and removing questions, and checking a
customer's answers to them.

A version of the questions that has answers never changes. The first change after an answer copies
every question into the next version (``Survey.questions_version`` + 1) and changes the copy; the old
answers keep pointing at the questions they were given to, so they keep their meaning.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from cartera.accounts.models import User
from cartera.core.scoping import restrict
from cartera.surveys.models import Question, QuestionAnswer, QuestionKind, Survey, SurveyResponse

QUESTION_FIELDS = (
    "kind",
    "text_es",
    "text_en",
    "required",
    "choices_es",
    "choices_en",
    "scale_min",
    "scale_max",
    "low_label_es",
    "low_label_en",
    "high_label_es",
    "high_label_en",
)
MAX_QUESTIONS = 30
TEXT_ANSWER_MAX = 2000


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def question_check(question: Question) -> None:
    """Refuse a question that cannot be asked: field limits, then what its kind needs."""
    question.full_clean(exclude=["survey"])
    errors: dict[str, list[str]] = {}
    if question.has_choices:
        spanish, english = _lines(question.choices_es), _lines(question.choices_en)
        if len(spanish) < 2:
            errors["choices_es"] = [_("Give at least two choices, one a line.")]
        elif len(spanish) > Question.MAX_CHOICES:
            errors["choices_es"] = [_("At most %(n)d choices.") % {"n": Question.MAX_CHOICES}]
        elif len(set(spanish)) != len(spanish):
            errors["choices_es"] = [_("Each choice may appear only once.")]
        if english and len(english) != len(spanish):
            errors["choices_en"] = [
                _("Give as many English choices as Spanish ones (%(n)d), in the same order, or none.")
                % {"n": len(spanish)}
            ]
    if question.kind == QuestionKind.SCALE and question.scale_min >= question.scale_max:
        errors["scale_max"] = [_("The highest value must be above the lowest.")]
    if errors:
        raise ValidationError(errors)


def _survey_for_change(actor: User, survey: Survey) -> Survey:
    """The survey, locked, if ``actor`` may change it now and it is a custom questionnaire."""
    locked = restrict(Survey.objects.all(), actor, "change").select_for_update().filter(pk=survey.pk).first()
    if locked is None:
        raise PermissionDenied(_("You do not have permission to do this."))
    if not locked.custom:
        raise ValidationError(_("Only custom questionnaires have their own questions."))
    return locked


def current_questions(survey: Survey) -> list[Question]:
    return list(Question.objects.filter(survey=survey, version=survey.questions_version))


def _writable_version(survey: Survey) -> dict[int, Question]:
    """The questions of the version that may change, by the pk of the current ones: the current
    version itself, or, when it already has answers, a fresh copy of it as the next version."""
    questions = current_questions(survey)
    answered = SurveyResponse.objects.filter(
        survey=survey, questions_version=survey.questions_version
    ).exists()
    if not answered:
        return {q.pk: q for q in questions}
    survey.questions_version += 1
    survey.save(update_fields=["questions_version", "updated_at"])
    copies: dict[int, Question] = {}
    for question in questions:
        old_pk = question.pk
        question.pk = None
        question.version = survey.questions_version
        question.save()
        copies[old_pk] = question
    return copies


def _assign(question: Question, fields: Mapping[str, Any]) -> None:
    unknown = set(fields) - set(QUESTION_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        setattr(question, name, value.strip() if isinstance(value, str) else value)


@transaction.atomic
def question_add(*, actor: User, survey: Survey, fields: Mapping[str, Any]) -> Question:
    """Add a question at the end of the survey's questionnaire."""
    survey = _survey_for_change(actor, survey)
    question = Question(survey=survey, version=survey.questions_version)
    _assign(question, fields)
    question_check(question)
    questions = _writable_version(survey)
    if len(questions) >= MAX_QUESTIONS:
        raise ValidationError(_("A questionnaire has at most %(n)d questions.") % {"n": MAX_QUESTIONS})
    question.version = survey.questions_version
    question.position = max((q.position for q in questions.values()), default=-1) + 1
    question.save()
    return question


def _writable(
    actor: User, survey: Survey, question: Question
) -> tuple[Survey, dict[int, Question], Question]:
    survey = _survey_for_change(actor, survey)
    if question.survey_id != survey.pk or question.version != survey.questions_version:
        raise ValidationError(_("This question belongs to an earlier version of the questionnaire."))
    questions = _writable_version(survey)
    return survey, questions, questions[question.pk]


@transaction.atomic
def question_update(
    *, actor: User, survey: Survey, question: Question, fields: Mapping[str, Any]
) -> Question:
    """Change a question (in place, or in a new version when the current one has answers)."""
    survey, _questions, target = _writable(actor, survey, question)
    _assign(target, fields)
    question_check(target)
    target.save()
    return target


@transaction.atomic
def question_remove(*, actor: User, survey: Survey, question: Question) -> None:
    """Take a question out of the questionnaire (old answers keep theirs in the earlier version)."""
    survey, questions, target = _writable(actor, survey, question)
    target.delete()
    for position, remaining in enumerate(q for q in questions.values() if q.pk != target.pk):
        if remaining.position != position:
            remaining.position = position
            remaining.save(update_fields=["position"])


@transaction.atomic
def question_move(*, actor: User, survey: Survey, question: Question, up: bool) -> None:
    """Move a question one place up or down."""
    survey, questions, target = _writable(actor, survey, question)
    ordered = sorted(questions.values(), key=lambda q: (q.position, q.pk))
    index = ordered.index(target)
    other = index - 1 if up else index + 1
    if not 0 <= other < len(ordered):
        return
    ordered[index], ordered[other] = ordered[other], ordered[index]
    for position, row in enumerate(ordered):
        if row.position != position:
            row.position = position
            row.save(update_fields=["position"])


def answers_check(
    *, questions: Sequence[Question], raw: Mapping[int, Any], language: str
) -> list[QuestionAnswer]:
    """The answers to ``questions`` as given (``raw``: question pk → a choice position, a list of them,
    a scale value or words), checked one by one; every problem is reported under ``q-<pk>``."""
    errors: dict[str, list[str]] = {}
    rows: list[QuestionAnswer] = []
    for question in questions:
        given = raw.get(question.pk)
        key = f"q-{question.pk}"
        row = QuestionAnswer(question=question)
        if question.kind == QuestionKind.TEXT:
            row.text = str(given or "").strip()
            if len(row.text) > TEXT_ANSWER_MAX:
                errors[key] = [_("At most %(n)d characters.") % {"n": TEXT_ANSWER_MAX}]
                continue
            empty = not row.text
        elif question.kind == QuestionKind.SCALE:
            text = str(given if given is not None else "").strip()
            empty = text == ""
            if not empty:
                if (
                    not text.lstrip("-").isdigit()
                    or not question.scale_min <= int(text) <= question.scale_max
                ):
                    errors[key] = [
                        _("Choose a value from %(low)s to %(high)s.")
                        % {"low": question.scale_min, "high": question.scale_max}
                    ]
                    continue
                row.value = int(text)
        else:
            values = given if isinstance(given, list | tuple) else ([] if given in (None, "") else [given])
            count = len(question.choices(language))
            picked: list[int] = []
            for value in values:
                text = str(value).strip()
                if not text.isdigit() or int(text) >= count:
                    errors[key] = [_("Choose one of the choices shown.")]
                    break
                if int(text) not in picked:
                    picked.append(int(text))
            if key in errors:
                continue
            if question.kind == QuestionKind.SINGLE and len(picked) > 1:
                errors[key] = [_("Choose only one.")]
                continue
            row.choices = sorted(picked)
            empty = not picked
        if empty:
            if question.required:
                errors[key] = [_("This question needs an answer.")]
            continue
        rows.append(row)
    if errors:
        raise ValidationError(errors)
    return rows
