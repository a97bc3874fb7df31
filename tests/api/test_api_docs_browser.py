"""The API docs page in a real browser: Swagger UI renders under our CSP, with nothing from a CDN."""

import os
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = os.environ.get("CARTERA_CHROMIUM", "/usr/bin/chromium")

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def docs_server() -> Iterator[Any]:
    """A live server over plain HTTP (``SecurityMiddleware`` reads the redirect setting once)."""
    from django.test import override_settings
    from pytest_django.live_server_helper import LiveServer

    with override_settings(SECURE_SSL_REDIRECT=False):
        server = LiveServer("127.0.0.1")
    yield server
    server.stop()


@pytest.mark.django_db(transaction=True)
def test_swagger_ui_renders_under_the_csp_from_local_files(docs_server, monkeypatch):
    from playwright.sync_api import expect, sync_playwright

    # Playwright's sync API runs an event loop in the test thread; Django refuses ORM calls from such
    # a thread unless told that this is fine.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"Chromium not found at {CHROMIUM}: run `make browser-deps`", pytrace=False)
    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(f"{docs_server.url}/api/docs")
            expect(page.locator(".swagger-ui .info .title")).to_contain_text("Cartera API", timeout=10_000)
            expect(page.locator(".opblock").first).to_be_visible()
        finally:
            browser.close()
    assert not errors, "console errors (CSP violations included):\n" + "\n".join(errors)
    foreign = [
        url for url in requests if not url.startswith(docs_server.url + "/") and not url.startswith("data:")
    ]
    assert not foreign, "requests that left the app:\n" + "\n".join(foreign)
    assert f"{docs_server.url}/api/openapi.json" in requests
