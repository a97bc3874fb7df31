"""The import, export and merge pages through the test client, as every persona."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from cartera.activity.models import Interaction
from cartera.customers.models import Customer
from cartera.imports.models import ExportLog, ImportJob, JobStatus
from cartera.sales.services import order_create

pytestmark = pytest.mark.django_db

CSV = "Nombre;Apellidos;E-mail;Móvil\nAna;Ruiz;ana@example.es;600 111 222\nBea;;bad-email;\n"


def upload(client, content: bytes, name="clientes.csv", kind="customers"):
    return client.post(reverse("imports:upload"), {"kind": kind, "file": SimpleUploadedFile(name, content)})


def test_upload_map_dry_run_commit(client, owner, settings, django_capture_on_commit_callbacks):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    client.force_login(owner)
    response = upload(client, CSV.encode("utf-8-sig"))
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("imports:mapping", args=[job.pk])
    page = client.get(reverse("imports:mapping", args=[job.pk]))
    assert page.status_code == 200 and "ana@example.es" in page.text and "+34600111222" in page.text
    form = {f"col_{i}": job.columns.get(h, "") for i, h in enumerate(job.headers)}
    form.update(date_order="dmy", decimal_comma="on", phone_region="ES", duplicate_policy="skip",
                source="event", source_detail="Feria 2026", lawful_basis="consentimiento", save_as="feria",
                action="dry_run")  # fmt: skip
    response = client.post(reverse("imports:mapping", args=[job.pk]), form)
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == JobStatus.CHECKED and job.report["create"] == 1 and job.report["error"] == 1
    assert Customer.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("imports:commit", args=[job.pk]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == JobStatus.DONE and job.created_count == 1
    ana = Customer.objects.get()
    assert ana.source == "event" and ana.owner == owner
    progress = client.get(reverse("imports:progress", args=[job.pk]))
    assert "<progress" in progress.text and "hx-trigger" not in progress.text
    rejected = client.get(reverse("imports:rejected", args=[job.pk]))
    text = b"".join(rejected.streaming_content).decode("utf-8-sig")
    # Written back as it came (";", UTF-8 with BOM), the row number and the reason first.
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0][2:] == ["Nombre", "Apellidos", "E-mail", "Móvil"]
    assert rows[1][0] == "3" and "bad-email" in rows[1][1] and rows[1][2] == "Bea"


def test_bad_files_change_nothing(client, owner):
    client.force_login(owner)
    cases = [
        (b"", "vacio.csv"),
        (b"\x00\x01\x02binary\xff" * 100, "x.csv"),
        (b"PK\x03\x04garbage-not-a-zip", "roto.xlsx"),
        (b"Ana;ana@example.es;600111222\n", "sin_cabecera.csv"),
        (b"a" * (2 * 1024 * 1024), "una_linea.csv"),
    ]
    for content, name in cases:
        response = upload(client, content, name)
        assert response.status_code == 400, name
        assert 'role="alert"' in response.text, name
    assert ImportJob.objects.count() == 0 and Customer.objects.count() == 0


def test_upload_size_limit(client, owner, settings):
    settings.CARTERA_MAX_UPLOAD_BYTES = 100
    client.force_login(owner)
    response = upload(client, CSV.encode() * 10)
    assert response.status_code == 400 and ImportJob.objects.count() == 0
    response = upload(client, b"Nombre\n" + b"Ana\n" * 40000)
    assert response.status_code == 413 and ImportJob.objects.count() == 0


def test_spanish_messages(client, owner):
    client.force_login(owner)
    response = upload(client, b"Ana;ana@example.es;600111222\n", "sin_cabecera.csv")
    assert "La primera fila" in response.text
    response = upload(client, b"PK\x03\x04roto", "roto.xlsx")
    assert "hoja de cálculo" in response.text


def test_sales_rep_cannot_export(client, owner, customer):
    client.force_login(owner)
    for name in ("export_customers", "export_orders", "export_interactions"):
        assert client.get(reverse(f"imports:{name}", args=["csv"])).status_code == 403
    assert ExportLog.objects.count() == 0


def test_outsider_sees_nothing(client, outsider, customer, manager):
    client.force_login(outsider)
    for url in (
        reverse("imports:index"),
        reverse("customers:duplicates"),
        reverse("imports:export_customers", args=["csv"]),
    ):
        assert client.get(url).status_code == 403
    job = ImportJob.objects.create(
        kind="customers", file_name="x.csv", stored_path="/nonexistent", created_by=manager
    )
    assert client.get(reverse("imports:detail", args=[job.pk])).status_code == 404
    assert client.post(reverse("imports:rollback", args=[job.pk])).status_code == 404
    assert ExportLog.objects.count() == 0


def test_colleague_cannot_see_another_reps_job(client, owner, colleague):
    job = ImportJob.objects.create(
        kind="customers", file_name="x.csv", stored_path="/nonexistent", created_by=owner
    )
    client.force_login(colleague)
    assert client.get(reverse("imports:detail", args=[job.pk])).status_code == 404


def test_manager_exports_filtered_list(client, manager, owner, customer, export_through_worker):
    from cartera.customers.services import customer_create

    customer_create(actor=owner, fields={"first_name": '=HYPERLINK("x")', "stage": "suspect"})
    client.force_login(manager)
    response = client.get(reverse("imports:export_customers", args=["csv"]) + "?stage=prospect&excel=es")
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    assert len(rows) == 2 and rows[1][:2] == [f"cartera-{customer.pk}", "Lucía"]
    log = ExportLog.objects.get()
    assert (log.user, log.what, log.row_count, log.filters["stage"]) == (manager, "customers", 1, "prospect")
    content = export_through_worker(client, reverse("imports:export_customers", args=["xlsx"]))
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    names = [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)]
    # A text cell, exactly as stored (no apostrophe), never a formula (issue 11 item 8).
    assert '=HYPERLINK("x")' in names and "Lucía" in names
    assert sheet.cell(2, 2).data_type == "s" and sheet.cell(3, 2).data_type == "s"
    vcard = b"".join(client.get(reverse("imports:export_customers", args=["vcf"])).streaming_content)
    assert vcard.count(b"BEGIN:VCARD") == 2 and b"lucia@example.es" in vcard


def test_orders_and_interactions_export(client, manager, customer, export_through_worker):
    order_create(actor=manager, customer=customer, fields={"ordered_on": "2025-01-02", "amount": "1234.50"})
    client.force_login(manager)
    body = b"".join(
        client.get(reverse("imports:export_orders", args=["csv"]) + "?excel=es").streaming_content
    )
    assert "1234,50" in body.decode("utf-8-sig")
    content = export_through_worker(client, reverse("imports:export_interactions", args=["xlsx"]))
    assert openpyxl.load_workbook(io.BytesIO(content)).active.max_row == 1  # the header: no interaction
    assert ExportLog.objects.count() == 2


def test_duplicates_and_merge_keep_everything(client, manager, owner, customer):
    from cartera.activity.services import interaction_create, task_create
    from cartera.customers.services import customer_create, tags_get_or_create

    twin = customer_create(
        actor=owner,
        fields={
            "first_name": "Lucia",
            "last_name": "Martinez Ortega",
            # No phone: a different phone on both sides would contradict the namesake and the finder
            # would not propose the pair (docs/import-export.md, "Possible duplicates").
            "city": "Madrid",
        },
        tags=tags_get_or_create(names=["VIP"]),
    )
    order_create(actor=owner, customer=twin, fields={"ordered_on": "2025-01-02", "amount": "10"})
    interaction_create(actor=owner, customer=twin, fields={"kind": "call", "subject": "hola"})
    task_create(actor=owner, fields={"title": "llamar", "customer": twin, "due_at": timezone.now()})
    client.force_login(manager)
    assert client.post(reverse("customers:duplicates")).status_code == 302
    page = client.get(reverse("customers:duplicates"))
    assert page.status_code == 200 and "Martinez Ortega" in page.text
    screen = client.get(reverse("customers:merge"), {"keep": twin.pk, "remove": customer.pk})
    assert screen.status_code == 200 and 'name="city" value="remove" checked' in screen.text
    response = client.post(reverse("customers:merge"), {"keep": customer.pk, "remove": twin.pk})
    assert response.status_code == 302
    customer.refresh_from_db()
    assert not Customer.objects.filter(pk=twin.pk).exists()
    assert customer.orders.count() == 1 and customer.tasks.count() == 1
    assert [t.name for t in customer.tags.all()] == ["VIP"]
    assert customer.city == "Madrid" and customer.phone == "+34612345678" and customer.stage == "customer"
    notes = Interaction.objects.filter(customer=customer, kind="note")
    assert notes.count() == 1 and f"#{twin.pk}" in notes.get().body
    assert customer.interactions.count() == 2


def test_sales_rep_merges_only_their_own_records(client, owner, colleague, customer):
    """A rep merges two records that are both theirs (issue 15), never one of a colleague's."""
    from cartera.customers.services import customer_create

    theirs = customer_create(actor=colleague, fields={"first_name": "Lucía", "last_name": "Martínez"})
    twin = customer_create(actor=owner, fields={"first_name": "Lucia", "last_name": "Martinez Ortega"})
    client.force_login(owner)
    assert (
        client.post(reverse("customers:merge"), {"keep": customer.pk, "remove": theirs.pk}).status_code == 403
    )
    assert Customer.objects.count() == 3
    assert (
        client.post(reverse("customers:merge"), {"keep": customer.pk, "remove": twin.pk}).status_code == 302
    )
    assert set(Customer.objects.values_list("pk", flat=True)) == {customer.pk, theirs.pk}


def test_outsider_walks_every_import_route(client, outsider, manager, customer):
    job = ImportJob.objects.create(
        kind="customers", file_name="x.csv", stored_path="/nonexistent", created_by=manager
    )
    client.force_login(outsider)
    gets = ["mapping", "detail", "progress", "rejected"]
    for name in gets:
        assert client.get(reverse(f"imports:{name}", args=[job.pk])).status_code == 404, name
    for name in ("commit", "rollback"):
        assert client.post(reverse(f"imports:{name}", args=[job.pk])).status_code == 404, name
    assert client.post(reverse("imports:upload"), {"kind": "customers"}).status_code == 403
    assert (
        client.post(reverse("customers:merge"), {"keep": customer.pk, "remove": customer.pk}).status_code
        == 403  # no right to merge at all: refused before the ids are looked at
    )
    job.refresh_from_db()
    assert job.status == JobStatus.UPLOADED and Customer.objects.count() == 1


def test_import_list_query_count(client, manager, django_assert_max_num_queries):
    for n in range(5):
        ImportJob.objects.create(kind="customers", file_name=f"{n}.csv", stored_path="/x", created_by=manager)
    client.force_login(manager)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("imports:index"))
    assert response.status_code == 200 and response.text.count("/data/imports/") >= 5


def test_customer_list_export_links_keep_the_filters(client, manager, owner, customer):
    client.force_login(manager)
    page = client.get(
        reverse("customers:list") + "?stage=prospect", headers={"HX-Request": "true", "HX-Target": "results"}
    )
    assert "/data/export/customers.csv?stage=prospect" in page.text
    client.force_login(owner)
    assert "/data/export/" not in client.get(reverse("customers:list")).text
