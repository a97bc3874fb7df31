"""Every pipeline page in Spanish and English, on a phone and a desktop: no sideways scrolling, no
console error, and a screenshot of each for people to look at (the calls page, the team page, the
opportunity page, the list, the settings)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


@pytest.fixture(params=["es-ES", "en-US"])
def browser_locale(request):
    return request.param


@pytest.fixture
def busy_pipeline(owner, customer):
    from cartera.activity.services import task_create
    from cartera.customers.services import customer_update
    from cartera.pipeline import selectors, services

    stages = selectors.stages_of(services.pipeline_defaults_ensure())
    customer_update(
        actor=owner, customer=customer, fields={"company_name": "Distribuciones del Levante, S.L."}
    )
    deal = services.opportunity_create(
        actor=owner,
        fields={"customer": customer, "title": "Renovación del contrato anual de suministro", "value": Decimal("48250.75"),
                "expected_close_on": timezone.localdate() + dt.timedelta(days=10), "source": "referral",
                "next_step": "Enviar la propuesta revisada", "has_need": True, "has_budget": True},
    )  # fmt: skip
    services.opportunity_move(actor=owner, opportunity=deal, stage=stages[2])
    task_create(actor=owner, fields={"title": "Llamar por la factura", "customer": customer,
                                     "due_at": timezone.now() - dt.timedelta(days=3)})  # fmt: skip
    return deal


def test_pipeline_pages_read_well(
    page, owner, manager, busy_pipeline, login, browser_log, shot, sideways_overflow, browser_locale
):
    english = browser_locale.startswith("en")
    login("owner")
    for name, path in (
        ("calls", "/pipeline/calls/"),
        ("opportunity", f"/pipeline/opportunities/{busy_pipeline.pk}/"),
        ("list", "/pipeline/opportunities/"),
        ("new", f"/pipeline/opportunities/new/?customer={busy_pipeline.customer_id}"),
    ):
        response = page.goto(path)
        assert response.status == 200, path
        problem = sideways_overflow(path)
        assert problem is None, problem
        shot(f"{name}-{browser_locale}")
    expect(page.locator("html")).to_have_attribute("lang", "en" if english else "es")
    page.goto("/pipeline/calls/")
    expect(page.locator("a.tel")).to_have_attribute("href", "tel:+34612345678")
    page.context.clear_cookies()
    login("manager")
    for name, path in (("team", "/pipeline/calls/team/"), ("settings", "/pipeline/settings/")):
        assert page.goto(path).status == 200
        problem = sideways_overflow(path)
        assert problem is None, problem
        shot(f"{name}-{browser_locale}")
    browser_log.assert_clean()
