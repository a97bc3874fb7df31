"""Issue 13's "done when" walk, on a phone and a desktop, in Spanish and in English: a manager picks
the at-risk and inactive segments, writes one message for each with a unique promotion code, reviews
who is excluded and why, sends, watches the progress; a recipient unsubscribes from the received
message in one click; an order is recorded with the code; the manager reads the lift against the
control group. The e-mails go through a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cartera.messaging.services import deliver_pending
from tests.browser.conftest import SHOTS
from tests.campaigns.conftest import build_portfolio
from tests.conftest import smtp_mailers
from tests.smtp_server import Recorder, start_server

pytestmark = pytest.mark.browser

TEXT = {
    "es-ES": {"create": "Crear una campaña", "send": "Enviar a", "results": "Resultados", "done": "Te has dado de baja",
              "unsubscribe": "Darse de baja", "order": "Registrar un pedido", "save_order": "Guardar pedido",
              "lift": "Aumento de la tasa de recompra", "bounced": "La dirección rebotó", "write": "Escribir"},
    "en-US": {"create": "Create a campaign", "send": "Send to", "results": "Results", "done": "You are unsubscribed",
              "unsubscribe": "Unsubscribe", "order": "Record an order", "save_order": "Save order",
              "lift": "Lift in the rate of buying again", "bounced": "Address bounced", "write": "Write"},
}  # fmt: skip


@pytest.fixture(params=["es-ES", "en-US"])
def browser_locale(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def mailbox(settings: Any) -> Any:
    recorder = Recorder()
    server = start_server(recorder)
    settings.MAILERS = smtp_mailers(server.port)
    settings.CARTERA_EMAIL_RATE = 0
    yield recorder
    server.stop()


@pytest.fixture
def world(transactional_db: Any, make_user: Any) -> dict[str, Any]:
    owner = make_user(
        "owner", "sales_rep", first_name="Olga", last_name="Owner", email="olga@cartera.example"
    )
    colleague = make_user("colleague", "sales_rep")
    manager = make_user("manager", "manager", first_name="Marta", email="marta@cartera.example")
    return {"manager": manager, **build_portfolio(owner, colleague, manager)}


def write_message(page: Any, row: int, subject: str, body: str, words: dict[str, str]) -> None:
    page.locator("#campaign-messages tbody tr").nth(row).get_by_role("link", name=words["write"]).click()
    page.locator("#id_a_subject").fill(subject)
    page.locator("#id_a_body").fill(body)
    page.locator("#message-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/campaigns/\d+/$"))


def test_a_manager_runs_a_reactivation_campaign(
    page: Any, login: Any, world: dict[str, Any], mailbox: Recorder, shot: Any, browser_locale: str,
    browser_log: Any, sideways_overflow: Any,
) -> None:  # fmt: skip
    words = TEXT[browser_locale]
    # A long walk with a send in the middle, on a machine others share: more patience than 5 s.
    page.set_default_timeout(30_000)
    login("manager")
    page.goto(f"/segments/{world['at_risk'].pk}/")
    link = page.locator("#create-campaign")
    expect(link).to_have_text(words["create"])
    page.goto(link.get_attribute("href"))
    page.locator("#id_name").fill("Vuelve en otoño")
    page.locator("label.check", has_text="Inactivos").locator("input").check()
    page.locator("#id_promo_mode").select_option("unique")
    page.locator("#id_promo_code").fill("VUELVE")
    page.locator("#id_promo_discount").fill("15")
    page.locator("#id_track_clicks").check()
    assert sideways_overflow("new campaign") is None
    shot("create")
    page.locator("#campaign-create button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/campaigns/\d+/$"))
    write_message(
        page,
        0,
        "{{ first_name }}, vuelve",
        "Hola {{ first_name }}: {{ promo_code }} ({{ promo_discount }}). Mira https://tienda.example/otono.",
        words,
    )
    write_message(page, 1, "Te echamos de menos", "{{ first_name }}, usa {{ promo_code }}", words)
    page.locator("#review-link").click()
    expect(page.locator("#count-treated")).to_have_text("180")
    expect(page.locator("#count-control")).to_have_text("20")
    expect(page.locator("#exclusion-reasons")).to_contain_text(words["bounced"])
    expect(page.locator("#preview")).to_contain_text("VUELVE-XXXXXX")
    assert sideways_overflow("review") is None
    shot("review")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#send").click()
    expect(page.locator("#campaign-progress")).to_be_visible()
    detail = page.url
    # The worker's job, done here while the page is elsewhere: SQLite's shared in-memory test
    # database locks a table that the progress poll reads while it is written.
    page.goto("/campaigns/")
    assert deliver_pending().sent == 180
    page.goto(detail)
    expect(page.locator("#progress-percent")).to_have_text(re.compile(r"^100"), timeout=10_000)
    assert sideways_overflow("progress") is None
    shot("progress")

    # A recipient opens the unsubscribe link of the message they received (no login) and confirms.
    # Who lands in the control group depends on the customers' ids (a seeded, stratified draw), so the
    # recipient is the first treated customer who reads Spanish (the portfolio's first 20 read English).
    received = {m.rcpt_tos[0]: m for m in mailbox.received}
    customer = next(c for c in world["customers"][20:] if c.email in received)
    mail = received[customer.email]
    https = re.search(r"<(http[^>]+)>", mail.message["List-Unsubscribe"]).group(1)
    assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    code = re.search(r"VUELVE-[A-Z0-9]{6}", mail.text()).group(0)
    visitor = page.context.browser.new_page(viewport=page.viewport_size)
    path = https.split("/u/", 1)[1]
    visitor.goto(f"{browser_log.origin}/u/{path}")
    visitor.get_by_role("button", name="Darse de baja").click()  # the customer's language: Spanish
    expect(visitor.locator("h1")).to_have_text("Te has dado de baja")
    visitor.screenshot(
        path=str(SHOTS / f"campaigns-unsubscribed-{page.viewport_size['width']}.png"), full_page=True
    )
    # They open the shop's link: a signed address of ours that counts the click and sends them on.
    tracked = re.search(r"https?://\S+/campaigns/c/[^/\s]+/", mail.text()).group(0)
    answer = visitor.request.get(
        browser_log.origin + "/campaigns/c/" + tracked.split("/campaigns/c/", 1)[1], max_redirects=0
    )
    assert answer.status == 302 and answer.headers["location"] == "https://tienda.example/otono"
    visitor.close()

    # The customer comes back and buys with the code.
    page.goto(f"/customers/{customer.pk}/")
    page.locator("details:has(#order-form) > summary").click()
    form = page.locator("#order-form")
    form.locator("input[name=ordered_on]").fill(timezone.localdate().isoformat())
    form.locator("input[name=currency]").fill("EUR")
    form.locator("input[name=amount]").fill("60")
    form.locator("input[name=promo_code]").fill("NOEXISTE")
    form.get_by_role("button", name=words["save_order"]).click()
    expect(page.locator("#order-form")).to_contain_text("NOEXISTE")
    page.locator("#order-form input[name=ordered_on]").fill(timezone.localdate().isoformat())
    page.locator("#order-form input[name=amount]").fill("60")
    page.locator("#order-form input[name=promo_code]").fill(code.lower())
    page.locator("#order-form").get_by_role("button", name=words["save_order"]).click()
    expect(page.locator("#order-form .errorlist")).to_have_count(0)
    from cartera.sales.models import Order

    assert Order.objects.get(promotion__code=code).customer_id == customer.pk

    page.goto("/campaigns/")
    page.get_by_role("link", name="Vuelve en otoño").click()
    page.locator("#results-link").click()
    expect(page.locator("#lift-1")).to_be_visible()
    expect(page.locator("#lift-1")).to_contain_text(words["lift"])
    expect(page.locator("#chart-repurchase svg.chart-svg")).to_be_visible()
    expect(page.locator("#results-links")).to_contain_text("https://tienda.example/otono")
    # A reply the customer sent is logged from the results page.
    page.locator("#log-reply > summary").click()
    page.locator("#id_email").fill(customer.email)
    page.locator("#id_text").fill("Gracias, volveré pronto.")
    page.locator("#log-reply button[type=submit]").click()
    expect(page.locator("#log-reply")).to_be_visible()
    expect(page.locator("#results-table")).to_be_visible()
    from cartera.campaigns.models import Recipient

    assert Recipient.objects.get(customer=customer).replied_at is not None
    assert sideways_overflow("results") is None
    shot("results")
    browser_log.assert_clean()
