"""Segments, Pareto, RFM and personas in the browser, in Spanish, on a phone and on a desktop, over the
CDNOW sample refreshed on 1998-06-30 with six month-end snapshots."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


@pytest.fixture
def cdnow_analysed(transactional_db, analysed_portfolio):
    """The analysed CDNOW portfolio, committed so the live server sees it."""
    return analysed_portfolio


# Pairs of chart labels (axis and values) whose boxes overlap, in one chart.
_OVERLAPS_JS = """(figure) => {
  const boxes = [...figure.querySelectorAll('svg text.chart-label')].map((t) => t.getBoundingClientRect())
    .filter((r) => r.width > 0);
  let n = 0;
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
    const a = boxes[i], b = boxes[j];
    if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1) n++;
  }
  return n;
}"""


def _count(page: Any) -> int:
    """The builder's live count ("560 clientes cumplen las condiciones")."""
    text = page.locator("#segment-count").inner_text()
    digits = re.match(r"\s*(\d[\d.\s]*)\s+clientes?\b", text)
    assert digits, f"no count in {text!r}"
    return int(re.sub(r"\D", "", digits.group(1)))


def settled(page: Any) -> None:
    """Wait until htmx has swapped and settled the last response (new content is live only then)."""
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-added, .htmx-settling')"
    )


def expect_count(page: Any, n: int) -> None:
    """Wait for the live count to say ``n`` customers (with or without a thousands separator)."""
    number = f"{n:,}".replace(",", "[.\u00a0 ]?")
    expect(page.locator("#segment-count")).to_have_text(re.compile(rf"^\s*{number} clientes?\b"))


def add_condition(page: Any, builder: Any, index: int, field: str, op: str, value: str) -> None:
    """Add condition ``index`` through the builder as a person does: "+ Condition", pick the field and
    the operator (each re-renders the builder), type the value and leave the field (each counts)."""
    builder.locator("button.add-rule").click()
    settled(page)
    expect(builder.locator("div.rule")).to_have_count(index + 1)
    name = f"g0-r{index}"
    with page.expect_response(re.compile(r"/segments/new/$")):
        builder.locator(f"select[name={name}-field]").select_option(field)
    settled(page)
    expect(builder.locator(f"select[name={name}-op] option[value={op}]")).to_be_attached()
    with page.expect_response(re.compile(r"/segments/new/$")):
        builder.locator(f"select[name={name}-op]").select_option(op)
    settled(page)
    expect(builder.locator(f"input[name={name}-value]")).to_be_visible()
    with page.expect_response(re.compile(r"/segments/count/$")):
        builder.locator(f"input[name={name}-value]").fill(value)
    settled(page)
    # Leaving the field fires "change" and counts once more: let that land before the next click, as
    # a person would see it; a click in the middle of its swap may land on what moved under it.
    with page.expect_response(re.compile(r"/segments/count/$")):
        builder.locator(f"input[name={name}-value]").blur()
    settled(page)


def test_segment_pareto_rfm_and_personas(
    page, owner, cdnow_analysed, login, browser_log, shot, sideways_overflow
):
    from cartera.customers.models import Customer
    from cartera.segments import selectors
    from cartera.segments.models import Persona, Segment

    login("owner")
    assert page.locator("html").get_attribute("lang") == "es"

    # Build: status is "at risk" or "inactive" ...
    page.goto("/segments/new/")
    expect(page.locator("h1")).to_have_text("Nuevo segmento")
    builder = page.locator("#builder")
    with page.expect_response(re.compile(r"/segments/count/$")) as counted:
        builder.locator("select[name=g0-r0-value]").select_option(["at_risk", "inactive"])
    settled(page)
    assert counted.value.ok
    at_risk = {"field": "lifecycle", "op": "in", "value": ["at_risk", "inactive"]}
    repeat = {"field": "orders_count", "op": "gte", "value": "3"}
    big = {"field": "revenue", "op": "gt", "value": "50"}

    def in_db(*rules: dict[str, Any]) -> int:
        definition = {"match": "all", "groups": [{"match": "all", "rules": list(rules)}]}
        return selectors.definition_members(user=owner, definition=definition).count()

    first = in_db(at_risk)
    expect_count(page, first)
    assert first > 0

    # ... and orders ≥ 3: a second condition, its field and operator re-render the builder.
    add_condition(page, builder, 1, "orders_count", "gte", "3")
    second = in_db(at_risk, repeat)
    expect_count(page, second)
    assert 0 < second < first

    # ... and revenue > 50 €: three conditions, counted as in the database.
    add_condition(page, builder, 2, "revenue", "gt", "50")
    third = in_db(at_risk, repeat, big)
    expect_count(page, third)
    assert _count(page) == third and 0 < third < second
    assert sideways_overflow("the segment builder") is None
    shot("1-builder")

    # Save it. Typing the name (and leaving the box) does not count the members again: only a
    # condition does (that count ran beside the save, and at a million customers costs a second).
    counts_before = [url for url in browser_log.requests if url.endswith("/segments/count/")]
    builder.locator("input[name=name]").fill("En riesgo con historial")
    builder.locator("input[name=name]").press("Tab")
    page.wait_for_timeout(800)  # longer than the builder's 500 ms typing pause
    assert [url for url in browser_log.requests if url.endswith("/segments/count/")] == counts_before
    builder.locator("button[name=action][value=save]").click()
    expect(page).to_have_url(re.compile(r"/segments/\d+/$"))
    segment = Segment.objects.get(name="En riesgo con historial")
    assert segment.kind == Segment.Kind.DYNAMIC and segment.owner == owner
    expect(page.locator("#segment-total")).to_have_text(f"{third:,}".replace(",", "."))
    expect(page.locator("h1")).to_have_text("En riesgo con historial")

    # Bulk action: add a tag to every member.
    page.locator("details.bulk > summary").click()
    bulk = page.locator("details.bulk form")
    bulk.locator("select[name=action]").select_option("add_tag")
    bulk.locator("input[name=tag]").fill("Recuperar")
    bulk.locator("button[type=submit]").click()
    expect(page.locator("ul.messages")).to_contain_text(str(third))
    tagged = Customer.objects.filter(tags__name="Recuperar")
    assert tagged.count() == third
    assert set(tagged.values_list("pk", flat=True)) == set(
        selectors.segment_members(user=owner, segment=segment).values_list("pk", flat=True)
    )
    assert sideways_overflow("the segment page") is None
    shot("2-segment")

    # Pareto: the curve drawn, the top-20% share, the ABC classes and growth potential.
    page.goto("/segments/pareto/")
    expect(page.locator("#chart-pareto svg.chart-svg circle.chart-dot").first).to_be_attached()
    expect(page.locator("#top20")).to_have_text(re.compile(r"^\d+\s%$"))
    assert page.locator("#chart-pareto circle.chart-dot").count() >= 5
    assert page.locator("#chart-pareto details.chart-data tbody tr").count() >= 5
    assert page.locator("#chart-pareto").evaluate(_OVERLAPS_JS) == 0, "Pareto chart labels overlap"
    assert sideways_overflow("the Pareto page") is None
    shot("3-pareto")

    # RFM: the grid of named segments with counts, and how many moved since the previous month.
    page.goto("/segments/rfm/")
    cells = page.locator("#rfm-grid li.rfm-cell")
    assert cells.count() >= 5
    expect(page.locator("#chart-rfm svg.chart-svg rect.chart-bar").first).to_be_attached()
    assert page.locator("#chart-rfm").evaluate(_OVERLAPS_JS) == 0, "RFM chart labels overlap"
    expect(page.locator("main")).to_contain_text(
        re.compile(r"\d+ clientes? (han )?cambiado de segmento desde el 31 de mayo de 1998")
    )
    assert sideways_overflow("the RFM page") is None
    shot("4-rfm")

    # Personas: suggest from the data, adopt one.
    page.goto("/segments/personas/suggest/")
    page.locator("#suggest").click()
    suggestions = page.locator("#suggestions li.suggestion")
    expect(suggestions.first).to_be_visible(timeout=20_000)
    assert 3 <= suggestions.count() <= 5
    description = suggestions.first.locator(".suggestion-desc").inner_text()
    assert "gasta" in description, f"description not in Spanish: {description!r}"
    assert sideways_overflow("the persona suggestions") is None
    shot("5-suggestions")
    suggestions.first.locator("input[name=name]").fill("Compradores fieles")
    suggestions.first.locator("button.adopt").click()
    expect(page).to_have_url(re.compile(r"/segments/personas/\d+/$"))
    expect(page.locator("h1")).to_contain_text("Compradores fieles")
    persona = Persona.objects.get(name="Compradores fieles")
    assert selectors.persona_members(user=owner, persona=persona).count() > 0
    shot("6-persona")

    browser_log.assert_clean()
