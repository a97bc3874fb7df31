"""Personas in the browser, in Spanish and in English, on a phone and on a desktop: the rule built with
the condition editor (no JSON), Enter in a text box saving, suggestions named by what sets them apart
with their quality in words, and delete after a confirmation."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


@pytest.fixture(params=["es-ES", "en-US"])
def browser_locale(request: pytest.FixtureRequest) -> str:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def analysed(transactional_db, cdnow_loader, cdnow_end):
    """The first 1,500 CDNOW orders, analysed, committed so the live server sees them."""
    from cartera.insights.services import insights_refresh

    cdnow_loader(max_rows=1500)
    insights_refresh(as_of=cdnow_end)


def settled(page: Any) -> None:
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-added, .htmx-settling')"
    )


def count_on_page(page: Any) -> int:
    text = page.locator("#segment-count").inner_text()
    digits = re.match(r"\s*(\d[\d.,\s]*)\s", text)
    assert digits, f"no count in {text!r}"
    return int(re.sub(r"\D", "", digits.group(1)))


def test_persona_rule_suggestions_and_delete(
    page, owner, analysed, login, browser_log, shot, sideways_overflow, browser_locale
):
    from django.utils import translation

    from cartera.segments import selectors
    from cartera.segments.models import Persona

    lang = browser_locale[:2]

    def tr(msgid: str) -> str:
        with translation.override(lang):
            return translation.gettext(msgid)

    login("owner")
    page.goto("/segments/personas/new/")
    expect(page.locator("h1")).to_have_text(tr("New persona"))
    assert page.locator("textarea[name=rule]").count() == 0
    builder = page.locator("#builder")
    expect(builder.locator("#segment-count")).to_contain_text(
        tr("No rule: only the customers put in this persona by hand belong to it.")
    )
    page.locator("input[name=name]").fill("Madrileños web")

    # "+ Condition", then the field and the operator (each re-renders the editor), then the value.
    builder.locator("button.add-rule").click()
    settled(page)
    expect(builder.locator("div.rule")).to_have_count(1)
    with page.expect_response(re.compile(r"/segments/personas/new/$")):
        builder.locator("select[name=g0-r0-field]").select_option("region")
    settled(page)
    with page.expect_response(re.compile(r"/segments/personas/new/$")):
        builder.locator("select[name=g0-r0-op]").select_option("eq")
    settled(page)
    with page.expect_response(re.compile(r"/segments/count/$")):
        builder.locator("input[name=g0-r0-value]").fill("Madrid")
    settled(page)
    rule = {"groups": [{"match": "all", "rules": [{"field": "region", "op": "eq", "value": "Madrid"}]}]}
    expected = selectors.definition_count(user=owner, definition=rule)
    expect(builder.locator("#segment-count")).to_contain_text(
        re.compile(rf"{expected:,}".replace(",", "[.,]?"))
    )
    assert count_on_page(page) == expected > 0
    assert page.locator("input[name=name]").input_value() == "Madrileños web"  # kept by the re-renders
    assert sideways_overflow("the persona form") is None
    shot(f"{lang}-1-form")

    # Enter in the name box saves (it does not press the condition's ✕).
    page.locator("input[name=name]").press("Enter")
    expect(page).to_have_url(re.compile(r"/segments/personas/\d+/$"))
    persona = Persona.objects.get(name="Madrileños web")
    assert persona.definition["groups"][0]["rules"] == [{"field": "region", "op": "eq", "value": "Madrid"}]
    expect(page.locator("#persona-size")).to_have_text(re.compile(rf"^{expected:,}$".replace(",", "[.,]?")))
    assert sideways_overflow("the persona page") is None
    shot(f"{lang}-2-persona")

    # Suggestions: names without numbers, the quality of the split in words.
    page.goto("/segments/personas/suggest/")
    page.locator("#suggest").click()
    suggestions = page.locator("#suggestions li.suggestion")
    expect(suggestions.first).to_be_visible(timeout=20_000)
    names = [n.strip() for n in suggestions.locator("h2").all_inner_texts()]
    assert len(set(names)) == len(names) and not any(re.search(r"\(\d+\)$", n) for n in names), names
    separation = page.locator("#separation").inner_text()
    assert len(separation) > 40 and not re.search(r"\d\.\d", separation), separation
    assert "silhouette" not in page.locator("main").inner_text().lower()
    if lang == "es":
        assert any(n.startswith("Compradores") for n in names), names
    else:
        assert any("buyers" in n or "spenders" in n for n in names), names
    assert sideways_overflow("the persona suggestions") is None
    shot(f"{lang}-3-suggestions")

    # Delete, after the confirmation.
    page.goto(f"/segments/personas/{persona.pk}/")
    dialogs: list[str] = []

    def accept(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    page.locator("form[action$='/delete/'] button[data-confirm]").click()
    expect(page).to_have_url(re.compile(r"/segments/personas/$"))
    assert dialogs == [tr("Delete this persona? Its customers stay in the file.")]
    assert not Persona.objects.filter(pk=persona.pk).exists()

    # A rule stored broken (by an older version): the list says so, the other personas are counted.
    broken = Persona.objects.create(
        name="Regla rota", owner=owner,
        definition={"groups": [{"rules": [{"field": "age", "op": "gte", "value": "5000"}]}]},
    )  # fmt: skip
    Persona.objects.create(name="A mano", owner=owner)
    page.goto("/segments/personas/")
    row = page.locator("#personas tr", has_text="Regla rota")
    expect(row.locator("td.errors")).to_contain_text("5000")
    assert "Regla rota" not in row.locator("td.errors").inner_text()  # its own rule: not named again
    assert sideways_overflow("the persona list with a broken rule") is None
    shot(f"{lang}-4-list")
    page.goto(f"/segments/personas/{broken.pk}/")
    expect(page.locator("#persona-problem")).to_contain_text("5000")
    assert sideways_overflow("a persona with a broken rule") is None
    shot(f"{lang}-5-broken")

    browser_log.assert_clean()
