"""Production settings, CSP and escaping."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from cartera.imports.models import ExportJob

ROOT = Path(__file__).resolve().parents[2]


def test_production_settings_pass_the_deploy_check(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CARTERA_", "DATABASE_URL"))}
    env["CARTERA_VAR_DIR"] = str(tmp_path)
    result = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "secret_key").exists()


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)


def test_pages_send_csp_and_carry_no_inline_script(client, owner, customer):
    client.force_login(owner)
    for url in [
        reverse("web:home"),
        reverse("customers:list"),
        reverse("customers:detail", args=[customer.pk]),
        reverse("customers:create"),
        reverse("activity:my_tasks"),
        reverse("accounts:api_tokens"),
        reverse("accounts:two_factor"),
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
        csp = response["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp, url
        body = response.content.decode()
        assert not INLINE_SCRIPT.search(body), url
        assert not INLINE_HANDLER.search(body), url


def test_user_text_is_escaped_everywhere(client, owner):
    from cartera.activity.services import interaction_create
    from cartera.customers.services import customer_create

    evil = "<script>alert(1)</script>"
    customer = customer_create(actor=owner, fields={"first_name": evil, "notes": evil, "city": evil})
    interaction_create(actor=owner, customer=customer, fields={"kind": "note", "subject": evil, "body": evil})
    client.force_login(owner)
    for url in [reverse("customers:list"), reverse("customers:detail", args=[customer.pk])]:
        body = client.get(url).content.decode()
        assert evil not in body
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_language_switcher_works_before_login(client, db):
    response = client.post(reverse("set_language"), {"language": "en", "next": "/accounts/login/"})
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert client.cookies["django_language"].value == "en"
    assert "Log in" in client.get("/accounts/login/").content.decode()


def _no_store(response) -> bool:
    """Whether the answer tells browsers and proxies not to keep it."""
    return "no-store" in response.get("Cache-Control", "")


def test_personal_pages_exports_and_the_api_are_never_stored(
    client, manager, customer, export_through_worker
):
    from cartera.accounts.services import api_token_create
    from tests.api.conftest import ApiClient

    client.force_login(manager)
    for url in [
        reverse("web:home"),
        reverse("customers:list"),
        reverse("customers:detail", args=[customer.pk]),
        reverse("activity:my_tasks"),
        reverse("accounts:api_tokens"),
        reverse("imports:export_customers", args=["csv"]),
        reverse("imports:export_orders", args=["csv"]),
        reverse("imports:exports"),
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert _no_store(response), url
    # An XLSX is written by the worker: the button makes the job, My exports downloads the file; the
    # download is checked for ``no-store`` by the fixture, and for its content here.
    content = export_through_worker(client, reverse("imports:export_customers", args=["xlsx"]))
    assert content.startswith(b"PK")
    job_page = client.get(reverse("imports:export_progress", args=[ExportJob.objects.get().pk]))
    assert job_page.status_code == 200 and _no_store(job_page)
    new_token = client.post(reverse("accounts:api_tokens"), {"name": "Excel"})
    assert "cart_" in new_token.text and _no_store(new_token)

    _, raw = api_token_create(user=manager, name="script")
    api = ApiClient(raw)
    assert _no_store(api.get("/api/me"))
    assert _no_store(api.get(f"/api/customers/{customer.pk}"))
    assert _no_store(api.get("/api/customers"))
    assert _no_store(api.patch(f"/api/customers/{customer.pk}", {"city": "Soria"}))
    assert _no_store(ApiClient().get("/api/customers"))  # a 401 too


def test_static_files_stay_cacheable(client, owner):
    client.force_login(owner)
    response = client.get("/static/web/cartera.css")
    assert response.status_code == 200
    assert not _no_store(response)


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example",
        "///evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
        "http://testserver.evil.example/",
        "activity:my_tasks_no_such_name",
    ],
)
def test_next_never_leaves_the_site(client, owner, target):
    from cartera.activity.services import task_create

    task = task_create(actor=owner, fields={"title": "Llamar", "due_at": timezone.now()})
    client.force_login(owner)
    response = client.post(reverse("activity:task_toggle", args=[task.pk]), {"next": target})
    assert response.status_code == 302
    assert response["Location"] == reverse("activity:my_tasks")
    task.refresh_from_db()
    assert task.done


def test_next_on_the_site_is_followed(client, owner, customer):
    from cartera.activity.services import task_create

    task = task_create(actor=owner, fields={"title": "Llamar", "due_at": timezone.now()})
    client.force_login(owner)
    here = reverse("customers:detail", args=[customer.pk]) + "?tab=tasks"
    response = client.post(reverse("activity:task_toggle", args=[task.pk]), {"next": here})
    assert response["Location"] == here


def test_only_the_one_helper_reads_next():
    """Every view that follows ``next`` goes through ``cartera.core.http.redirect_to_next``."""
    reads_next = re.compile(r"""(POST|GET|REQUEST)(\.get\(|\[)\s*["']next["']""")
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "cartera").rglob("*.py")
        if reads_next.search(path.read_text()) and path != ROOT / "cartera" / "core" / "http.py"
    ]
    assert offenders == []
