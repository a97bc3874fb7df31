"""REST API test helpers: a client per persona that authenticates with a real token, and a check,
on every response the suite sees, that its status code is documented in the OpenAPI document."""

from __future__ import annotations

import datetime
import json
import re
from decimal import Decimal
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.test import Client
from django.urls import Resolver404, resolve
from django.utils import timezone

_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")


@cache
def openapi_schema() -> dict[str, Any]:
    return json.loads(Client().get("/api/openapi.json").content)


def operation_for(method: str, path: str) -> tuple[str, dict[str, Any]] | None:
    """The OpenAPI path template and operation that serve ``method path`` (None outside the API)."""
    try:
        match = resolve(urlsplit(path).path)
    except Resolver404:
        return None
    if not match.route.startswith("api/"):
        return None
    template = "/" + _CONVERTER.sub(r"{\1}", match.route)
    operation = openapi_schema()["paths"].get(template, {}).get(method.lower())
    return (template, operation) if operation is not None else None


class ApiClient:
    """The Django test client speaking JSON to ``/api/`` with a bearer token (or none).

    Every response is checked against the OpenAPI document: a status the API really returned but
    did not document fails the test that saw it.
    """

    def __init__(self, token: str | None = None, client: Client | None = None) -> None:
        self.token = token
        self.client = client or Client()

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        headers.update(extra or {})
        return headers

    def _check(self, method: str, path: str, response: Any) -> Any:
        found = operation_for(method, path)
        if found is not None:
            template, operation = found
            documented = set(operation["responses"])
            if str(response.status_code) not in documented:
                pytest.fail(
                    f"{method.upper()} {template} answered {response.status_code}, which the OpenAPI "
                    f"document does not declare (it declares {sorted(documented)})"
                )
        return response

    def get(
        self, path: str, params: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> Any:
        return self._check("get", path, self.client.get(path, params or {}, headers=self._headers(headers)))

    def _send(self, method: str, path: str, data: Any, headers: dict[str, str] | None) -> Any:
        body = json.dumps(data, cls=DjangoJSONEncoder) if data is not None else ""
        send = getattr(self.client, method)
        response = send(path, body, content_type="application/json", headers=self._headers(headers))
        return self._check(method, path, response)

    def post(self, path: str, data: Any = None, headers: dict[str, str] | None = None) -> Any:
        return self._send("post", path, data, headers)

    def patch(self, path: str, data: Any = None, headers: dict[str, str] | None = None) -> Any:
        return self._send("patch", path, data, headers)

    def delete(self, path: str, headers: dict[str, str] | None = None) -> Any:
        return self._check("delete", path, self.client.delete(path, headers=self._headers(headers)))


@pytest.fixture
def api_as(db):
    """``api_as(user)``: a client authenticated with a fresh personal token of ``user``."""
    from cartera.accounts.services import api_token_create

    def make(user: Any) -> ApiClient:
        _, raw = api_token_create(user=user, name="tests", scope="write")
        return ApiClient(raw)

    return make


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """The personas' passwords are never checked here; hashing them properly costs a second each."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def openapi_doc():
    """The OpenAPI document, as ``/api/openapi.json`` serves it."""
    return openapi_schema()


@pytest.fixture(name="operation_for")
def operation_for_fixture():
    """``operation_for(method, path)``: the (path template, operation) serving a request, or None."""
    return operation_for


@pytest.fixture
def make_api(db):
    """``make_api(token=None, client=None)``: an :class:`ApiClient` built by hand."""
    return ApiClient


@pytest.fixture
def anon_api(db):
    return ApiClient()


@pytest.fixture
def owner_api(api_as, owner):
    return api_as(owner)


@pytest.fixture
def colleague_api(api_as, colleague):
    return api_as(colleague)


@pytest.fixture
def manager_api(api_as, manager):
    return api_as(manager)


@pytest.fixture
def admin_api(api_as, admin_user):
    return api_as(admin_user)


@pytest.fixture
def outsider_api(api_as, outsider):
    return api_as(outsider)


# --- data, made through the services --------------------------------------------------------------


@pytest.fixture
def company(owner):
    from cartera.customers.services import company_create

    return company_create(
        actor=owner, fields={"name": "Talleres Norte SL", "tax_id": "B12345678", "sector": "auto"}
    )


@pytest.fixture
def order(owner, customer):
    from cartera.sales.services import order_create

    return order_create(
        actor=owner,
        customer=customer,
        fields={"ordered_on": datetime.date(2026, 1, 5), "amount": Decimal("19.90")},
    )


@pytest.fixture
def interaction(owner, customer):
    """An interaction the owner logged on their customer."""
    from cartera.activity.services import interaction_create

    return interaction_create(
        actor=owner, customer=customer, fields={"kind": "call", "subject": "Primera llamada"}
    )


@pytest.fixture
def task(owner, customer):
    """A task the owner gave themselves about their customer."""
    from cartera.activity.services import task_create

    return task_create(
        actor=owner,
        fields={
            "title": "Llamar",
            "customer": customer,
            "due_at": timezone.now() + datetime.timedelta(days=1),
        },
    )


@pytest.fixture
def records(customer, company, order, interaction, task, owner):
    """One row of everything, all belonging to the owner (or their customer)."""
    from cartera.imports.models import ExportJob
    from cartera.pipeline.services import opportunity_create, pipeline_defaults_ensure

    pipeline_defaults_ensure()
    return {
        # An export file of the owner's (made directly: a sales rep cannot ask for one).
        "export": ExportJob.objects.create(requested_by=owner, kind="customers", file_format="csv"),
        "customer": customer,
        "company": company,
        "order": order,
        "interaction": interaction,
        "task": task,
        "opportunity": opportunity_create(actor=owner, fields={"customer": customer, "title": "Trato"}),
    }


@pytest.fixture
def make_customers(owner):
    """``make_customers(n, **fields)``: ``n`` customers owned by ``owner`` (bulk, for list tests)."""
    from cartera.core.text import fold
    from cartera.customers.models import Customer

    def make(n: int, **fields: Any) -> list[Customer]:
        start = Customer.objects.count()
        rows = []
        for i in range(start, start + n):
            first, last = f"Nombre{i:04d}", f"Apellido{i:04d}"
            values = {"owner": owner, "first_name": first, "last_name": last, "email": f"c{i}@example.es"}
            values.update(fields)
            values["first_name_key"] = fold(values["first_name"])
            values["last_name_key"] = fold(values["last_name"])
            rows.append(Customer(**values))
        return Customer.objects.bulk_create(rows)

    return make


def snapshot(*querysets: Any) -> list[list[dict[str, Any]]]:
    """Every column of every row of ``querysets``: compare before and after to prove nothing changed."""
    return [list(qs.order_by("pk").values()) for qs in querysets]


@pytest.fixture
def db_snapshot():
    from cartera.activity.models import Interaction, Task
    from cartera.customers.models import (
        Company,
        Customer,
        CustomerMerge,
        DuplicateCandidate,
        StageChange,
        Tag,
    )
    from cartera.pipeline.models import (
        CallList,
        CallListEntry,
        LeadForm,
        LeadSubmission,
        Opportunity,
        OpportunityStageChange,
    )
    from cartera.sales.models import Order

    def take() -> list[list[dict[str, Any]]]:
        return snapshot(
            Customer.objects.all(),
            Customer.tags.through.objects.all(),
            Company.objects.all(),
            Tag.objects.all(),
            Interaction.objects.all(),
            Task.objects.all(),
            Order.objects.all(),
            Opportunity.objects.all(),
            OpportunityStageChange.objects.all(),
            StageChange.objects.all(),
            CallList.objects.all(),
            CallListEntry.objects.all(),
            LeadForm.objects.all(),
            LeadSubmission.objects.all(),
            CustomerMerge.objects.all(),
            DuplicateCandidate.objects.all(),
        )

    return take
