"""Every export can be imported back into an empty Cartera and gives the same data, and importing the
same files again creates nothing (issue 11, item 9): customers, orders, interactions; CSV, CSV for
Spanish Excel and XLSX; Spanish and English headers."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from cartera.activity.models import Interaction
from cartera.activity.services import interaction_create
from cartera.customers.models import Company, Customer, Tag
from cartera.customers.services import customer_create
from cartera.imports.services import import_job_run
from cartera.sales.models import Order
from cartera.sales.services import order_create

pytestmark = pytest.mark.django_db

KINDS = ("customers", "orders", "interactions")
# Columns that say who and how, not what: the importing user owns and authored what an import
# writes, its source is "import", and the customer reference is the new Cartera's own number.
NOT_COMPARED = {
    "customers": {"Owner", "Responsable", "Source", "Origen", "Customer id", "Id cliente"},
    "orders": {"Source", "Origen", "Customer id", "Id cliente"},
    "interactions": {"Author", "Autor", "Customer id", "Id cliente"},
}


def _portfolio(owner, manager):
    lucia = customer_create(
        actor=owner,
        fields={
            "first_name": "Lucía", "last_name": "Martínez Ortega", "email": "lucia@example.es",
            "phone": "612 345 678", "city": "Cádiz", "postal_code": "11001", "stage": "customer",
            "company_name": "Ñandú, S.L.", "job_title": "Gerente", "notes": "=HYPERLINK(\"x\") -5 @x",
            "birth_date": dt.date(1980, 5, 17), "sector": "Hostelería",
        },
    )  # fmt: skip
    tom = customer_create(
        actor=manager,
        fields={"first_name": "Tom", "last_name": "Smith", "phone": "+447911123456", "stage": "prospect"},
    )
    order_create(
        actor=owner,
        customer=lucia,
        fields={"ordered_on": dt.date(2026, 3, 1), "amount": Decimal("1234.56"), "channel": "web",
                "category": "Vino", "external_ref": "F-2026-001"},
    )  # fmt: skip
    order_create(
        actor=manager,
        customer=tom,
        fields={"ordered_on": dt.date(2026, 4, 2), "amount": Decimal("5.00"), "category": "Devolución"},
    )
    interaction_create(
        actor=owner,
        customer=lucia,
        fields={"kind": "call", "direction": "outbound", "subject": "+34 llamada", "body": "Quiere vino",
                "occurred_at": timezone.make_aware(dt.datetime(2026, 3, 2, 10, 30)), "outcome": "positive"},
    )  # fmt: skip
    interaction_create(
        actor=manager,
        customer=tom,
        fields={
            "kind": "email",
            "subject": "Hello",
            "occurred_at": timezone.make_aware(dt.datetime(2026, 4, 3, 9)),
        },
    )


def _export(client: Client, kind: str, fmt: str, lang: str, through_worker) -> bytes:
    """A CSV streams; an XLSX is written by the worker and downloaded from My exports."""
    spanish_excel = fmt == "csv-es"
    url = reverse(f"imports:export_{kind}", args=["csv" if spanish_excel else fmt])
    if fmt == "xlsx":
        return through_worker(client, url, headers={"accept-language": lang})
    response = client.get(url + ("?excel=es" if spanish_excel else ""), headers={"accept-language": lang})
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def _table(content: bytes, fmt: str, kind: str) -> list[dict[str, object]]:
    if fmt == "xlsx":
        sheet = load_workbook(io.BytesIO(content)).active
        rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    else:
        text = content.decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text), delimiter=";" if fmt == "csv-es" else ","))
    header, *body = rows
    return sorted(
        ({h: v for h, v in zip(header, r, strict=True) if h not in NOT_COMPARED[kind]} for r in body),
        key=repr,
    )


def _wipe():
    Interaction.objects.all().delete()
    Order.objects.all().delete()
    Customer.objects.all().delete()
    Company.objects.all().delete()
    Tag.objects.all().delete()


@pytest.mark.parametrize(("fmt", "lang"), [("csv", "en"), ("csv-es", "es"), ("xlsx", "en"), ("xlsx", "es")])
def test_every_export_imports_back_into_an_empty_cartera(
    manager, owner, start_job, export_through_worker, fmt, lang
):
    _portfolio(owner, manager)
    client = Client()
    client.force_login(manager)
    files = {kind: _export(client, kind, fmt, lang, export_through_worker) for kind in KINDS}
    name = "export.xlsx" if fmt == "xlsx" else "export.csv"

    _wipe()
    for kind in KINDS:
        job = import_job_run(job=start_job(manager, files[kind], name=name, kind=kind), dry_run=False)
        assert job.error_count == 0, (kind, list(job.row_errors.values_list("message", flat=True)))
        assert job.created_count == 2, kind

    for kind in KINDS:
        again, before = (
            _table(_export(client, kind, fmt, lang, export_through_worker), fmt, kind),
            _table(files[kind], fmt, kind),
        )
        differ = [
            (k, b.get(k), a.get(k)) for b, a in zip(before, again, strict=True) for k in b if b[k] != a.get(k)
        ]
        assert again == before, (kind, differ)

    # The same files once more: nothing new.
    for kind in KINDS:
        job = import_job_run(job=start_job(manager, files[kind], name=name, kind=kind), dry_run=False)
        assert (job.created_count, job.updated_count, job.error_count) == (0, 0, 0), kind
    assert (Customer.objects.count(), Order.objects.count(), Interaction.objects.count()) == (2, 2, 2)


@pytest.mark.parametrize(("fmt", "lang"), [("csv", "en"), ("xlsx", "es")])
def test_an_export_imported_into_the_same_cartera_creates_nothing(
    manager, owner, start_job, export_through_worker, fmt, lang
):
    """Orders without a number of their own are exported as ``cartera-<id>``; importing the file back
    recognises them (same order, customer, date and amount), and the customers by e-mail or phone."""
    _portfolio(owner, manager)
    client = Client()
    client.force_login(manager)
    name = "export.xlsx" if fmt == "xlsx" else "export.csv"
    for kind in KINDS:
        content = _export(client, kind, fmt, lang, export_through_worker)
        job = import_job_run(job=start_job(manager, content, name=name, kind=kind), dry_run=False)
        assert (job.created_count, job.error_count) == (0, 0), kind
    assert (Customer.objects.count(), Order.objects.count(), Interaction.objects.count()) == (2, 2, 2)
