"""Issue 5's browser walk in English, on a phone and on a desktop: build a segment and see its count,
save it, run a bulk action, open the Pareto and RFM views, adopt a suggested persona and open the
dashboard with every chart drawn. test_browser_segments and test_browser_dashboard walk the same pages
in Spanish over the same analysed CDNOW sample (refreshed on 1998-06-30, six month-end snapshots).

Besides the English text itself, every page is checked for Spanish that leaks through: for the UI
strings named, the Spanish catalogue must have a translation (so the check can fail) and the page
must show the English and not the Spanish.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

# The Spanish modules' language-free helpers: the same waits and the same chart measurements.
from test_browser_dashboard import _CHART_JS, CHARTS, assert_chart_drawn
from test_browser_segments import _OVERLAPS_JS, add_condition, settled

pytestmark = pytest.mark.browser

# Spanish words that have no business on these English pages (customers are named "Cliente 123", so
# the singular is left out). Matched as whole words, ignoring case.
SPANISH_WORDS = ["clientes", "cumplen", "segmentos?", "facturación", "gasta", "hola", "mes", "desde", "tabla"]


@pytest.fixture
def browser_locale() -> str:
    """This module's browser asks for English (``Accept-Language: en-US``)."""
    return "en-US"


@pytest.fixture
def cdnow_analysed(transactional_db, analysed_portfolio):
    """The analysed CDNOW portfolio, committed so the live server sees it."""
    return analysed_portfolio


def page_text(page: Any) -> str:
    """The page's text as in the DOM (``inner_text`` would apply CSS capitalisation), one space
    between words."""
    return " ".join((page.locator("body").text_content() or "").split())


def assert_english(page: Any, *msgids: str) -> None:
    """Each of ``msgids`` (``{% translate %}`` strings of the templates) appears in English, its Spanish
    translation does not, and neither does any of :data:`SPANISH_WORDS`."""
    from django.utils import translation

    text = page_text(page)
    where = page.url
    for msgid in msgids:
        assert msgid in text, f"{where}: {msgid!r} missing from the English page"
        with translation.override("es"):
            # As {% translate %} looks it up: percent signs doubled in the catalogue, single on the page.
            spanish = translation.gettext(msgid.replace("%", "%%")).replace("%%", "%")
        assert spanish != msgid, f"{msgid!r} has no Spanish translation: this check cannot fail"
        assert spanish not in text, f"{where}: Spanish {spanish!r} shown instead of {msgid!r}"
    leaked = [w for w in SPANISH_WORDS if re.search(rf"\b{w}\b", text, re.IGNORECASE)]
    assert not leaked, f"{where}: Spanish words on the English page: {leaked}"


def expect_count(page: Any, n: int) -> None:
    """Wait for the builder's live count to say ``n`` customers, in English."""
    number = f"{n:,}".replace(",", ",?")
    noun = "customer matches" if n == 1 else "customers match"
    expect(page.locator("#segment-count")).to_have_text(re.compile(rf"^\s*{number} {noun}\s*$"))


def test_segment_pareto_rfm_personas_and_dashboard_in_english(
    page, owner, cdnow_analysed, login, browser_log, shot, sideways_overflow
):
    from django.utils import translation

    from cartera.activity.models import Task
    from cartera.customers.models import Customer
    from cartera.insights.models import RFMSegment
    from cartera.segments import selectors
    from cartera.segments.models import Persona, Segment

    login("owner")
    assert page.locator("html").get_attribute("lang") == "en"
    expect(page.locator("nav.mainnav")).to_contain_text("Customers")

    # Build: status is "at risk" or "inactive" ...
    page.goto("/segments/new/")
    expect(page.locator("h1")).to_have_text("New segment")
    builder = page.locator("#builder")
    expect(builder.locator("select[name=g0-r0-field] optgroup[label=Analysis]")).to_be_attached()
    expect(builder.locator("select[name=g0-r0-value] option[value=at_risk]")).to_have_text("At risk")
    with page.expect_response(re.compile(r"/segments/count/$")) as counted:
        builder.locator("select[name=g0-r0-value]").select_option(["at_risk", "inactive"])
    settled(page)
    assert counted.value.ok
    at_risk = {"field": "lifecycle", "op": "in", "value": ["at_risk", "inactive"]}
    big = {"field": "revenue", "op": "gt", "value": "100"}

    def in_db(*rules: dict[str, Any]) -> int:
        definition = {"match": "all", "groups": [{"match": "all", "rules": list(rules)}]}
        return selectors.definition_count(user=owner, definition=definition)

    first = in_db(at_risk)
    assert first > 0
    expect_count(page, first)

    # ... and revenue > 100: a second condition, whose field and operator re-render the builder.
    add_condition(page, builder, 1, "revenue", "gt", "100")
    both = in_db(at_risk, big)
    assert 0 < both < first
    expect_count(page, both)
    assert_english(page, "Customers who match", "all conditions (AND)", "Save segment")
    assert sideways_overflow("the segment builder") is None
    shot("1-builder")

    # Save it.
    builder.locator("input[name=name]").fill("Big spenders at risk")
    builder.locator("button[name=action][value=save]").click()
    expect(page).to_have_url(re.compile(r"/segments/\d+/$"))
    segment = Segment.objects.get(name="Big spenders at risk")
    assert segment.kind == Segment.Kind.DYNAMIC and segment.owner == owner
    expect(page.locator("ul.messages")).to_have_text("Segment saved.")
    expect(page.locator("h1")).to_have_text("Big spenders at risk")
    expect(page.locator("#segment-total")).to_have_text(f"{both:,}")

    # Bulk action: add a tag to every member.
    page.locator("details.bulk > summary").click()
    bulk = page.locator("details.bulk form")
    bulk.locator("select[name=action]").select_option("add_tag")
    bulk.locator("input[name=tag]").fill("Win back")
    bulk.locator("button[type=submit]").click()
    expect(page.locator("ul.messages")).to_have_text(f"Tag changed on {both} customers.")
    tagged = Customer.objects.filter(tags__name="Win back")
    assert tagged.count() == both
    assert set(tagged.values_list("pk", flat=True)) == set(
        selectors.segment_members(user=owner, segment=segment).values_list("pk", flat=True)
    )
    assert_english(page, "Bulk actions", "Predicted 12-month value", "Apply to every member")
    assert sideways_overflow("the segment page") is None
    shot("2-segment")

    # Pareto: the curve drawn with data, its y axis in English percentages ("50%", not "50 %").
    page.goto("/segments/pareto/")
    expect(page.locator("h1")).to_have_text("Pareto: who makes the revenue")
    pareto = page.locator("figure#chart-pareto")
    expect(pareto).to_have_class(re.compile(r"\bdrawn\b"))
    m = pareto.evaluate(_CHART_JS)
    assert m is not None and m["marks"] >= 5 and m["positive"] >= 5, f"the Pareto curve drew no data: {m}"
    assert m["overlaps"] == 0 and pareto.evaluate(_OVERLAPS_JS) == 0, "Pareto chart labels overlap"
    # The y axis' labels (anchored at their end, left of the axis) are formatted in the browser.
    y_labels = pareto.locator("svg text.chart-label[text-anchor=end]").all_text_contents()
    assert len(y_labels) >= 3 and all(re.fullmatch(r"\d+(\.\d+)?%", t) for t in y_labels), y_labels
    expect(page.locator("#top20")).to_have_text(re.compile(r"^\d+%$"))
    assert pareto.locator("details.chart-data tbody tr").count() >= 5
    assert_english(page, "of revenue comes from the top 20% of customers", "ABC classes", "Growth potential")
    assert sideways_overflow("the Pareto page") is None
    shot("3-pareto")

    # RFM: the grid of named segments in English, the chart drawn, the moves since last month.
    page.goto("/segments/rfm/")
    expect(page.locator("h1")).to_have_text("RFM segments")
    rfm = page.locator("figure#chart-rfm")
    expect(rfm).to_have_class(re.compile(r"\bdrawn\b"))
    m = rfm.evaluate(_CHART_JS)
    assert m is not None and m["positive"] >= 5, f"the RFM chart drew no data: {m}"
    assert m["overlaps"] == 0, f"RFM chart labels overlap: {m}"
    with translation.override("en"):
        english_names = {str(label) for label in RFMSegment.labels}
    names = page.locator("#rfm-grid li.rfm-cell strong").all_text_contents()
    assert len(names) >= 5 and set(names) <= english_names, names
    expect(page.locator("#rfm-grid li.rfm-cell .moves").first).to_have_text(
        re.compile(r"^\+\d+ in · −\d+ out$")
    )
    expect(page.locator("main")).to_contain_text(
        re.compile(r"\b\d+ customers? changed segment since May 31, 1998\.")
    )
    assert_english(page, "Customers per RFM segment", "Biggest movements", "Data table")
    assert sideways_overflow("the RFM page") is None
    shot("4-rfm")

    # Personas: suggest from the data, described in English, adopt one.
    page.goto("/segments/personas/suggest/")
    expect(page.locator("h1")).to_have_text("Suggest personas from my data")
    page.locator("#suggest").click()
    suggestions = page.locator("#suggestions li.suggestion")
    expect(suggestions.first).to_be_visible(timeout=20_000)
    assert 3 <= suggestions.count() <= 5
    for description in suggestions.locator(".suggestion-desc").all_text_contents():
        assert re.search(r"\bspends \d+ € on average\b", description), f"not in English: {description!r}"
    assert_english(page, "Adopt as persona", "Suggest again")
    assert sideways_overflow("the persona suggestions") is None
    shot("5-suggestions")
    suggestions.first.locator("input[name=name]").fill("Loyal buyers")
    suggestions.first.locator("button.adopt").click()
    expect(page).to_have_url(re.compile(r"/segments/personas/\d+/$"))
    expect(page.locator("ul.messages")).to_have_text("Persona “Loyal buyers” created.")
    expect(page.locator("h1")).to_contain_text("Loyal buyers")
    persona = Persona.objects.get(name="Loyal buyers")
    assert selectors.persona_members(user=owner, persona=persona).count() > 0
    shot("6-persona")

    # The dashboard: every chart drawn with data, its legend and tables in English.
    page.goto("/")
    expect(page.locator("h1")).to_have_text("Hello, Olga")
    expect(page.locator("#active-now")).to_have_text(re.compile(r"^\d[\d,]*$"))
    for chart_id in CHARTS:
        assert_chart_drawn(page.locator(f"figure#{chart_id}"), chart_id)
    expect(page.locator("figure#chart-flows ul.chart-legend li")).to_have_text(
        ["New", "Reactivated", "Newly inactive"]
    )
    expect(page.locator("figure#chart-active details.chart-data thead")).to_contain_text("Month")
    assert_english(
        page,
        "Active customers now",
        "Active customers per month",
        "Revenue per month (€)",
        "Anticipate: customers at risk or declining",
    )
    assert sideways_overflow("the dashboard") is None
    shot("7-dashboard")

    # One click on "Anticipate" creates a follow-up task, titled in English.
    first_risk = page.locator("#anticipate ol.risk-list > li").first
    name = first_risk.locator(".risk-head a").inner_text()
    before = Task.objects.count()
    with page.expect_response(re.compile(r"/segments/follow-up/\d+/$")) as posted:
        first_risk.locator("button[type=submit]").click()
    assert posted.value.ok
    expect(first_risk.locator("p.ok")).to_have_text(f"Task created: Follow up with {name}")
    assert Task.objects.count() == before + 1
    assert Task.objects.latest("pk").title == f"Follow up with {name}"

    browser_log.assert_clean()
