"""Every page a user can reach, as each role, at 375 px and 1280 px, in Spanish and in English.

The pages are found by following the links each role is shown, from the home page, over a demo
portfolio (plus one row of every kind the demo does not make); the URL map then says which routes
the walk did not reach, and each of those must be a known non-page (a form's POST, an htmx fragment,
a download). Each page must answer 200 (or lead through a redirect to a page that does), and fail
on: sideways scrolling, text squeezed to one or two letters per line, a Content-Security-Policy
violation or another console error, English words known to have leaked into Spanish pages, and any
text that is exactly an English message of the Spanish catalogue (an untranslated string).

Kept fast: the links are followed with Django's test client, one browser context per role, one tab
reused for every page, and each page loaded once per language and measured at both widths
(resizing the tab re-lays it out). Pages that fail are saved as screenshots under
``$CARTERA_SHOTS/every-page/``.
"""

from __future__ import annotations

import io
import re
import time
from collections import deque
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urldefrag, urlsplit

import pytest
from django.conf import settings
from django.test import Client
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone

from tests.browser.conftest import _OVERFLOW_JS, SHOTS
from tests.conftest import pass_second_factor
from tests.web.test_route_walk import _web_routes

pytestmark = pytest.mark.browser

WIDTHS = (1280, 375)
LANGUAGES = ("es", "en")
MAX_PAGES_PER_ROLE = 140
# Routes whose objects come in kinds laid out differently, each kind with links of its own: visited
# that many times (a score survey links to its breakdowns, a questionnaire to its questions).
VISITS_PER_ROUTE = {"surveys/<int:pk>/": 2}
# Not pages: where a link leads away from the app's pages (the admin site, the API's own docs, the
# local mail sink) or does something (logging out, switching language).
SKIP_PREFIXES = ("/admin/", "/api/", "/mail/", "/accounts/logout", "/i18n/", "/static/", "/media/")

# Routes the walk does not reach by following links, each with the reason. POST-only routes answer
# a GET with 405 or a redirect; fragments are checked by tests/web/test_csp_fragments.py.
POST_ONLY = "a form's POST (a GET answers 405 or goes back to the page)"
FRAGMENT = "an htmx fragment (tests/web/test_csp_fragments.py)"
DOWNLOAD = "a download"
NOT_REACHED = {
    "accounts/login/": "signed-in users are sent home",
    "accounts/2fa/verify/": "only between the password and the second factor",
    "accounts/password/done/": "only after changing the password",
    "accounts/tokens/<int:pk>/revoke/": POST_ONLY,
    "activity/customers/<int:customer_pk>/interactions/": POST_ONLY,
    "activity/customers/<int:customer_pk>/tasks/": POST_ONLY,
    "sales/customers/<int:customer_pk>/orders/": POST_ONLY,
    "campaigns/<int:pk>/": "the world has no campaign (tests/browser/test_browser_campaigns.py walks them)",
    "campaigns/<int:pk>/messages/<int:message_pk>/": "the world has no campaign",
    "campaigns/<int:pk>/results/": "the world has no campaign",
    "campaigns/<int:pk>/review/": "the world has no campaign",
    "campaigns/<int:pk>/settings/": "the world has no campaign",
    "campaigns/<int:pk>/test/": POST_ONLY,
    "data/imports/<int:pk>/commit/": POST_ONLY,
    "data/imports/<int:pk>/rejected.csv": "a download",
    "data/imports/<int:pk>/rollback/": POST_ONLY,
    "data/imports/new/": "the upload form, opened from a button form on the imports page",
    "pipeline/calls/<int:customer_pk>/log/": POST_ONLY,
    "pipeline/calls/lists/<int:pk>/": "the world has no call list",
    "pipeline/columns/<int:stage_pk>/": "an htmx fragment of the board",
    "pipeline/opportunities/<int:pk>/lose/": POST_ONLY,
    "pipeline/opportunities/<int:pk>/qualify/": POST_ONLY,
    "pipeline/opportunities/<int:pk>/win/": POST_ONLY,
    "privacy/customers/<int:pk>/basis/": POST_ONLY,
    "privacy/customers/<int:pk>/consent/": POST_ONLY,
    "privacy/customers/<int:pk>/personal-data.<str:fmt>": "a download",
    "segments/<int:pk>/bulk/": POST_ONLY,
    "segments/<int:pk>/freeze/": POST_ONLY,
    "segments/personas/adopt/<int:run>/<int:index>/": POST_ONLY,
    "surveys/<int:pk>/invite/": POST_ONLY,
    "surveys/audits/<int:pk>/findings/": POST_ONLY,
    "surveys/audits/<int:pk>/submit/": POST_ONLY,
    "accounts/logout/": "logs out (POST)",
    "activity/tasks/<int:pk>/snooze/": POST_ONLY,
    "activity/tasks/<int:pk>/toggle/": POST_ONLY,
    "campaigns/<int:pk>/delete/": POST_ONLY,
    "campaigns/<int:pk>/pause/": POST_ONLY,
    "campaigns/<int:pk>/progress/": FRAGMENT,
    "campaigns/<int:pk>/resume/": POST_ONLY,
    "campaigns/<int:pk>/send/": POST_ONLY,
    "customers/<int:pk>/delete/": POST_ONLY,
    "customers/<int:pk>/stage/": POST_ONLY,
    "customers/fields/<int:pk>/delete/": POST_ONLY,
    "customers/stage/": POST_ONLY,
    "data/duplicates/merge/": POST_ONLY,
    "data/export/customers.<str:fmt>": DOWNLOAD,
    "data/export/interactions.<str:fmt>": DOWNLOAD,
    "data/export/orders.<str:fmt>": DOWNLOAD,
    "data/imports/<int:pk>/progress/": FRAGMENT,
    "data/exports/<int:pk>/progress/": FRAGMENT,
    "data/exports/<int:pk>/download/": DOWNLOAD,
    "insights/predictions/check/": POST_ONLY,
    "pipeline/opportunities/<int:pk>/delete/": POST_ONLY,
    "pipeline/opportunities/<int:pk>/move/": POST_ONLY,
    "pipeline/opportunities/<int:pk>/reopen/": POST_ONLY,
    "segments/<int:pk>/delete/": POST_ONLY,
    "segments/count/": FRAGMENT,
    "segments/follow-up/<int:customer_pk>/": POST_ONLY,
    "segments/personas/<int:pk>/delete/": POST_ONLY,
    "surveys/<int:pk>/qr.svg": "an image",
    "surveys/<int:pk>/send-segment/": POST_ONLY,
    "surveys/audits/<int:pk>/step/<str:step>/photo/": POST_ONLY,
    "surveys/audits/photos/<int:pk>.jpg": "an image",
    "surveys/audits/photos/<int:pk>/delete/": POST_ONLY,
    "u/<str:token>/": "the one-click unsubscribe page of an e-mail (tests/messaging)",
    "campaigns/<int:pk>/replies/": POST_ONLY,
    "campaigns/c/<str:token>/": "a tracked link of an e-mail: redirects to its target (tests/campaigns)",
    "pipeline/f/confirm/<str:token>/": "the double opt-in link of an e-mail (tests/pipeline)",
    "pipeline/report/sources.csv": DOWNLOAD,
    "pipeline/sheet/template.xlsx": DOWNLOAD,
    "pipeline/sheet/pdf/": DOWNLOAD,
    "surveys/<int:pk>/questions/<int:question_pk>/move/": POST_ONLY,
    "surveys/<int:pk>/questions/<int:question_pk>/remove/": POST_ONLY,
}

# English words that leaked into Spanish pages before (issue 10) and the usual suspects; matched as
# whole words, case-sensitive, in the visible text.
KNOWN_LEAKS = (
    "customer", "customers", "Customer", "Customers", "Buyer persona", "Segmento rfm", "Select an option",
    "Save", "Cancel", "Delete", "Search", "Filter", "Previous", "Next", "Edit", "Owner", "Revenue",
    "Last purchase", "Sign in", "Log out", "Settings", "Overdue", "None", "True", "False", "Submit",
    "Loading", "Status", "Stage", "Due", "Tasks", "Segment", "Campaign", "Survey", "Pipeline",
)  # fmt: skip
LEAK_RE = re.compile(r"\b(" + "|".join(re.escape(w) for w in KNOWN_LEAKS) + r")\b")

_TEXTS_JS = """() => {
  const out = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode())) {
    const el = node.parentElement;
    // <code> holds data as stored (an audit record), not the interface's words.
    if (!el || el.closest('script,style,template,noscript,code')) continue;
    const text = node.textContent.replace(/\\s+/g, ' ').trim();
    if (text && el.getClientRects().length) out.add(text);
  }
  for (const el of document.querySelectorAll('[placeholder],[title],[aria-label]')) {
    for (const name of ['placeholder', 'title', 'aria-label']) {
      const v = el.getAttribute(name);
      if (v) out.add(v.trim());
    }
  }
  return [...out];
}"""

# A text squeezed so narrow that it wraps inside its words: three or more lines, none wider than about
# two characters (or fewer than three characters a line on average).
_SQUEEZED_JS = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  let node;
  while ((node = walker.nextNode())) {
    const text = node.textContent.replace(/\\s+/g, ' ').trim();
    if (text.length < 3) continue;
    const el = node.parentElement;
    if (!el || el.closest('script,style,template,svg')) continue;
    range.selectNodeContents(node);
    const rects = [...range.getClientRects()].filter(r => r.width > 0 && r.height > 0);
    if (rects.length < 3) continue;
    const lines = new Set(rects.map(r => Math.round(r.top))).size;
    if (lines < 3) continue;
    const size = parseFloat(getComputedStyle(el).fontSize) || 16;
    const widest = Math.max(...rects.map(r => r.width));
    if (widest < size * 1.3 || text.length / lines < 3) {
      const box = el.getBoundingClientRect();
      out.push(`<${el.tagName.toLowerCase()}${el.className ? '.' + String(el.className).trim().split(/\\s+/).join('.') : ''}> "${text.slice(0, 40)}" ${lines} lines in ${Math.round(box.width)} px`);
    }
  }
  return out.slice(0, 8);
}"""

_HTMX_IDLE_JS = "() => !document.querySelector('.htmx-request')"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


def _route_of(path: str) -> str | None:
    try:
        match = resolve(path)
    except Resolver404:
        return None
    return match.route


def _world(make_user) -> dict[str, Any]:
    """The demo portfolio, analysed, with one row of each kind the demo does not make."""
    from cartera.accounts.models import User
    from cartera.accounts.services import totp_device_confirm, totp_device_start
    from cartera.customers.models import Customer
    from cartera.customers.services import customer_create, customer_merge, duplicate_candidates_refresh
    from cartera.demo.generator import generate_demo
    from cartera.imports.services import export_job_create, export_job_run, import_job_create
    from cartera.insights.services import insights_backfill, insights_refresh
    from cartera.pipeline.models import LeadAssignment
    from cartera.pipeline.services import lead_form_save, opportunity_create, pipeline_defaults_ensure
    from cartera.segments.services import persona_create, segment_create
    from cartera.surveys.services.questions import question_add
    from cartera.surveys.services.surveys import survey_create
    from tests.conftest import totp_code
    from tests.surveys.rows import survey_and_audit_rows

    today = timezone.localdate()
    generate_demo(customers=160, seed=17, today=today)
    insights_backfill(months=3, as_of=today)
    insights_refresh(as_of=today)
    users = {u.username: u for u in User.objects.filter(username__in=["admin", "manager", "ana"])}
    device = totp_device_start(user=users["admin"])
    assert totp_device_confirm(user=users["admin"], device=device, code=totp_code(device))
    ana, manager = users["ana"], users["manager"]
    customer = Customer.objects.filter(owner=ana).order_by("pk").first()
    rule = {"groups": [{"match": "all", "rules": [{"field": "region", "op": "eq", "value": "Madrid"}]}]}
    segment_create(actor=manager, fields={"name": "Clientes activos", "definition": rule})
    persona_create(actor=manager, fields={"name": "Compradores habituales", "definition": rule})
    import_job_create(
        actor=manager,
        upload=io.BytesIO("nombre;email\nLucía;lucia@example.es\n".encode()),
        file_name="clientes.csv",
        kind="customers",
    )
    # My exports: a file ready to download and one the worker has not written yet, for each exporter.
    for exporter in (manager, users["admin"]):
        ready = export_job_create(actor=exporter, kind="orders", file_format="xlsx", filters={})
        export_job_run(job_id=ready.pk)
        export_job_create(
            actor=exporter, kind="customers", file_format="csv_es", filters={"stage": "customer"}
        )
    pipeline_defaults_ensure()
    opportunity_create(actor=ana, fields={"customer": customer, "title": "Renovación anual"})
    rows = survey_and_audit_rows(ana, customer, manager, make_user)
    questionnaire = survey_create(actor=manager, fields={"name": "Tu opinión", "kind": "custom"})
    question_add(
        actor=manager,
        survey=questionnaire,
        fields={"kind": "single", "text_es": "¿Cómo nos conociste?", "text_en": "How did you find us?",
                "choices_es": "Web\nAmigos", "choices_en": "Web\nFriends"},
    )  # fmt: skip
    lead_form = lead_form_save(
        actor=manager,
        lead_form=None,
        settings_values={"name": "Contacto web", "title": "Escríbenos", "assignment": LeadAssignment.FIXED,
                         "assign_to": ana, "consent_text": "Quiero recibir ofertas por e-mail."},
        fields=["first_name", "last_name", "email", "phone"],
        required=["first_name", "email"],
        round_robin_users=[],
    )  # fmt: skip

    # Two pairs of duplicates: one left for the finder's list, one merged (its record has a page).
    def twins(first: str, last: str, phone: str) -> list[Customer]:
        return [
            customer_create(actor=ana, fields={"first_name": name, "last_name": last, "phone": phone})
            for name in (first, first.upper())
        ]

    twins("Rosario", "Fernández Ruiz", "+34 600 123 456")
    kept, merged = twins("Jacinto", "Pérez Gil", "+34 600 654 321")
    customer_merge(actor=manager, keep=kept, remove=merged)
    duplicate_candidates_refresh()
    auditor = User.objects.get(username="walk-auditor")
    return {"users": {**users, "auditor": auditor}, "customer": customer, "invitation": rows[1],
            "lead_form": lead_form}  # fmt: skip


def _session_for(user: Any) -> str:
    client = Client()
    client.force_login(user)
    if user.username == "admin":
        pass_second_factor(client, user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def _discover(user: Any, extra: list[str]) -> tuple[list[str], list[str]]:
    """The pages ``user`` reaches by following links from the home page (one address per route and
    object kind), and the links that led nowhere good."""
    client = Client()
    client.force_login(user)
    if user.username == "admin":
        pass_second_factor(client, user)
    queue = deque(["/", *extra])
    seen_paths: set[str] = set()
    seen_routes: dict[str, int] = {}
    pages: list[str] = []
    broken: list[str] = []
    while queue and len(pages) < MAX_PAGES_PER_ROLE:
        url = queue.popleft()
        path = urlsplit(url).path
        if path in seen_paths or path.startswith(SKIP_PREFIXES):
            continue
        seen_paths.add(path)
        route = _route_of(path)
        if route is None:
            broken.append(f"{url}: no route")
            continue
        # One address per route: enough to see its layout with real objects.
        if seen_routes.get(route, 0) >= VISITS_PER_ROUTE.get(route, 1):
            continue
        response = client.get(url, follow=True)
        if response.status_code != 200:
            broken.append(f"{url}: {response.status_code}")
            continue
        if not response["Content-Type"].startswith("text/html") or "attachment" in response.get(
            "Content-Disposition", ""
        ):
            continue  # a download
        seen_routes[route] = seen_routes.get(route, 0) + 1
        pages.append(url)
        parser = _Links()
        parser.feed(response.content.decode(errors="replace"))
        for href in parser.hrefs:
            href = urldefrag(href)[0]
            if href.startswith("/") and not href.startswith("//"):
                queue.append(href)
    return pages, broken


def _on_console(message: Any, console: list[str]) -> None:
    url = (message.location or {}).get("url", "")
    if url.endswith("/favicon.ico"):
        return  # asked for after the load, by luck before or after the check (see conftest.BrowserLog)
    if message.type == "error" or "Content Security Policy" in message.text:
        console.append(f"{message.text} ({url})")


def _untranslated_msgids() -> set[str]:
    """English messages of the Spanish catalogue that have a different Spanish text."""
    from django.utils.translation import trans_real

    catalog = trans_real.translation("es")._catalog  # type: ignore[attr-defined]
    out = set()
    for key, value in catalog.items():
        if isinstance(key, str) and key != value and len(key) >= 4 and re.search(r"[A-Za-z]{3}", key):
            out.add(key.strip())
    return out


def test_every_page_as_every_role_width_and_language(browser, live_server, make_user, transactional_db):
    started = time.perf_counter()
    world = _world(make_user)
    invitation = world["invitation"]
    from cartera.surveys.services.surveys import invitation_link

    # The public pages are linked by absolute address (a link to send, a form to embed).
    extra = [
        urlsplit(invitation_link(invitation)).path,
        reverse("pipeline:lead_public", args=[world["lead_form"].slug]),
    ]
    plan: dict[str, list[str]] = {}
    problems: list[str] = []
    for role, user in world["users"].items():
        pages, broken = _discover(user, extra)
        plan[role] = pages
        problems += [f"[{role}] broken link {b}" for b in broken]
    discovered = time.perf_counter()

    # The URL map: every GET page route was reached by some role, or is a known non-page.
    reached = {_route_of(urlsplit(u).path) for pages in plan.values() for u in pages}
    unreached = sorted(
        r
        for r in _web_routes()
        if r not in reached
        and r not in NOT_REACHED
        and not r.startswith(("api/", "admin/", "i18n/", "mail/"))
    )

    english = _untranslated_msgids()
    shots = SHOTS / "every-page"
    shots.mkdir(parents=True, exist_ok=True)
    visits = 0
    for role, pages in plan.items():
        context = browser.new_context(
            base_url=live_server.url,
            viewport={"width": WIDTHS[0], "height": 800},
            timezone_id=settings.TIME_ZONE,
        )
        context.set_default_timeout(8_000)
        host = urlsplit(live_server.url).hostname
        context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": _session_for(world["users"][role]), "domain": host,
              "path": "/"}]
        )  # fmt: skip
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda m, console=console: _on_console(m, console))
        page.on("pageerror", lambda e, console=console: console.append(f"uncaught: {e}"))
        for language in LANGUAGES:
            context.add_cookies(
                [{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "domain": host, "path": "/"}]
            )
            for url in pages:
                where = f"[{role} {language}] {url}"
                console.clear()
                page.set_viewport_size({"width": WIDTHS[0], "height": 800})
                response = page.goto(url)
                visits += 1
                if response is None or response.status != 200:
                    problems.append(f"{where}: answered {response.status if response else 'nothing'}")
                    continue
                page.wait_for_function(_HTMX_IDLE_JS)
                flagged = []
                # The public survey and lead form pages speak their visitor's language, whoever opens them.
                if (
                    not url.startswith(("/s/", "/pipeline/f/"))
                    and page.evaluate("document.documentElement.lang") != language
                ):
                    flagged.append(f"page language is {page.evaluate('document.documentElement.lang')}")
                if language == "es":
                    texts = page.evaluate(_TEXTS_JS)
                    untranslated = sorted({t for t in texts if t in english})
                    if untranslated:
                        flagged.append(f"untranslated: {untranslated[:6]}")
                    leaks = sorted({m for t in texts for m in LEAK_RE.findall(t)})
                    if leaks:
                        flagged.append(f"English words: {leaks}")
                for width in WIDTHS:
                    if width != WIDTHS[0]:
                        page.set_viewport_size({"width": width, "height": 740})
                    m = page.evaluate(_OVERFLOW_JS)
                    if m["scrollWidth"] > m["clientWidth"] + 1:
                        flagged.append(
                            f"{width}px scrolls sideways ({m['scrollWidth']}): {m['culprits'][:4]}"
                        )
                    squeezed = page.evaluate(_SQUEEZED_JS)
                    if squeezed:
                        flagged.append(f"{width}px squeezed: {squeezed}")
                    if (
                        flagged
                        and width == WIDTHS[-1]
                        or (flagged and any(f"{width}px" in f for f in flagged))
                    ):
                        name = re.sub(r"[^\w]+", "_", f"{role}-{language}-{width}-{url}").strip("_")
                        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
                if console:
                    flagged.append(f"console: {console[:4]}")
                problems += [f"{where}: {f}" for f in flagged]
        context.close()
    seconds = time.perf_counter() - started
    print(
        f"\nevery page: {visits} page loads, {sum(map(len, plan.values()))} pages over {len(plan)} roles,"
        f" discovery {discovered - started:.1f}s, total {seconds:.1f}s"
    )
    (shots / "problems.txt").write_text("\n".join(problems))
    assert not unreached, f"GET routes no role reached by a link (add a link or a reason): {unreached}"
    assert all(len(pages) > 5 for pages in plan.values()), {r: len(p) for r, p in plan.items()}
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)
