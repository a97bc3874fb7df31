"""Every web route walked by people who should not get through: nothing leaks, nothing changes."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from cartera.activity.models import Interaction, Task
from cartera.activity.services import interaction_create, task_create
from cartera.customers.models import Company, Customer
from cartera.customers.services import company_create
from cartera.sales.models import Order
from cartera.sales.services import order_create

APP_NAMESPACES = ("customers", "activity", "sales", "web", "accounts")


@pytest.fixture
def world(owner, customer):
    """A customer of ``owner`` with an order, an interaction, a task and a company."""
    company = company_create(actor=owner, fields={"name": "Acme SL", "tax_id": "B11111111"})
    order = order_create(
        actor=owner, customer=customer, fields={"ordered_on": "2026-02-01", "amount": "10.00"}
    )
    interaction = interaction_create(
        actor=owner, customer=customer, fields={"kind": "call", "subject": "Hola"}
    )
    task = task_create(
        actor=owner, fields={"title": "Llamar a Lucía", "due_at": timezone.now(), "customer": customer}
    )
    return {
        "customer": customer,
        "company": company,
        "order": order,
        "interaction": interaction,
        "task": task,
    }


def _routes(world):
    """(name, args, methods) for every route of the apps; the test below checks none is missing."""
    c, co, t = world["customer"].pk, world["company"].pk, world["task"].pk
    return {
        "customers:list": ((), ["get"]),
        "customers:create": ((), ["get", "post"]),
        "customers:detail": ((c,), ["get"]),
        "customers:edit": ((c,), ["get", "post"]),
        "customers:stage_change": ((c,), ["post"]),
        "customers:stage_bulk": ((), ["post"]),
        "customers:delete": ((c,), ["post"]),
        "customers:company_list": ((), ["get"]),
        "customers:company_create": ((), ["get", "post"]),
        "customers:company_detail": ((co,), ["get"]),
        "customers:company_edit": ((co,), ["get", "post"]),
        "activity:interaction_create": ((c,), ["post"]),
        "activity:task_create": ((c,), ["post"]),
        "activity:my_tasks": ((), ["get", "post"]),
        "activity:task_toggle": ((t,), ["post"]),
        "activity:task_snooze": ((t,), ["post"]),
        "customers:duplicates": ((), ["get", "post"]),
        "customers:merge": ((), ["get", "post"]),
        "customers:merge_detail": ((999,), ["get", "post"]),
        "customers:custom_fields": ((), ["get"]),
        "customers:custom_field_create": ((), ["get", "post"]),
        "customers:custom_field_edit": ((999,), ["get", "post"]),
        "customers:custom_field_delete": ((999,), ["post"]),
        "sales:order_create": ((c,), ["post"]),
        "web:home": ((), ["get"]),
        "web:glossary": ((), ["get"]),
        "accounts:login": ((), ["get"]),
        "accounts:logout": ((), ["post"]),
        "accounts:password_change": ((), ["get"]),
        "accounts:password_change_done": ((), ["get"]),
        "accounts:api_tokens": ((), ["get"]),
        "accounts:two_factor": ((), ["get", "post"]),
        "accounts:two_factor_verify": ((), ["get", "post"]),
        "accounts:api_token_revoke": ((999,), ["post"]),
    }


def _named_routes() -> set[str]:
    names: set[str] = set()
    for entry in get_resolver().url_patterns:
        if isinstance(entry, URLResolver) and entry.namespace in APP_NAMESPACES:
            for sub in entry.url_patterns:
                if isinstance(sub, URLPattern) and sub.name:
                    names.add(f"{entry.namespace}:{sub.name}")
    return names


def test_the_route_table_covers_every_route(world):
    assert _named_routes() == set(_routes(world))


POST_DATA = {
    "first_name": "Hacked",
    "name": "Hacked",
    "kind": "note",
    "title": "Hacked",
    "due_at": "2030-01-01T10:00",
    "ordered_on": "2026-03-01",
    "amount": "999",
    "currency": "EUR",
    "stage": "former",
    "country": "ES",
}


def _snapshot():
    return (
        list(Customer.objects.values_list("id", "first_name", "stage", "owner_id").order_by("id")),
        list(Company.objects.values_list("id", "name").order_by("id")),
        Order.objects.count(),
        Interaction.objects.count(),
        list(Task.objects.values_list("id", "title", "done").order_by("id")),
    )


def test_outsider_walks_every_route_and_sees_or_changes_nothing(client, outsider, world):
    client.force_login(outsider)
    before = _snapshot()
    for name, (args, methods) in _routes(world).items():
        if name == "accounts:logout":
            continue
        url = reverse(name, args=args)
        for method in methods:
            response = getattr(client, method)(url, POST_DATA if method == "post" else None)
            assert response.status_code in (200, 302, 403, 404), (name, method, response.status_code)
            body = response.content.decode()
            assert "Lucía" not in body and "Acme SL" not in body, (name, method)
            if response.status_code == 302:
                assert not response["Location"].startswith(reverse("customers:list") + "1"), name
    assert _snapshot() == before


def test_anonymous_is_sent_to_login_everywhere(client, world):
    for name, (args, methods) in _routes(world).items():
        if name in ("accounts:login", "accounts:logout"):
            continue
        url = reverse(name, args=args)
        for method in methods:
            response = getattr(client, method)(url, POST_DATA if method == "post" else None)
            assert response.status_code == 302 and "/accounts/login/" in response["Location"], (name, method)


@pytest.mark.parametrize(
    ("name", "method", "status"),
    [
        ("customers:edit", "get", 403),
        ("customers:edit", "post", 403),
        ("customers:delete", "post", 403),
        ("customers:stage_change", "post", 403),
        ("sales:order_create", "post", 403),
        ("activity:task_toggle", "post", 403),
        ("activity:task_snooze", "post", 403),
        # Companies have no owner: sales reps may add them (from the customer form) but not edit them.
        ("customers:company_edit", "post", 403),
    ],
)
def test_colleague_cannot_write_to_a_customer_they_do_not_own(client, colleague, world, name, method, status):
    client.force_login(colleague)
    args, _ = _routes(world)[name]
    before = _snapshot()
    response = getattr(client, method)(reverse(name, args=args), POST_DATA)
    assert response.status_code in (status, 302)
    if status == 403:
        assert response.status_code == 403
        assert _snapshot() == before


def test_colleague_sees_the_shared_portfolio_and_may_log_interactions(client, colleague, world):
    client.force_login(colleague)
    customer = world["customer"]
    assert client.get(reverse("customers:detail", args=[customer.pk])).status_code == 200
    response = client.post(
        reverse("activity:interaction_create", args=[customer.pk]),
        {"kind": "call", "subject": "Cubro a Olga"},
    )
    assert response.status_code == 302
    assert Interaction.objects.filter(author=colleague).count() == 1


def test_sales_rep_cannot_delete_even_their_own_customer(client, owner, world):
    client.force_login(owner)
    response = client.post(reverse("customers:delete", args=[world["customer"].pk]))
    assert response.status_code == 403
    assert Customer.objects.filter(pk=world["customer"].pk).exists()


def test_manager_can_delete(client, manager, world):
    client.force_login(manager)
    response = client.post(reverse("customers:delete", args=[world["customer"].pk]))
    assert response.status_code == 302
    assert not Customer.objects.exists() and not Order.objects.exists()


def test_sales_rep_gives_a_task_to_a_colleague(client, owner, colleague, outsider, world):
    client.force_login(owner)
    response = client.post(
        reverse("activity:my_tasks"),
        {"title": "Para Carlos", "due_at": "2030-01-01T10:00", "assignee": colleague.pk},
    )
    assert response.status_code == 302
    assert Task.objects.get(title="Para Carlos").assignee == colleague
    # Someone without a role is not offered, and is refused if posted anyway.
    page = client.get(reverse("activity:my_tasks")).content.decode()
    assert f'value="{colleague.pk}"' in page and f'value="{outsider.pk}"' not in page
    response = client.post(
        reverse("activity:my_tasks"),
        {"title": "Para nadie", "due_at": "2030-01-01T10:00", "assignee": outsider.pk},
    )
    assert response.status_code == 200
    assert not Task.objects.filter(title="Para nadie").exists()


def test_a_reassigned_task_is_out_of_its_creators_hands(client, owner, colleague, manager, customer):
    from cartera.activity.services import task_update

    task = task_create(
        actor=owner, fields={"title": "Llamar", "customer": customer, "due_at": timezone.now()}
    )
    task_update(actor=manager, task=task, fields={"assignee": colleague})
    client.force_login(owner)
    response = client.post(reverse("activity:task_toggle", args=[task.pk]))
    assert response.status_code == 403
    task.refresh_from_db()
    assert not task.done
    client.force_login(colleague)
    assert client.post(reverse("activity:task_toggle", args=[task.pk])).status_code == 302
    task.refresh_from_db()
    assert task.done
