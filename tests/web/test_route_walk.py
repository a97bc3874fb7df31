"""Every route of every app, web and API, found from the URL resolver and the OpenAPI document, walked
by an outsider (an active user with no role): nothing leaks and not one row of any table changes.

Nobody has to remember to add a new route here: a route the walk cannot build a URL for fails the test.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator

import pytest
from django.apps import apps
from django.db import connection
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from cartera.accounts.models import ApiToken
from tests.surveys.rows import survey_and_audit_rows

# Tables a request may legitimately write for anyone: the session store (login, language) and the
# audit of sign-in attempts.
VOLATILE_TABLES = {"django_session", "axes_accessattempt", "axes_accesslog", "axes_accessfailurelog"}
SECRET_WORDS = (
    "Lucía",
    "Acme SL",
    "Clientes de Madrid",
    "Madrileños",
    "clientes-walk.csv",
    "Tienda Secreta",
    "Encuesta Secreta",
    "Muy secreto",
)
# 429: the public survey page slows down whoever tries many unknown links (cartera/surveys).
ALLOWED = {200, 302, 400, 401, 403, 404, 405, 422, 429}
# Django routes write parameters as <int:pk>, the OpenAPI document as {customer_id}.
PARAM = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>|\{(?P<api_name>\w+)\}")


@pytest.fixture
def world(owner, customer, manager, make_user, settings, tmp_path):
    """One row of every model a user can reach, all belonging to ``owner``."""
    from cartera.accounts.services import api_token_create
    from cartera.activity.services import interaction_create, task_create
    from cartera.customers.services import company_create
    from cartera.imports.services import import_job_create
    from cartera.pipeline.services import opportunity_create, pipeline_defaults_ensure
    from cartera.sales.services import order_create
    from cartera.segments.services import persona_create, segment_create

    settings.VAR_DIR = tmp_path
    _align_sequences()
    rule = {"groups": [{"match": "all", "rules": [{"field": "region", "op": "eq", "value": "Madrid"}]}]}
    rows = [
        customer,
        company_create(actor=owner, fields={"name": "Acme SL", "tax_id": "B11111111"}),
        order_create(actor=owner, customer=customer, fields={"ordered_on": "2026-02-01", "amount": "10.00"}),
        interaction_create(actor=owner, customer=customer, fields={"kind": "call", "subject": "Hola"}),
        task_create(actor=owner, fields={"title": "Llamar", "due_at": timezone.now(), "customer": customer}),
        segment_create(actor=owner, fields={"name": "Clientes de Madrid", "definition": rule}),
        persona_create(actor=owner, fields={"name": "Madrileños", "definition": rule}),
        import_job_create(
            actor=owner,
            upload=io.BytesIO("nombre;email\nLucía;lucia@example.es\n".encode()),
            file_name="clientes-walk.csv",
            kind="customers",
        ),
        api_token_create(user=owner, name="walk")[0],
        _export_file(manager),
        pipeline_defaults_ensure(),
        opportunity_create(actor=owner, fields={"customer": customer, "title": "Trato de Lucía"}),
    ]
    rows += survey_and_audit_rows(owner, customer, manager, make_user)
    return rows


def _align_sequences() -> None:
    """On PostgreSQL, start every table's ids at the same number, as they do on SQLite, where the
    rolled-back transactions of earlier tests give every table ids 1, 2, 3...: the world's rows then
    share a handful of ids and the walk tries each route with each of them, instead of with the 25 or
    so different ids the tables' own sequences would hand out (8 times the requests, no row more)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT schemaname, sequencename, COALESCE(last_value, 0) FROM pg_sequences")
        sequences = cursor.fetchall()
        base = max((last for _schema, _name, last in sequences), default=0) + 1
        for schema, name, _last in sequences:
            cursor.execute("SELECT setval(%s, %s, true)", [f'"{schema}"."{name}"', base])


def _export_file(manager):
    """An export file of the manager's, written (it holds the customers: "Lucía")."""
    from cartera.imports.services import export_job_create, export_job_run

    job = export_job_create(actor=manager, kind="customers", file_format="csv", filters={"q": "Lucía"})
    return export_job_run(job_id=job.pk)


def _web_routes(resolver: URLResolver | None = None, prefix: str = "") -> Iterator[str]:
    """Every concrete route (as a pattern string) below the project's URL map, but the API's and admin's."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if route.startswith(("api/", "admin/")):
            continue
        if isinstance(entry, URLResolver):
            yield from _web_routes(entry, route)
        elif isinstance(entry, URLPattern):
            yield route


def _api_operations() -> Iterator[tuple[str, str]]:
    from cartera.api import api

    for path, operations in api.get_openapi_schema()["paths"].items():
        for method in operations:
            yield method, path


def _urls(route: str, ids: list[int]) -> Iterator[str]:
    """The route with each parameter filled by each id of the world (a route must be fully built)."""
    params = list(PARAM.finditer(route))
    assert all(p["converter"] in (None, "int", "str", "slug") for p in params), route
    if not params:
        yield "/" + route.lstrip("/")
        return
    for value in ids:
        yield "/" + PARAM.sub(str(value), route).lstrip("/")


def _checksum() -> dict[str, str]:
    """A hash of every row of every table (but the volatile ones), by table."""
    sums: dict[str, str] = {}
    for model in apps.get_models(include_auto_created=True):
        table = model._meta.db_table
        if table in VOLATILE_TABLES or not model._meta.managed:
            continue
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 - a model's table
            rows = sorted(repr(row) for row in cursor.fetchall())
        sums[table] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
    return sums


def test_the_walk_finds_every_app(world):
    routes = set(_web_routes())
    for prefix in ("customers/", "activity/", "sales/", "segments/", "data/", "accounts/", "surveys/", "s/"):
        assert any(r.startswith(prefix) for r in routes), prefix
    assert len(list(_api_operations())) > 20


def test_outsider_walks_every_web_and_api_route_and_changes_nothing(client, outsider, world):
    client.force_login(outsider)
    ids = sorted({row.pk for row in world})
    before = _checksum()
    requests = 0
    for route in _web_routes():
        if route.startswith(("accounts/logout", "i18n/")):
            continue  # logging out or switching language changes only the outsider's own session
        for url in _urls(route, ids):
            for method in ("get", "post"):
                response = getattr(client, method)(url, {"name": "Hacked", "first_name": "Hacked"})
                requests += 1
                assert response.status_code in ALLOWED, (method, url, response.status_code)
                body = response.content.decode(errors="replace")
                assert not any(word in body for word in SECRET_WORDS), (method, url)
    for method, path in _api_operations():
        for url in _urls(path.lstrip("/"), ids):
            response = client.generic(method.upper(), url, "{}", content_type="application/json")
            requests += 1
            assert response.status_code in ALLOWED, (method, url, response.status_code)
            if response.status_code >= 400:
                assert response["Content-Type"].startswith("application/json"), (method, url)
            if response.status_code == 200 and not url.startswith(("/api/openapi", "/api/docs", "/api/me")):
                assert not any(word in response.content.decode() for word in SECRET_WORDS), (method, url)
    assert requests > 100
    # What anyone may write is their own: an API token, a two-factor device being set up.
    ApiToken.objects.filter(user=outsider).delete()
    TOTPDevice.objects.filter(user=outsider).delete()
    assert _checksum() == before
