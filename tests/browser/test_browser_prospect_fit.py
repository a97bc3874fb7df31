"""The prospect fit score in a real browser: the prospect list (sorted by fit, then by name), a
prospect's page with the reasons, and the calls for today filtered by fit, on a phone and a desktop,
in Spanish and English, with nothing scrolling sideways."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


@pytest.fixture(params=["es-ES", "en-US"])
def browser_locale(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def scored(transactional_db: Any, make_user: Any) -> dict[str, Any]:
    from django.utils import timezone

    from cartera.customers.services import customer_create
    from cartera.insights.models import CustomerMetrics
    from cartera.pipeline.services import prospect_fit_refresh
    from cartera.segments.models import Persona

    owner = make_user("owner", "sales_rep", first_name="Olga")
    for i in range(60):
        top = i < 12
        person = customer_create(
            actor=owner,
            fields={"first_name": f"Cliente {i}", "stage": "customer",
                    "sector": "Industria" if top else ["Comercio", "Hostelería"][i % 2],
                    "region": "Madrid" if top else ["Sevilla", "Bilbao"][i % 2]},
        )  # fmt: skip
        CustomerMetrics.objects.create(
            customer=person, revenue=Decimal(5000 if top else 100), computed_at=timezone.now()
        )
    like = customer_create(actor=owner, fields={"first_name": "Paula", "last_name": "Parecida Industrial",
                                                "sector": "Industria", "region": "Madrid", "phone": "612000111"})  # fmt: skip
    customer_create(actor=owner, fields={"first_name": "Diego", "last_name": "Distinto",
                                         "sector": "Hostelería", "region": "Bilbao", "phone": "612000222"})  # fmt: skip
    rule = {"field": "sector", "op": "eq", "value": "Industria"}
    Persona.objects.create(name="Compradores industriales", owner=owner,
                           definition={"match": "all", "groups": [{"match": "all", "rules": [rule]}]})  # fmt: skip
    prospect_fit_refresh()
    from cartera.pipeline.services import pipeline_defaults_ensure

    pipeline_defaults_ensure()  # the report is a pipeline's
    return {"like": like}


def test_prospects_by_fit_with_the_reasons(
    page, scored, login, browser_locale, shot, sideways_overflow, browser_log
):
    login("owner")
    page.goto("/pipeline/prospects/")
    rows = page.locator("table.list tbody tr")
    expect(rows.first).to_contain_text("Paula")
    expect(rows.first).to_contain_text("Industria")
    expect(rows.first.locator(".fit-persona")).to_contain_text("Compradores industriales")
    assert sideways_overflow("prospects") is None
    shot(f"prospects-{browser_locale[:2]}")
    page.goto(f"/customers/{scored['like'].pk}/")
    expect(page.locator(".fitcard")).to_contain_text("Madrid")
    expect(page.locator(".fitcard .fit-persona a")).to_contain_text("Compradores industriales")
    assert sideways_overflow("prospect page") is None
    shot(f"customer-{browser_locale[:2]}")
    page.goto("/pipeline/calls/?fit=60")
    expect(page.locator(".callrow").first).to_contain_text("Paula")
    expect(page.locator(".callrow", has_text="Diego")).to_have_count(0)
    assert sideways_overflow("calls") is None
    shot(f"calls-{browser_locale[:2]}")
    # The report's source attribution (the customers' sources, with their revenue).
    page.goto("/pipeline/report/")
    expect(page.locator("#sources table").first).to_be_visible()
    assert sideways_overflow("report sources") is None
    page.locator("#sources").screenshot(path=str(shot(f"report-{browser_locale[:2]}").with_name(
        f"report-sources-{browser_locale[:2]}-{page.viewport_size['width']}.png")))  # fmt: skip
    browser_log.assert_clean()
