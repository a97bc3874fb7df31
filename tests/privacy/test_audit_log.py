"""The audit log: written for exports, erasures, consent and customer edits, merges and deletes;
append-only for everyone (the admin cannot change or delete it, the database refuses UPDATE and
DELETE); a filterable page with a CSV export for managers and admins."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib import admin
from django.db import DatabaseError, transaction
from django.test import RequestFactory
from django.urls import reverse

from cartera.customers.services import customer_create, customer_delete, customer_merge, customer_update
from cartera.privacy.models import AuditEntry
from cartera.privacy.services import audit_record, audit_unlocked
from tests.conftest import login


def test_customer_edits_merges_and_deletes_are_logged(owner, manager, customer):
    customer_update(actor=owner, customer=customer, fields={"city": "Teruel"})
    other = customer_create(actor=owner, fields={"first_name": "Lucia", "last_name": "Martinez"})
    other_pk = other.pk
    customer_merge(actor=manager, keep=customer, remove=other)
    customer_delete(actor=manager, customer=customer)
    actions = list(AuditEntry.objects.order_by("id").values_list("action", "actor_name"))
    assert actions == [
        ("created", "owner"), ("changed", "owner"), ("created", "owner"), ("merged", "manager"),
        ("deleted", "manager"),
    ]  # fmt: skip
    change = AuditEntry.objects.get(action="changed")
    assert change.changes == {"before": {"city": ""}, "after": {"city": "Teruel"}}
    assert AuditEntry.objects.get(action="merged").detail["removed_id"] == other_pk


def test_the_database_refuses_update_and_delete(owner, customer):
    entry = AuditEntry.objects.filter(target_id=customer.pk).first()
    assert entry is not None
    for attempt in (
        lambda: AuditEntry.objects.filter(pk=entry.pk).update(actor_name="someone else"),
        lambda: AuditEntry.objects.filter(pk=entry.pk).delete(),
        lambda: AuditEntry.objects.all().delete(),
    ):
        with pytest.raises(DatabaseError), transaction.atomic():
            attempt()
    entry.refresh_from_db()
    assert entry.actor_name == "owner"
    # Only through the unlock (erasure, retention), which leaves no unlock behind.
    with audit_unlocked("test"):
        AuditEntry.objects.filter(pk=entry.pk).update(target_label="x")
    from cartera.privacy.models import AuditUnlock

    assert not AuditUnlock.objects.exists()
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).delete()


def test_the_admin_is_read_only_even_for_a_superuser(admin_user, customer):
    model_admin = admin.site._registry[AuditEntry]
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    entry = AuditEntry.objects.first()
    assert not model_admin.has_delete_permission(request, entry)
    assert not model_admin.has_change_permission(request, entry)
    assert not model_admin.has_add_permission(request)


def test_deleting_a_user_keeps_their_lines(owner, make_user):
    temp = make_user("temp", "sales_rep")
    audit_record(actor=temp, action="viewed", target_type="customers.customer", target_id=1, label="x")
    temp.delete()
    assert AuditEntry.objects.filter(actor_name="temp").count() == 1


def test_the_page_filters_and_exports_csv_for_managers_only(client, owner, colleague, manager, customer):
    customer_update(actor=owner, customer=customer, fields={"city": "=cmd|' /C calc'!A0"})
    audit_record(actor=manager, action="exported", target_type="customers.customer", target_id=customer.pk,
                 label=customer.full_name)  # fmt: skip
    url = reverse("privacy:audit")
    client.force_login(owner)
    assert client.get(url).status_code == 403
    client.force_login(manager)
    page = client.get(url, {"action": "exported"})
    assert page.status_code == 200
    rows = page.context["page"].rows
    assert [e.action for e in rows] == ["exported"]
    assert client.get(url, {"actor": owner.pk}).context["page"].rows[0].actor_name == "owner"
    assert client.get(url, {"since": "2999-01-01"}).context["page"].rows == []
    assert client.get(url, {"since": "not a date"}).status_code == 200
    export = client.get(url, {"format": "csv"})
    assert "no-store" in export["Cache-Control"]
    lines = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert len(lines) == 1 + AuditEntry.objects.count()
    # A cell that a spreadsheet would run as a formula is written as text.
    assert not any(cell.startswith("=") for line in lines for cell in line)


def test_the_admin_pages_of_the_privacy_models_work(client, admin_user, owner, customer):
    from cartera.privacy.services import consent_record, privacy_profile_update

    consent_record(actor=owner, customer=customer, channel="email", purpose="marketing", granted=True,
                   source="form", wording="Sí", version="v1")  # fmt: skip
    privacy_profile_update(actor=owner, customer=customer, lawful_basis="consent", basis_note="", language="")
    login(client, admin_user)
    for name in ("auditentry", "consentevent", "privacyprofile", "suppressedemail"):
        assert client.get(f"/admin/privacy/{name}/").status_code == 200, name
    entry = AuditEntry.objects.first()
    assert client.get(f"/admin/privacy/auditentry/{entry.pk}/change/").status_code == 200
    assert client.post(f"/admin/privacy/auditentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_the_audit_page_names_records_in_the_readers_language():
    """Record types and export labels are codes in the log; the page shows them in Spanish."""
    from django.utils import translation

    from cartera.privacy.models import AuditEntry

    customer_row = AuditEntry(target_type="customers.customer", target_label="Lucía")
    export_row = AuditEntry(
        target_type="imports.export.customers", target_label="customers (12)", detail={"rows": 12}
    )
    retention_row = AuditEntry(target_type="privacy.retention")
    with translation.override("es"):
        assert customer_row.target_type_label == "cliente" and customer_row.target_text == "Lucía"
        assert (export_row.target_type_label, export_row.target_text) == ("exportación", "clientes (12)")
        assert retention_row.target_type_label == "conservación"
