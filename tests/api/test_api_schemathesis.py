"""schemathesis against the OpenAPI document: generated requests for every operation, 0 failures.

The Django app is called in-process through WSGI (no server), authenticated with a manager's token
(a manager may read and write every row, so the writes are really attempted). Hypothesis is seeded
(``derandomize``) and bounded (``max_examples``), so a run is repeatable and takes about a minute.

Checks: no 5xx, every status declared for its operation, every response's content type and body
as the document says. Any undeclared status, HTML page or body that does not match its schema
fails the test with the request that caused it (schemathesis prints a curl command to replay it).
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import override_settings
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
MAX_EXAMPLES = 25


# Read at collection time (the operations become one test each); the document needs no database,
# and the test settings' plain HTTP is not in force yet, hence the override.
with override_settings(SECURE_SSL_REDIRECT=False):
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", get_wsgi_application())


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """The WSGI handler closes the database connection around each request, which on PostgreSQL
    would close the test's own transaction; Django's test client stops that the same way."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def manager_token(db, manager, customer, company, order, interaction, task):
    """A manager's token, over a portfolio with one row of everything (ids 1 exist)."""
    from cartera.accounts.services import api_token_create

    _, raw = api_token_create(user=manager, name="schemathesis")
    return raw


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_keeps_its_openapi_contract(case, manager_token):
    case.call_and_validate(headers={"Authorization": f"Bearer {manager_token}"}, checks=CHECKS)
