"""Forms parse and render input; the services validate and write."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from cartera.accounts.models import User
from cartera.core.concurrency import VersionedFormMixin
from cartera.core.contact import normalize_email, normalize_phone
from cartera.core.forms import ServiceModelForm
from cartera.customers.classification import ABCClass, Lifecycle, RFMSegment
from cartera.customers.fields import CustomFieldSpec, custom_field_specs
from cartera.customers.models import Company, Customer, CustomField, CustomFieldType, Source, Stage, Tag
from cartera.customers.selectors import CUSTOMER_SORTS, CustomerFilters

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class CustomerForm(VersionedFormMixin, ServiceModelForm):
    """Create / edit a customer. Email and phone are normalised by the service; a save based on an
    older version than the stored one is refused (see :mod:`cartera.core.concurrency`)."""

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
            self.fields["tag_names"].initial = ", ".join(t.name for t in self.instance.tags.all())
        if self.instance.company_id:
            self.fields["company_name"].initial = self.instance.company.name
        self._custom_keys: list[str] = []
        for definition in CustomField.objects.all():
            name = f"cf_{definition.key}"
            self.fields[name] = _custom_form_field(definition)
            stored = (self.instance.custom_fields or {}).get(definition.key)
            if definition.field_type == CustomFieldType.NUMBER and stored not in (None, ""):
                # A Decimal, so that the form writes it the user's way ("41,5" in Spanish).
                stored = Decimal(str(stored))
            self.fields[name].initial = stored
            if not definition.editable_for(user):
                # Shown, not editable: the service keeps the stored value (and refuses another one).
                self.fields[name].disabled = True
                self.fields[name].required = False
                self.fields[name].help_text = _("Who may change it: %(who)s") % {
                    "who": definition.get_editable_by_display()
                }
            self._custom_keys.append(definition.key)

    def stored_form(self, current: Any) -> CustomerForm:
        return CustomerForm(instance=current, user=self.user)

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
        return forms.DecimalField(localize=True, max_digits=30, **common)
    if kind == CustomFieldType.DATE:
        return forms.DateField(widget=DATE_INPUT, **common)
    if kind == CustomFieldType.BOOLEAN:
        return forms.BooleanField(**{**common, "required": False})
    if kind == CustomFieldType.CHOICE:
        return forms.ChoiceField(choices=[("", "—")] + [(c, c) for c in definition.choice_list()], **common)
    return forms.CharField(max_length=500, **common)


def _custom_filter_field(spec: CustomFieldSpec) -> forms.Field:
    """A list filter on a custom field: a choice or yes/no picked from a list, anything else typed."""
    if spec.kind == CustomFieldType.CHOICE:
        return forms.ChoiceField(
            label=spec.label, required=False, choices=[("", _("Any")), *[(c, c) for c in spec.choices]]
        )
    if spec.kind == CustomFieldType.BOOLEAN:
        return forms.ChoiceField(
            label=spec.label, required=False, choices=[("", _("Any")), ("yes", _("Yes")), ("no", _("No"))]
        )
    widget = forms.DateInput(attrs={"type": "date"}) if spec.kind == CustomFieldType.DATE else forms.TextInput
    return forms.CharField(label=spec.label, required=False, max_length=100, widget=widget)


class CustomFieldForm(forms.ModelForm):  # type: ignore[type-arg]
    """An admin's custom field: key and type only when it is created (they never change afterwards)."""

    class Meta:
        model = CustomField
        fields = ["label", "key", "field_type", "choices", "required", "editable_by", "position"]
        widgets = {"choices": forms.Textarea(attrs={"rows": 4})}
        help_texts = {
            "key": _("Letters, digits, - and _: the name of the column in imports, exports and the API.")
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            for name in ("key", "field_type"):
                self.fields[name].disabled = True

    def settings(self) -> dict[str, Any]:
        """What the services take as the field's settings (not its key and type)."""
        return {k: v for k, v in self.cleaned_data.items() if k not in ("key", "field_type")}


class CompanyForm(VersionedFormMixin, ServiceModelForm):
    """Create / edit a company; a save based on an older version is refused (lost update)."""

    class Meta:
        model = Company
        fields = ["name", "tax_id", "sector", "size", "region", "website"]


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
    left_from = forms.DateField(label=_("left the active base from"), required=False, widget=DATE_INPUT)
    left_to = forms.DateField(label=_("left the active base until"), required=False, widget=DATE_INPUT)
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
        self.custom_specs = {f"cf_{spec.key}": spec for spec in custom_field_specs()}
        for name, spec in self.custom_specs.items():
            self.fields[name] = _custom_filter_field(spec)

    def custom_filter_fields(self) -> list[forms.BoundField]:
        """The filters on admin-defined fields, for the template."""
        return [self[name] for name in self.custom_specs]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name, spec in self.custom_specs.items():
            raw = data.get(name)
            if raw in (None, ""):
                continue
            try:
                spec.parse(raw)
            except (ValueError, ArithmeticError):
                self.add_error(
                    name, _("“%(value)s” is not valid for %(label)s.") % {"value": raw, "label": spec.label}
                )
        return data

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
            left_from=data.get("left_from"),
            left_to=data.get("left_to"),
            custom=tuple(
                (spec.key, str(data[name])) for name, spec in self.custom_specs.items() if data.get(name)
            ),
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
