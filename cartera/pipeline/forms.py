"""Forms of the pipeline: they parse input; the services decide."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from cartera.accounts.models import User
from cartera.core.concurrency import VersionedFormMixin
from cartera.core.contact import normalize_email, normalize_phone
from cartera.core.forms import AmountField, ServiceModelForm
from cartera.customers.fields import CUSTOM_PREFIX, custom_field_specs
from cartera.customers.forms import _custom_form_field
from cartera.customers.models import Company, Customer, Source, Stage
from cartera.pipeline.models import (
    CallList,
    CallOutcome,
    LeadForm,
    LostReason,
    Opportunity,
    OpportunityStatus,
    Pipeline,
    PipelineStage,
)
from cartera.pipeline.selectors import OpportunityFilters
from cartera.pipeline.services import UTM_KEYS

DATE = {"type": "date"}


class OpportunityForm(VersionedFormMixin, ServiceModelForm):
    """Open or edit an opportunity. The value is read as people type it ("1.234,50", "49,90 €").

    The edit page carries the version it was read at: a save after a colleague's (or a move on the
    board) is refused and shows their values next to the typed ones (:mod:`cartera.core.concurrency`).
    """

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
        self.user, self.customer_row = user, customer
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

    def stored_form(self, current: Any) -> OpportunityForm:
        return type(self)(
            instance=current, user=self.user, customer=self.customer_row,
            initial={"customer": current.customer_id},
        )  # fmt: skip

    def service_fields(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data.pop("customer", None)
        data.pop("version", None)
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


class QualificationForm(VersionedFormMixin, forms.ModelForm):  # type: ignore[type-arg]
    """The checklist: need, budget, decision-maker, timing, and notes (with the version it was read at,
    so that ticking a box does not undo a colleague's newer notes)."""

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


def _team() -> Any:
    return User.objects.filter(is_active=True, groups__isnull=False).distinct().order_by("username")


class LeadFormSettingsForm(VersionedFormMixin, forms.ModelForm):  # type: ignore[type-arg]
    """Managers: what a lead form asks, what it says, who may embed it and who gets its leads; it carries
    the version it was read at, so a save from an older page is refused (two managers at once)."""

    fields_asked = forms.MultipleChoiceField(
        label=_("Fields asked"), required=False, widget=forms.CheckboxSelectMultiple,
        help_text=_("First name and e-mail are always asked."),
    )  # fmt: skip
    fields_required = forms.MultipleChoiceField(
        label=_("Required fields"), required=False, widget=forms.CheckboxSelectMultiple
    )
    stage = forms.ChoiceField(
        label=_("New leads enter as"),
        choices=[(Stage.PROSPECT, Stage.PROSPECT.label), (Stage.SUSPECT, Stage.SUSPECT.label)],
    )
    round_robin_users = forms.ModelMultipleChoiceField(
        label=_("People taking turns"), required=False, queryset=User.objects.none(),
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip

    class Meta:
        model = LeadForm
        fields = [
            "name", "active", "title", "intro", "language", "stage", "consent_text", "thank_you",
            "allowed_origins", "assignment", "assign_to",
        ]  # fmt: skip
        widgets = {
            "intro": forms.Textarea(attrs={"rows": 3}),
            "thank_you": forms.Textarea(attrs={"rows": 2}),
            "consent_text": forms.Textarea(attrs={"rows": 3}),
            "allowed_origins": forms.Textarea(attrs={"rows": 2}),
        }
        help_texts = {
            "consent_text": _(
                "The marketing consent box, word for word. Empty: no box. Changing it makes a new version."
            ),
        }

    def __init__(self, *args: Any, choices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.choices = choices
        fields: Any = self.fields
        fields["fields_asked"].choices = choices
        fields["fields_required"].choices = choices
        fields["assign_to"].queryset = _team()
        fields["round_robin_users"].queryset = _team()
        if self.instance.pk:
            fields["fields_asked"].initial = self.instance.fields
            fields["fields_required"].initial = self.instance.required_fields
            fields["round_robin_users"].initial = list(self.instance.round_robin_users.all())

    def validate_unique(self) -> None:
        return None

    def stored_form(self, current: Any) -> LeadFormSettingsForm:
        return type(self)(instance=current, choices=self.choices)

    def settings_values(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class PublicLeadForm(forms.Form):
    """The form a visitor fills: the fields the manager chose, the consent box, a honeypot and the
    signed token that says the page was really served (an iframe gets no CSRF cookie on other sites)."""

    website = forms.CharField(required=False, label=_("Leave this empty"), max_length=200)
    token = forms.CharField(widget=forms.HiddenInput)
    page_url = forms.CharField(required=False, max_length=500, widget=forms.HiddenInput)
    utm_source = forms.CharField(required=False, max_length=100, widget=forms.HiddenInput)
    utm_medium = forms.CharField(required=False, max_length=100, widget=forms.HiddenInput)
    utm_campaign = forms.CharField(required=False, max_length=100, widget=forms.HiddenInput)
    utm_term = forms.CharField(required=False, max_length=100, widget=forms.HiddenInput)
    utm_content = forms.CharField(required=False, max_length=100, widget=forms.HiddenInput)
    lang = forms.CharField(required=False, max_length=2, widget=forms.HiddenInput)

    def __init__(self, *args: Any, lead_form: LeadForm, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lead_form = lead_form
        self.fields["website"].widget.attrs.update({"tabindex": "-1", "autocomplete": "off"})
        specs = {spec.name: spec for spec in custom_field_specs()}
        self.asked: list[str] = []
        for name in lead_form.fields:
            if name in specs:
                field = _custom_form_field(specs[name].definition)
            elif name == "company":
                field = forms.CharField(label=_("Company"), max_length=200)
            elif name == "email":
                field = forms.CharField(label=_("Email"), max_length=254, widget=forms.EmailInput(
                    attrs={"autocomplete": "email"}))  # fmt: skip
            elif name == "phone":
                field = forms.CharField(label=_("Phone"), max_length=40, widget=forms.TextInput(
                    attrs={"type": "tel", "autocomplete": "tel"}))  # fmt: skip
            else:
                model_field: Any = Customer._meta.get_field(name)
                field = model_field.formfield()
                if name == "birth_date":
                    field.widget = forms.DateInput(attrs=DATE)
                if name == "notes":
                    field.label = _("Message")
                    field.widget = forms.Textarea(attrs={"rows": 3})
            field.required = name in lead_form.required_fields
            self.fields[f"f_{name}"] = field
            self.asked.append(name)
        if lead_form.consent_text:
            self.fields["consent"] = forms.BooleanField(label=lead_form.consent_text, required=False)

    def asked_fields(self) -> list[forms.BoundField]:
        return [self[f"f_{name}"] for name in self.asked] + (
            [self["consent"]] if "consent" in self.fields else []
        )

    def clean_f_email(self) -> str | None:
        return normalize_email(self.cleaned_data.get("f_email"))

    def clean_f_phone(self) -> str:
        return normalize_phone(self.cleaned_data.get("f_phone"))

    def is_spam(self) -> bool:
        """A bot filled the field people never see."""
        return bool(self.data.get("website"))

    def answers(self) -> dict[str, Any]:
        """The customer fields as the service takes them (custom values under ``custom_fields``)."""
        out: dict[str, Any] = {}
        custom: dict[str, Any] = {}
        for name in self.asked:
            value = self.cleaned_data.get(f"f_{name}")
            if name.startswith(CUSTOM_PREFIX):
                custom[name.removeprefix(CUSTOM_PREFIX)] = value
            elif name == "company":
                out["company_name"] = value or ""
            else:
                out[name] = value if value is not None else ""
        if custom:
            out["custom_fields"] = custom
        return out

    def utm(self) -> dict[str, str]:
        return {key: self.cleaned_data.get(key) or "" for key in UTM_KEYS}


class SheetForm(forms.Form):
    """What a printed prospecting sheet is filled with: a call list or a segment, and blank rows."""

    call_list = forms.ModelChoiceField(
        label=_("Call list"), required=False, queryset=CallList.objects.none(), empty_label=_("None")
    )
    segment = forms.ModelChoiceField(
        label=_("Segment"), required=False, queryset=Customer.objects.none(), empty_label=_("None")
    )
    blank = forms.IntegerField(label=_("Blank rows"), required=False, min_value=0, max_value=60, initial=12)

    def __init__(self, *args: Any, call_lists: Any, segments: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["call_list"].queryset = call_lists  # type: ignore[attr-defined]
        self.fields["segment"].queryset = segments  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("call_list") and data.get("segment"):
            raise forms.ValidationError(_("Choose a call list or a segment, not both."))
        return data
