"""The public answer page: no login, reached only through a signed, unguessable token; one answer per
personal invitation (changeable for 24 hours), in the customer's language, rate-limited."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.views.decorators.cache import never_cache

from cartera.core.ratelimit import over_limit
from cartera.surveys.forms import AnswerForm
from cartera.surveys.models import Invitation, Question, QuestionAnswer, QuestionKind, SurveyKind
from cartera.surveys.services import surveys as services

# At most this many answers (or unknown links) per address and window: enough for a family sharing a
# connection, far too few to guess tokens or flood a survey.
RATE_LIMIT = 20
RATE_WINDOW_SECONDS = 600


def _over_limit(request: HttpRequest, what: str) -> bool:
    return over_limit(request, f"surveys:{what}", limit=RATE_LIMIT, window_seconds=RATE_WINDOW_SECONDS)


def _too_many(request: HttpRequest) -> HttpResponse:
    response = render(request, "surveys/answer_limited.html", status=429)
    response["Retry-After"] = str(RATE_WINDOW_SECONDS)
    return response


def _initial(answer: QuestionAnswer) -> object:
    """What the form shows again of an answer given earlier (to change it within 24 hours)."""
    kind = answer.question.kind
    if kind == QuestionKind.TEXT:
        return answer.text
    if kind == QuestionKind.SCALE:
        return "" if answer.value is None else str(answer.value)
    if kind == QuestionKind.MULTIPLE:
        return [str(i) for i in answer.choices]
    return str(answer.choices[0]) if answer.choices else ""


@login_not_required
@never_cache
def answer(request: HttpRequest, signed: str) -> HttpResponse:
    """Show the question in the customer's language and keep their answer."""
    token = services.token_from_signed(signed)
    invitation = Invitation.objects.select_related("survey").filter(token=token).first() if token else None
    if invitation is None:
        if _over_limit(request, "unknown"):
            return _too_many(request)
        raise Http404
    survey = invitation.survey
    language = invitation.language if invitation.language in ("es", "en") else "es"
    with translation.override(language):
        existing = invitation.personal_answer()
        closed = existing is not None and not existing.editable()
        if not survey.active and existing is None:
            return render(request, "surveys/answer_closed.html", {"survey": survey, "language": language})
        initial: dict[str, object] = {}
        questions: list[Question] = []
        if survey.custom:
            version = (existing.questions_version if existing else None) or survey.questions_version
            questions = list(Question.objects.filter(survey=survey, version=version))
            if not questions:
                return render(request, "surveys/answer_closed.html", {"survey": survey, "language": language})
            if existing is not None:
                initial = {
                    f"q-{a.question_id}": _initial(a) for a in existing.answers.select_related("question")
                }
        elif existing is not None:
            initial = {"score": existing.score, "reason": existing.reason, "comment": existing.comment}
        form = AnswerForm(
            request.POST or None, survey=survey, questions=questions, language=language, initial=initial
        )
        status = 200
        saved = None
        if request.method == "POST":
            if _over_limit(request, "answer"):
                return _too_many(request)
            if closed:
                status = 409
            elif form.is_valid():
                try:
                    saved = services.response_record(
                        invitation=invitation,
                        score=form.cleaned_data.get("score") if survey.asks_score else None,
                        reason=form.cleaned_data.get("reason", ""),
                        comment=form.cleaned_data.get("comment", ""),
                        language=language,
                        answers={q.pk: form.cleaned_data.get(f"q-{q.pk}") for q in questions},
                    )
                except ValidationError as exc:
                    for field, errors in (
                        exc.message_dict.items() if hasattr(exc, "error_dict") else [(None, exc.messages)]
                    ):
                        for message in errors:
                            form.add_error(field if field in form.fields else None, message)
                    status = 400
            else:
                status = 400
        question = (
            survey.question_es if language == "es" else survey.question_en
        ) or services.standard_question(survey.kind, language)
        low, high = survey.scale
        shown = saved or existing
        context = {
            "survey": survey,
            "invitation": invitation,
            "question": question,
            "form": form,
            "saved": saved,
            "existing": existing,
            "closed": closed,
            "editable_until": shown.answered_at + shown.EDITABLE_FOR
            if shown and not invitation.open
            else None,
            "language": language,
            "low": low,
            "high": high,
            "is_nps": survey.kind == SurveyKind.NPS,
            "asked": [(q, form[f"q-{q.pk}"], q.labels(language)) for q in questions],
            "now": timezone.now(),
        }
        return render(request, "surveys/answer.html", context, status=status)
