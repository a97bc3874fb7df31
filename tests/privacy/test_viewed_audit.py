"""Looking at a person's data leaves a line in the audit log: their page, the API read, their access
export and a list export each write one line ("viewed" / "exported"), not one per row (issue 16)."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from cartera.customers.services import customer_create
from cartera.privacy.models import AuditAction, AuditEntry


def api_as(user) -> Client:
    from cartera.accounts.services import api_token_create

    _, raw = api_token_create(user=user, name="tests", scope="read")
    return Client(headers={"Authorization": f"Bearer {raw}"})


def _lines(**filters):
    return list(
        AuditEntry.objects.filter(**filters).values_list("action", "target_id", "actor_name", "detail")
    )


def test_opening_a_customer_page_writes_one_viewed_line(owner, customer):
    client = Client()
    client.force_login(owner)
    before = AuditEntry.objects.count()
    assert client.get(reverse("customers:detail", args=[customer.pk])).status_code == 200
    assert AuditEntry.objects.count() == before + 1
    assert _lines(action=AuditAction.VIEWED) == [("viewed", customer.pk, "owner", {"where": "page"})]


def test_a_quick_form_fragment_is_not_a_second_view(owner, customer):
    client = Client()
    client.force_login(owner)
    url = reverse("activity:interaction_create", args=[customer.pk])
    response = client.post(
        url, {"kind": "call", "direction": "out", "subject": "Hola"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert not AuditEntry.objects.filter(action=AuditAction.VIEWED).exists()


def test_reading_a_customer_through_the_api_writes_a_viewed_line(owner, customer):
    assert api_as(owner).get(f"/api/customers/{customer.pk}").status_code == 200
    assert _lines(action=AuditAction.VIEWED) == [("viewed", customer.pk, "owner", {"where": "api"})]


def test_nobody_outside_the_scope_leaves_a_view(outsider, customer):
    assert api_as(outsider).get(f"/api/customers/{customer.pk}").status_code == 404
    assert not AuditEntry.objects.filter(action=AuditAction.VIEWED).exists()


def test_a_list_export_writes_one_exported_line_whatever_its_size(manager, owner):
    for n in range(5):
        customer_create(actor=owner, fields={"first_name": f"Cliente {n}", "city": "Soria"})
    client = Client()
    client.force_login(manager)
    response = client.get(reverse("imports:export_customers", args=["csv"]) + "?q=Cliente")
    assert response.status_code == 200
    b"".join(response.streaming_content)
    exported = AuditEntry.objects.filter(action=AuditAction.EXPORTED)
    assert exported.count() == 1
    line = exported.get()
    assert (line.actor_name, line.target_type) == ("manager", "imports.export.customers")
    assert line.detail["rows"] == 5 and line.detail["format"] == "csv"


def test_the_access_export_is_logged_as_exported(owner, customer):
    client = Client()
    client.force_login(owner)
    assert client.get(reverse("privacy:export", args=[customer.pk, "json"])).status_code == 200
    assert _lines(action=AuditAction.EXPORTED)[0][:3] == ("exported", customer.pk, "owner")
