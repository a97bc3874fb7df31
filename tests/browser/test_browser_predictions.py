"""The page "¿Cuánto acertamos?" / "How good are these predictions?" in a real browser, in Spanish and
English, on a phone and a desktop: reached from the customer page's status card, readable without
sideways scrolling, and the "check again" button queues a backtest.

Over the CDNOW sample refreshed on 1998-06-30 and checked on its published calibration period (the
first 39 weeks).
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

TEXTS = {
    "es-ES": {
        "title": "¿Cuánto acertamos?",
        "probability": "Probabilidad de comprar, próximos 90 días",
        "check": "Comprobar de nuevo ahora",
        "queued": "se volverán a comprobar",
        "recency": "0,771",
    },
    "en-US": {
        "title": "How good are these predictions?",
        "probability": "Probability of buying, next 90 days",
        "check": "Check again now",
        "queued": "will be checked again",
        "recency": "0.771",
    },
}


@pytest.fixture(params=list(TEXTS))
def browser_locale(request) -> str:
    """Both languages: the browser's ``Accept-Language`` picks the page's."""
    return request.param


@pytest.fixture
def checked_portfolio(transactional_db, analysed_portfolio):
    """The analysed CDNOW portfolio with a backtest on its published calibration period, committed."""
    from cartera.insights.services import backtest_run

    return backtest_run(cutoff=dt.date(1997, 9, 30), holdout_end=dt.date(1998, 6, 30))


def test_predictions_page_from_the_status_card(
    page, owner, checked_portfolio, login, shot, browser_log, browser_locale, viewport, sideways_overflow,
    squeezed_values,
):  # fmt: skip
    from django_tasks_db.models import DBTaskResult

    texts = TEXTS[browser_locale]
    login()
    page.goto("/customers/1/")
    card = page.locator("#status")
    expect(card).to_contain_text(texts["probability"])
    expect(card.locator("#p-purchase")).to_have_text(re.compile(r"^\d+\s?%$"))
    hint = card.locator("#prediction-hint")
    expect(hint).to_be_visible()
    assert sideways_overflow("customer page") is None
    shot_path = shot(f"status-card-{browser_locale}")
    card.screenshot(path=str(shot_path.with_name(shot_path.stem + "-only.png")))

    hint.get_by_role("link", name=texts["title"]).click()
    expect(page.locator("h1")).to_have_text(texts["title"])
    expect(page.locator("#auc-recency")).to_have_text(texts["recency"])
    expect(page.locator("#models tbody tr")).to_have_count(4)  # three models and the recency baseline
    expect(page.locator("#calibration tbody tr")).to_have_count(10)
    statuses = page.locator("#statuses tbody tr")
    expect(statuses).to_have_count(4)
    problems = [
        sideways_overflow("predictions page"),
        squeezed_values("predictions page", "td.num, .stat .num"),
    ]
    assert [p for p in problems if p] == []
    shot(f"page-{browser_locale}")

    page.get_by_role("button", name=texts["check"]).click()
    expect(page.locator("body")).to_contain_text(texts["queued"])
    assert DBTaskResult.objects.filter(task_path__endswith="check_predictions").count() == 1
    browser_log.assert_clean()
