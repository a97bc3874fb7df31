"""The OpenAPI document and the docs page.

Besides these checks, every response any API test receives is compared with the document (see
``ApiClient`` in conftest): a status code the API returned but did not declare fails that test.
"""

import re

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.test.utils import modify_settings

METHODS = {"get", "post", "patch", "put", "delete"}
# Reads of one thing without an id in the path: no query parameters, no cursor, hence no 400 or 422.
SINGLE_READS = {"/api/me", "/api/insights/backtest"}


def operations(doc):
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield method, path, operation


def test_the_openapi_document_is_served_without_authentication(db):
    response = Client().get("/api/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["info"]["title"] == "Cartera API"
    assert doc["info"]["version"] == "1"
    schemes = doc["components"]["securitySchemes"]
    assert {"type": "http", "scheme": "bearer"}.items() <= schemes["TokenAuth"].items()


def test_every_operation_documents_the_statuses_it_can_return(openapi_doc):
    seen = 0
    for method, path, operation in operations(openapi_doc):
        seen += 1
        codes = set(operation["responses"])
        where = f"{method.upper()} {path}: {sorted(codes)}"
        assert "401" in codes, where
        assert operation.get("security"), where
        has_id = "{" in path
        if has_id:
            assert "404" in codes, where
        if method == "get" and not has_id and path not in SINGLE_READS:
            assert {"200", "400", "422"} <= codes, where  # lists validate their query parameters and cursor
        if method == "post" and "202" in codes:
            assert {"403", "404", "415"} <= codes, where  # starts a background job, takes no body
        elif method == "post":
            assert {"201", "400", "403", "404", "413", "415", "422"} <= codes, where
        if method == "patch":
            assert {"200", "400", "403", "404", "413", "415", "422"} <= codes, where
        if method == "delete":
            assert {"204", "403", "404"} <= codes, where
        for code, response in operation["responses"].items():
            content = response.get("content", {})
            # A download answers its file, declared as binary in each of its types; its errors are JSON.
            download = (
                code == "200"
                and content
                and all(kind.get("schema", {}).get("format") == "binary" for kind in content.values())
            )
            if code != "204" and not download:
                assert "application/json" in content, f"{where}: {code} has no schema"
    assert seen >= 27  # every operation of the first API version, plus those added since


def test_error_bodies_are_described(openapi_doc):
    schemas = openapi_doc["components"]["schemas"]
    assert set(schemas["ErrorOut"]["properties"]) == {"detail"}
    field_error = schemas["FieldErrorOut"]["properties"]
    assert {"loc", "msg", "type", "existing_id"} <= set(field_error)


def test_choices_are_enumerated(openapi_doc):
    schemas = openapi_doc["components"]["schemas"]
    assert set(schemas["Stage"]["enum"]) == {"suspect", "prospect", "customer", "former"}
    assert "call" in schemas["InteractionKind"]["enum"]


# --- the docs page: Swagger UI served by the app itself, under our CSP ----------------------------


@pytest.fixture
def ninja_app():
    """django-ninja serves Swagger UI from its own static files only when it is an installed app."""
    if "ninja" in settings.INSTALLED_APPS:
        yield
    else:
        with modify_settings(INSTALLED_APPS={"append": "ninja"}):
            yield


def test_ninja_is_an_installed_app():
    assert "ninja" in settings.INSTALLED_APPS


def test_the_docs_page_loads_everything_from_the_app(db, ninja_app):
    client = Client()
    response = client.get("/api/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "an asset comes from another host"
    assert "<script>" not in html.replace(" ", "")  # no inline script: only src= and JSON data blocks
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    for asset in assets:
        assert asset.startswith("/static/"), asset
        served = client.get(asset)
        assert served.status_code == 200, asset
        served.close()
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "cdn" not in csp


def test_the_docs_never_fall_back_to_a_cdn(db):
    with modify_settings(INSTALLED_APPS={"remove": "ninja"}), pytest.raises(ImproperlyConfigured):
        Client().get("/api/docs")
