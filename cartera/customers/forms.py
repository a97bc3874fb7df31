"""Forms parse and render input; the services validate and write."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from cartera.accounts.models import User
from cartera.core.contact import normalize_email, normalize_phone
from cartera.core.forms import ServiceModelForm
from cartera.customers.classification import ABCClass, Lifecycle, RFMSegment
from cartera.customers.models import Company, Customer, CustomField, CustomFieldType, Source, Stage, Tag
from cartera.customers.selectors import CUSTOMER_SORTS, CustomerFilters

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class CustomerForm(ServiceModelForm):
    """Create / edit a customer. Email and phone are normalised by the service."""

    email = forms.CharField(label=_("Email"), required=False, max_length=254, widget=forms.EmailInput)
    phone = forms.CharField(label=_("Phone"), required=False, max_length=40, widget=forms.TextInput(
        attrs={"type": "tel", "autocomplete": "tel"}))  # fmt: skip
    company_name = forms.CharField(
        label=_("Company"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"list": "company-options", "autocomplete": "off"}),
        help_text=_("Type an existing company or a new one."),
    )
    tag_names = forms.CharField(
        label=_("Tags"), required=False, help_text=_("Separated by commas."), max_length=500
    )
    # The saved state the editor started from: a save based on an older one is refused (lost update).
    version = forms.CharField(required=False, widget=forms.HiddenInput, max_length=64)

    class Meta:
        model = Customer
        fields = [
            "title", "first_name", "last_name", "email", "phone", "stage", "sector", "job_title",
            "profession", "birth_date", "address", "city", "region", "postal_code", "country",
            "preferred_channel", "opt_in_email", "opt_in_phone", "opt_in_sms", "opt_in_mail", "source",
            "income_range", "owner", "notes",
        ]  # fmt: skip
        widgets = {"birth_date": DATE_INPUT, "notes": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["owner"].queryset = User.objects.filter(is_active=True).order_by("username")  # type: ignore[attr-defined]
        if not user.has_perm("customers.reassign_customer"):
            self.fields["owner"].disabled = True
        if self.instance.pk:
            self.fields["version"].initial = self.instance.version
            self.fields["tag_names"].initial = ", ".join(t.name for t in self.instance.tags.all())
        if self.instance.company_id:
            self.fields["company_name"].initial = self.instance.company.name
        self._custom_keys: list[str] = []
        for definition in CustomField.objects.all():
            name = f"cf_{definition.key}"
            self.fields[name] = _custom_form_field(definition)
            self.fields[name].initial = (self.instance.custom_fields or {}).get(definition.key)
            self._custom_keys.append(definition.key)

    def clean_email(self) -> str | None:
        return normalize_email(self.cleaned_data.get("email"))

    def clean_phone(self) -> str:
        return normalize_phone(self.cleaned_data.get("phone"))

    def service_fields(self) -> dict[str, Any]:
        skip = ("tag_names", "version")
        data = {k: v for k, v in self.cleaned_data.items() if k not in skip and not k.startswith("cf_")}
        if self._custom_keys:
            data["custom_fields"] = {key: self.cleaned_data.get(f"cf_{key}") for key in self._custom_keys}
        if self.fields["owner"].disabled:
            data.pop("owner", None)
        return data

    def tag_list(self) -> list[str]:
        return [t.strip() for t in self.cleaned_data.get("tag_names", "").split(",") if t.strip()]


def _custom_form_field(definition: CustomField) -> forms.Field:
    """The form field for an admin-defined custom field (its type decides the input)."""
    common: dict[str, Any] = {"label": definition.label, "required": definition.required}
    kind = definition.field_type
    if kind == CustomFieldType.NUMBER:
        return forms.DecimalField(localize=True, **common)
    if kind == CustomFieldType.DATE:
        return forms.DateField(widget=DATE_INPUT, **common)
    if kind == CustomFieldType.BOOLEAN:
        return forms.BooleanField(**{**common, "required": False})
    if kind == CustomFieldType.CHOICE:
        return forms.ChoiceField(choices=[("", "—")] + [(c, c) for c in definition.choice_list()], **common)
    return forms.CharField(max_length=500, **common)


class CompanyForm(ServiceModelForm):
    class Meta:
        model = Company
        fields = ["name", "tax_id", "sector", "size", "region", "website"]


def show_stale_edit(form: CustomerForm, current: Customer) -> None:
    """After a refused stale save: keep what the editor typed, show the stored value next to every field
    where it differs, and take the stored version, so that saving again is a deliberate choice."""
    stored = CustomerForm(instance=current, user=form.user)
    for name, field in form.fields.items():
        if name == "version" or field.disabled:
            continue
        before = stored[name].initial
        if field.has_changed(before, form[name].data):
            shown = str(getattr(current, name) or "") if name in ("owner",) else _display(field, before)
            form.add_error(name, _("Saved meanwhile: %(value)s") % {"value": shown or _("(empty)")})
    data = cast(QueryDict, form.data).copy()
    data["version"] = current.version
    form.data = data


def _display(field: forms.Field, value: Any) -> str:
    if isinstance(field, forms.BooleanField):
        return str(_("yes") if value else _("no"))
    choices = getattr(field, "choices", None)
    if choices is not None:
        return str(dict(choices).get(value, value or ""))
    return "" if value is None else str(value)


class CustomerFilterForm(forms.Form):
    """The customer list's search box, filters and sort order."""

    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    stage = forms.ChoiceField(
        label=_("stage"), required=False, choices=[("", _("Any stage")), *Stage.choices]
    )
    owner = forms.ModelChoiceField(label=_("owner"), required=False, queryset=User.objects.none(),
                                   empty_label=_("Anyone"))  # fmt: skip
    tag = forms.ModelChoiceField(
        label=_("tag"), required=False, queryset=Tag.objects.none(), empty_label=_("Any tag")
    )
    sector = forms.CharField(label=_("sector"), required=False, max_length=100)
    source = forms.ChoiceField(label=_("source"), required=False)
    lifecycle = forms.ChoiceField(label=_("status"), required=False)
    rfm_segment = forms.ChoiceField(label=_("RFM segment"), required=False)
    abc_class = forms.ChoiceField(label=_("ABC class"), required=False)
    declining = forms.BooleanField(label=_("orders declining"), required=False)
    sort = forms.ChoiceField(
        label=_("Sort"),
        required=False,
        choices=[("newest", _("Newest first")), ("oldest", _("Oldest first")), ("name", _("Name A–Z")),
                 ("-name", _("Name Z–A")), ("revenue", _("Revenue")), ("clv", _("Expected value (CLV)")),
                 ("last_purchase", _("Last purchase"))],
    )  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = User.objects.filter(is_active=True).order_by("username")  # type: ignore[attr-defined]
        self.fields["tag"].queryset = Tag.objects.order_by("name")  # type: ignore[attr-defined]
        source_field = self.fields["source"]
        assert isinstance(source_field, forms.ChoiceField)
        source_field.choices = [("", _("Any source")), *Source.choices]
        for name, any_label, choices in (
            ("lifecycle", _("Any status"), Lifecycle.choices),
            ("rfm_segment", _("Any segment"), RFMSegment.choices),
            ("abc_class", _("Any class"), ABCClass.choices),
        ):
            field = self.fields[name]
            assert isinstance(field, forms.ChoiceField)
            field.choices = [("", any_label), *choices]

    def filters(self) -> CustomerFilters:
        data = self.cleaned_data if self.is_valid() else {}
        return CustomerFilters(
            query=data.get("q") or "",
            stage=data.get("stage") or "",
            owner_id=data["owner"].pk if data.get("owner") else None,
            tag_id=data["tag"].pk if data.get("tag") else None,
            sector=data.get("sector") or "",
            source=data.get("source") or "",
            lifecycle=data.get("lifecycle") or "",
            rfm_segment=data.get("rfm_segment") or "",
            abc_class=data.get("abc_class") or "",
            declining=bool(data.get("declining")),
        )

    def ordering(self) -> tuple[str, ...]:
        sort = (self.cleaned_data.get("sort") if self.is_valid() else "") or "newest"
        return CUSTOMER_SORTS.get(sort, CUSTOMER_SORTS["newest"])


class StageChangeForm(forms.Form):
    """The one control that moves a customer's relationship stage, with an optional why."""

    stage = forms.ChoiceField(label=_("Move to stage"), choices=Stage.choices)
    reason = forms.CharField(
        label=_("Why (optional)"),
        required=False,
        max_length=300,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. asked for a quote")}),
    )
