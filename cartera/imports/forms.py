"""Forms of the import pages: the upload, and the column mapping with its options."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from cartera.core.concurrency import version_of
from cartera.core.money import ISO_4217
from cartera.customers.models import Source
from cartera.imports.fields import fields_for
from cartera.imports.models import DuplicatePolicy, ImportJob, ImportKind, ImportMapping, ListOrigin

LIST_ORIGIN_HELP = _(
    "For a customer file. A purchased list needs its lawful basis, and its people must be told within a "
    "month (GDPR Art. 14): the import gives you a task for it."
)


class UploadForm(forms.Form):
    kind = forms.ChoiceField(label=_("What the file holds"), choices=ImportKind.choices)
    file = forms.FileField(
        label=_("File"),
        help_text=_("CSV, Excel (.xlsx), OpenDocument (.ods) or contacts (.vcf)."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.tsv,.xlsx,.ods,.vcf"}),
    )
    list_origin = forms.ChoiceField(
        label=_("Where the list comes from"),
        choices=ListOrigin.choices,
        initial=ListOrigin.OWN,
        required=False,
        help_text=LIST_ORIGIN_HELP,
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        limit = int(settings.CARTERA_MAX_UPLOAD_BYTES)
        if upload.size > limit:
            raise forms.ValidationError(
                _("The file is larger than %(mb)s MB, the most an import accepts."),
                params={"mb": limit // 2**20},
            )
        return upload


class MappingForm(forms.Form):
    """One select per column of the file, then how to read the cells and what to do with duplicates."""

    date_order = forms.ChoiceField(
        label=_("Dates are written"),
        choices=[("dmy", _("day/month/year (31/12/2024)")), ("mdy", _("month/day/year (12/31/2024)"))],
    )
    decimal_comma = forms.BooleanField(label=_("Decimal comma (1.234,56 €)"), required=False)
    phone_region = forms.CharField(
        label=_("Country of phone numbers without prefix"), max_length=2, required=False
    )
    duplicate_policy = forms.ChoiceField(
        label=_("When a record already exists"), choices=DuplicatePolicy.choices
    )
    source = forms.ChoiceField(label=_("Where the data comes from"), choices=Source.choices)
    source_detail = forms.CharField(label=_("Provider, event or file origin"), max_length=200, required=False)
    lawful_basis = forms.CharField(
        label=_("Lawful basis"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("For example: consent collected at the 2026 fair; contract; legitimate interest."),
    )
    save_as = forms.CharField(label=_("Save this mapping as"), max_length=100, required=False)
    # The saved mapping applied on this page and its version ("<id>:<version>"), so that replacing it
    # after someone else saved it is refused (cartera/core/concurrency.py).
    mapping_read = forms.RegexField(
        regex=r"^\d{1,18}:[0-9T:.+\- ]{0,40}$", max_length=60, required=False, widget=forms.HiddenInput
    )

    def __init__(
        self, *args: Any, job: ImportJob, applied: ImportMapping | None = None, read: str = "", **kwargs: Any
    ) -> None:
        initial = {
            "date_order": job.options.get("date_order", "dmy"),
            "decimal_comma": job.options.get("decimal_comma", True),
            "phone_region": job.options.get("phone_region") or settings.CARTERA_DEFAULT_PHONE_REGION,
            "duplicate_policy": job.duplicate_policy,
            "source": job.source,
            "source_detail": job.source_detail,
            "lawful_basis": job.lawful_basis,
        }
        if applied is not None:
            initial["save_as"] = applied.name
            initial["mapping_read"] = f"{applied.pk}:{version_of(applied)}"
        elif read:  # kept across "Update the preview"
            initial["mapping_read"] = read
        kwargs["initial"] = initial
        super().__init__(*args, **kwargs)
        self.job = job
        if job.kind == ImportKind.CUSTOMERS:
            self.fields["list_origin"] = forms.ChoiceField(
                label=_("Where the list comes from"),
                choices=ListOrigin.choices,
                initial=job.list_origin,
                required=False,  # not sent: the one given at upload stays
                help_text=LIST_ORIGIN_HELP,
            )
        if job.kind == ImportKind.ORDERS:
            self.fields["currency"] = forms.ChoiceField(
                label=_("Currency of the amounts"),
                help_text=_(
                    "Used for the rows that do not say it; a currency column overrides it row by row."
                ),
                choices=[(code, code) for code in sorted(ISO_4217)],
                initial=job.currency,
                required=False,  # left out, the import keeps its currency
            )
            self.fields["create_customers"] = forms.BooleanField(
                label=_("Create the customers that are not in the portfolio yet"),
                help_text=_(
                    "From the order rows: the customer's name, email and phone columns, or else the "
                    "customer id as the name. Without it, their orders are rejected."
                ),
                required=False,
                initial=bool(job.options.get("create_customers")),
            )
        choices = [("", _("— do not import —")), *[(f.key, f.label) for f in fields_for(job.kind)]]
        self.column_fields: list[tuple[str, str]] = []
        for index, header in enumerate(job.headers):
            name = f"col_{index}"
            self.fields[name] = forms.ChoiceField(
                label=header, choices=choices, required=False, initial=job.columns.get(header, "")
            )
            self.column_fields.append((name, header))
        # Where the list comes from, next to the source and the lawful basis it asks for.
        self.order_fields([*list(self.fields)[:4], "list_origin", "source", "source_detail", "lawful_basis"])

    def columns(self) -> dict[str, str]:
        return {
            header: self.cleaned_data[name] for name, header in self.column_fields if self.cleaned_data[name]
        }

    def options(self) -> dict[str, Any]:
        return {
            "date_order": self.cleaned_data["date_order"],
            "decimal_comma": self.cleaned_data["decimal_comma"],
            "phone_region": (self.cleaned_data["phone_region"] or "").upper(),
            "create_customers": bool(self.cleaned_data.get("create_customers")),
        }

    def currency(self) -> str:
        """The currency chosen for the rows that name none ("" for files that hold no orders)."""
        return str(self.cleaned_data.get("currency") or "")

    def mapping_read_value(self) -> tuple[int, str] | None:
        """The saved mapping this page applied and the version it was read at, if any."""
        pk, _colon, version = (self.cleaned_data.get("mapping_read") or "").partition(":")
        return (int(pk), version) if pk else None

    def column_bound_fields(self) -> list[forms.BoundField]:
        return [self[name] for name, _header in self.column_fields]
