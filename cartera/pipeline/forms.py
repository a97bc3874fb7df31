"""Forms of the pipeline: they parse input; the services decide."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from cartera.accounts.models import User
from cartera.core.forms import AmountField, ServiceModelForm
from cartera.customers.models import Company, Customer, Source
from cartera.pipeline.models import (
    CallOutcome,
    LostReason,
    Opportunity,
    OpportunityStatus,
    Pipeline,
    PipelineStage,
)
from cartera.pipeline.selectors import OpportunityFilters

DATE = {"type": "date"}


class OpportunityForm(ServiceModelForm):
    """Open or edit an opportunity. The value is read as people type it ("1.234,50", "49,90 €")."""

    value = AmountField(label=_("Value"), required=False)
    customer = forms.IntegerField(label=_("Customer (id)"), required=False, widget=forms.HiddenInput)
    company = forms.ModelChoiceField(label=_("Company"), required=False, queryset=Company.objects.none())

    class Meta:
        model = Opportunity
        fields = [
            "title", "value", "currency", "expected_close_on", "pipeline", "stage", "probability", "owner",
            "source", "next_step", "next_step_on",
        ]  # fmt: skip
        widgets = {
            "expected_close_on": forms.DateInput(attrs=DATE, format="%Y-%m-%d"),
            "next_step_on": forms.DateInput(attrs=DATE, format="%Y-%m-%d"),
        }

    def __init__(self, *args: Any, user: User, customer: Customer | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.customer_row = customer
        self.fields["pipeline"].queryset = Pipeline.objects.filter(active=True)  # type: ignore[attr-defined]
        self.fields["pipeline"].required = False
        self.fields["stage"].queryset = PipelineStage.objects.filter(  # type: ignore[attr-defined]
            pipeline__active=True
        ).select_related("pipeline")
        self.fields["stage"].required = False
        self.fields["stage"].label_from_instance = lambda s: f"{s.pipeline.name} · {s.name}"  # type: ignore[attr-defined]
        self.fields["probability"].required = False
        self.fields["probability"].help_text = _("Empty: the stage's usual probability.")
        self.fields["company"].queryset = Company.objects.order_by("name")  # type: ignore[attr-defined]
        owners = User.objects.filter(is_active=True).order_by("username")
        self.fields["owner"].queryset = owners  # type: ignore[attr-defined]
        self.fields["owner"].required = False
        if not user.has_perm("pipeline.reassign_opportunity"):
            self.fields["owner"].disabled = True
            self.fields["owner"].initial = self.instance.owner_id or user.pk
        if customer is not None:
            self.fields["company"].widget = forms.HiddenInput()
        else:
            # Only a company (a B2B deal with no contact yet) needs the list; it is capped for speed.
            choices = [("", "—"), *Company.objects.order_by("name").values_list("pk", "name")[:500]]
            self.fields["company"].widget = forms.Select(choices=choices)

    def service_fields(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data.pop("customer", None)
        if self.customer_row is not None:
            data["customer"] = self.customer_row
        if data.get("value") is None:
            data.pop("value", None)
        for optional in ("pipeline", "stage", "company"):
            if data.get(optional) is None:
                data.pop(optional, None)
        if self.fields["owner"].disabled or data.get("owner") is None:
            data.pop("owner", None)
        return data


class QualificationForm(forms.ModelForm):  # type: ignore[type-arg]
    """The checklist: need, budget, decision-maker, timing, and notes."""

    class Meta:
        model = Opportunity
        fields = ["has_need", "has_budget", "has_decision_maker", "has_timing", "qualification_notes"]
        widgets = {"qualification_notes": forms.Textarea(attrs={"rows": 2})}


class MoveForm(forms.Form):
    """The board's "move to" control (works without JavaScript, and with the keyboard)."""

    stage = forms.ModelChoiceField(label=_("Move to"), queryset=PipelineStage.objects.all())

    def __init__(self, *args: Any, pipeline: Pipeline | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if pipeline is not None:
            self.fields["stage"].queryset = pipeline.stages.order_by("position", "id")  # type: ignore[attr-defined]


class WinForm(forms.Form):
    create_order = forms.BooleanField(label=_("Record the order now"), required=False, initial=True)
    ordered_on = forms.DateField(
        label=_("Order date"), required=False, widget=forms.DateInput(attrs=DATE, format="%Y-%m-%d")
    )
    amount = AmountField(label=_("Order amount"), required=False)


class LoseForm(forms.Form):
    lost_reason = forms.ModelChoiceField(label=_("Why was it lost?"), queryset=LostReason.objects.none())
    note = forms.CharField(label=_("Note (optional)"), required=False, max_length=300)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["lost_reason"].queryset = LostReason.objects.filter(active=True)  # type: ignore[attr-defined]


class PipelineForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    stages = forms.CharField(
        label=_("Stages"),
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("One per line: Name | probability % | days before it rots. Example: Propuesta | 50 | 10"),
    )


class StagesForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    active = forms.BooleanField(label=_("Active"), required=False)
    stages = PipelineForm.base_fields["stages"]


class LostReasonsForm(forms.Form):
    names = forms.CharField(
        label=_("Lost reasons"), widget=forms.Textarea(attrs={"rows": 6}), help_text=_("One per line.")
    )


class FilterForm(forms.Form):
    """The board's and the list's filters; the report's links use the same names."""

    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    pipeline = forms.IntegerField(required=False, widget=forms.HiddenInput)
    owner = forms.ModelChoiceField(label=_("Owner"), required=False, queryset=User.objects.none(),
                                   empty_label=_("Anyone"))  # fmt: skip
    source = forms.ChoiceField(label=_("Source"), required=False)
    close_month = forms.CharField(
        label=_("Closing in"), required=False, widget=forms.DateInput(attrs={"type": "month"})
    )
    status = forms.ChoiceField(label=_("Status"), required=False)
    stage = forms.IntegerField(required=False, widget=forms.HiddenInput)
    lost_reason = forms.IntegerField(required=False, widget=forms.HiddenInput)
    lost_from = forms.IntegerField(required=False, widget=forms.HiddenInput)
    passed = forms.IntegerField(required=False, widget=forms.HiddenInput)
    advanced_from = forms.IntegerField(required=False, widget=forms.HiddenInput)
    rotting = forms.BooleanField(label=_("Only rotting"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = User.objects.filter(is_active=True).order_by("username")  # type: ignore[attr-defined]
        self.fields["source"].choices = [("", _("Any source")), *Source.choices]  # type: ignore[attr-defined]
        self.fields["status"].choices = [("", _("Any status")), *OpportunityStatus.choices]  # type: ignore[attr-defined]

    def clean_close_month(self) -> dt.date | None:
        text = self.cleaned_data.get("close_month") or ""
        if not text:
            return None
        try:
            return dt.date.fromisoformat(f"{text}-01")
        except ValueError as exc:
            raise forms.ValidationError(_("Choose a month, such as 2026-05.")) from exc

    def filters(self) -> OpportunityFilters:
        data = self.cleaned_data if self.is_valid() else {}
        return OpportunityFilters(
            pipeline_id=data.get("pipeline"),
            stage_id=data.get("stage"),
            status=data.get("status") or "",
            owner_id=data["owner"].pk if data.get("owner") else None,
            source=data.get("source") or "",
            close_month=data.get("close_month"),
            lost_reason_id=data.get("lost_reason"),
            lost_from_id=data.get("lost_from"),
            passed_id=data.get("passed"),
            advanced_from_id=data.get("advanced_from"),
            rotting=bool(data.get("rotting")),
            query=(data.get("q") or "").strip(),
        )


class CallOutcomeForm(forms.Form):
    """One tap after a call; "call back" needs the day."""

    outcome = forms.ChoiceField(choices=CallOutcome.choices)
    call_back_on = forms.DateField(
        label=_("Call back on"), required=False, widget=forms.DateInput(attrs=DATE)
    )
    note = forms.CharField(required=False, max_length=500)


class CallListBuildForm(forms.Form):
    """Managers: a call list for a day from a segment, for one person or for each customer's owner."""

    segment: forms.ModelChoiceField[Any] = forms.ModelChoiceField(label=_("Segment"), queryset=None)
    assignee = forms.ModelChoiceField(
        label=_("Give it to"), required=False, queryset=User.objects.none(),
        empty_label=_("Each customer's owner"),
    )  # fmt: skip
    for_date = forms.DateField(label=_("To call on"), widget=forms.DateInput(attrs=DATE, format="%Y-%m-%d"))
    name = forms.CharField(label=_("Name"), max_length=120)

    def __init__(self, *args: Any, segments: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        segment_field: Any = self.fields["segment"]
        segment_field.queryset = segments
        assignee_field: Any = self.fields["assignee"]
        assignee_field.queryset = (
            User.objects.filter(is_active=True, groups__isnull=False).distinct().order_by("username")
        )
