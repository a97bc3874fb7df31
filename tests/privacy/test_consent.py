"""The consent ledger: append-only rows, the current state derived from them, the four flags following
the ledger, the initial migration of the flags, and the customer page's panel."""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps as global_apps
from django.db import connection
from django.urls import reverse

from cartera.customers.models import Customer
from cartera.customers.services import customer_create, customer_update
from cartera.privacy.models import AuditEntry, ConsentEvent
from cartera.privacy.selectors import consent_state
from cartera.privacy.services import consent_record

WORDING = "Acepto recibir ofertas por correo electrónico."


def test_consent_record_writes_the_ledger_and_the_flag(owner, customer):
    assert customer.opt_in_email is False
    consent_record(actor=owner, customer=customer, channel="email", purpose="marketing", granted=True,
                   source="call", wording=WORDING, version="v3")  # fmt: skip
    customer.refresh_from_db()
    assert customer.opt_in_email is True
    event = consent_state(customer=customer)[("email", "marketing")]
    assert event is not None
    assert (event.granted, event.source, event.wording, event.version, event.recorded_by) == (
        True, "call", WORDING, "v3", owner
    )  # fmt: skip
    consent_record(actor=owner, customer=customer, channel="email", purpose="marketing", granted=False,
                   source="unsubscribe", wording="", version="")  # fmt: skip
    customer.refresh_from_db()
    assert customer.opt_in_email is False
    # Append-only: both rows stay, the newest is the state.
    assert ConsentEvent.objects.filter(customer=customer).count() == 2
    assert consent_state(customer=customer)[("email", "marketing")].granted is False
    # Other purposes do not move the flags.
    consent_record(actor=owner, customer=customer, channel="sms", purpose="surveys", granted=True,
                   source="form", wording="Encuestas por SMS", version="v1")  # fmt: skip
    customer.refresh_from_db()
    assert customer.opt_in_sms is False
    assert AuditEntry.objects.filter(action="consent", target_id=customer.pk).count() == 3


def test_a_grant_needs_its_wording(owner, customer):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        consent_record(actor=owner, customer=customer, channel="email", purpose="marketing", granted=True,
                       source="call", wording=" ", version="")  # fmt: skip
    assert not ConsentEvent.objects.exists()


def test_ticking_a_flag_on_the_customer_form_writes_the_ledger(owner):
    c = customer_create(actor=owner, fields={"first_name": "Ana", "opt_in_phone": True})
    assert consent_state(customer=c)[("phone", "marketing")].granted is True
    customer_update(actor=owner, customer=c, fields={"opt_in_phone": False, "city": "Soria"})
    assert consent_state(customer=c)[("phone", "marketing")].granted is False
    assert ConsentEvent.objects.filter(customer=c).count() == 2
    change = AuditEntry.objects.filter(action="changed", target_id=c.pk).get()
    assert change.changes == {
        "before": {"opt_in_phone": True, "city": ""},
        "after": {"opt_in_phone": False, "city": "Soria"},
    }


def test_the_migration_writes_one_row_per_flag_set(owner):
    a = customer_create(actor=owner, fields={"first_name": "A"})
    b = customer_create(actor=owner, fields={"first_name": "B"})
    Customer.objects.filter(pk=a.pk).update(opt_in_email=True, opt_in_mail=True)
    ConsentEvent.objects.all().delete()
    migration = importlib.import_module("cartera.privacy.migrations.0003_initial_consent_ledger")
    # The migration only reads the editor's connection.
    migration.forward(global_apps, SimpleNamespace(connection=connection))
    rows = set(ConsentEvent.objects.values_list("customer_id", "channel", "source", "granted"))
    assert rows == {(a.pk, "email", "migration", True), (a.pk, "post", "migration", True)}
    assert not ConsentEvent.objects.filter(customer=b).exists()


def test_the_customer_page_shows_the_panel_and_records_a_withdrawal(client, owner, colleague, customer):
    consent_record(actor=owner, customer=customer, channel="email", purpose="marketing", granted=True,
                   source="form", wording=WORDING, version="v1")  # fmt: skip
    client.force_login(colleague)
    page = client.get(reverse("customers:detail", args=[customer.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert 'id="consent"' in body and WORDING in body
    # A colleague who may not change the customer may still write down a withdrawal, not a grant.
    url = reverse("privacy:consent_create", args=[customer.pk])
    data = {"channel": "email", "purpose": "marketing", "source": "call", "wording": "", "version": ""}
    assert client.post(url, {**data, "granted": "1", "wording": "x"}).status_code == 403
    response = client.post(url, {**data, "granted": "0"})
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.opt_in_email is False
    assert ConsentEvent.objects.filter(customer=customer).count() == 2


def test_api_consents(client, owner, customer, outsider):
    from cartera.accounts.services import api_token_create

    _t, raw = api_token_create(user=owner, name="t")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    url = f"/api/customers/{customer.pk}/consents"
    created = client.post(url, {"channel": "phone", "purpose": "marketing", "granted": True,
                                "source": "call", "wording": "Llamadas comerciales", "version": "v1"},
                          content_type="application/json", **auth)  # fmt: skip
    assert created.status_code == 201, created.content
    customer.refresh_from_db()
    assert customer.opt_in_phone is True
    listed = client.get(url, **auth).json()
    assert [(e["channel"], e["granted"]) for e in listed] == [("phone", True)]
    _t, raw_out = api_token_create(user=outsider, name="t")
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {raw_out}").status_code == 404
