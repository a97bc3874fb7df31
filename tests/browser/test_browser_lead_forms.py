"""Lead capture in a real browser: a visitor on another website (another origin) fills the form the
app's script embeds, ticks the consent box, confirms from the e-mail (a real SMTP server), and appears
as a lead with a task for the form's rep; the manager's page shows the answer. Phone and desktop,
Spanish and English."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import expect

from cartera.messaging.services import deliver_pending
from tests.conftest import smtp_mailers
from tests.smtp_server import Recorder, start_server

pytestmark = pytest.mark.browser

WORDS = {
    "es-ES": {"first": "Nombre", "last": "Apellidos", "send": "Enviar", "thanks": "Gracias",
              "yes": "Sí, quiero vuestros correos", "done": "queda confirmado", "lang": "es"},
    "en-US": {"first": "First name", "last": "Last name", "send": "Send", "thanks": "Thank you",
              "yes": "Yes, I want your e-mails", "done": "it is confirmed", "lang": "en"},
}  # fmt: skip


@pytest.fixture(params=["es-ES", "en-US"])
def browser_locale(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def mailbox(settings: Any) -> Iterator[Recorder]:
    recorder = Recorder()
    server = start_server(recorder)
    settings.MAILERS = smtp_mailers(server.port)
    settings.CARTERA_EMAIL_RATE = 0
    settings.CARTERA_PUBLIC_URL = "https://cartera.example"
    yield recorder
    server.stop()


@pytest.fixture
def website(live_server: Any) -> Iterator[dict[str, Any]]:
    """Somebody's website on another origin, with a page that embeds the form through the script."""
    state: dict[str, Any] = {"html": ""}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            body = state["html"].encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state["origin"] = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


def test_a_visitor_fills_the_embedded_form_confirms_and_becomes_a_lead(
    page, context, transactional_db, make_user, live_server, website, mailbox, browser_locale, viewport,
    shot, sideways_overflow, browser_log, login,
):  # fmt: skip
    from cartera.activity.models import Task
    from cartera.customers.models import Customer
    from cartera.pipeline import services
    from cartera.pipeline.models import LeadSubmission
    from cartera.privacy.models import ConsentEvent

    words = WORDS[browser_locale]
    manager = make_user("manager", "manager", first_name="Marta", email="marta@cartera.example")
    rep = make_user("rep", "sales_rep", first_name="Rita", email="rita@cartera.example")
    lead_form = services.lead_form_save(
        actor=manager,
        lead_form=None,
        settings_values={
            "name": "Web", "active": True, "title": "Pide tu presupuesto", "intro": "", "thank_you": "",
            "language": "es", "stage": "prospect", "consent_text": "Quiero recibir ofertas por correo.",
            "allowed_origins": website["origin"], "assignment": "fixed", "assign_to": rep,
        },
        fields=["last_name", "phone", "notes"],
        required=["last_name"],
        round_robin_users=[],
    )  # fmt: skip
    website["html"] = (
        "<!doctype html><html><head><meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<title>Tienda</title></head><body><h1>Tienda</h1>"
        f"<script src='{live_server.url}/static/pipeline/lead-embed.js' "
        f"data-cartera-form='{live_server.url}/pipeline/f/{lead_form.slug}/' data-lang='{words['lang']}' defer>"
        "</script></body></html>"
    )
    page.goto(f"{website['origin']}/landing?utm_source=news&utm_campaign=primavera")
    frame = page.frame_locator("iframe")
    frame.get_by_label(words["first"]).fill("Ana")
    frame.get_by_label(words["last"]).fill("Ruiz")
    frame.locator("input[name=f_email]").fill("ana@example.com")
    frame.locator("input[name=consent]").check()
    problem = sideways_overflow("host page with the form")
    assert problem is None, problem
    shot(f"embedded-{words['lang']}")
    frame.get_by_role("button", name=words["send"]).click()
    expect(frame.get_by_role("heading", name=re.compile(words["thanks"]))).to_be_visible()
    # The frame grew to the form's height: nothing scrolls inside it.
    assert not browser_log.page_errors and not [c for c in browser_log.console if "Security" in c]

    person = Customer.objects.get(email="ana@example.com")
    submission = LeadSubmission.objects.get()
    assert (person.owner, person.stage, submission.utm_campaign) == (rep, "prospect", "primavera")
    assert submission.page_url == f"{website['origin']}/landing"
    assert Task.objects.filter(assignee=rep, customer=person).exists()
    assert deliver_pending().sent == 2
    [mail] = mailbox.to("ana@example.com")
    path = re.search(r"https://cartera\.example(/pipeline/f/confirm/\S+/)", mail.text()).group(1)
    page.goto(path)
    assert not ConsentEvent.objects.filter(customer=person).exists()
    shot(f"confirm-{words['lang']}")
    page.get_by_role("button", name=words["yes"]).click()
    expect(page.get_by_role("heading", name=re.compile(words["done"]))).to_be_visible()
    assert ConsentEvent.objects.get(customer=person).wording == "Quiero recibir ofertas por correo."

    login("manager")
    page.goto(f"/pipeline/forms/{lead_form.pk}/")
    expect(page.locator("td", has_text="Ana Ruiz")).to_be_visible()
    problem = sideways_overflow("lead form settings")
    assert problem is None, problem
    shot(f"settings-{words['lang']}")
    page.goto("/pipeline/forms/")
    problem = sideways_overflow("lead forms")
    assert problem is None, problem
    shot(f"list-{words['lang']}")
