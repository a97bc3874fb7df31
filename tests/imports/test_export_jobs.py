"""Export jobs (issue 16): an XLSX, or a CSV too big to stream, is written by the task worker with its
requester's rights when it runs, downloaded from My exports by the requester alone while it has not
expired, every request and download in the audit log, and its file deleted by the retention run."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import openpyxl
import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cartera.customers.selectors import CustomerFilters
from cartera.customers.services import customer_create
from cartera.imports import exporting, selectors
from cartera.imports.models import ExportJob, ExportLog, ExportStatus
from cartera.imports.services import export_job_create, export_job_run
from cartera.privacy.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def portfolio(owner, customer):
    customer_create(actor=owner, fields={"first_name": "Tomás", "stage": "customer", "email": "t@example.es"})
    customer_create(actor=owner, fields={"first_name": '=HYPERLINK("x")', "stage": "prospect"})
    return customer


def _sheet(content: bytes) -> list[list[object]]:
    return [list(r) for r in openpyxl.load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True)]


def test_click_xlsx_the_worker_writes_it_and_the_download_is_what_the_old_export_gave(
    client, manager, portfolio, export_through_worker
):
    client.force_login(manager)
    # The button on the customer list carries the list's filters.
    page = client.get(reverse("customers:list") + "?stage=prospect")
    xlsx_action = reverse("imports:export_customers", args=["xlsx"]) + "?stage=prospect"
    assert f'action="{xlsx_action}"' in page.text
    content = export_through_worker(client, xlsx_action, headers={"accept-language": "en"})

    job = ExportJob.objects.get()
    assert (job.requested_by, job.kind, job.file_format, job.filters) == (
        manager,
        "customers",
        "xlsx",
        {"stage": "prospect"},
    )
    assert (job.status, job.row_count, job.total_rows) == (ExportStatus.DONE, 2, 2)
    assert Path(job.stored_path).parent == Path(job.stored_path).parent.parent / "exports"
    assert job.expires_at == job.finished_at + dt.timedelta(hours=24)

    # The same workbook as the export built in the request before (same selector, same writer).
    from django.utils import translation

    with translation.override("en"):
        qs = selectors.customers_for_export(user=manager, filters=CustomerFilters(stage="prospect"))
        header, row = exporting.customer_export()
        with exporting.xlsx_file(header, (row(c) for c in qs)) as handle:
            assert _sheet(content) == _sheet(handle.read())
    names = [r[1] for r in _sheet(content)[1:]]
    assert sorted(names) == sorted(['=HYPERLINK("x")', "Lucía"])

    # Who asked for what (the export log and the audit log), then who downloaded it.
    log = ExportLog.objects.get()
    assert (log.user, log.what, log.file_format, log.row_count) == (manager, "customers", "xlsx", 2)
    asked = AuditEntry.objects.get(action="exported")
    assert (asked.actor, asked.target_type, asked.target_id) == (manager, "imports.export.customers", log.pk)
    assert asked.detail["job"] == job.pk and asked.detail["filters"] == {"stage": "prospect"}
    downloaded = AuditEntry.objects.get(action="downloaded")
    assert (downloaded.actor, downloaded.target_id, downloaded.detail["job"]) == (manager, log.pk, job.pk)
    client.get(reverse("imports:export_download", args=[job.pk]))
    assert AuditEntry.objects.filter(action="downloaded").count() == 2

    # My exports shows it with its link and its expiry.
    exports = client.get(reverse("imports:exports"))
    assert reverse("imports:export_download", args=[job.pk]) in exports.text
    assert f'id="export-{job.pk}"' in exports.text and "hx-get" not in exports.text
    assert "Filtros: etapa: Cliente potencial" in exports.text  # the filters in words, not stage=prospect


def test_the_file_holds_what_the_requester_may_export_when_it_runs(
    client, manager, owner, portfolio, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.VAR_DIR = tmp_path
    job = export_job_create(actor=manager, kind="customers", file_format="csv", filters={})
    assert job.status == ExportStatus.QUEUED and job.total_rows == 3
    customer_create(actor=owner, fields={"first_name": "Llegó después"})
    job = export_job_run(job_id=job.pk)
    assert job is not None and job.row_count == 4
    body = Path(job.stored_path).read_bytes().decode("utf-8-sig")
    assert "Llegó después" in body and len(list(csv.reader(io.StringIO(body)))) == 5
    assert export_job_run(job_id=job.pk) is None  # a task run twice writes once

    # A requester who lost the right before the worker ran gets nothing written.
    later = export_job_create(actor=manager, kind="orders", file_format="xlsx", filters={})
    manager.groups.clear()
    from cartera.accounts.models import User

    failed = export_job_run(job_id=later.pk)
    assert failed is not None and failed.status == ExportStatus.FAILED and not failed.stored_path
    assert User.objects.get(pk=manager.pk).groups.count() == 0


def test_nobody_else_downloads_it_not_even_an_admin(
    client, manager, admin_user, colleague, make_user, portfolio, export_through_worker
):
    from tests.conftest import login

    client.force_login(manager)
    export_through_worker(client, reverse("imports:export_orders", args=["xlsx"]))
    job = ExportJob.objects.get()
    audit_before = AuditEntry.objects.count()
    other_manager = make_user("manager2", "manager")
    for user in (other_manager, admin_user, colleague):
        other = login(Client(), user)
        assert other.get(reverse("imports:export_download", args=[job.pk])).status_code == 404
        assert other.get(reverse("imports:export_progress", args=[job.pk])).status_code == 404
        page = other.get(reverse("imports:exports"))
        assert page.status_code in (200, 403)
        assert reverse("imports:export_download", args=[job.pk]) not in page.text
    assert AuditEntry.objects.count() == audit_before


def test_an_expired_file_is_refused_then_deleted_by_retention(
    client, manager, portfolio, export_through_worker, settings
):
    client.force_login(manager)
    export_through_worker(client, reverse("imports:export_customers", args=["xlsx"]))
    job = ExportJob.objects.get()
    path = Path(job.stored_path)
    ExportJob.objects.filter(pk=job.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    response = client.get(
        reverse("imports:export_download", args=[job.pk]), follow=True, headers={"accept-language": "en"}
    )
    assert response.redirect_chain[-1][0] == reverse("imports:exports")
    assert "This file has expired and was deleted." in response.text
    assert "Expired: the file was deleted" in response.text
    assert reverse("imports:export_download", args=[job.pk]) not in response.text
    assert AuditEntry.objects.filter(action="downloaded").count() == 1  # only the first, good one
    assert not path.exists()  # the download attempt deleted it on the spot (test_export_expiry.py)

    # One nobody tried to download: the retention run deletes it too (besides the worker's sweep).
    export_through_worker(
        client, reverse("imports:export_customers", args=["xlsx"]), headers={"accept-language": "en"}
    )
    job = ExportJob.objects.order_by("-id").first()
    path = Path(job.stored_path)
    ExportJob.objects.filter(pk=job.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    out = io.StringIO()
    call_command("privacy", "retention", "--dry-run", stdout=out)
    assert "export_files: dry run: would remove 1" in out.getvalue() and path.exists()
    call_command("privacy", "retention", stdout=io.StringIO())
    assert not path.exists()
    job.refresh_from_db()
    assert job.file_deleted_at is not None and job.status == ExportStatus.DONE and job.row_count == 3


def test_the_retention_period_comes_from_the_setting(
    client, manager, portfolio, export_through_worker, settings
):
    settings.CARTERA_RETENTION = {**settings.CARTERA_RETENTION, "export_files_hours": 2}
    client.force_login(manager)
    export_through_worker(client, reverse("imports:export_customers", args=["xlsx"]))
    job = ExportJob.objects.get()
    assert job.expires_at == job.finished_at + dt.timedelta(hours=2)


def test_a_small_csv_streams_and_a_big_one_goes_to_the_worker(
    client, manager, portfolio, export_through_worker, settings
):
    client.force_login(manager)
    url = reverse("imports:export_customers", args=["csv"])
    streamed = b"".join(client.get(url).streaming_content)
    assert ExportJob.objects.count() == 0 and ExportLog.objects.count() == 1

    settings.CARTERA_EXPORT_STREAM_MAX_ROWS = 2
    page = client.get(url + "?excel=es")
    assert page.status_code == 200 and 'id="export-start"' in page.text
    assert f'action="{url}?excel=es"' in page.text and ExportLog.objects.count() == 1
    written = export_through_worker(client, url + "?excel=es")
    job = ExportJob.objects.get()
    assert job.file_format == "csv_es" and job.filters == {}
    body = written.decode("utf-8-sig")
    assert ";" in body.splitlines()[0] and len(body.splitlines()) == len(
        streamed.decode("utf-8-sig").splitlines()
    )


def test_my_exports_polls_while_the_worker_has_not_finished(client, manager, portfolio, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    client.force_login(manager)
    response = client.post(reverse("imports:export_customers", args=["xlsx"]), follow=True)
    job = ExportJob.objects.get()
    assert job.status == ExportStatus.QUEUED  # the request's transaction never committed: nothing ran
    progress = reverse("imports:export_progress", args=[job.pk])
    assert f'hx-get="{progress}"' in response.text
    fragment = client.get(progress)
    assert fragment.text.lstrip().startswith("<article") and "0 de 3 filas" in fragment.text
    assert f'hx-get="{progress}"' in fragment.text
    # Not downloadable yet: back to My exports, saying so.
    early = client.get(reverse("imports:export_download", args=[job.pk]), follow=True)
    assert early.redirect_chain[-1][0] == reverse("imports:exports") and "aún no está listo" in early.text
    assert not AuditEntry.objects.filter(action="downloaded").exists()


def test_bad_filters_and_formats_are_refused_with_a_message(
    client, manager, owner, portfolio, tmp_path, settings
):
    settings.VAR_DIR = tmp_path
    client.force_login(manager)
    response = client.post(reverse("imports:export_customers", args=["xlsx"]) + "?stage=nope", follow=True)
    assert response.status_code == 200 and ExportJob.objects.count() == 0
    assert "no son válidos" in response.text
    assert client.post(reverse("imports:export_orders", args=["vcf"])).status_code == 403
    client.force_login(owner)  # a sales rep may not export
    assert client.post(reverse("imports:export_customers", args=["xlsx"])).status_code == 403
    assert client.get(reverse("imports:exports")).status_code == 403
    assert ExportJob.objects.count() == 0 and ExportLog.objects.count() == 0


def test_the_cli_export_still_writes_at_once(manager, portfolio, tmp_path):
    out = tmp_path / "clientes.xlsx"
    err = io.StringIO()
    call_command("export", "customers", "--user", "manager", "--format", "xlsx", "-o", str(out), stderr=err)
    assert len(_sheet(out.read_bytes())) == 4 and "3 customers exported" in err.getvalue()
    assert ExportJob.objects.count() == 0 and ExportLog.objects.get().filters == {"cli": True}


def test_a_job_whose_worker_stopped_says_so_and_stops_polling(client, manager, portfolio, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    job = export_job_create(actor=manager, kind="customers", file_format="xlsx", filters={})
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportStatus.RUNNING, updated_at=timezone.now() - dt.timedelta(minutes=11)
    )
    client.force_login(manager)
    page = client.get(reverse("imports:exports"), headers={"accept-language": "en"})
    assert "the background worker stopped. Export again." in page.text
    assert "hx-get" not in page.text
    ExportJob.objects.filter(pk=job.pk).update(updated_at=timezone.now())
    assert "hx-get" in client.get(reverse("imports:exports")).text


@pytest.mark.parametrize(
    ("language", "says", "admin_says", "rep_says"),
    [
        (
            "en",
            "This export has not started: the background worker does not seem to be running.",
            "To start it: make run (development), or run manage.py db_worker",
            "Ask an administrator to start the background worker.",
        ),
        (
            "es",
            "Esta exportación no ha empezado: parece que el proceso en segundo plano no está en marcha.",
            "Para arrancarlo: make run (desarrollo), o ejecuta manage.py db_worker",
            "Pide a un administrador que arranque el proceso en segundo plano.",
        ),
    ],
)
def test_a_job_queued_with_no_worker_says_so_and_polls_slowly(
    client, manager, admin_user, portfolio, settings, tmp_path, language, says, admin_says, rep_says
):
    """No worker runs in this test: the job stays queued. After two minutes My exports says plainly
    that the export has not started and why, tells an admin how to start the worker and anyone else
    whom to ask, and checks every 30 s instead of every second; the API says the same."""
    from cartera.accounts.services import api_token_create
    from tests.api.conftest import ApiClient
    from tests.conftest import login

    settings.VAR_DIR = tmp_path
    headers = {"accept-language": language}
    for user, hint, not_hint in ((manager, rep_says, admin_says), (admin_user, admin_says, rep_says)):
        job = export_job_create(actor=user, kind="customers", file_format="xlsx", filters={})
        browser = login(Client(), user)
        progress = reverse("imports:export_progress", args=[job.pk])
        fresh = browser.get(progress, headers=headers).text
        assert 'hx-trigger="every 1s"' in fresh and says not in fresh
        _, raw = api_token_create(user=user, name="tests", scope="read")
        api = ApiClient(raw)
        status = api.get(f"/api/exports/{job.pk}", headers=headers).json()
        assert status["waiting_for_worker"] is False and status["notice"] == ""

        ExportJob.objects.filter(pk=job.pk).update(
            created_at=timezone.now() - dt.timedelta(minutes=2, seconds=5)
        )
        for page in (
            browser.get(reverse("imports:exports"), headers=headers),
            browser.get(progress, headers=headers),
        ):
            assert says in page.text and hint in page.text and not_hint not in page.text
            assert f'hx-get="{progress}"' in page.text and 'hx-trigger="every 30s"' in page.text
            assert 'hx-trigger="every 1s"' not in page.text
        status = api.get(f"/api/exports/{job.pk}", headers=headers).json()
        assert status["status"] == "queued" and status["waiting_for_worker"] is True
        assert status["notice"].startswith(says)

        # Once the worker takes it, the notice goes and the page follows it every second again.
        ExportJob.objects.filter(pk=job.pk).update(status=ExportStatus.RUNNING, updated_at=timezone.now())
        page = browser.get(progress, headers=headers).text
        assert says not in page and 'hx-trigger="every 1s"' in page
        ExportJob.objects.filter(pk=job.pk).delete()
