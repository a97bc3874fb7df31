"""Every page under the Content-Security-Policy without a violation, a console error or a request that
leaves the server; no sideways scrolling on a phone; screenshots for people to look at."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


@pytest.fixture
def busy_customer(owner, customer):
    """Lucía with a company, tags, a long (real-looking) email and some history on her timeline."""
    from cartera.activity.services import interaction_create, task_create
    from cartera.customers.services import customer_update, tags_get_or_create
    from cartera.sales.services import order_create

    customer_update(
        actor=owner,
        customer=customer,
        fields={
            "email": "lucia.martinez.ortega@distribuciones-levante-ejemplo.es",
            "company_name": "Distribuciones Hortofrutícolas del Levante Mediterráneo, S.L.",
            "job_title": "Directora de compras y aprovisionamiento",
            "city": "Alcalá de Henares",
            "region": "Comunidad de Madrid",
            "notes": "Prefiere que la llamen por la mañana. Pide siempre el presupuesto desglosado por línea.",
        },
        tags=tags_get_or_create(names=["mayorista", "fidelizada", "pago a 60 días"]),
    )
    now = timezone.now()
    interaction_create(
        actor=owner,
        customer=customer,
        fields={
            "kind": "meeting",
            "subject": "Reunión para renovar el contrato de suministro anual de fruta de temporada",
            "body": "Revisamos precios, plazos de entrega y condiciones de pago. https://ejemplo.es/propuestas/"
            "2025/distribuciones-levante/renovacion-contrato-suministro-anual.pdf",
            "occurred_at": now - datetime.timedelta(days=2),
        },
    )
    order_create(
        actor=owner,
        customer=customer,
        fields={"ordered_on": timezone.localdate(), "amount": Decimal("12345.67"), "currency": "EUR",
                "category": "Fruta de temporada"},
    )  # fmt: skip
    task_create(
        actor=owner,
        fields={"title": "Llamar para confirmar el pedido de la campaña de verano", "customer": customer,
                "due_at": now + datetime.timedelta(days=1)},
    )  # fmt: skip
    task_create(
        actor=owner,
        fields={"title": "Enviar factura rectificativa", "customer": customer,
                "due_at": now - datetime.timedelta(days=1)},
    )  # fmt: skip
    # Several purchases and a refresh: the status card shows every figure (revenue, P(alive), CLV, RFM).
    for months_ago, amount in ((14, "310.20"), (9, "1280.00"), (5, "99.95"), (2, "2400.50")):
        order_create(
            actor=owner,
            customer=customer,
            fields={"ordered_on": timezone.localdate() - datetime.timedelta(days=30 * months_ago),
                    "amount": Decimal(amount), "currency": "EUR"},
        )  # fmt: skip
    from cartera.insights.models import CustomerMetrics
    from cartera.insights.services import insights_refresh

    insights_refresh(trigger="test")
    # One customer is too few to fit the models: give her the figures a real portfolio would, so the
    # status card shows every row (the long labels are what squeezed the values).
    CustomerMetrics.objects.filter(customer=customer).update(
        p_alive=0.83, expected_purchases_90d=1.4, clv_12m=Decimal("37288.56")
    )
    customer.refresh_from_db()
    return customer


def test_pages_load_clean_under_the_csp(page, manager, busy_customer, login, browser_log, viewport):
    """A manager (who may delete) goes through every page and every bit of script the app has."""
    from cartera.activity.models import Task
    from cartera.customers.models import Customer

    login("manager")

    response = page.goto("/customers/")
    csp = response.headers.get("content-security-policy", "")
    assert re.search(r"script-src 'self' 'nonce-[^']+'", csp), csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, csp
    assert page.evaluate("typeof htmx") == "object", "htmx did not load"

    # htmx live search
    with page.expect_request(lambda r: r.headers.get("hx-request") == "true"):
        page.locator("input[name=q]").fill("lucía")
    expect(page.locator("#results tbody tr")).to_have_count(1)
    if viewport.mobile:  # on a phone the filters fold under one line
        page.locator("details.more-filters summary").click()
    page.locator("select[name=stage]").select_option("customer")  # a filter change searches too
    expect(page.locator("#results")).to_contain_text(busy_customer.full_name)

    # the customer page; the delete button asks first (cartera.js) and a "no" keeps the customer
    page.goto(f"/customers/{busy_customer.pk}/")
    dialogs = []

    def answer_no(dialog):
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", answer_no)
    page.locator("form[action$='/delete/'] button[data-confirm]").click()
    assert dialogs, "no confirmation before deleting: cartera.js did not run"
    assert dialogs[0].startswith("¿"), f"the confirmation is not in Spanish: {dialogs[0]!r}"
    expect(page).to_have_url(re.compile(rf"/customers/{busy_customer.pk}/$"))
    assert Customer.objects.filter(pk=busy_customer.pk).exists()

    for path in ("/", "/customers/new/", f"/customers/{busy_customer.pk}/edit/", "/customers/companies/",
                 f"/customers/companies/{busy_customer.company_id}/", "/accounts/tokens/",
                 "/accounts/password/"):  # fmt: skip
        response = page.goto(path)
        assert response.status == 200, f"{path} answered {response.status}"

    # "My tasks": tick a task done through htmx (the manager sees the tasks assigned to him)
    task = Task.objects.create(
        title="Revisar la cartera del trimestre", assignee=manager, created_by=manager,
        due_at=timezone.now() + datetime.timedelta(hours=3),
    )  # fmt: skip
    page.goto("/activity/tasks/")
    row = page.locator(f"#task-{task.pk}")
    with page.expect_response(re.compile(rf"/activity/tasks/{task.pk}/toggle/$")):
        row.locator("button.check").click()
    expect(page.locator(f"#task-{task.pk}")).to_have_class(re.compile(r"\bdone\b"))
    task.refresh_from_db()
    assert task.done

    # the language switcher: English, then back to Spanish
    page.locator("button[name=language][value=en]").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("nav.mainnav a[href='/activity/tasks/']")).to_have_text("My tasks")
    page.locator("button[name=language][value=es]").click()
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.locator("nav.mainnav a[href='/activity/tasks/']")).to_have_text("Mis tareas")

    browser_log.assert_clean()


@pytest.mark.parametrize("viewport", ["desktop"], indirect=True)
def test_pages_have_an_icon(page, owner, login, live_server):
    """Browsers ask every site for an icon; without one each page view logs a 404 on the server and
    an error in the browser console."""
    login("owner")
    icon = page.evaluate(
        "() => document.querySelector('link[rel~=icon]')?.href ?? new URL('/favicon.ico', location).href"
    )
    assert icon.startswith("data:") or icon.startswith(live_server.url + "/"), icon
    if not icon.startswith("data:"):
        response = page.request.get(icon)
        assert response.status == 200, f"the page icon {icon} answers {response.status}"


def test_timeline_entries_read_top_to_bottom(page, busy_customer, login, shot, browser_log, viewport):
    """Every kind of entry on the timeline shows its meta line ("Tarea · vencimiento …") above its
    subject, with the same left rule: tasks look like the other entries."""
    login("owner")
    page.goto(f"/customers/{busy_customer.pk}/")
    entries = page.locator("#timeline li.entry")
    # a meeting, five orders, two tasks and the stage change the first order made
    expect(entries).to_have_count(9)
    problems = []
    for i in range(entries.count()):
        entry = entries.nth(i)
        kind = entry.get_attribute("class")
        meta, subject = entry.locator(".meta").bounding_box(), entry.locator(".subject").bounding_box()
        if subject["y"] < meta["y"] + meta["height"] - 1:
            problems.append(f"{kind}: the subject sits beside the meta line, not under it")
        border = entry.evaluate("e => getComputedStyle(e).borderTopWidth")
        if border != "0px":
            problems.append(f"{kind}: boxed in (border-top {border}) unlike the other entries")
    shot("timeline")
    assert not problems, "\n".join(problems)
    browser_log.assert_clean()


PAGES = {
    "home": "/",
    "list": "/customers/",
    "detail": "/customers/{pk}/",
    "my-tasks": "/activity/tasks/",
    "new-customer": "/customers/new/",
}


def test_no_sideways_scroll(
    page, busy_customer, login, shot, sideways_overflow, squeezed_values, browser_log, viewport
):
    from cartera.customers.services import customer_create

    for i in range(12):
        customer_create(
            actor=busy_customer.owner,
            fields={"first_name": f"Cliente{i:02d}", "last_name": "Fernández de la Fuente Villanueva",
                    "email": f"cliente{i:02d}.fernandez@correo-empresa-ejemplo.com", "phone": f"+34 91 123 45 {i:02d}",
                    "company_name": "Talleres Mecánicos Hermanos Fernández"},
        )  # fmt: skip
    login("owner")
    problems = []
    for name, path in PAGES.items():
        page.goto(path.format(pk=busy_customer.pk))
        if name == "detail":
            closed = page.locator(".quick details:not([open]) > summary")
            while closed.count():
                closed.first.click()  # the quick forms too
            expect(page.locator(".quick details[open]")).to_have_count(3)
        shot(name)
        problems.append(sideways_overflow(name))
        problems.append(squeezed_values(name, ".figures dd, dl dd:not(:has(.tag)), td.num, .stat .num"))

    page.goto("/")
    page.locator("details.usermenu > summary").click()
    expect(page.locator("details.usermenu .menu")).to_be_visible()
    shot("usermenu")
    problems.append(sideways_overflow("home with the user menu open"))

    problems = [p for p in problems if p]
    assert not problems, "\n".join(problems)
    browser_log.assert_clean()


# How many lines each phone number of the customer list takes (a number broken over two lines is
# misread and mistapped).
_PHONE_LINES_JS = """() => [...document.querySelectorAll('table.list a[href^="tel:"]')].map(a => {
  const range = document.createRange(); range.selectNodeContents(a);
  return new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top))).size;
})"""


@pytest.mark.parametrize("viewport", ["desktop"], indirect=True)
def test_the_export_links_of_the_list_stay_on_one_line(page, manager, login, shot):
    """CSV · Spanish Excel · XLSX · vCard on one line at 1280 px: the XLSX button is a form, which must
    not sit inside a paragraph (the browser closes the paragraph there and vCard fell to a new line)."""
    login("manager")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/customers/")
    shot("list-exports-1280")
    tops = page.evaluate(
        "() => [...document.querySelectorAll('.exports a, .exports button')]"
        ".map(e => Math.round(e.getBoundingClientRect().top))"
    )
    assert len(tops) == 4 and max(tops) - min(tops) <= 2, tops


def test_the_customer_list_fits_tablets_and_narrow_desktops(
    page, owner, login, shot, sideways_overflow, viewport
):
    """Between the phone's cards (up to 640 px) and a wide desktop, the list's table keeps the columns
    that fit: nothing scrolls sideways, the table stays inside the page, a phone number is one line."""
    from cartera.customers.services import customer_create

    for i in range(12):
        customer_create(
            actor=owner,
            fields={"first_name": f"María José{i:02d}", "last_name": "Fernández de la Fuente Villanueva",
                    "email": f"mariajose{i:02d}.fernandez.villanueva@correo-empresa-ejemplo.com",
                    "phone": f"+34 912 345 6{i:02d}", "company_name": "Talleres Mecánicos Hermanos Fernández"},
        )  # fmt: skip
    login("owner")
    problems = []
    for width in (641, 768, 1024, 1280, 1440):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto("/customers/")
        shot(f"list-{width}")
        problems.append(sideways_overflow(f"the list at {width} px"))
        past = page.evaluate(
            "() => { const t = document.querySelector('table.list').getBoundingClientRect();"
            " return Math.round(t.right - document.querySelector('main').getBoundingClientRect().right); }"
        )
        if past > 0:
            problems.append(f"the list at {width} px: the table reaches {past} px past the page")
        lines = page.evaluate(_PHONE_LINES_JS)
        if not lines or max(lines) > 1:
            problems.append(f"the list at {width} px: phone numbers on {lines} lines")
        email_shown = page.locator("table.list th.wide-only").first.is_visible()
        if email_shown != (width >= 1280):
            problems.append(f"the list at {width} px: e-mail column shown={email_shown}")
    assert not [p for p in problems if p], "\n".join(p for p in problems if p)
