"""Export → My exports → progress → download, in Spanish, on a phone (375 px) and a desktop (issue 16)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


@pytest.fixture
def exported_world(owner, manager, tmp_path, settings):
    from cartera.customers.services import customer_create

    settings.VAR_DIR = tmp_path
    for name in ("Lucía", "Tomás", "Nerea"):
        customer_create(actor=owner, fields={"first_name": name, "stage": "customer"})


def test_xlsx_export_is_written_in_the_background_and_downloaded(
    page, manager, exported_world, login, shot, browser_log, settings, sideways_overflow
):
    from openpyxl import load_workbook

    from cartera.imports.models import ExportJob

    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    login("manager")
    page.goto("/data/")
    page.locator("form.export-now").first.locator("button").click()
    expect(page).to_have_url(re.compile(r"/data/exports/#export-\d+$"))
    job = ExportJob.objects.get()
    card = page.locator(f"#export-{job.pk}")
    expect(card.locator("[data-status=done]")).to_have_text("Listo")
    expect(card).to_contain_text("3 filas")
    assert sideways_overflow("my exports") is None
    shot("ready")
    with page.expect_download() as download_info:
        card.get_by_role("link", name="Descargar").click()
    download = download_info.value
    assert download.suggested_filename.startswith("customers-") and download.suggested_filename.endswith(
        ".xlsx"
    )
    sheet = load_workbook(io.BytesIO(Path(download.path()).read_bytes())).active
    assert sorted(r[1] for r in sheet.iter_rows(min_row=2, values_only=True)) == ["Lucía", "Nerea", "Tomás"]
    browser_log.assert_clean()


def test_my_exports_follows_the_worker_until_the_file_is_ready(
    page, manager, exported_world, login, shot, browser_log, sideways_overflow
):
    from cartera.imports.services import export_job_create, export_job_run

    job = export_job_create(
        actor=manager, kind="customers", file_format="csv_es", filters={"stage": "customer"}
    )
    login("manager")
    page.goto("/data/exports/")
    card = page.locator(f"#export-{job.pk}")
    expect(card.locator("[data-status=queued]")).to_be_visible()
    expect(card.locator("progress")).to_be_visible()
    expect(card).to_contain_text("0 de 3 filas")
    assert sideways_overflow("queued") is None
    shot("queued")
    export_job_run(job_id=job.pk)  # the worker, here in the test's thread
    expect(card.locator("[data-status=done]")).to_be_visible()
    expect(card.get_by_role("link", name="Descargar")).to_be_visible()
    expect(card).to_contain_text("Disponible hasta")
    assert sideways_overflow("ready") is None
    shot("ready")
    browser_log.assert_clean()
