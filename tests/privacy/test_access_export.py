"""Right of access (Art. 15): one file with everything held about the person, from the web page, the
API and the command line, in their language, logged, and only for those who may see the customer."""

from __future__ import annotations

import json

from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from cartera.activity.services import interaction_create, task_create
from cartera.imports.models import ImportJob, ImportRecord
from cartera.insights.services import insights_refresh
from cartera.privacy.models import AuditEntry
from cartera.privacy.services import consent_record, privacy_profile_update
from cartera.sales.services import order_create


def _history(owner, customer):
    order_create(actor=owner, customer=customer, fields={"ordered_on": "2026-01-10", "amount": "120.00"})
    order_create(actor=owner, customer=customer, fields={"ordered_on": "2026-03-02", "amount": "80.00"})
    interaction_create(actor=owner, customer=customer, fields={"kind": "call", "subject": "Presupuesto",
                                                                "body": "Quiere el modelo azul"})  # fmt: skip
    task_create(
        actor=owner, fields={"title": "Enviar catálogo", "due_at": timezone.now(), "customer": customer}
    )
    consent_record(actor=owner, customer=customer, channel="email", purpose="marketing", granted=True,
                   source="form", wording="Acepto ofertas por email", version="v2")  # fmt: skip
    job = ImportJob.objects.create(kind="customers", file_name="feria-2025.csv", stored_path="",
                                   source="event", source_detail="Feria de Madrid", created_by=owner)  # fmt: skip
    ImportRecord.objects.create(job=job, model="customers.customer", object_id=customer.pk, action="created",
                                row_number=7)  # fmt: skip
    insights_refresh(as_of=timezone.localdate())


def test_the_web_export_holds_everything_and_is_logged(client, owner, colleague, customer):
    _history(owner, customer)
    client.force_login(colleague)  # any member of the team who may see the customer
    response = client.get(reverse("privacy:export", args=[customer.pk, "json"]))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "attachment" in response["Content-Disposition"]
    data = json.loads(response.content)
    profile = {row["field"]: row["value"] for row in data["profile"]}
    assert profile["email"] == "lucia@example.es" and profile["first_name"] == "Lucía"
    assert [o["amount"] for o in data["orders"]] == ["120.00", "80.00"]
    assert data["interactions"][0]["body"] == "Quiere el modelo azul"
    assert data["tasks"][0]["title"] == "Enviar catálogo"
    assert data["consent_history"][0]["wording"] == "Acepto ofertas por email"
    assert data["import_provenance"][0]["file_name"] == "feria-2025.csv"
    assert data["import_provenance"][0]["row_number"] == 7
    figures = {f["field"]: f for f in data["analysis"]["figures"]}
    assert figures["orders_count"]["value"] == 2
    assert figures["p_alive"]["meaning"]
    entry = AuditEntry.objects.get(action="exported")
    assert (entry.actor, entry.target_id) == (colleague, customer.pk)


def test_the_document_is_in_the_persons_language(client, owner, customer):
    client.force_login(owner)
    spanish = client.get(reverse("privacy:export", args=[customer.pk, "html"]), HTTP_ACCEPT_LANGUAGE="es")
    assert "Datos personales" in spanish.content.decode()
    privacy_profile_update(
        actor=owner, customer=customer, lawful_basis="contract", basis_note="", language="en"
    )
    english = client.get(reverse("privacy:export", args=[customer.pk, "html"]), HTTP_ACCEPT_LANGUAGE="es")
    body = english.content.decode()
    assert "Personal data held about Lucía" in body and '<html lang="en">' in body


def test_outsider_gets_404_and_nothing_is_logged(client, outsider, customer):
    client.force_login(outsider)
    assert client.get(reverse("privacy:export", args=[customer.pk, "json"])).status_code == 404
    assert client.get(f"/api/customers/{customer.pk}/personal-data").status_code == 404
    assert not AuditEntry.objects.filter(action="exported").exists()


def test_api_and_cli(client, owner, customer, tmp_path):
    from cartera.accounts.services import api_token_create

    _history(owner, customer)
    _t, raw = api_token_create(user=owner, name="t")
    response = client.get(f"/api/customers/{customer.pk}/personal-data", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200
    assert response.json()["customer_id"] == customer.pk
    out = tmp_path / "lucia.json"
    call_command("privacy", "export", str(customer.pk), "--output", str(out), "--user", "owner")
    assert json.loads(out.read_text())["orders"][1]["amount"] == "80.00"
    call_command(
        "privacy", "export", str(customer.pk), "--format", "html", "--output", str(tmp_path / "l.html")
    )
    assert "Presupuesto" in (tmp_path / "l.html").read_text()
    assert AuditEntry.objects.filter(action="exported", target_id=customer.pk).count() == 3
