"""A survey with many answers in a real browser, on a phone and on a desktop, in Spanish and English:
the survey page and the results page show what the worker counted, with the time, and say that the
newest answers are being counted; the notice reads on one screen width, with no sideways scroll."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

WORDS = {
    "es-ES": (
        "estas cifras se contaron en segundo plano el",
        "Las respuestas más recientes se están contando",
    ),
    "en-US": ("these figures were counted in the background on", "Newer answers are being counted"),
}


@pytest.fixture(params=["es-ES", "en-US"])
def browser_locale(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_a_survey_counted_by_the_worker_says_when_and_that_newer_answers_are_coming(
    page, owner, manager, login, browser_log, shot, sideways_overflow, settings, browser_locale
):
    from django.utils import timezone

    from cartera.customers.services import customer_create
    from cartera.surveys.models import SurveyFigures
    from cartera.surveys.services.figures import figures_count
    from cartera.surveys.services.surveys import invitation_create, response_record, survey_create

    survey = survey_create(actor=manager, fields={"name": "Satisfacción tiendas", "kind": "nps"})
    for k in range(8):
        person = customer_create(
            actor=owner, fields={"first_name": f"Cliente {k}", "email": f"c{k}@example.es"}
        )
        response_record(
            invitation=invitation_create(actor=None, survey=survey, customer=person),
            score=(10, 9, 3, 7, 8, 10, 6, 9)[k],
            now=timezone.now() - dt.timedelta(days=20 * k),
        )
    settings.CARTERA_SURVEY_RESULTS_INLINE_MAX = 5
    figures_count(SurveyFigures.objects.create(survey=survey))
    response_record(invitation=invitation_create(actor=None, survey=survey, customer=None), score=10)
    counted, coming = WORDS[browser_locale]
    login("manager")
    for url, name in ((f"/surveys/{survey.pk}/", "survey"), ("/surveys/results/", "results")):
        page.goto(url)
        notice = page.locator(".results-counted").first
        expect(notice).to_be_visible()
        expect(notice).to_contain_text(counted)
        expect(notice).to_contain_text(coming)
        problem = sideways_overflow(name)
        assert problem is None, problem
        shot(f"{name}-{browser_locale}")
    browser_log.assert_clean()
