"""Reads for imports and exports, scoped to what the user may reach."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from cartera.activity.models import Interaction
from cartera.core.scoping import Action, can, get_for_user, restrict
from cartera.customers.fields import field_names
from cartera.customers.models import Customer
from cartera.customers.selectors import CustomerFilters, customer_list
from cartera.imports.fields import field_map, text_of
from cartera.imports.models import (
    ExportJob,
    ImportJob,
    ImportKind,
    ImportMapping,
    ImportRecord,
    ImportRowError,
    RowOutcome,
)
from cartera.imports.parsers import open_table
from cartera.imports.rows import RowReader
from cartera.sales.models import Order

KIND_PERMISSION = {
    ImportKind.CUSTOMERS: Customer,
    ImportKind.ORDERS: Order,
    ImportKind.INTERACTIONS: Interaction,
}


def can_import(user: Any, kind: str = ImportKind.CUSTOMERS) -> bool:
    """Importing creates records, so it needs the permission to add them."""
    return can(user, KIND_PERMISSION[ImportKind(kind)], "add")


def import_job_list(*, user: Any, action: Action = "view") -> QuerySet[ImportJob]:
    """Jobs the user started (all jobs for roles that act on every record)."""
    return restrict(ImportJob.objects.select_related("created_by"), user, action)


def import_job_get(*, user: Any, pk: int, action: Action = "view") -> ImportJob:
    """One job: 404 outside the user's jobs, 403 when they see it but may not ``action`` it."""
    return get_for_user(ImportJob.objects.select_related("created_by"), user, action, pk=pk)


def mapping_list(*, user: Any, kind: str) -> QuerySet[ImportMapping]:
    """Saved mappings the user may apply (anyone's: a mapping holds no personal data)."""
    if not can_import(user, kind):
        return ImportMapping.objects.none()
    return restrict(ImportMapping.objects.filter(kind=kind), user, "view").select_related("created_by")


def import_job_preview(*, job: ImportJob, limit: int = 5) -> list[dict[str, Any]]:
    """The first rows as they will be stored: ``{"number", "values": [(label, value)], "problems"}``."""
    definitions = field_map(job.kind)
    result = []
    with open_table(Path(job.stored_path), job.file_name) as table:
        reader = RowReader(job.kind, table.headers, job.columns, job.options)
        for number, raw in table.rows:
            row = reader.read(number, raw)
            values = [
                (
                    str(definitions[k].label) if k in definitions else k,
                    ", ".join(v) if isinstance(v, list) else text_of(v),
                )
                for k, v in row.data.items()
            ]
            result.append({"number": number, "values": values, "problems": row.problems})
            if len(result) >= limit:
                break
    return result


CUSTOMER_REFERENCES = ("customer_email", "customer_phone", "customer_external_id")


def check_columns(*, kind: str, headers: list[str], columns: Mapping[str, str]) -> None:
    """Refuse a mapping that names a column the file does not have or a field imports do not know
    (with the list of those it knows), and an order or interaction file with no column naming the
    customer (one message for the file, not the same error on every row)."""
    known = field_map(kind)
    for header, key in columns.items():
        if header not in headers:
            raise ValidationError(
                _("The file has no column “%(column)s”. Its columns: %(columns)s.")
                % {"column": header, "columns": ", ".join(headers)}
            )
        if key and key not in known:
            raise ValidationError(
                _(
                    "“%(field)s” (for the column “%(column)s”) is not a field this import can fill. Fields: %(fields)s."
                )
                % {
                    "field": key,
                    "column": header,
                    "fields": ", ".join(f"{k} ({definition.label})" for k, definition in known.items()),
                }
            )
    if kind != ImportKind.CUSTOMERS and not set(columns.values()) & set(CUSTOMER_REFERENCES):
        labels = ", ".join(str(known[key].label) for key in CUSTOMER_REFERENCES)
        raise ValidationError(
            _(
                "No column says which customer each row belongs to. Map one column to one of: %(fields)s "
                "(headers such as “Cliente”, “Id cliente”, “Email” or “Customer ID” are recognised)."
            )
            % {"fields": labels}
        )


def ignored_columns(job: ImportJob) -> list[str]:
    """The file's columns that nothing reads (listed in the preview, the dry run and the result)."""
    return [header for header in job.headers if not job.columns.get(header)]


def mapping_problem(*, job: ImportJob) -> str:
    """What is wrong with the job's mapping for the whole file (no column names the customer of an
    order), said once on the mapping page instead of on every row; empty when nothing is."""
    try:
        check_columns(kind=job.kind, headers=job.headers, columns=job.columns)
    except ValidationError as exc:
        return str(exc.messages[0])
    return ""


def rejected_rows(*, user: Any, job: ImportJob) -> QuerySet[ImportRowError]:
    """The rows the job rejected, with why, in file order."""
    return restrict(ImportRowError.objects.filter(job=job, outcome=RowOutcome.REJECTED), user, "view")


def row_notes(*, user: Any, job: ImportJob) -> QuerySet[ImportRowError]:
    """What happened to the rows that were not simply created (skipped or merged as a duplicate of
    another row, matched to an existing customer, written with a warning), in file order."""
    return restrict(ImportRowError.objects.filter(job=job).exclude(outcome=RowOutcome.REJECTED), user, "view")


def rows_not_written(*, user: Any, job: ImportJob) -> QuerySet[ImportRowError]:
    """The rows that were not written as themselves (rejected, or skipped or merged as the same person
    as another row): the rejected-rows file."""
    outcomes = (RowOutcome.REJECTED, RowOutcome.SKIPPED, RowOutcome.MERGED)
    return restrict(ImportRowError.objects.filter(job=job, outcome__in=outcomes), user, "view")


def rollback_conflicts(*, user: Any, job: ImportJob) -> QuerySet[ImportRecord]:
    """The records a rollback kept, with why, in file order."""
    return (
        restrict(ImportRecord.objects.filter(job=job), user, "view")
        .exclude(conflict="")
        .order_by("row_number", "id")
    )


def customers_for_export(*, user: Any, filters: CustomerFilters) -> QuerySet[Customer]:
    """The filtered customer list, limited to what the user may export (nothing without the permission)."""
    qs = restrict(customer_list(user=user, filters=filters), user, "export")
    # Only what an export writes (the list's join to the analysis figures and the bookkeeping columns
    # cost every row their reading and converting); the owner's name is read once per owner by the
    # row writer (imports/exporting.py), the company with the row, the tags a chunk at a time
    # (``exporting.export_objects``).
    columns = [name for name in field_names(exportable=True) if name not in ("company", "owner", "tags")]
    return (
        qs.select_related(None)
        .select_related("company")
        .only("id", "owner_id", *columns, "company__name", "company__tax_id")
        .order_by("id")
    )


def orders_for_export(*, user: Any) -> QuerySet[Order]:
    return restrict(Order.objects.select_related("customer").order_by("id"), user, "export")


def interactions_for_export(*, user: Any) -> QuerySet[Interaction]:
    return restrict(Interaction.objects.select_related("customer", "author").order_by("id"), user, "export")


def export_job_list(*, user: Any) -> QuerySet[ExportJob]:
    """The user's own export jobs, newest first. Only the requester's, whatever the role: the file
    holds what they could export (the scoping rule alone would give managers everybody's)."""
    if not getattr(user, "is_authenticated", False):
        return ExportJob.objects.none()
    return restrict(ExportJob.objects.filter(requested_by=user), user, "view")


def export_job_get(*, user: Any, pk: int) -> ExportJob:
    """One of the user's own export jobs; anybody else's is a 404."""
    return get_for_user(export_job_list(user=user), user, "view", pk=pk)


def can_see_exports(user: Any) -> bool:
    """Whether the user has a My exports page: they may export something, or still have a file there."""
    return any(can(user, model, "export") for model in KIND_PERMISSION.values()) or (
        export_job_list(user=user).exists()
    )


def export_filters_in_words(filters: Mapping[str, str]) -> list[tuple[str, str]]:
    """An export's filters as the customer list shows them: each filter's label and its value in
    words (a stage's name, an owner's name), in the reader's language; raw where the list no longer
    has the filter."""
    from django import forms

    from cartera.customers.forms import CustomerFilterForm

    if not filters:
        return []
    form = CustomerFilterForm(dict(filters))
    cleaned = form.cleaned_data if form.is_valid() else {}
    words = []
    for name, raw in filters.items():
        field = form.fields.get(name)
        if field is None:
            words.append((name, raw))
            continue
        value: Any = raw
        if isinstance(field, forms.ModelChoiceField):
            value = cleaned.get(name) or raw
        elif isinstance(field, forms.ChoiceField):
            value = dict(field.choices).get(raw, raw)  # type: ignore[arg-type]
        elif isinstance(field, forms.BooleanField):
            value = _("yes") if cleaned.get(name) else _("no")
        words.append((str(field.label), str(value)))
    return words
