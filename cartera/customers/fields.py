"""The customer's fields, declared once: which are personal data, which a person edits, which an import
fills, which an export writes, which the segment builder can test.

The form, the service, the import, the export, the segment builder, the API and the privacy tools
read this table (or are checked against it by ``tests/customers/test_field_table.py``), so a field
added to the model cannot be forgotten in one of them. Labels and types come from the model field
itself, so they are not repeated here.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.utils.text import capfirst

from cartera.customers.models import Customer


@dataclass(frozen=True)
class CustomerField:
    """What the app does with one field of :class:`Customer`."""

    name: str
    personal: bool  # personal data: in the person's access export, cleared or replaced on erasure
    editable: bool = True  # in the customer form, the API's write schema and the update service
    importable: bool = True  # a column of a customer file can fill it
    exportable: bool = True  # a column of the customer export
    filterable: bool = True  # a condition of the segment builder

    @property
    def model_field(self) -> models.Field:  # type: ignore[type-arg]
        field = Customer._meta.get_field(self.name)
        assert isinstance(field, models.Field)
        return field

    @property
    def label(self) -> str:
        return str(capfirst(self.model_field.verbose_name))

    @property
    def kind(self) -> str:
        """The model field's type, e.g. ``CharField``, ``DateField``, ``ForeignKey``."""
        return type(self.model_field).__name__


F = CustomerField
# The customer export (imports/exporting.py) writes one column per exportable field, in this order.
# Admin-defined custom fields are not exported yet (exportable=False says so).
CUSTOMER_FIELDS: tuple[CustomerField, ...] = (
    F("first_name", personal=True),
    F("last_name", personal=True),
    F("title", personal=True),
    F("email", personal=True),
    F("phone", personal=True),
    F("stage", personal=False),
    F("sector", personal=False),
    # A company is filled in by name (import, form) and its own fields live on Company.
    F("company", personal=False),
    F("job_title", personal=True),
    F("profession", personal=True),
    F("birth_date", personal=True),
    F("address", personal=True),
    F("city", personal=True),
    F("region", personal=True),
    F("postal_code", personal=True),
    F("country", personal=True),
    F("preferred_channel", personal=True, importable=False),
    # Consent is recorded with its date, source and wording (the privacy ledger), never by a bare column.
    F("opt_in_email", personal=True, importable=False),
    F("opt_in_phone", personal=True, importable=False),
    F("opt_in_sms", personal=True, importable=False, filterable=False),
    F("opt_in_mail", personal=True, importable=False, filterable=False),
    F("source", personal=False, importable=False),
    F("income_range", personal=True, importable=False),
    F("owner", personal=False, importable=False),
    F("custom_fields", personal=True, importable=False, exportable=False, filterable=False),
    F("notes", personal=True, filterable=False),
    F("tags", personal=False),
    F("created_at", personal=False, editable=False, importable=False, exportable=False),
    F("updated_at", personal=False, editable=False, importable=False, exportable=False, filterable=False),
    F("first_name_key", personal=True, editable=False, importable=False, exportable=False, filterable=False),
    F("last_name_key", personal=True, editable=False, importable=False, exportable=False, filterable=False),
)
del F

BY_NAME: dict[str, CustomerField] = {f.name: f for f in CUSTOMER_FIELDS}


def field_names(
    *,
    personal: bool | None = None,
    editable: bool | None = None,
    importable: bool | None = None,
    exportable: bool | None = None,
    filterable: bool | None = None,
) -> tuple[str, ...]:
    """The names of the fields with the given flags, in the table's order."""
    wanted = {
        "personal": personal,
        "editable": editable,
        "importable": importable,
        "exportable": exportable,
        "filterable": filterable,
    }
    return tuple(
        f.name
        for f in CUSTOMER_FIELDS
        if all(value is None or getattr(f, flag) == value for flag, value in wanted.items())
    )
