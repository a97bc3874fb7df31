"""Every list a user can open, web and API, costs the same number of queries whatever the number of
rows (no query per row): measured with a few rows and with many."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cartera.accounts.services import api_token_create


def _add_rows(owner, customer, start: int, stop: int) -> None:
    """Rows of every listed kind: companies, customers with tags, interactions, tasks and orders."""
    from cartera.activity.services import interaction_create, task_create
    from cartera.customers.services import company_create, customer_create, tags_get_or_create
    from cartera.sales.services import order_create

    for i in range(start, stop):
        company_create(actor=owner, fields={"name": f"Empresa {i}"})
        other = customer_create(
            actor=owner,
            fields={"first_name": f"Cliente {i}", "company_name": f"Empresa {i}"},
            tags=tags_get_or_create(names=[f"etiqueta {i}"]),
        )
        for who in (customer, other):
            interaction_create(actor=owner, customer=who, fields={"kind": "call", "subject": f"Llamada {i}"})
            task_create(
                actor=owner,
                fields={
                    "title": f"Tarea {i}",
                    "customer": who,
                    "due_at": timezone.now() + datetime.timedelta(days=i),
                },
            )
            order_create(
                actor=owner, customer=who, fields={"ordered_on": "2026-02-01", "amount": f"{10 + i}.00"}
            )


WEB_LISTS = ["/customers/", "/customers/companies/", "/activity/tasks/", "/customers/{customer}/", "/data/"]
API_LISTS = [
    "/api/customers",
    "/api/companies",
    "/api/tags",
    "/api/interactions",
    "/api/tasks",
    "/api/orders",
    "/api/segments",
]


@pytest.mark.parametrize("path", WEB_LISTS + API_LISTS)
def test_a_list_costs_the_same_queries_for_few_and_many_rows(client, owner, customer, path):
    client.force_login(owner)
    _, token = api_token_create(user=owner, name="counts")
    headers = {"Authorization": f"Bearer {token}"} if path.startswith("/api/") else {}
    url = path.format(customer=customer.pk)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url, headers=headers)
        assert response.status_code == 200, (url, response.status_code)
        return len(ctx.captured_queries)

    _add_rows(owner, customer, 0, 2)
    queries()  # warm caches (content types, permissions) so both measurements see the same state
    few = queries()
    _add_rows(owner, customer, 2, 14)
    assert queries() == few, url


def test_home_page_costs_the_same_queries_for_few_and_many_delegated_tasks(client, owner, manager, customer):
    """The home page lists today's tasks, saying who asked for each one ("from Marta"): the person
    who delegated it is read with the tasks, not one query per task."""
    from cartera.activity.services import task_create

    client.force_login(owner)

    def delegate(count: int) -> None:
        for i in range(count):
            task_create(
                actor=manager,
                fields={
                    "title": f"Encargo {i}",
                    "customer": customer,
                    "assignee": owner,
                    "due_at": timezone.now(),
                },
            )

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get("/")
        assert response.status_code == 200
        assert "Encargo 0" in response.content.decode()
        return len(ctx.captured_queries)

    delegate(1)
    queries()  # warm caches (content types, permissions)
    few = queries()
    delegate(8)
    assert queries() == few
