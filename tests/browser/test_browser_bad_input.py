"""Bad input typed into the browser: the form says what is wrong next to the field, and nothing is saved."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_order_form_rejects_negative_amount_and_impossible_date(
    page, customer, login, shot, browser_log, viewport
):
    from cartera.sales.models import Order

    login("owner")
    page.goto(f"/customers/{customer.pk}/")
    page.evaluate("window.__carteraSameDocument = true")
    page.locator("details:has(#order-form) > summary").click()
    form = page.locator("#order-form")
    expect(form).to_be_visible()

    # A date picker cannot produce 30 February, so type into the field as a browser without a date
    # picker would: the server is the one that has to refuse it.
    date = form.locator("input[name=ordered_on]")
    date.evaluate("input => { input.type = 'text'; }")
    date.fill("2025-02-30")
    form.locator("input[name=amount]").fill("-5,00")
    form.locator("input[name=currency]").fill("EUR")
    with page.expect_response(re.compile(rf"/sales/customers/{customer.pk}/orders/$")) as posted:
        form.locator("button[type=submit]").click()
    assert posted.value.request.headers.get("hx-request") == "true"

    # The form comes back in place with an error on each field, in Spanish (Django's own messages).
    form = page.locator("#order-form")
    amount_error = form.locator("#id_amount_error")
    date_error = form.locator("#id_ordered_on_error")
    expect(amount_error).to_be_visible()
    expect(amount_error).to_contain_text("mayor o igual a 0")
    expect(date_error).to_be_visible()
    expect(date_error).to_contain_text("fecha válida")
    expect(form.locator("input[name=amount]")).to_have_attribute("aria-invalid", "true")
    expect(form.locator("input[name=ordered_on]")).to_have_attribute("aria-invalid", "true")
    expect(form.locator("input[name=amount]")).to_have_value("-5,00")  # what was typed stays
    expect(page.locator("#timeline li.entry.order")).to_have_count(0)
    assert page.evaluate("window.__carteraSameDocument === true")
    shot("order-errors")

    assert not Order.objects.exists()
    browser_log.assert_clean()


def test_new_customer_form_rejects_bad_email_and_phone(page, owner, login, shot, browser_log, viewport):
    from cartera.customers.models import Customer

    login("owner")
    page.goto("/customers/")
    page.locator("a.button[href='/customers/new/']").click()
    expect(page).to_have_url(re.compile(r"/customers/new/$"))
    form = page.locator("form.grid-form")
    form.locator("input[name=first_name]").fill("Pedro")
    form.locator("input[name=last_name]").fill("Sánchez Prueba")
    form.locator("input[name=email]").fill("pedro@@ejemplo")
    form.locator("input[name=phone]").fill("12345")
    form.locator("button[type=submit]").click()

    form = page.locator("form.grid-form")
    expect(form).to_be_visible()
    email_field = form.locator(".field.has-error:has(input[name=email])")
    phone_field = form.locator(".field.has-error:has(input[name=phone])")
    expect(email_field.locator(".errors[role=alert]")).to_contain_text("pedro@@ejemplo")
    expect(phone_field.locator(".errors[role=alert]")).to_contain_text("12345")
    expect(form.locator(".field.has-error")).to_have_count(2)  # only those two
    expect(form.locator("input[name=first_name]")).to_have_value("Pedro")  # the rest is kept
    expect(form.locator("input[name=email]")).to_have_value("pedro@@ejemplo")
    shot("customer-errors")

    assert not Customer.objects.filter(first_name="Pedro").exists()
    assert not Customer.objects.exists()
    browser_log.assert_clean()
