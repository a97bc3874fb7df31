"""Forms of the surveys app: audit assignment, checklist criteria, findings, photos, the step-by-step
audit answers, surveys, invitations and the public answer form."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django import forms
from django.contrib.auth.models import Permission
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cartera.accounts.models import User
from cartera.core.dates import TASK_DUE_DATES
from cartera.core.forms import limit_dates
from cartera.surveys.models import (
    Audit,
    AuditCriterion,
    AuditTemplate,
    LapseReason,
    Question,
    QuestionKind,
    Survey,
)
from cartera.surveys.services.questions import QUESTION_FIELDS, TEXT_ANSWER_MAX


def users_with_perm(codename: str, app_label: str = "surveys") -> Any:
    """Active users whose role (or superuser flag) grants ``app_label.codename``."""
    perm = Permission.objects.filter(content_type__app_label=app_label, codename=codename)
    return (
        User.objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__permissions__in=perm) | Q(user_permissions__in=perm))
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


class DateInput(forms.DateInput):
    input_type = "date"


class AuditForm(forms.ModelForm):  # type: ignore[type-arg]
    """Assign an audit: which checklist, which auditor, what is audited and when."""

    class Meta:
        model = Audit
        fields = ["template", "auditor", "location", "channel", "employee", "scheduled_on"]
        widgets = {"scheduled_on": DateInput()}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = AuditTemplate.objects.filter(current=True)  # type: ignore[attr-defined]
        self.fields["auditor"].queryset = users_with_perm("change_auditanswer")  # type: ignore[attr-defined]
        limit_dates(self.fields["scheduled_on"], TASK_DUE_DATES)


class TemplateForm(forms.Form):
    name = forms.CharField(label=_("name"), max_length=120)
    standard = forms.BooleanField(label=_("Start from the standard criteria"), required=False, initial=True)


class CriterionForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = AuditCriterion
        fields = ["step", "text", "weight", "scale_max"]


class FindingForm(forms.Form):
    """A corrective task made from an audit's weak point."""

    title = forms.CharField(label=_("What must be corrected"), max_length=200)
    criterion = forms.ModelChoiceField(
        label=_("criterion"), queryset=AuditCriterion.objects.none(), required=False
    )
    assignee = forms.ModelChoiceField(label=_("owner"), queryset=User.objects.none())
    due_at = forms.DateTimeField(label=_("due"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    notes = forms.CharField(
        label=_("notes"), required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=2000
    )

    def __init__(self, *args: Any, audit: Audit, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["criterion"].queryset = audit.template.criteria.all()  # type: ignore[attr-defined]
        self.fields["assignee"].queryset = users_with_perm("change_task", "activity")  # type: ignore[attr-defined]
        limit_dates(self.fields["due_at"], TASK_DUE_DATES)


class PhotoForm(forms.Form):
    # No ImageField: the service decodes and re-encodes the file itself, and refuses what is not a photo.
    photo = forms.FileField(
        label=_("Photo"), widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"})
    )
    caption = forms.CharField(label=_("caption"), max_length=200, required=False)


def step_answers_from_post(
    post: Mapping[str, Any], criteria: Iterable[AuditCriterion]
) -> dict[int, dict[str, Any]]:
    """The answers of one step as posted (``value-<id>``, ``na-<id>``, ``comment-<id>``), by criterion."""
    return {
        c.pk: {
            "value": post.get(f"value-{c.pk}", ""),
            "na": post.get(f"na-{c.pk}") == "1",
            "comment": post.get(f"comment-{c.pk}", ""),
        }
        for c in criteria
    }


class SurveyForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Survey
        fields = list(Survey.EDITABLE_FIELDS)


class AnswerForm(forms.Form):
    """The public answer: a score on the survey's scale (none for a lapse survey), a reason, words."""

    score = forms.TypedChoiceField(
        label=_("Your score"), coerce=int, required=False, widget=forms.RadioSelect
    )
    reason = forms.ChoiceField(
        label=_("Why did you stop buying from us?"),
        choices=[("", "—"), *LapseReason.choices],
        required=False,
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Why? (optional)"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 4})
    )

    def __init__(
        self,
        *args: Any,
        survey: Survey,
        questions: Iterable[Question] = (),
        language: str = "es",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.survey = survey
        self.questions = list(questions)
        low, high = survey.scale
        if survey.custom:
            del self.fields["score"], self.fields["reason"], self.fields["comment"]
            for question in self.questions:
                self.fields[f"q-{question.pk}"] = question_field(question, language)
        elif survey.asks_score:
            self.fields["score"].choices = [(str(v), str(v)) for v in range(low, high + 1)]  # type: ignore[attr-defined]
            self.fields["score"].required = True
            del self.fields["reason"]
        else:
            del self.fields["score"]
            self.fields["reason"].required = True
            self.fields["reason"].choices = LapseReason.choices  # type: ignore[attr-defined]


def question_field(question: Question, language: str) -> forms.Field:
    """The form field that asks ``question`` on the public answer page, in ``language``."""
    label, required = question.text(language), question.required
    if question.kind == QuestionKind.TEXT:
        return forms.CharField(
            label=label,
            required=required,
            max_length=TEXT_ANSWER_MAX,
            widget=forms.Textarea(attrs={"rows": 3}),
        )
    if question.kind == QuestionKind.SCALE:
        values = [(str(v), str(v)) for v in range(question.scale_min, question.scale_max + 1)]
        return forms.ChoiceField(label=label, required=required, choices=values, widget=forms.RadioSelect)
    choices = [(str(i), text) for i, text in enumerate(question.choices(language))]
    if question.kind == QuestionKind.MULTIPLE:
        return forms.MultipleChoiceField(
            label=label, required=required, choices=choices, widget=forms.CheckboxSelectMultiple
        )
    return forms.ChoiceField(label=label, required=required, choices=choices, widget=forms.RadioSelect)


class QuestionForm(forms.ModelForm):  # type: ignore[type-arg]
    """A question of a custom questionnaire, as built on the survey's page."""

    class Meta:
        model = Question
        fields = list(QUESTION_FIELDS)
        widgets = {
            "choices_es": forms.Textarea(attrs={"rows": 4}),
            "choices_en": forms.Textarea(attrs={"rows": 4}),
            "scale_min": forms.NumberInput(attrs={"min": 0, "max": 10}),
            "scale_max": forms.NumberInput(attrs={"min": 1, "max": 10}),
        }
