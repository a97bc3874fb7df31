"""Custom questionnaires in the browser, in Spanish and English, on a phone and a desktop: a manager
builds one (adds a choice question and a scale, moves one up), a customer answers it on the public page
(a missing answer is refused next to its question, then accepted), and the manager reads the counts."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


@pytest.fixture(params=["es-ES", "en-US"])
def browser_locale(request: pytest.FixtureRequest) -> str:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def _patient(context: Any) -> Any:
    context.set_default_timeout(30_000)
    expect.set_options(timeout=30_000)
    yield
    expect.set_options(timeout=5_000)


def tr(lang: str, msgid: str) -> str:
    from django.utils import translation

    with translation.override(lang):
        return translation.gettext(msgid)


def test_manager_builds_a_questionnaire_and_a_customer_answers_it(
    page, transactional_db, manager, owner, login, browser_log, shot, sideways_overflow, browser_locale
):
    from cartera.customers.services import customer_create
    from cartera.surveys.models import Question, QuestionAnswer
    from cartera.surveys.services.surveys import invitation_create, signed_token, survey_create

    lang = browser_locale[:2]
    survey = survey_create(actor=manager, fields={"name": "Tienda nueva", "kind": "custom"})
    login("manager")
    page.goto(f"/surveys/{survey.pk}/")
    page.locator("#builder-link").click()
    expect(page).to_have_url(re.compile(rf"/surveys/{survey.pk}/questions/$"))
    form = page.locator("#question-form")
    form.locator("select[name=kind]").select_option("single")
    form.locator("input[name=text_es]").fill("¿Cómo nos conociste?")
    form.locator("input[name=text_en]").fill("How did you hear about us?")
    form.locator("textarea[name=choices_es]").fill("Un amigo\nInternet\nLa tienda de la calle Mayor")
    form.locator("textarea[name=choices_en]").fill("A friend\nThe internet\nThe shop on the high street")
    form.locator("button[type=submit]").click()
    expect(page.locator("#questions > li")).to_have_count(1)
    # A scale whose highest value is below its lowest is refused next to the field.
    form = page.locator("#question-form")
    form.locator("select[name=kind]").select_option("scale")
    form.locator("input[name=text_es]").fill("¿Qué tal la atención?")
    form.locator("input[name=text_en]").fill("How was the service?")
    form.locator("input[name=scale_min]").fill("5")
    form.locator("input[name=scale_max]").fill("3")
    form.locator("button[type=submit]").click()
    expect(page.locator("#question-form .has-error")).to_contain_text(
        tr(lang, "The highest value must be above the lowest.")
    )
    page.locator("#question-form input[name=scale_min]").fill("0")
    page.locator("#question-form input[name=scale_max]").fill("10")
    page.locator("#question-form input[name=low_label_es]").fill("Pésima")
    page.locator("#question-form input[name=high_label_es]").fill("Excelente")
    page.locator("#question-form input[name=low_label_en]").fill("Awful")
    page.locator("#question-form input[name=high_label_en]").fill("Excellent")
    page.locator("#question-form button[type=submit]").click()
    expect(page.locator("#questions > li")).to_have_count(2)
    # The scale goes first.
    page.locator("#questions > li").nth(1).get_by_role("button", name=tr(lang, "Move up")).click()
    expect(page.locator("#questions > li").first).to_contain_text(
        "How was the service?" if lang == "en" else "¿Qué tal la atención?"
    )
    expect(page.locator("#questions")).to_contain_text("Un amigo / Internet")
    assert (problem := sideways_overflow("questionnaire builder")) is None, problem
    shot(f"builder-{lang}")
    scale, single = Question.objects.filter(survey=survey).order_by("position")
    assert (scale.kind, single.kind) == ("scale", "single")

    customer = customer_create(actor=owner, fields={"first_name": "Lucía", "country": "ES"})
    invitation = invitation_create(actor=None, survey=survey, customer=customer)
    invitation.language = lang
    invitation.save()
    page.context.clear_cookies()
    page.goto(f"/s/{signed_token(invitation)}/")
    expect(page.locator(f"#question-{scale.pk} legend")).to_contain_text(
        "How was the service?" if lang == "en" else "¿Qué tal la atención?"
    )
    expect(page.locator(f"#question-{scale.pk}")).to_contain_text(
        "Excellent" if lang == "en" else "Excelente"
    )
    assert (problem := sideways_overflow("answer page")) is None, problem
    shot(f"answer-{lang}")
    page.locator(f"#question-{scale.pk} label", has_text=re.compile(r"^\s*9\s*$")).click()
    page.get_by_role("button", name=tr(lang, "Send")).click()
    expect(page.locator(f"#question-{single.pk}.has-error")).to_be_visible()  # the choice is required
    shot(f"answer-error-{lang}")
    page.locator(f"#question-{single.pk} label").nth(2).click()
    page.get_by_role("button", name=tr(lang, "Send")).click()
    expect(page.locator("h1").first).to_have_text(tr(lang, "Thank you!"))
    answers = {a.question_id: a for a in QuestionAnswer.objects.all()}
    assert answers[scale.pk].value == 9 and answers[single.pk].choices == [2]

    login("manager")
    page.goto(f"/surveys/{survey.pk}/")
    expect(page.locator(".qresult").first).to_contain_text("9")
    expect(page.locator(".qresult").nth(1)).to_contain_text(
        "The shop on the high street" if lang == "en" else "La tienda de la calle Mayor"
    )
    assert (problem := sideways_overflow("questionnaire results")) is None, problem
    shot(f"results-{lang}")
    # The two refusals above answer 400 on purpose (the browser logs that); nothing else may be logged.
    refused = [line for line in browser_log.console if "status of 400" in line]
    assert len(refused) == 2, browser_log.console
    browser_log.console = [line for line in browser_log.console if line not in refused]
    browser_log.assert_clean()


def test_breakdowns_page_reads_well(
    page, transactional_db, manager, login, browser_log, shot, sideways_overflow, browser_locale
):
    from cartera.customers.services import customer_create
    from cartera.segments.models import Segment
    from cartera.surveys.services.surveys import invitation_create, response_record, survey_create

    lang = browser_locale[:2]
    survey = survey_create(actor=manager, fields={"name": "NPS relación", "kind": "nps"})
    for i, score in enumerate((10, 9, 3, 8)):
        customer = customer_create(actor=manager, fields={"first_name": f"Cliente {i}"})
        response_record(
            invitation=invitation_create(actor=None, survey=survey, customer=customer), score=score
        )
    Segment.objects.create(
        name="Clientes con un nombre de segmento bastante largo", owner=manager, definition={}
    )
    login("manager")
    page.goto(f"/surveys/{survey.pk}/")
    page.locator("#breakdowns-link").click()
    expect(page.locator(".small-group").first).to_be_visible()
    expect(page.locator("#nps-audits")).to_contain_text("NPS")
    expect(page.locator("#nps-audits-channel")).to_contain_text(
        "Web o chat" if lang == "es" else "Website or chat"
    )
    assert (problem := sideways_overflow("breakdowns")) is None, problem
    shot(f"breakdowns-{lang}")
    browser_log.assert_clean()
