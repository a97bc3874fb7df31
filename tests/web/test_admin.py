"""The Django admin works for every model registered in it: list, edit and delete pages, as an admin,
with a row in each (found from ``admin.site._registry``, so a newly registered model is covered)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.conftest import login
from tests.surveys.rows import survey_and_audit_rows


@pytest.fixture
def every_admin_model_has_a_row(db, owner, manager, admin_user, customer, client, make_user):
    """One row (at least) of every model the admin shows, made the way the app makes them."""
    from axes.models import AccessFailureLog
    from django.db import transaction

    from cartera.accounts.services import api_token_create
    from cartera.activity.services import interaction_create, task_create
    from cartera.customers.models import CustomField
    from cartera.customers.services import company_create, tags_get_or_create
    from cartera.imports.models import ExportLog, ImportJob, ImportMapping
    from cartera.insights.tasks import refresh_insights
    from cartera.sales.services import order_create
    from cartera.segments.models import Persona, Segment

    api_token_create(user=owner, name="Excel")
    from cartera.accounts.services import backup_codes_generate

    backup_codes_generate(user=admin_user)  # two-factor backup codes (django-otp's static device)
    CustomField.objects.create(key="shoe_size", label="Shoe size", field_type="decimal")
    tags_get_or_create(names=["VIP"])
    company_create(actor=owner, fields={"name": "Talleres Norte SL", "tax_id": "B12345678"})
    interaction_create(actor=owner, customer=customer, fields={"kind": "call", "subject": "Llamada"})
    task_create(actor=owner, fields={"title": "Llamar", "customer": customer, "due_at": timezone.now()})
    order_create(
        actor=owner, customer=customer, fields={"ordered_on": dt.date(2026, 1, 5), "amount": Decimal("19.90")}
    )
    Segment.objects.create(name="Madrid", definition={}, owner=manager)
    persona = Persona.objects.create(name="Compradora urbana", owner=manager)
    persona.members.add(customer)
    ImportJob.objects.create(kind="customers", file_name="clientes.csv", created_by=owner)
    ImportMapping.objects.create(name="CRM antiguo", kind="customers", created_by=owner)
    ExportLog.objects.create(user=manager, what="customers", file_format="csv", row_count=1)
    with transaction.atomic():
        refresh_insights.enqueue()
    # Login attempts, through the real login page: a success, then a failure (a success clears them).
    client.post("/accounts/login/", {"username": "owner", "password": "s3cret-pass-123"})
    Client().post("/accounts/login/", {"username": "owner", "password": "wrong"})
    AccessFailureLog.objects.create(username="owner", ip_address="127.0.0.1", user_agent="test")
    # Privacy: a consent, a lawful basis, and an erased person (suppression list and audit log).
    from cartera.customers.services import customer_create
    from cartera.privacy.services import (
        consent_record,
        customer_erase,
        erase_confirmation,
        privacy_profile_update,
    )

    consent_record(actor=owner, customer=customer, channel="email", purpose="marketing", granted=True,
                   source="user", wording="Acepto recibir ofertas", version="1")  # fmt: skip
    privacy_profile_update(
        actor=owner, customer=customer, lawful_basis="contract", basis_note="", language="es"
    )
    gone = customer_create(actor=owner, fields={"first_name": "Borrar", "email": "borrar@example.es"})
    customer_erase(actor=manager, customer=gone, confirmation=erase_confirmation(gone))
    # Pipeline: the default pipeline and lost reasons, and one opportunity.
    from cartera.pipeline.services import opportunity_create, pipeline_defaults_ensure

    pipeline_defaults_ensure()
    opportunity_create(actor=owner, fields={"customer": customer, "title": "Reforma"})
    survey_and_audit_rows(owner, customer, manager, make_user)
    # Messaging: a message in the outbox.
    from cartera.messaging.services import message_queue

    message_queue(to_customer=customer, purpose="notification", subject="Hola", text="Texto", language="es")
    # Campaigns: a sent campaign with its frozen audience.
    from cartera.campaigns.services import campaign_create, campaign_send
    from cartera.segments.services import segment_create

    customer.opt_in_email = True
    customer.save()
    everyone = segment_create(
        actor=manager, fields={"name": "Todos", "definition": {"match": "all", "groups": []}}
    )
    campaign = campaign_create(
        actor=manager, fields={"name": "Vuelve", "control_percent": 0}, segments=[everyone]
    )
    campaign_send(actor=manager, campaign=campaign)


def _registered():
    return sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


@pytest.mark.parametrize(
    ("model", "model_admin"), _registered(), ids=[model._meta.label for model, _ in _registered()]
)
def test_admin_pages_work_for_every_model(
    client, admin_user, every_admin_model_has_a_row, model, model_admin
):
    opts = model._meta
    row = model._default_manager.order_by("pk").first()
    assert row is not None, f"add a row of {opts.label} to the fixture above"
    login(client, admin_user)
    base = f"admin:{opts.app_label}_{opts.model_name}"
    changelist = client.get(reverse(f"{base}_changelist"))
    assert changelist.status_code == 200, opts.label
    change = client.get(reverse(f"{base}_change", args=[row.pk]))
    assert change.status_code == 200, opts.label
    delete = client.get(reverse(f"{base}_delete", args=[row.pk]))
    # 403 where the admin deliberately allows no deleting (logs that are the history).
    assert delete.status_code in (200, 403), opts.label
    if delete.status_code == 200:
        assert model_admin.has_delete_permission(delete.wsgi_request, row)


def test_an_admin_deletes_a_customer_with_interactions(client, admin_user, customer, owner):
    from cartera.activity.services import interaction_create
    from cartera.customers.models import Customer

    interaction_create(actor=owner, customer=customer, fields={"kind": "call", "subject": "Llamada"})
    login(client, admin_user)
    url = reverse("admin:customers_customer_delete", args=[customer.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not Customer.objects.filter(pk=customer.pk).exists()
