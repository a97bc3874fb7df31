"""Dates held to a sane range wherever they enter: the API, the services, the web forms, the helper.

An order dated year 1 or 9999 was accepted and wrecked the analysis ("buys every 184,905 days").
"""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from cartera.core.dates import (
    BIRTH_DATES,
    INTERACTION_DATES,
    ORDER_DATES,
    TASK_DUE_DATES,
    DateRange,
    years_after,
)


def test_the_ranges():
    today = datetime.date(2026, 12, 2)
    assert ORDER_DATES.bounds(today) == (datetime.date(1900, 1, 1), datetime.date(2027, 12, 2))
    assert BIRTH_DATES.bounds(today) == (datetime.date(1900, 1, 1), today)
    assert INTERACTION_DATES.bounds(today)[1] == datetime.date(2027, 12, 2)
    assert TASK_DUE_DATES.bounds(today)[1] == datetime.date(2036, 12, 2)
    assert years_after(datetime.date(2028, 2, 29), 1) == datetime.date(2029, 2, 28)


def test_the_helper_the_import_uses_says_what_is_wrong_in_the_users_language():
    assert ORDER_DATES.error(timezone.localdate()) is None
    assert ORDER_DATES.error(None) is None
    with translation.override("es"):
        assert ORDER_DATES.error(datetime.date(1, 1, 1)).startswith("Introduce una fecha entre el 01/01/1900")
    with translation.override("en"):
        assert ORDER_DATES.error(datetime.date(9999, 12, 31)).startswith("Enter a date between 01/01/1900")
    # A date-time at the edge of the calendar is judged by its day, without converting it (that overflowed).
    edge = datetime.datetime(1, 1, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=5)))
    assert not DateRange().contains(edge)


# --- the web forms -------------------------------------------------------------------------------


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


def test_the_order_form_refuses_year_9999_next_to_the_field(owner_client, customer):
    from cartera.sales.models import Order

    url = reverse("sales:order_create", args=[customer.pk])
    response = owner_client.post(url, {"ordered_on": "9999-12-31", "amount": "10", "currency": "EUR"})
    assert response.status_code == 422
    assert "ordered_on" in response.context["order_form"].errors
    assert "Introduce una fecha entre" in response.content.decode()
    assert not Order.objects.exists()
    owner_client.post(url, {"ordered_on": "2026-01-05", "amount": "10", "currency": "EUR"})
    assert Order.objects.count() == 1


def test_the_interaction_and_task_forms_refuse_dates_out_of_range(owner_client, customer):
    from cartera.activity.models import Interaction, Task

    response = owner_client.post(
        reverse("activity:interaction_create", args=[customer.pk]),
        {"kind": "call", "occurred_at": "0001-01-01T10:00"},
    )
    assert "occurred_at" in response.context["interaction_form"].errors
    response = owner_client.post(
        reverse("activity:task_create", args=[customer.pk]), {"title": "x", "due_at": "9999-12-31T10:00"}
    )
    assert "due_at" in response.context["task_form"].errors
    assert not Interaction.objects.exists() and not Task.objects.exists()


def test_the_date_pickers_carry_the_range(owner_client, customer):
    from cartera.activity.forms import InteractionForm, TaskForm
    from cartera.sales.forms import OrderForm

    latest = years_after(timezone.localdate(), 1).isoformat()
    assert OrderForm()["ordered_on"].as_widget().count('min="1900-01-01"') == 1
    assert f'max="{latest}"' in OrderForm()["ordered_on"].as_widget()
    assert f'max="{latest}T23:59"' in InteractionForm()["occurred_at"].as_widget()
    assert 'min="1900-01-01T00:00"' in TaskForm(user=customer.owner)["due_at"].as_widget()
