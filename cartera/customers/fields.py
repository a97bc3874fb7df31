"""The customer's fields, declared once: which are personal data, which a person edits, which an import
fills, which an export writes, which the segment builder can test.

The form, the service, the import, the export, the segment builder, the API and the privacy tools
read this table (or are checked against it by ``tests/customers/test_field_table.py``), so a field
added to the model cannot be forgotten in one of them. Labels and types come from the model field
itself, so they are not repeated here.

The fields an admin adds in the app (:class:`CustomField`, values in ``Customer.custom_fields``) are
the table's other half: :func:`custom_field_specs` lists them for the same consumers, each named
``cf:<key>``, and :func:`custom_value` is the one reading of a typed value (form, API, import).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import models
from django.db.models import FloatField, Q, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Upper
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    IContains,
    In,
    IStartsWith,
    LessThan,
    LessThanOrEqual,
)
from django.utils.text import capfirst

from cartera.customers.models import Customer, CustomField, CustomFieldType


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
    # A customer file's rows may name their own source; rows that do not take the import's.
    F("source", personal=False),
    F("income_range", personal=True, importable=False),
    F("owner", personal=False, importable=False),
    # One entry per admin-defined field (custom_field_specs): a form field, an import column, an export
    # column, a segment condition, a list filter and an API filter each.
    F("custom_fields", personal=True),
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


CUSTOM_PREFIX = "cf:"


@dataclass(frozen=True)
class CustomFieldSpec:
    """One admin-defined field as the consumers of the table see it (named ``cf:<key>``)."""

    key: str
    label: str
    kind: str  # a CustomFieldType value: text, number, date, boolean, choice
    choices: tuple[str, ...]
    required: bool
    definition: CustomField

    @property
    def name(self) -> str:
        return f"{CUSTOM_PREFIX}{self.key}"

    def parse(self, raw: Any) -> Any:
        """The JSON-ready stored value of ``raw`` (``None`` for blank); ``ValueError`` when it does not fit."""
        return custom_value(self.kind, self.choices, raw)

    def shown(self, value: Any) -> str:
        """A stored value as a person reads it (yes/no for a boolean, the date in the user's format)."""
        from django.utils import formats
        from django.utils.translation import gettext

        if value in (None, ""):
            return ""
        if self.kind == CustomFieldType.BOOLEAN:
            return gettext("Yes") if value is True else gettext("No")
        if self.kind == CustomFieldType.DATE:
            try:
                return str(formats.date_format(datetime.date.fromisoformat(str(value)), "SHORT_DATE_FORMAT"))
            except ValueError:
                return str(value)
        if self.kind == CustomFieldType.NUMBER:
            try:
                return str(formats.number_format(Decimal(str(value)), use_l10n=True))
            except InvalidOperation:
                return str(value)
        return str(value)


def custom_field_specs() -> tuple[CustomFieldSpec, ...]:
    """The admin-defined fields, in the admin's order (one small query)."""
    return tuple(
        CustomFieldSpec(
            key=d.key,
            label=d.label,
            kind=d.field_type,
            choices=tuple(d.choice_list()),
            required=d.required,
            definition=d,
        )
        for d in CustomField.objects.all()
    )


_TRUE = {"1", "true", "yes", "si", "sí", "s", "y", "x", "on", "verdadero"}
_FALSE = {"0", "false", "no", "n", "off", "falso"}


def custom_value(kind: str, choices: tuple[str, ...] | list[str], raw: Any) -> Any:
    """A custom field's value as stored: numbers as decimal text, dates ISO, booleans, choices exactly as
    the admin wrote them (matched without regard to case). ``None`` for a blank value; ``ValueError``
    when the value does not fit the type."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if kind == CustomFieldType.NUMBER:
        if isinstance(raw, bool):
            raise ValueError(raw)
        number = _number(raw)
        if not number.is_finite() or abs(number) >= Decimal("1e15"):
            raise ValueError(raw)
        return format(number.normalize(), "f")
    if kind == CustomFieldType.DATE:
        if isinstance(raw, datetime.datetime):
            return raw.date().isoformat()
        if isinstance(raw, datetime.date):
            return raw.isoformat()
        text = str(raw).strip()
        try:
            return datetime.date.fromisoformat(text).isoformat()
        except ValueError:
            day, month, year = (int(p) for p in text.replace("-", "/").replace(".", "/").split("/"))
            return datetime.date(year, month, day).isoformat()
    if kind == CustomFieldType.BOOLEAN:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(raw)
    text = str(raw).strip()
    if kind == CustomFieldType.CHOICE:
        for choice in choices:
            if choice.casefold() == text.casefold():
                return choice
        raise ValueError(raw)
    if len(text) > 500 or "\x00" in text:
        raise ValueError(raw)
    return text


def _number(raw: Any) -> Decimal:
    """A number as typed: plain ("39.5", "-2") kept exactly, else as people write amounts ("1.234,50")."""
    from cartera.core.money import parse_money

    if isinstance(raw, Decimal | int | float):
        return Decimal(str(raw))
    text = str(raw).strip()
    try:
        return Decimal(text)
    except InvalidOperation:
        return parse_money(text, allow_negative=True)


def custom_field_q(key: str, kind: str, op: str, value: Any, today: datetime.date) -> Q:
    """Customers whose admin-defined field ``key`` satisfies ``op`` (the segment builder's operators,
    ``kind`` one of its types: text, choice, number, date, bool), ``value`` already checked. Used by
    the segment builder, the list filters and the API filters, so a condition means the same in each.

    The value is read from the JSON column as text (numbers cast).

    Values were stored by ``customers.fields.custom_value`` (numbers as decimal text, ISO dates,
    JSON booleans), and a field's type never changes, so every stored value reads as its type.
    """
    text = KeyTextTransform(key, "custom_fields")
    missing = Q(**{f"custom_fields__{key}__isnull": True})
    if op == "empty":
        return missing | Q(Exact(text, ""))
    if op == "not_empty":
        return ~missing & ~Q(Exact(text, ""))
    if kind == "bool":
        return (
            Q(**{f"custom_fields__{key}": True})
            if op == "true"
            else (missing | Q(**{f"custom_fields__{key}": False}))
        )
    if kind in ("text", "choice"):
        if op in ("in", "not_in"):
            found = Q(In(text, list(value)))
            return found if op == "in" else (~found | missing)
        same = Q(Exact(Upper(text), Upper(Value(value))))
        return {
            "eq": lambda: same,
            "neq": lambda: ~same | missing,
            "contains": lambda: Q(IContains(text, value)),
            "startswith": lambda: Q(IStartsWith(text, value)),
        }[op]()
    if kind == "number":
        number = Cast(text, FloatField())
        if op == "between":
            return Q(GreaterThanOrEqual(number, float(value[0]))) & Q(
                LessThanOrEqual(number, float(value[1]))
            )
        compare = {"eq": Exact, "neq": Exact, "gt": GreaterThan, "gte": GreaterThanOrEqual, "lt": LessThan,
                   "lte": LessThanOrEqual}[op]  # fmt: skip
        q = Q(compare(number, float(value)))
        return (~q | missing) if op == "neq" else q
    # Dates are ISO text, so comparing the text compares the dates.
    if op == "last_days":
        return Q(GreaterThanOrEqual(text, (today - datetime.timedelta(days=int(value))).isoformat()))
    if op == "older_days":
        return Q(LessThan(text, (today - datetime.timedelta(days=int(value))).isoformat()))
    if op == "between":
        return Q(GreaterThanOrEqual(text, value[0])) & Q(LessThanOrEqual(text, value[1]))
    return {"eq": lambda: Q(Exact(text, value)), "before": lambda: Q(LessThan(text, value)),
            "after": lambda: Q(GreaterThan(text, value))}[op]()  # fmt: skip


# The segment builder's type of each custom field type.
SEGMENT_KINDS = {"text": "text", "number": "number", "date": "date", "boolean": "bool", "choice": "choice"}


def custom_filter_q(spec: CustomFieldSpec, raw: Any) -> Q:
    """The list's and the API's filter on one custom field: a choice or a yes/no is that value, a text
    contains it, a number or a date is equal to it. Nothing for a blank value; ``ValueError`` when
    ``raw`` does not fit the field's type."""
    from django.utils import timezone

    value = spec.parse(raw)
    if value is None:
        return Q()
    kind = SEGMENT_KINDS[spec.kind]
    today = timezone.localdate()
    if kind == "bool":
        return custom_field_q(spec.key, kind, "true" if value else "false", None, today)
    if kind == "choice":
        return custom_field_q(spec.key, kind, "in", [value], today)
    return custom_field_q(spec.key, kind, "contains" if kind == "text" else "eq", value, today)
