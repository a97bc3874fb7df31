"""Writing exports: CSV (UTF-8 with BOM, optionally ``;`` and decimal comma for Spanish Excel), XLSX
(openpyxl write-only) and vCard. A CSV cell a spreadsheet would run as a formula is neutralised (OWASP:
a leading apostrophe); an XLSX cell holding text is a text cell, so it never runs and keeps its value."""

from __future__ import annotations

import csv
import datetime
import tempfile
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from itertools import batched
from operator import attrgetter
from typing import Any

from django.db import models
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cartera.activity.models import Interaction
from cartera.core.contact import format_phone
from cartera.customers.fields import BY_NAME, CustomFieldSpec, custom_field_specs, field_names
from cartera.customers.models import Customer, CustomFieldType
from cartera.sales.models import Order

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "vcf": "text/vcard; charset=utf-8",
}


def neutralize(value: Any) -> Any:
    """A text cell that starts like a formula gets a leading apostrophe so it stays text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


# How the export writes the customer fields that are more than their stored value: the column
# header(s) and the cell(s). Every other field of the field table marked ``exportable`` is one column
# headed by the model field's label, holding its value (a choice by its label, a yes/no in words).
_COMPANY_HEADERS = (gettext_lazy("Company"), gettext_lazy("Tax id"))


def _exported_fields() -> list[str]:
    """The exportable fields of ``customers/fields.py`` written one column each; ``custom_fields``
    becomes one column per admin-defined field, added by :func:`customer_export`."""
    return [name for name in field_names(exportable=True) if name != "custom_fields"]


def customer_columns() -> list[str]:
    """The customer export's header: one column per exportable field of ``customers/fields.py``."""
    header: list[str] = []
    for name in _exported_fields():
        header.extend(str(h) for h in _COMPANY_HEADERS) if name == "company" else header.append(
            BY_NAME[name].label
        )
    return header


# The row writer runs once per customer (a million times in a big export), so everything that does
# not depend on the customer is worked out once per export, in the export's language: the fields'
# order, each choice field's labels, "yes"/"no", each owner's name. Cells are read straight from the
# attributes (``attrgetter``), with no per-cell look-up in the field table or gettext. The bytes are
# those of the plain field-by-field writing (tests/imports/test_export_csv_bytes.py).
def _customer_cell_getters() -> list[Callable[[Customer], Any]]:
    """One function per column of :func:`customer_columns`, in order."""
    yes, no = _("yes"), _("no")
    owner_names: dict[int | None, str] = {None: ""}

    def owner(c: Customer) -> str:
        name = owner_names.get(c.owner_id)
        if name is None:  # the first customer of this owner: one query, then remembered
            name = owner_names[c.owner_id] = str(c.owner or "")
        return name

    def tags(c: Customer) -> str:
        # Read in bulk by :func:`export_objects`; one query for this customer otherwise.
        names = getattr(c, EXPORT_TAGS, None)
        return ", ".join(t.name for t in c.tags.all()) if names is None else names

    def company_name(c: Customer) -> Any:
        return c.company.name if c.company else ""

    def company_tax_id(c: Customer) -> Any:
        return c.company.tax_id if c.company else ""

    special: dict[str, list[Callable[[Customer], Any]]] = {
        "email": [lambda c: c.email or ""],
        "phone": [lambda c: format_phone(c.phone)],
        "company": [company_name, company_tax_id],
        "owner": [owner],
        "tags": [tags],
    }
    getters: list[Callable[[Customer], Any]] = []
    for name in _exported_fields():
        if name in special:
            getters.extend(special[name])
            continue
        field = BY_NAME[name].model_field
        read = attrgetter(field.attname)
        if field.choices:
            # What ``get_<name>_display`` gives: the label, or the stored value when it has none.
            labels: dict[Any, str] = {value: str(label) for value, label in field.flatchoices}
            getters.append(_choice_getter(read, labels))
        elif isinstance(field, models.BooleanField):
            # Only a real True/False is words, as before (a NULL stays empty).
            words: dict[Any, str] = {True: yes, False: no}
            getters.append(_choice_getter(read, words))
        else:
            getters.append(read)
    return getters


def _choice_getter(read: Callable[[Customer], Any], words: dict[Any, str]) -> Callable[[Customer], Any]:
    """The cell of a field written in words: the word of its value, or the value when it has none."""

    def cell(c: Customer) -> Any:
        value = read(c)
        return words.get(value, value) if value is not None else value

    return cell


EXPORT_TAGS = "_export_tag_names"
EXPORT_CHUNK = 2000


def export_objects(qs: QuerySet[Any]) -> Iterator[Any]:
    """The rows of an export's queryset, read ``EXPORT_CHUNK`` at a time. Customers come with their
    tag names, read for the whole chunk in one query (``prefetch_related`` builds a queryset per
    customer, which cost more than writing the row), in the tags' own order (by name)."""
    rows = qs.iterator(chunk_size=EXPORT_CHUNK)
    if qs.model is not Customer:
        yield from rows
        return
    from cartera.customers.models import Tag

    through = Customer.tags.through
    order = [f"tag__{name}" for name in Tag._meta.ordering or ["pk"]]
    for chunk in batched(rows, EXPORT_CHUNK):
        names: dict[int, list[str]] = {}
        links = through.objects.filter(customer_id__in=[c.pk for c in chunk]).order_by(*order, "tag_id")
        for customer_id, name in links.values_list("customer_id", "tag__name"):
            names.setdefault(customer_id, []).append(name)
        for c in chunk:
            setattr(c, EXPORT_TAGS, ", ".join(names.get(c.pk, ())))
            yield c


def customer_export() -> tuple[list[str], Callable[[Customer], list[Any]]]:
    """The customer export's header and row writer: the customer's reference (which orders and
    interactions exports repeat), the columns above, then one per admin-defined field
    (customers/fields.py), read once per export."""
    specs = custom_field_specs()
    header = [_("Customer id"), *customer_columns(), *(spec.label for spec in specs)]
    getters = _customer_cell_getters()
    custom = [(spec.key, _custom_cell_writer(spec)) for spec in specs]

    def row(c: Customer) -> list[Any]:
        cells = [customer_reference(c)]
        cells += [get(c) for get in getters]
        values = c.custom_fields or {}
        cells += [write(values.get(key)) for key, write in custom]
        return cells

    return header, row


def _custom_cell_writer(spec: CustomFieldSpec) -> Callable[[Any], Any]:
    """How one custom field's values are written, its kind and words decided once: a real date or
    number, "Yes"/"No" (as ``spec.shown``), or the text; a value that no longer fits its type as text."""
    if spec.kind == CustomFieldType.BOOLEAN:
        # What ``spec.shown`` writes for a boolean, looked up once.
        yes, no = _("Yes"), _("No")

        def boolean(value: Any) -> Any:
            if value is None or value == "":
                return None
            return yes if value is True else no

        return boolean
    parse: Callable[[str], Any] | None = None
    if spec.kind == CustomFieldType.DATE:
        parse = datetime.date.fromisoformat
    elif spec.kind == CustomFieldType.NUMBER:
        parse = Decimal

    def cell(value: Any) -> Any:
        if value is None or value == "":
            return None
        if parse is None:
            return str(value)
        try:
            return parse(str(value))
        except (ValueError, ArithmeticError):
            return str(value)

    return cell


# Orders and interactions name their customer by the columns an import recognises (imports/fields.py),
# in Spanish and English, so an export can be imported back (into this Cartera or an empty one): the
# customer's reference (the one the customer export writes), e-mail, phone and name.
def customer_reference(c: Customer) -> str:
    """The customer's reference in exports: ``cartera-<id>``, stable and readable; the customer export
    writes it too, and an import keeps it as the customer's id in the other system."""
    return f"cartera-{c.pk}"


def order_number(o: Order) -> str:
    """The order's own number, or for an order that has none (entered by hand, or imported without
    one: then it holds an internal digest ``h:…``) the stable readable ``cartera-<id>``."""
    ref = o.external_ref or ""
    return ref if ref and not ref.startswith("h:") else f"cartera-{o.pk}"


def _customer_identity_columns() -> list[str]:
    return [_("Customer id"), _("Customer email"), _("Customer phone"), _("Customer name")]


def _customer_identity(c: Customer) -> list[Any]:
    return [customer_reference(c), c.email or "", format_phone(c.phone), c.full_name]


def order_columns() -> list[str]:
    return [_("Order number"), *_customer_identity_columns(), _("Date"), _("Amount"), _("Currency"),
            _("Channel"), _("Purchase type"), _("Source")]  # fmt: skip


def order_row(o: Order) -> list[Any]:
    return [order_number(o), *_customer_identity(o.customer), o.ordered_on, o.amount, o.currency,
            o.get_channel_display(), o.category, o.source]  # fmt: skip


def interaction_columns() -> list[str]:
    return [_("When"), *_customer_identity_columns(), _("Kind"), _("Direction"), _("Subject"), _("Text"),
            _("Outcome"), _("Author")]  # fmt: skip


def interaction_row(i: Interaction) -> list[Any]:
    return [timezone.localtime(i.occurred_at).replace(tzinfo=None), *_customer_identity(i.customer), i.get_kind_display(),
            i.get_direction_display(), i.subject, i.body, i.get_outcome_display(),
            str(i.author or "")]  # fmt: skip


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_stream(header: list[str], rows: Iterable[list[Any]], spanish: bool = False) -> Iterator[bytes]:
    """CSV bytes, row by row: UTF-8 with BOM; ``spanish`` uses ``;`` and decimal comma."""
    writer = csv.writer(_Echo(), delimiter=";" if spanish else ",")
    # Headers too: the rejected-rows file repeats the uploaded file's own column names.
    yield b"\xef\xbb\xbf" + writer.writerow([neutralize(str(h)) for h in header]).encode()
    starts = FORMULA_STARTS
    for row in rows:
        # Most cells are text that needs nothing: kept as they are without a call per cell.
        cells = [v if v.__class__ is str and not v.startswith(starts) else _csv_cell(v, spanish) for v in row]
        yield writer.writerow(cells).encode()


def _csv_cell(value: Any, spanish: bool) -> Any:
    if value.__class__ is str:  # most cells: the same as ``neutralize(str(value))`` below, sooner
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    if value is None:
        return ""
    if isinstance(value, Decimal | float):
        text = f"{value:.2f}"
        return text.replace(".", ",") if spanish else text
    if isinstance(value, datetime.datetime):
        return value.strftime("%d/%m/%Y %H:%M" if spanish else "%Y-%m-%d %H:%M")
    if isinstance(value, datetime.date):
        return value.strftime("%d/%m/%Y" if spanish else "%Y-%m-%d")
    return neutralize(str(value))


def xlsx_file(header: list[str], rows: Iterable[list[Any]]) -> Any:
    """A temporary file holding the workbook (write-only mode keeps memory flat)."""
    handle = tempfile.TemporaryFile()  # noqa: SIM115  # the caller closes it
    xlsx_write(header, rows, handle)
    handle.seek(0)
    return handle


def xlsx_write(header: list[str], rows: Iterable[list[Any]], handle: Any) -> None:
    """Write the workbook to ``handle`` (a binary file or path), one row at a time."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append([_xlsx_cell(sheet, str(h)) for h in header])
    for row in rows:
        sheet.append([_xlsx_cell(sheet, v) for v in row])
    workbook.save(handle)


def _xlsx_cell(sheet: Any, value: Any) -> Any:
    """A cell as a spreadsheet takes it. Text is written as a text cell (``t="inlineStr"``), exactly
    as typed: openpyxl would store a string starting with "=" as a formula, so the cell's type is
    forced to text, and nothing (``=HYPERLINK(...)``, ``+34600111222``, ``-5``, ``@x``) ever runs as
    a formula or gets an apostrophe that would change the value on a round trip. Only the control
    characters an XLSX file cannot hold are dropped."""
    if value is None:
        return ""
    if isinstance(value, str):
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        cell = WriteOnlyCell(sheet, ILLEGAL_CHARACTERS_RE.sub("", value))
        cell.data_type = "s"
        return cell
    return value


def vcard_stream(customers: Iterable[Customer]) -> Iterator[bytes]:
    import vobject

    for c in customers:
        card = vobject.vCard()
        card.add("fn").value = c.full_name or c.first_name
        card.add("n").value = vobject.vcard.Name(family=c.last_name, given=c.first_name)
        if c.email:
            card.add("email").value = c.email
        if c.phone:
            card.add("tel").value = c.phone
        if c.company:
            card.add("org").value = [c.company.name]
        if c.job_title:
            card.add("title").value = c.job_title
        if c.city or c.address or c.postal_code:
            card.add("adr").value = vobject.vcard.Address(
                street=c.address, city=c.city, region=c.region, code=c.postal_code, country=c.country
            )
        if c.birth_date:
            card.add("bday").value = c.birth_date.isoformat()
        yield card.serialize().encode()
