"""The questionnaire builder of a custom survey: its questions, adding, changing, moving and removing
them (a version with answers is never changed: the change makes the next version)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cartera.core.scoping import get_for_user
from cartera.surveys.forms import QuestionForm
from cartera.surveys.models import Question, Survey
from cartera.surveys.selectors import surveys as selectors
from cartera.surveys.services import questions as services


def _form_errors(form: QuestionForm, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            for message in errors:
                form.add_error(field if field in form.fields else None, message)
    else:
        form.add_error(None, exc)


def _question(survey: Survey, question_pk: int) -> Question:
    return get_object_or_404(Question, pk=question_pk, survey=survey, version=survey.questions_version)


def questions_page(request: HttpRequest, pk: int) -> HttpResponse:
    """The questions of the current version, and the form to add one."""
    survey = get_for_user(Survey.objects.all(), request.user, "view", pk=pk)
    form = QuestionForm(request.POST or None, initial={"kind": "single"})
    if request.method == "POST":
        survey = get_for_user(Survey.objects.all(), request.user, "change", pk=pk)
        if form.is_valid():
            try:
                services.question_add(actor=request.user, survey=survey, fields=form.cleaned_data)  # type: ignore[arg-type]
            except ValidationError as exc:
                _form_errors(form, exc)
            else:
                messages.success(request, _("Question added."))
                return redirect("surveys:questions", pk=survey.pk)
    context = {
        "survey": survey,
        "questions": services.current_questions(survey),
        "answered": selectors.questionnaire_answered(survey=survey),
        "form": form,
        "language": request.LANGUAGE_CODE,
    }
    return render(request, "surveys/questions.html", context, status=400 if form.errors else 200)


def question_edit(request: HttpRequest, pk: int, question_pk: int) -> HttpResponse:
    survey = get_for_user(Survey.objects.all(), request.user, "change", pk=pk)
    question = _question(survey, question_pk)
    form = QuestionForm(request.POST or None, instance=Question.objects.get(pk=question.pk))
    if request.method == "POST" and form.is_valid():
        try:
            services.question_update(
                actor=request.user,  # type: ignore[arg-type]
                survey=survey,
                question=question,
                fields=form.cleaned_data,
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Question saved."))
            return redirect("surveys:questions", pk=survey.pk)
    context = {
        "survey": survey,
        "question": question,
        "form": form,
        "answered": selectors.questionnaire_answered(survey=survey),
    }
    return render(request, "surveys/question_form.html", context, status=400 if form.errors else 200)


@require_POST
def question_remove(request: HttpRequest, pk: int, question_pk: int) -> HttpResponse:
    survey = get_for_user(Survey.objects.all(), request.user, "change", pk=pk)
    question = _question(survey, question_pk)
    try:
        services.question_remove(actor=request.user, survey=survey, question=question)  # type: ignore[arg-type]
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Question removed."))
    return redirect("surveys:questions", pk=survey.pk)


@require_POST
def question_move(request: HttpRequest, pk: int, question_pk: int) -> HttpResponse:
    survey = get_for_user(Survey.objects.all(), request.user, "change", pk=pk)
    question = _question(survey, question_pk)
    try:
        services.question_move(
            actor=request.user,  # type: ignore[arg-type]
            survey=survey,
            question=question,
            up=request.POST.get("direction") == "up",
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("surveys:questions", pk=survey.pk)
