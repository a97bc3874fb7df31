"""Reads for imports and exports, scoped to what the user may reach."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.db.models import QuerySet

from cartera.activity.models import Interaction
from cartera.core.scoping import Action, can, get_for_user, restrict
from cartera.customers.models import Customer
from cartera.customers.selectors import CustomerFilters, customer_list
from cartera.imports.fields import field_map, text_of
from cartera.imports.models import ImportJob, ImportKind, ImportMapping, ImportRecord, ImportRowError
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


def rejected_rows(*, user: Any, job: ImportJob) -> QuerySet[ImportRowError]:
    """The rows the job rejected, with why, in file order."""
    return restrict(ImportRowError.objects.filter(job=job), user, "view")


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
    return qs.select_related("company", "owner").prefetch_related("tags").order_by("id")


def orders_for_export(*, user: Any) -> QuerySet[Order]:
    return restrict(Order.objects.select_related("customer").order_by("id"), user, "export")


def interactions_for_export(*, user: Any) -> QuerySet[Interaction]:
    return restrict(Interaction.objects.select_related("customer", "author").order_by("id"), user, "export")
