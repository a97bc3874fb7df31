"""Two notices in a real browser, on a phone and on a desktop (Spanish): the board and the report say
which open opportunities in another currency their sums leave out, and the home page says its figures
are the previous day's while the worker computes the latest. Both read on one screen width, with no
sideways scroll."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def _no_sideways(sideways_overflow, where):
    problem = sideways_overflow(where)
    assert problem is None, problem


def test_the_board_and_the_report_say_what_their_sums_leave_out(
    page, owner, manager, login, browser_log, shot, sideways_overflow
):
    from cartera.customers.services import customer_create
    from cartera.pipeline import services

    pipeline = services.pipeline_defaults_ensure()
    person = customer_create(actor=owner, fields={"first_name": "Carmen", "last_name": "Dólar Vidal"})
    for title, value, currency in (("Reforma", "1000", "EUR"), ("Export to Texas", "9000", "USD")):
        services.opportunity_create(
            actor=owner, fields={"customer": person, "title": title, "value": Decimal(value),
                                 "currency": currency, "pipeline": pipeline},
        )  # fmt: skip
    login("manager")
    for url, name in (("/pipeline/", "board"), ("/pipeline/report/", "report")):
        page.goto(url)
        notice = page.locator("#open-other-currencies")
        expect(notice).to_be_visible()
        expect(notice).to_contain_text("Los valores abiertos suman solo las oportunidades en EUR")
        expect(notice).to_contain_text("1 oportunidad abierta en USD (9.000\u00a0$)")
        _no_sideways(sideways_overflow, name)
        shot(name)
    browser_log.assert_clean()


def test_the_home_page_shows_the_previous_figures_while_the_latest_are_computed(
    page, owner, login, browser_log, shot, sideways_overflow, settings
):
    from cartera.customers.services import customer_create
    from cartera.insights.models import PortfolioSnapshot
    from cartera.insights.services import insights_refresh
    from cartera.sales.services import order_create
    from cartera.segments.models import PortfolioFigures

    for i in range(12):
        person = customer_create(actor=owner, fields={"first_name": f"Cliente {i}"})
        for k in range(1 + i % 3):
            order_create(actor=owner, customer=person, fields={
                "ordered_on": dt.date(2026, 1 + k * 3, 1 + i), "amount": Decimal(40 + 10 * i)})  # fmt: skip
    today = dt.date.today()
    insights_refresh(as_of=today - dt.timedelta(days=30))
    previous = PortfolioSnapshot.objects.get()
    insights_refresh(as_of=today)
    PortfolioFigures.objects.filter(taken_on=today).delete()  # a refresh that did not get to them
    from cartera.segments.services import figures_refresh

    figures_refresh(snapshot=previous)
    settings.CARTERA_FIGURES_INLINE_MAX_CUSTOMERS = 0
    login("owner")
    page.goto("/")
    notice = page.locator("#figures-pending")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text(f"Estas cifras son del {previous.taken_on:%d/%m/%Y}")
    _no_sideways(sideways_overflow, "home")
    shot("home")
    assert not PortfolioFigures.objects.filter(taken_on=today).exists()
    browser_log.assert_clean()
