"""The everyday walk of a sales rep, in Spanish, on a phone and on a desktop: find a customer with the
live search, log a call, record an order, add a task, find the task in "My tasks"."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

SAME_DOCUMENT = "window.__carteraSameDocument === true"


def mark_document(page) -> None:
    """Tag the current document; the tag survives htmx swaps and disappears on any page load."""
    page.evaluate("window.__carteraSameDocument = true")


def is_htmx(request) -> bool:
    return request.headers.get("hx-request") == "true"


def test_search_log_order_task(page, owner, customer, login, shot, browser_log, viewport):
    from cartera.activity.models import Interaction, Task
    from cartera.customers.services import customer_create
    from cartera.sales.models import Order

    customer_create(actor=owner, fields={"first_name": "Pepe", "last_name": "Pérez Gil"})
    today = timezone.localdate()
    tomorrow = today + datetime.timedelta(days=1)

    # Log in; the browser asks for Spanish and gets it.
    login("owner")
    expect(page.locator("html")).to_have_attribute("lang", "es")

    # The customer list, through the main navigation.
    page.locator("nav.mainnav a[href='/customers/']").click()
    expect(page).to_have_url(re.compile(r"/customers/$"))
    results = page.locator("#results")
    expect(results).to_contain_text("Pepe Pérez Gil")
    expect(results).to_contain_text(customer.full_name)

    # Live search: part of the surname, typed key by key; htmx swaps #results in place.
    mark_document(page)
    with page.expect_request(lambda r: is_htmx(r) and "q=" in r.url):
        page.locator("input[name=q]").press_sequentially("Martín", delay=40)
    expect(results).not_to_contain_text("Pepe Pérez Gil")
    expect(results.locator(f"a[href='/customers/{customer.pk}/']")).to_have_text(customer.full_name)
    expect(page).to_have_url(re.compile(r"[?&]q=Mart"))  # hx-push-url keeps the search in the address
    assert page.evaluate(SAME_DOCUMENT), "the search reloaded the page instead of swapping #results"
    shot("1-search")

    # Open the customer.
    results.locator(f"a[href='/customers/{customer.pk}/']").click()
    expect(page).to_have_url(re.compile(rf"/customers/{customer.pk}/$"))
    expect(page.locator("h1")).to_contain_text(customer.full_name)
    timeline = page.locator("#timeline")
    mark_document(page)

    # Log a call.
    form = page.locator("#interaction-form")
    expect(form).to_be_visible()  # its <details> is open by default
    blank_choice = form.locator("select[name=kind] option[value='']").text_content()
    form.locator("select[name=kind]").select_option("call")
    form.locator("input[name=subject]").fill("Llamada de seguimiento")
    form.locator("textarea[name=body]").fill("Le interesa la tarifa anual; volver a llamar el jueves.")
    with page.expect_response(re.compile(rf"/activity/customers/{customer.pk}/interactions/$")) as posted:
        form.locator("button[type=submit]").click()
    assert is_htmx(posted.value.request) and posted.value.status == 200
    entry = timeline.locator("li.entry.interaction")
    expect(entry).to_have_count(1)
    expect(entry.locator(".subject")).to_have_text("Llamada de seguimiento")
    expect(entry.locator(".body")).to_contain_text("tarifa anual")
    expect(page.locator("#interaction-form input[name=subject]")).to_have_value("")  # a fresh form

    # Record an order: Spanish decimal comma.
    page.locator("details:has(#order-form) > summary").click()
    form = page.locator("#order-form")
    expect(form).to_be_visible()
    form.locator("input[name=ordered_on]").fill(today.isoformat())
    form.locator("input[name=amount]").fill("49,90")
    form.locator("input[name=currency]").fill("EUR")
    with page.expect_response(re.compile(rf"/sales/customers/{customer.pk}/orders/$")) as posted:
        form.locator("button[type=submit]").click()
    assert is_htmx(posted.value.request) and posted.value.status == 200
    expect(page.locator("#order-form .errorlist")).to_have_count(0)
    expect(timeline.locator("li.entry.order")).to_contain_text(re.compile(r"49,90\s€"))

    # Add a task due tomorrow morning.
    page.locator("details:has(#task-form) > summary").click()
    form = page.locator("#task-form")
    expect(form).to_be_visible()
    form.locator("input[name=title]").fill("Enviar propuesta de tarifa anual")
    form.locator("input[name=due_at]").fill(f"{tomorrow.isoformat()}T10:00")
    with page.expect_response(re.compile(rf"/activity/customers/{customer.pk}/tasks/$")) as posted:
        form.locator("button[type=submit]").click()
    assert is_htmx(posted.value.request) and posted.value.status == 200
    expect(page.locator("#task-form .errorlist")).to_have_count(0)
    expect(timeline.locator("li.entry.task .subject")).to_have_text("Enviar propuesta de tarifa anual")
    # The call, the order, the task, and the move to "customer" that the first order made.
    expect(timeline.locator("li.entry")).to_have_count(4)
    expect(timeline.locator("li.entry.stage")).to_have_count(1)
    assert page.evaluate(SAME_DOCUMENT), "a quick form reloaded the customer page"
    shot("2-customer")

    # "My tasks", from the main navigation.
    page.locator("nav.mainnav a[href='/activity/tasks/']").click()
    expect(page).to_have_url(re.compile(r"/activity/tasks/$"))
    task_row = page.locator("#my-tasks li.task", has_text="Enviar propuesta de tarifa anual")
    expect(task_row).to_have_count(1)
    expect(task_row.locator(f"a[href='/customers/{customer.pk}/']")).to_have_text(customer.full_name)
    shot("3-my-tasks")

    # What the database holds.
    interaction = Interaction.objects.get(customer=customer)
    assert (interaction.kind, interaction.author) == ("call", owner)
    assert interaction.subject == "Llamada de seguimiento"
    assert "tarifa anual" in interaction.body
    order = Order.objects.get(customer=customer)
    assert (order.amount, order.currency, order.ordered_on, order.created_by) == (
        Decimal("49.90"),
        "EUR",
        today,
        owner,
    )
    task = Task.objects.get(customer=customer)
    assert (task.title, task.assignee, task.created_by, task.done) == (
        "Enviar propuesta de tarifa anual",
        owner,
        owner,
        False,
    )
    assert timezone.localtime(task.due_at).date() == tomorrow
    assert timezone.localtime(task.due_at).time() == datetime.time(10, 0)
    customer.refresh_from_db()
    assert customer.stage == "customer", "the first order makes the person a customer"

    # The interface speaks Spanish (the application's own strings come from cartera/locale/es).
    nav = page.locator("nav.mainnav")
    expect(nav.locator("a[href='/customers/']")).to_have_text("Clientes")
    expect(nav.locator("a[href='/activity/tasks/']")).to_have_text("Mis tareas")
    expect(page.locator("h1")).to_have_text("Mis tareas")
    # Django 6.1's empty choice ("- Select an option -") has no Spanish in Django's own catalogue.
    assert blank_choice.strip() != "- Select an option -", f"untranslated empty choice: {blank_choice!r}"

    browser_log.assert_clean()
