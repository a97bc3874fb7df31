"""Quick forms on the customer page and the task forms."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cartera.accounts.models import User
from cartera.activity.models import Direction, Interaction, Task
from cartera.activity.selectors import task_assignees
from cartera.core.dates import INTERACTION_DATES, TASK_DUE_DATES
from cartera.core.forms import ServiceModelForm, limit_dates

DATETIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class InteractionForm(ServiceModelForm):
    """Only the kind is needed: direction defaults to "we contacted them", the time to now."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["occurred_at"].required = False
        self.fields["direction"].required = False
        limit_dates(self.fields["occurred_at"], INTERACTION_DATES)

    def clean_occurred_at(self) -> Any:
        return self.cleaned_data.get("occurred_at") or timezone.now()

    def clean_direction(self) -> str:
        return self.cleaned_data.get("direction") or Direction.OUTBOUND

    class Meta:
        model = Interaction
        fields = ["kind", "direction", "occurred_at", "subject", "body", "outcome"]
        widgets = {"occurred_at": DATETIME_INPUT, "body": forms.Textarea(attrs={"rows": 3})}


class TaskForm(ServiceModelForm):
    class Meta:
        model = Task
        fields = ["title", "due_at", "assignee", "notes"]
        widgets = {"due_at": DATETIME_INPUT, "notes": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].required = False
        limit_dates(self.fields["due_at"], TASK_DUE_DATES)
        # Colleagues with a role (who can work on tasks); the service checks the same rule again.
        self.fields["assignee"].queryset = task_assignees(user=user)  # type: ignore[attr-defined]
        self.fields["assignee"].initial = user.pk
        if not user.has_perm("activity.assign_task"):
            self.fields["assignee"].disabled = True


class SnoozeForm(forms.Form):
    """Postpone a task: "tomorrow", "next_week" (the one-tap buttons) or a date picked."""

    when = forms.ChoiceField(
        required=False,
        choices=[("tomorrow", _("Tomorrow")), ("next_week", _("Next week")), ("date", _("Date"))],
    )
    date = forms.DateField(
        label=_("New date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("when") in ("", "date", None) and not data.get("date"):
            raise forms.ValidationError(_("Choose tomorrow, next week or a date."))
        return data

    def target(self) -> str | datetime.date:
        """What :func:`cartera.activity.services.task_reschedule` takes."""
        when: str = self.cleaned_data.get("when") or ""
        chosen: datetime.date = self.cleaned_data["date"]
        return when if when in ("tomorrow", "next_week") else chosen
