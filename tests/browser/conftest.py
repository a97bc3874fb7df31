"""Browser tests: Debian's Chromium, driven by Playwright's sync API, against pytest-django's live server.

Every test runs twice, on a 375 px phone and on a 1280 px desktop, with the browser asking for Spanish
(``Accept-Language: es-ES``) in the server's time zone; a module that defines its own ``browser_locale``
fixture (``"en-US"``) runs its tests in English instead. The ``page`` fixture records console
errors, uncaught exceptions and every URL the page requests; tests end with ``browser_log.assert_clean()``.

Screenshots go to ``$CARTERA_SHOTS`` (``/tmp/cartera-shots`` by default), never into the repository.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("CARTERA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SHOTS = Path(os.environ.get("CARTERA_SHOTS") or Path(tempfile.gettempdir()) / "cartera-shots")
PASSWORD = "s3cret-pass-123"
# How long an action or an expectation may wait. Generous because `make test` runs the browser tests
# beside the SQLite run, so a page may take a few seconds on the shared two cores.
PATIENCE_MS = 15_000


@dataclass(frozen=True)
class Viewport:
    name: str
    width: int
    height: int
    mobile: bool


PHONE = Viewport("phone", 375, 740, mobile=True)
DESKTOP = Viewport("desktop", 1280, 800, mobile=False)


@pytest.fixture(scope="session")
def live_server(request: pytest.FixtureRequest) -> Iterator[Any]:
    """pytest-django's live server, on 127.0.0.1, with its request handler built over plain HTTP.

    Same as pytest-django's own fixture with two differences. It listens on 127.0.0.1 (unless
    ``--liveserver`` or ``DJANGO_LIVE_TEST_SERVER_ADDRESS`` say otherwise), so that "every request
    goes to 127.0.0.1" is exact. And ``SECURE_SSL_REDIRECT`` is off while the server thread builds
    its handler: ``SecurityMiddleware`` reads that setting once, when it is instantiated, so the
    per-test override in ``tests/conftest.py`` comes too late for a session-wide server (with
    DEBUG off every page would answer 301 to https://). The cookie settings are read per request
    and stay with that per-test override.
    """
    from django.test import override_settings
    from pytest_django.live_server_helper import LiveServer

    addr = (
        request.config.getvalue("liveserver")
        or os.environ.get("DJANGO_LIVE_TEST_SERVER_ADDRESS")
        or "127.0.0.1"
    )
    with override_settings(SECURE_SSL_REDIRECT=False):
        server = LiveServer(addr)
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    """The personas are created and log in once per test: a cheap hasher keeps that from dominating
    the suite's time. Logging in still goes through the real form, session and CSRF checks."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: run `make browser-deps` or set CARTERA_CHROMIUM",
            pytrace=False,
        )
    # Playwright's sync API runs an event loop in the test thread; Django refuses ORM calls from a
    # thread with a running loop unless told that this is fine. Only while the browser runs, so that
    # the other suites, when run in the same session, keep Django's check.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


VIEWPORTS = {v.name: v for v in (PHONE, DESKTOP)}


@pytest.fixture(params=list(VIEWPORTS))
def viewport(request: pytest.FixtureRequest) -> Viewport:
    """Each test on a phone and on a desktop; ``@pytest.mark.parametrize("viewport", ["desktop"],
    indirect=True)`` narrows a test that does not depend on the screen."""
    return VIEWPORTS[request.param]


@dataclass
class BrowserLog:
    """What the page did that a test should fail on: errors in the console (CSP reports included),
    uncaught exceptions, and requests to anywhere but the live server."""

    origin: str
    console: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def on_console(self, message: Any) -> None:
        text = message.text
        url = (message.location or {}).get("url", "")
        if url.endswith("/favicon.ico") and "status of 404" in text:
            # Chromium asks for the icon after the page has loaded, so whether this arrives before a
            # test ends is luck; test_pages_have_an_icon checks the icon deterministically instead.
            return
        if message.type == "error" or "Content Security Policy" in text:
            self.console.append(f"[{message.type}] {text} ({url})")

    def on_page_error(self, error: Any) -> None:
        self.page_errors.append(str(error))

    def on_request(self, request: Any) -> None:
        self.requests.append(request.url)

    def foreign_requests(self) -> list[str]:
        return [url for url in self.requests if url != self.origin and not url.startswith(self.origin + "/")]

    def assert_clean(self) -> None:
        csp = [line for line in self.console if "Content Security Policy" in line]
        assert not csp, "Content-Security-Policy violations:\n" + "\n".join(csp)
        assert not self.page_errors, "JavaScript errors:\n" + "\n".join(self.page_errors)
        assert not self.console, "Console errors:\n" + "\n".join(self.console)
        assert self.requests, "the page made no requests at all"
        foreign = self.foreign_requests()
        assert not foreign, f"requests that left {self.origin}:\n" + "\n".join(foreign)


@pytest.fixture
def browser_log(live_server: Any) -> BrowserLog:
    return BrowserLog(origin=live_server.url)


@pytest.fixture
def browser_locale() -> str:
    """The locale the browser runs in: its ``Accept-Language`` header, from which the server picks the
    page's language, and ``navigator.language``. Spanish, the app's default, unless a test module
    overrides this fixture."""
    return "es-ES"


@pytest.fixture(scope="session", autouse=True)
def _patient_expectations() -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=PATIENCE_MS)


@pytest.fixture
def context(browser: Any, viewport: Viewport, live_server: Any, browser_locale: str) -> Iterator[Any]:
    from django.conf import settings

    assert re.match(r"^http://127\.0\.0\.1:\d+$", live_server.url), live_server.url
    context = browser.new_context(
        base_url=live_server.url,
        viewport={"width": viewport.width, "height": viewport.height},
        device_scale_factor=2 if viewport.mobile else 1,
        is_mobile=viewport.mobile,
        has_touch=viewport.mobile,
        locale=browser_locale,
        timezone_id=settings.TIME_ZONE,  # the server reads datetime-local inputs in this zone
    )
    context.set_default_timeout(PATIENCE_MS)
    yield context
    context.close()


@pytest.fixture
def page(context: Any, browser_log: BrowserLog) -> Any:
    page = context.new_page()
    page.on("console", browser_log.on_console)
    page.on("pageerror", browser_log.on_page_error)
    page.on("request", browser_log.on_request)
    return page


@pytest.fixture
def login(page: Any) -> Callable[..., None]:
    """Log in through the login form and land on the home page."""

    def do_login(username: str = "owner", password: str = PASSWORD) -> None:
        from playwright.sync_api import expect

        page.goto("/accounts/login/")
        form = page.locator("form:has(input[name=password])")
        form.locator("input[name=username]").fill(username)
        form.locator("input[name=password]").fill(password)
        form.locator("button[type=submit]").click()
        expect(page).to_have_url(re.compile(r"/$"))
        expect(page.locator("nav.mainnav")).to_be_visible()

    return do_login


@pytest.fixture
def shot(page: Any, viewport: Viewport, request: pytest.FixtureRequest) -> Callable[[str], Path]:
    """Save a full-page screenshot as ``<test>-<viewport>-<name>.png`` for people to look at."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    test_name = request.node.originalname.removeprefix("test_")

    def take(name: str) -> Path:
        path = SHOTS / f"{test_name}-{viewport.name}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


# The innermost elements whose right edge passes the layout viewport, named in the failure message so
# that a sideways scroll can be fixed without opening a browser.
_OVERFLOW_JS = """() => {
  const root = document.documentElement;
  const limit = root.clientWidth + 1;
  const past = (el) => { const box = el.getBoundingClientRect(); return box.width > 0 && box.right > limit; };
  const culprits = [];
  for (const el of document.body.querySelectorAll('*')) {
    if (!past(el) || [...el.children].some(past)) continue;
    const id = el.id ? '#' + el.id : '';
    const cls = typeof el.className === 'string' && el.className ? '.' + el.className.trim().split(/\\s+/).join('.') : '';
    const label = el.dataset && el.dataset.label ? `[data-label="${el.dataset.label}"]` : '';
    const text = (el.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 60);
    culprits.push(`${el.tagName.toLowerCase()}${id}${cls}${label} right=${Math.round(el.getBoundingClientRect().right)} "${text}"`);
  }
  return {scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, innerWidth: window.innerWidth,
          culprits: culprits.slice(0, 12)};
}"""


@pytest.fixture
def sideways_overflow(page: Any) -> Callable[[str], str | None]:
    """Why the current page scrolls sideways, or None when it does not."""

    def check(where: str) -> str | None:
        m = page.evaluate(_OVERFLOW_JS)
        # innerWidth alone is not enough with mobile emulation: a phone zooms out to fit wide content,
        # and innerWidth grows with it. clientWidth is the layout viewport.
        if m["scrollWidth"] <= m["innerWidth"] + 1 and m["scrollWidth"] <= m["clientWidth"] + 1:
            return None
        return (
            f"{where} scrolls sideways: scrollWidth={m['scrollWidth']} clientWidth={m['clientWidth']} "
            f"innerWidth={m['innerWidth']}; past the edge: {m['culprits']}"
        )

    return check


_SQUEEZED_JS = """(selector) => {
  const out = [];
  for (const el of document.querySelectorAll(selector)) {
    const text = (el.textContent || '').trim();
    if (!text || el.offsetParent === null) continue;
    // The real line boxes of the text: distinct tops of the rectangles its characters occupy.
    const range = document.createRange();
    range.selectNodeContents(el);
    const tops = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
    const lines = tops.size;
    // Squeezed: fewer than six characters per line (a long e-mail may wrap; "3 7 2 8 8" may not).
    if (lines > 2 && text.length / lines < 6) {
      out.push(`${text.slice(0, 30)} (${lines} lines, ${Math.round(el.getBoundingClientRect().width)} px)`);
    }
  }
  return out.slice(0, 8);
}"""


@pytest.fixture
def squeezed_values(page: Any) -> Callable[[str, str], str | None]:
    """Values on the current page squeezed so narrow that they wrap inside words, or None."""

    def check(where: str, selector: str) -> str | None:
        found = page.evaluate(_SQUEEZED_JS, selector)
        return f"{where}: values squeezed to one letter per line: {found}" if found else None

    return check
