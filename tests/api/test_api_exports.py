"""The exports API (issue 16): ask for an export file, follow its progress, download it; only the
requester reaches the job and the file; refusals are JSON and declared in the OpenAPI document (the
ApiClient fails a test on any undeclared status)."""

from __future__ import annotations

import io

import openpyxl
import pytest
from django.utils import timezone

from cartera.customers.services import customer_create
from cartera.imports.models import ExportJob
from cartera.privacy.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def immediate_tasks(settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture
def portfolio(owner, customer):
    customer_create(actor=owner, fields={"first_name": "Tomás", "stage": "customer", "email": "t@example.es"})
    customer_create(actor=owner, fields={"first_name": '=HYPERLINK("x")', "stage": "prospect"})
    return customer


def _sheet(content: bytes) -> list[list[object]]:
    return [list(r) for r in openpyxl.load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True)]


def test_the_api_asks_follows_and_downloads(
    manager, colleague, admin_user, portfolio, api_as, immediate_tasks, settings, tmp_path,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    settings.VAR_DIR = tmp_path
    api = api_as(manager)
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post(
            "/api/exports", {"kind": "customers", "format": "xlsx", "filters": {"stage": "prospect"}}
        )
    assert created.status_code == 202, created.content
    body = created.json()
    assert body["status"] == "queued" and body["total_rows"] == 2 and body["filters"] == {"stage": "prospect"}
    status = api.get(f"/api/exports/{body['id']}").json()
    assert status["status"] == "done" and status["rows_written"] == 2 and status["downloadable"]
    assert status["file_url"] == f"/api/exports/{body['id']}/file"
    file = api.get(status["file_url"])
    assert file.status_code == 200 and "no-store" in file["Cache-Control"]
    assert len(_sheet(b"".join(file.streaming_content))) == 3
    assert AuditEntry.objects.filter(action="downloaded", actor=manager).count() == 1

    for other in (api_as(colleague), api_as(admin_user)):
        assert other.get(f"/api/exports/{body['id']}").status_code == 404
        assert other.get(f"/api/exports/{body['id']}/file").status_code == 404
    assert api_as(colleague).post("/api/exports", {"kind": "customers"}).status_code == 403

    # Refusals in JSON: a filter the list does not have, a format the kind has not, an expired file.
    assert api.post("/api/exports", {"kind": "customers", "filters": {"stag": "x"}}).status_code == 422
    assert api.post("/api/exports", {"kind": "orders", "filters": {"stage": "x"}}).status_code == 422
    assert api.post("/api/exports", {"kind": "orders", "format": "vcf"}).status_code == 422
    assert api.post("/api/exports", {"kind": "segments"}).status_code == 422
    ExportJob.objects.filter(pk=body["id"]).update(expires_at=timezone.now())
    gone = api.get(f"/api/exports/{body['id']}/file")
    assert gone.status_code == 410 and gone.json()["detail"]
    assert api.get(f"/api/exports/{body['id']}").json()["file_url"] is None


def test_the_api_says_409_while_the_file_is_being_written(manager, portfolio, api_as, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    api = api_as(manager)
    created = api.post("/api/exports", {"kind": "orders", "format": "csv"}).json()
    assert api.get(f"/api/exports/{created['id']}").json()["status"] == "queued"
    response = api.get(f"/api/exports/{created['id']}/file")
    assert response.status_code == 409 and response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize(
    ("language", "unknown", "invalid"),
    [
        ("en", "Unknown filter: owner__password__startswith.", "These filters are not valid: stage:"),
        ("es", "Filtro desconocido: owner__password__startswith.", "Estos filtros no son válidos: stage:"),
    ],
)
def test_a_bad_filter_is_a_422_in_the_callers_language(
    manager, portfolio, api_as, settings, tmp_path, language, unknown, invalid
):
    """The same cleaning as the web's streamed export: a filter the list has not (an attacker's
    lookup through the owner to a password hash) or a value its form refuses is a JSON 422 that the
    OpenAPI document declares, and no job is queued."""
    settings.VAR_DIR = tmp_path
    api = api_as(manager)
    headers = {"Accept-Language": language}
    trick = api.post(
        "/api/exports",
        {"kind": "customers", "filters": {"owner__password__startswith": "pbkdf2"}},
        headers=headers,
    )
    assert trick.status_code == 422 and trick["Content-Type"].startswith("application/json")
    assert trick.json()["detail"][0]["msg"].startswith(unknown)
    bad = api.post("/api/exports", {"kind": "customers", "filters": {"stage": "nope"}}, headers=headers)
    assert bad.status_code == 422 and bad.json()["detail"][0]["msg"].startswith(invalid)
    assert ExportJob.objects.count() == 0
