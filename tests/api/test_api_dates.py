"""Dates held to a sane range in the services (every caller goes through them) and the API."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from cartera.core.dates import years_after

# --- services: every caller (API, forms, the demo, merges) goes through them ------------------------


@pytest.mark.parametrize(
    "day", [datetime.date(1, 1, 1), datetime.date(1899, 12, 31), datetime.date(9999, 12, 31)]
)
def test_order_services_refuse_dates_out_of_range(owner, customer, order, day):
    from cartera.sales.services import order_create, order_update

    with pytest.raises(ValidationError) as refused:
        order_create(actor=owner, customer=customer, fields={"ordered_on": day, "amount": Decimal("1")})
    assert refused.value.message_dict.keys() == {"ordered_on"}
    with pytest.raises(ValidationError):
        order_update(actor=owner, order=order, fields={"ordered_on": day})
    order.refresh_from_db()
    assert order.ordered_on == datetime.date(2026, 1, 5)


def test_order_services_accept_the_edges(owner, customer):
    from cartera.sales.services import order_create

    for day in (datetime.date(1900, 1, 1), years_after(timezone.localdate(), 1)):
        assert order_create(
            actor=owner, customer=customer, fields={"ordered_on": day, "amount": Decimal("1")}
        ).pk


def test_activity_services_refuse_dates_out_of_range(owner, customer, interaction, task):
    from cartera.activity.services import interaction_create, interaction_update, task_create, task_update

    far = timezone.now() + datetime.timedelta(days=366 * 11)
    with pytest.raises(ValidationError) as refused:
        interaction_create(actor=owner, customer=customer, fields={"kind": "call", "occurred_at": far})
    assert "occurred_at" in refused.value.message_dict
    with pytest.raises(ValidationError):
        interaction_update(actor=owner, interaction=interaction, fields={"occurred_at": far})
    with pytest.raises(ValidationError) as refused:
        task_create(actor=owner, fields={"title": "x", "due_at": far})
    assert "due_at" in refused.value.message_dict
    with pytest.raises(ValidationError):
        task_update(actor=owner, task=task, fields={"due_at": far})


# --- the API -------------------------------------------------------------------------------------


def _error(response, field):
    assert response.status_code == 422, response.content
    errors = [e for e in response.json()["detail"] if e["loc"][-1] == field]
    assert errors and errors[0]["type"] == "date_out_of_range", response.json()
    return errors[0]["msg"]


def test_the_api_refuses_an_order_out_of_range_and_accepts_the_edges(api_as, owner, customer):

    api = api_as(owner)
    body = {"customer": customer.pk, "amount": "10"}
    too_late = (years_after(timezone.localdate(), 1) + datetime.timedelta(days=1)).isoformat()
    for day in ("0001-01-01", "1899-12-31", too_late, "9999-12-31"):
        msg = _error(api.post("/api/orders", {**body, "ordered_on": day}), "ordered_on")
        assert "1900" in msg
    for day in ("1900-01-01", years_after(timezone.localdate(), 1).isoformat()):
        assert api.post("/api/orders", {**body, "ordered_on": day}).status_code == 201
    english = api.post("/api/orders", {**body, "ordered_on": "9999-12-31"}, headers={"Accept-Language": "en"})
    assert _error(english, "ordered_on").startswith("Enter a date between")
    spanish = api.post("/api/orders", {**body, "ordered_on": "9999-12-31"}, headers={"Accept-Language": "es"})
    assert _error(spanish, "ordered_on").startswith("Introduce una fecha entre")


def test_the_api_holds_birth_dates_interactions_and_tasks_to_their_ranges(api_as, owner, customer, task):
    api = api_as(owner)
    tomorrow = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
    _error(api.patch(f"/api/customers/{customer.pk}", {"birth_date": tomorrow}), "birth_date")
    _error(api.patch(f"/api/customers/{customer.pk}", {"birth_date": "1899-12-31"}), "birth_date")
    assert api.patch(f"/api/customers/{customer.pk}", {"birth_date": "1900-01-01"}).status_code == 200
    in_two_years = (timezone.now() + datetime.timedelta(days=800)).isoformat()
    _error(
        api.post("/api/interactions", {"customer": customer.pk, "kind": "call", "occurred_at": in_two_years}),
        "occurred_at",
    )
    in_eleven_years = (timezone.now() + datetime.timedelta(days=366 * 11)).isoformat()
    _error(api.post("/api/tasks", {"title": "x", "due_at": in_eleven_years}), "due_at")
    _error(api.patch(f"/api/tasks/{task.pk}", {"due_at": in_eleven_years}), "due_at")
    assert api.post("/api/tasks", {"title": "x", "due_at": in_two_years}).status_code == 201
