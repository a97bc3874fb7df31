"""The import engine on real files and the real database: reading, checking, de-duplicating, writing."""

from __future__ import annotations

import io

import pytest

from cartera.customers.models import Company, Customer
from cartera.imports.models import DuplicatePolicy, ImportRecord, ImportRowError, JobStatus
from cartera.imports.services import import_job_configure, import_job_rollback, import_job_run

pytestmark = pytest.mark.django_db

CSV = (
    "Nombre;Apellidos;Correo electrónico;Teléfono;Empresa;Ciudad;Fecha de nacimiento;Etiquetas\n"
    "Lucía;Martínez;lucia@example.es;612 345 678;Acme SL;Madrid;01/02/1980;VIP, feria\n"
    "Pedro;Gómez;pedro@@x;612345679;;Sevilla;31/02/1990;\n"
    "Lucia;Martinez;;;Acme SL;Madrid;;\n"
    "Ana;Ruiz;ANA@example.es;;Beta SA;Bilbao;1975-05-06;\n"
)


def test_dry_run_reports_without_writing(manager, start_job):
    job = start_job(manager, CSV)
    assert job.columns["Correo electrónico"] == "email"
    import_job_run(job=job, dry_run=True)
    assert job.status == JobStatus.CHECKED
    assert job.report == {
        "create": 2, "update": 0, "unchanged": 0, "duplicate": 1, "skip": 1, "error": 1, "customers": 0,
        "rows": 4, "ignored": [],
    }  # fmt: skip
    errors = list(ImportRowError.objects.filter(job=job).values_list("row_number", "column", "value"))
    assert (3, "Correo electrónico", "pedro@@x") in errors
    assert (3, "Fecha de nacimiento", "31/02/1990") in errors
    assert Customer.objects.count() == 0 and Company.objects.count() == 0


def test_commit_writes_valid_rows_and_twice_creates_nothing(manager, start_job):
    job = import_job_run(job=start_job(manager, CSV), dry_run=False)
    assert job.status == JobStatus.DONE
    assert (job.created_count, job.error_count, job.duplicate_count) == (2, 1, 1)
    lucia = Customer.objects.get(email="lucia@example.es")
    assert lucia.phone == "+34612345678" and lucia.company.name == "Acme SL"
    assert lucia.birth_date.isoformat() == "1980-02-01"
    assert sorted(t.name for t in lucia.tags.all()) == ["VIP", "feria"]
    assert lucia.source == "import" and lucia.owner == manager
    assert ImportRecord.objects.filter(job=job, model="customers.customer").count() == 2
    assert not Customer.objects.filter(first_name="Pedro").exists()
    again = import_job_run(job=start_job(manager, CSV), dry_run=False)
    assert again.created_count == 0 and again.duplicate_count == 3
    assert Customer.objects.count() == 2 and Company.objects.count() == 2


def test_cp1252_file_reads_accents(manager, start_job):
    job = import_job_run(job=start_job(manager, CSV, encoding="cp1252"), dry_run=False)
    assert job.created_count == 2
    assert Customer.objects.filter(first_name="Lucía", last_name="Martínez").exists()


@pytest.mark.parametrize(
    ("policy", "expected_city", "expected_job"),
    [
        (DuplicatePolicy.SKIP, "Madrid", ""),
        (DuplicatePolicy.UPDATE_EMPTY, "Madrid", "Jefa"),
        (DuplicatePolicy.OVERWRITE, "Toledo", "Jefa"),
    ],
)
def test_duplicate_policies(manager, start_job, customer, policy, expected_city, expected_job):
    Customer.objects.filter(pk=customer.pk).update(city="Madrid")
    content = "Nombre,Apellidos,Email,Ciudad,Cargo\nLucía,Martínez Ortega,lucia@example.es,Toledo,Jefa\n"
    job = start_job(manager, content)
    import_job_configure(actor=manager, job=job, columns=job.columns, options={}, duplicate_policy=policy)
    job = import_job_run(job=job, dry_run=False)
    customer.refresh_from_db()
    assert (customer.city, customer.job_title) == (expected_city, expected_job)
    assert Customer.objects.count() == 1


def test_fuzzy_duplicate_by_name_and_city(manager, start_job, customer):
    Customer.objects.filter(pk=customer.pk).update(city="Madrid")
    job = import_job_run(
        job=start_job(manager, "Nombre,Apellidos,Ciudad\nLUCIA,martinez ortega,madrid\n"), dry_run=True
    )
    assert job.report["duplicate"] == 1 and job.report["create"] == 0


def test_create_anyway_cannot_reuse_an_email(manager, start_job, customer):
    job = start_job(manager, "Nombre,Email\nOtra,lucia@example.es\n")
    import_job_configure(actor=manager, job=job, columns=job.columns, options={}, duplicate_policy="create")
    job = import_job_run(job=job, dry_run=False)
    assert job.error_count == 1 and Customer.objects.count() == 1


def test_sales_rep_cannot_update_a_colleagues_customer(colleague, start_job, customer):
    job = start_job(colleague, "Nombre,Email,Ciudad\nLucía,lucia@example.es,Cádiz\n")
    import_job_configure(
        actor=colleague, job=job, columns=job.columns, options={}, duplicate_policy="overwrite"
    )
    import_job_run(job=job, dry_run=False)
    customer.refresh_from_db()
    assert customer.city == ""


def test_rollback_restores_and_removes(manager, start_job, customer):
    job = start_job(
        manager, "Nombre,Email,Ciudad\nLucía,lucia@example.es,Cádiz\nNuevo,nuevo@example.es,Vigo\n"
    )
    import_job_configure(
        actor=manager, job=job, columns=job.columns, options={}, duplicate_policy="overwrite"
    )
    job = import_job_run(job=job, dry_run=False)
    assert Customer.objects.count() == 2
    import_job_rollback(actor=manager, job=job)
    customer.refresh_from_db()
    assert customer.city == "" and Customer.objects.count() == 1
    assert job.status == JobStatus.ROLLED_BACK


def test_resume_after_interruption_writes_only_the_rest(manager, start_job, monkeypatch):
    from cartera.imports.services import running

    monkeypatch.setattr(running, "BATCH_SIZE", 2)
    rows = "".join(f"Nombre{i},persona{i}@example.es\n" for i in range(5))
    job = start_job(manager, "Nombre,Email\n" + rows)
    calls = {"n": 0}

    def crash_on_second_batch(done, total):
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyboardInterrupt  # the process dies after the first batch was committed

    with pytest.raises(KeyboardInterrupt):
        import_job_run(job=job, dry_run=False, progress=crash_on_second_batch)
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING and job.committed_row == 3
    assert Customer.objects.count() == 2
    job = import_job_run(job=job, dry_run=False)
    assert job.status == JobStatus.DONE and job.created_count == 5
    assert Customer.objects.count() == 5


def test_orders_go_in_their_own_batch_size(manager, start_job, customer, monkeypatch):
    """Order files are written LINKED_BATCH_SIZE rows per transaction, customer files BATCH_SIZE (the
    progress is saved once per batch)."""
    from cartera.imports.services import running
    from cartera.sales.models import Order

    monkeypatch.setattr(running, "BATCH_SIZE", 100)
    monkeypatch.setattr(running, "LINKED_BATCH_SIZE", 3)
    rows = "".join(f"lucia@example.es,0{1 + i}/04/2025,1{i},P-{i}\n" for i in range(7))
    job = start_job(manager, "Email,Fecha,Importe,Nº pedido\n" + rows, name="pedidos.csv", kind="orders")
    progress: list[int] = []
    job = import_job_run(job=job, dry_run=False, progress=lambda done, total: progress.append(done))
    assert progress == [3, 6, 7] and job.status == JobStatus.DONE and job.created_count == 7
    assert Order.objects.count() == 7
    customers = start_job(manager, "Nombre,Email\n" + "".join(f"N{i},n{i}@example.es\n" for i in range(7)))
    progress.clear()
    import_job_run(job=customers, dry_run=False, progress=lambda done, total: progress.append(done))
    assert progress == [7]


def test_orders_are_linked_and_idempotent(manager, start_job, customer):
    content = (
        "Email,Fecha,Importe,Nº pedido\n"
        'lucia@example.es,03/04/2025,"1.234,56 €",P-1\n'
        "lucia@example.es,04/04/2025,10,\n"
        "nadie@example.es,04/04/2025,10,P-3\n"
        "lucia@example.es,04/04/2025,-5,P-4\n"
    )
    job = import_job_run(job=start_job(manager, content, kind="orders"), dry_run=False)
    assert (job.created_count, job.error_count) == (2, 2)
    assert sorted(str(o.amount) for o in customer.orders.all()) == ["10.00", "1234.56"]
    customer.refresh_from_db()
    assert customer.stage == "customer"
    again = import_job_run(job=start_job(manager, content, kind="orders"), dry_run=False)
    assert again.created_count == 0 and customer.orders.count() == 2


def test_interactions_import(owner, start_job, customer):
    content = "Correo,Tipo,Fecha,Asunto\nlucia@example.es,Llamada,05/06/2025 10:30,Presupuesto\n"
    job = import_job_run(job=start_job(owner, content, kind="interactions"), dry_run=False)
    assert job.created_count == 1
    interaction = customer.interactions.get()
    assert interaction.kind == "call" and interaction.subject == "Presupuesto"
    assert (
        import_job_run(job=start_job(owner, content, kind="interactions"), dry_run=False).created_count == 0
    )


def test_vcard_import(manager, start_job):
    vcf = (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ana Ruiz\r\nN:Ruiz;Ana;;;\r\nEMAIL:ana@example.es\r\n"
        "TEL;TYPE=CELL:600111222\r\nORG:Acme SL\r\nADR;TYPE=HOME:;;Calle Mayor 1;Bilbao;Bizkaia;48001;España\r\nEND:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bo Sanz\r\nN:Sanz;Bo;;;\r\nTEL:+33 1 42 68 53 00\r\nEND:VCARD\r\n"
    )
    job = start_job(manager, vcf, name="contactos.vcf")
    assert job.columns["N.given"] == "first_name" and job.columns["TEL.cell"] == "mobile"
    job = import_job_run(job=job, dry_run=False)
    assert job.created_count == 2, list(job.row_errors.values_list("reason", flat=True))
    ana = Customer.objects.get(email="ana@example.es")
    assert (ana.phone, ana.city, ana.postal_code, ana.country, ana.company.name) == (
        "+34600111222",
        "Bilbao",
        "48001",
        "ES",
        "Acme SL",
    )
    assert Customer.objects.get(first_name="Bo").phone == "+33142685300"


def test_xlsx_and_ods_import(manager, start_job, tmp_path):
    import datetime

    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["First Name", "Last Name", "Email", "Mobile Phone", "Birthdate", "Account Name"])
    sheet.append(["Ana", "Ruiz", "ana@example.es", 600111222, datetime.date(1980, 1, 2), "Acme"])
    sheet.append(["=cmd()", "", "bad", "", "", ""])
    path = tmp_path / "salesforce.xlsx"
    workbook.save(path)
    job = import_job_run(job=start_job(manager, path.read_bytes(), name="salesforce.xlsx"), dry_run=False)
    assert (job.created_count, job.error_count) == (1, 1)
    ana = Customer.objects.get()
    assert ana.birth_date == datetime.date(1980, 1, 2) and ana.phone == "+34600111222"


def test_saved_mapping_is_reused(manager, start_job):
    from cartera.imports.models import ImportMapping
    from cartera.imports.services import import_mapping_apply

    job = start_job(manager, "Col A,Col B\nAna,ana@example.es\n")
    import_job_configure(
        actor=manager, job=job, columns={"Col A": "first_name", "Col B": "email"}, options={}, save_as="raro"
    )
    second = start_job(manager, "Col A,Col B\nBea,bea@example.es\n")
    assert second.columns == {}
    second = import_mapping_apply(job=second, mapping=ImportMapping.objects.get(name="raro"))
    assert import_job_run(job=second, dry_run=False).created_count == 1


def test_cli_import_and_export(manager, customer, tmp_path):
    from django.core.management import call_command

    path = tmp_path / "c.csv"
    path.write_text("Nombre;Email\nAna;ana@example.es\n", encoding="utf-8")
    out = io.StringIO()
    call_command("import", str(path), "--user", "manager", "--dry-run", "--lang", "en", stdout=out)
    assert "1 would be created" in out.getvalue() and Customer.objects.count() == 1
    call_command("import", str(path), "--user", "manager", "--map", "Nombre=first_name", stdout=io.StringIO())
    assert Customer.objects.count() == 2
    target = tmp_path / "out.csv"
    call_command("export", "customers", "--user", "manager", "-o", str(target), stderr=io.StringIO())
    assert target.read_bytes().startswith(b"\xef\xbb\xbf") and b"ana@example.es" in target.read_bytes()


def test_cli_export_refused_to_sales_rep(owner):
    from django.core.management import CommandError, call_command

    from cartera.imports.models import ExportLog

    with pytest.raises(CommandError):
        call_command("export", "customers", "--user", "owner", stdout=io.StringIO())
    assert ExportLog.objects.count() == 0


def test_parallel_reading_matches_in_process(manager, start_job, monkeypatch):
    from cartera.imports.services import reading, running

    monkeypatch.setattr(running, "BATCH_SIZE", 50)
    monkeypatch.setattr(reading, "PARALLEL_AFTER_ROWS", 100)
    rows = "".join(f"Nombre{i},persona{i}@example.es,6{i:08d}\n" for i in range(400))
    job = import_job_run(
        job=start_job(manager, "Nombre,Email,Teléfono\n" + rows + "Mal,@,1\n"), dry_run=False
    )
    assert (job.created_count, job.error_count) == (400, 1)
    assert Customer.objects.filter(phone="+34600000399").exists()


def test_a_live_job_cannot_be_started_twice_or_rolled_back(manager, start_job):
    import datetime

    from django.core.exceptions import ValidationError
    from django.utils import timezone

    from cartera.imports.models import ImportJob
    from cartera.imports.services import import_job_enqueue

    job = start_job(manager, "Nombre\nAna\n")
    ImportJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, updated_at=timezone.now())
    job.refresh_from_db()
    with pytest.raises(ValidationError):
        import_job_enqueue(actor=manager, job=job)
    with pytest.raises(ValidationError):
        import_job_rollback(actor=manager, job=job)
    ImportJob.objects.filter(pk=job.pk).update(updated_at=timezone.now() - datetime.timedelta(minutes=5))
    job.refresh_from_db()
    assert import_job_enqueue(actor=manager, job=job).status == JobStatus.QUEUED


def _bad(i: int) -> bool:
    return i % 37 == 5 and not _repeat(i)


def _repeat(i: int) -> bool:
    return i % 10 == 9 and i >= 120


def _many_rows(count: int) -> str:
    """Rows with bad emails every 37 rows and, every 10 rows, a repeat (same email) of a row about two
    batches of 50 back, so that duplicates span the batches the workers read."""
    lines = ["Nombre,Apellidos,Email,Teléfono,Ciudad"]
    for i in range(count):
        email = "no-es-un-correo" if _bad(i) else f"persona{i}@example.es"
        if _repeat(i):
            email = f"persona{i - 95}@example.es"
        lines.append(f"Nombre{i},Apellido{i % 7},{email},6{i:08d},Ciudad{i % 3}")
    return "\n".join(lines) + "\n"


def test_several_reading_workers_match_in_process(manager, start_job, monkeypatch):
    """Three workers each check every third batch: same counts, same rejected rows, same records as
    reading in-process, and the rows come back in file order."""
    import os

    from cartera.imports.services import reading, running

    monkeypatch.setattr(running, "BATCH_SIZE", 50)
    monkeypatch.setattr(reading, "PARALLEL_AFTER_ROWS", 100)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    content = _many_rows(1000)
    serial = start_job(manager, content)
    import_job_configure(actor=manager, job=serial, columns=serial.columns, options={"parallel": False})
    serial = import_job_run(job=serial, dry_run=True)
    parallel = import_job_run(job=start_job(manager, content), dry_run=False)
    assert parallel.report == serial.report
    bad = sum(1 for i in range(1000) if _bad(i))
    repeats = sum(1 for i in range(1000) if _repeat(i) and not _bad(i - 95))
    assert (parallel.report["error"], parallel.report["duplicate"]) == (bad, repeats)
    assert list(parallel.row_errors.values_list("row_number", flat=True)) == list(
        serial.row_errors.values_list("row_number", flat=True)
    )
    numbers = list(parallel.records.order_by("id").values_list("row_number", flat=True))
    assert numbers == sorted(numbers) and len(numbers) == parallel.created_count


def test_parse_error_read_by_a_worker_stops_the_import_after_whole_batches(manager, start_job, monkeypatch):
    from django.core.exceptions import ValidationError

    from cartera.imports import parsers
    from cartera.imports.services import reading, running

    monkeypatch.setattr(running, "BATCH_SIZE", 50)
    monkeypatch.setattr(reading, "PARALLEL_AFTER_ROWS", 100)
    monkeypatch.setattr(parsers, "MAX_LINE_CHARS", 500)
    lines = _many_rows(1000).splitlines()
    lines[700] = lines[700] + ",x" * 400  # data row 700 (file row 701) is too long
    job = start_job(manager, "\n".join(lines) + "\n")
    with pytest.raises(ValidationError):
        import_job_run(job=job, dry_run=False)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "500" in job.message
    # The 699 rows before it: 13 whole batches of 50 were written, the 49 after them were not.
    assert job.committed_row == 651 and job.processed_rows == 650
