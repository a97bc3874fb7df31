"""Every stage change, from every path (the customer page, the edit form, the API, a bulk change, an
import, the first order, a merge), leaves one history line: from, to, who, when, why and through what."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from cartera.customers.models import Customer, Stage, StageChange
from cartera.customers.services import (
    customer_create,
    customer_merge,
    customer_stage_change,
    customer_update,
    customers_stage_change_bulk,
)
from cartera.sales.services import order_create
from tests.conftest import login


def _history(customer):
    return list(
        StageChange.objects.filter(customer=customer)
        .order_by("changed_at", "id")
        .values_list("from_stage", "to_stage", "via", "changed_by__username", "reason")
    )


def test_change_from_the_page_service_keeps_who_when_why(customer, owner):
    change = customer_stage_change(
        actor=owner, customer=customer, stage=Stage.SUSPECT, reason="sin interés ahora"
    )
    assert change is not None and change.changed_at is not None
    customer.refresh_from_db()
    assert customer.stage == Stage.SUSPECT
    assert _history(customer) == [("prospect", "suspect", "page", "owner", "sin interés ahora")]
    # Moving to the stage it is in writes nothing.
    assert customer_stage_change(actor=owner, customer=customer, stage=Stage.SUSPECT) is None
    assert StageChange.objects.count() == 1


def test_a_colleague_cannot_change_the_stage_and_nothing_is_written(customer, colleague):
    with pytest.raises(PermissionDenied):
        customer_stage_change(actor=colleague, customer=customer, stage=Stage.FORMER)
    customer.refresh_from_db()
    assert customer.stage == Stage.PROSPECT
    assert not StageChange.objects.exists()


def test_edit_form_first_order_and_merge_write_history(customer, owner, manager):
    customer_update(actor=owner, customer=customer, fields={"stage": Stage.SUSPECT}, stage_reason="frío")
    order_create(actor=owner, customer=customer, fields={"ordered_on": "2026-01-05", "amount": "19.90"})
    other = customer_create(actor=owner, fields={"first_name": "Otra", "stage": Stage.CUSTOMER})
    keep = customer_create(actor=owner, fields={"first_name": "Keep", "stage": Stage.PROSPECT})
    customer_merge(actor=manager, keep=keep, remove=other)  # merging needs the right to delete
    assert _history(customer) == [
        ("prospect", "suspect", "form", "owner", "frío"),
        ("suspect", "customer", "first_order", "owner", ""),
    ]
    assert [row[:3] for row in _history(keep)] == [("prospect", "customer", "merge")]


def test_bulk_change_moves_only_what_the_actor_may_change(owner, colleague, customer):
    theirs = customer_create(actor=colleague, fields={"first_name": "De Carlos"})
    moved = customers_stage_change_bulk(
        actor=owner, customers=Customer.objects.all(), stage=Stage.SUSPECT, reason="limpieza"
    )
    assert moved == 1
    theirs.refresh_from_db()
    assert theirs.stage == Stage.PROSPECT
    assert _history(customer) == [("prospect", "suspect", "bulk", "owner", "limpieza")]
    assert not StageChange.objects.filter(customer=theirs).exists()


def test_customer_page_control_changes_stage_and_timeline_shows_it(client, owner, customer):
    login(client, owner)
    page = client.get(f"/customers/{customer.pk}/")
    assert "Stage or status?" in page.content.decode() or "¿Etapa o estado?" in page.content.decode()
    response = client.post(
        f"/customers/{customer.pk}/stage/",
        {"stage": "suspect", "reason": "pidió que no le llamen"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="timeline"' in body and "pidió que no le llamen" in body
    customer.refresh_from_db()
    assert customer.stage == Stage.SUSPECT


def test_customer_page_control_refuses_a_bad_stage_and_a_colleague(client, owner, colleague, customer):
    login(client, owner)
    response = client.post(f"/customers/{customer.pk}/stage/", {"stage": "boss"})
    assert response.status_code == 422
    client.force_login(colleague)
    assert client.post(f"/customers/{customer.pk}/stage/", {"stage": "former"}).status_code == 403
    customer.refresh_from_db()
    assert customer.stage == Stage.PROSPECT and not StageChange.objects.exists()


def test_bulk_from_the_list_uses_the_filters(client, manager, owner, customer):
    other = customer_create(actor=owner, fields={"first_name": "Pedro", "stage": Stage.SUSPECT})
    login(client, manager)
    response = client.post(
        "/customers/stage/", {"stage": "prospect", "move-stage": "former", "move-reason": "baja"}
    )
    assert response.status_code == 302 and "stage=prospect" in response["Location"]
    customer.refresh_from_db()
    other.refresh_from_db()
    assert (customer.stage, other.stage) == (Stage.FORMER, Stage.SUSPECT)
    assert _history(customer) == [("prospect", "former", "bulk", "manager", "baja")]


def test_api_stage_change_and_history(client, owner, customer):
    from cartera.accounts.services import api_token_create

    token = api_token_create(user=owner, name="t")[1]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    response = client.post(
        f"/api/customers/{customer.pk}/stage",
        {"stage": "suspect", "reason": "api"},
        content_type="application/json",
        **auth,
    )
    assert response.status_code == 201, response.content
    assert response.json()["stage"] == "suspect"
    response = client.patch(
        f"/api/customers/{customer.pk}", {"stage": "former"}, content_type="application/json", **auth
    )
    assert response.status_code == 200
    history = client.get(f"/api/customers/{customer.pk}/stage-history", **auth).json()["items"]
    assert [(h["from_stage"], h["to_stage"], h["via"]) for h in history] == [
        ("suspect", "former", "api"),
        ("prospect", "suspect", "api"),
    ]
