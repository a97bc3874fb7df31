"""The home page dashboard in the browser, in Spanish, on a phone and on a desktop: every chart drawn
from the server's data with a table equivalent, and a follow-up task from "Anticipate" in one click."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


# What each chart draws its data with.
MARKS = {
    "line": "circle.chart-dot",
    "bars": "rect.chart-bar",
    "stacked": "rect.chart-bar",
    "heatmap": "rect.chart-cell",
}
CHARTS = ["chart-active", "chart-flows", "chart-churn", "chart-revenue", "chart-abc", "chart-cohorts"]

# Per chart: the SVG's box, its marks, how many carry a value above zero, labels that overlap.
_CHART_JS = """(figure) => {
  const svg = figure.querySelector('svg.chart-svg');
  if (!svg) return null;
  const box = svg.getBoundingClientRect();
  const marks = [...svg.querySelectorAll('[data-value]')];
  const labels = [...svg.querySelectorAll('text.chart-label')].map((t) => t.getBoundingClientRect())
    .filter((r) => r.width > 0);
  let overlaps = 0;
  for (let i = 0; i < labels.length; i++) for (let j = i + 1; j < labels.length; j++) {
    const a = labels[i], b = labels[j];
    if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1) overlaps++;
  }
  const fig = figure.getBoundingClientRect();
  return {width: box.width, height: box.height, right: box.right, figureRight: fig.right,
          marks: marks.length, positive: marks.filter((m) => parseFloat(m.dataset.value) > 0).length,
          overlaps: overlaps, aria: svg.getAttribute('aria-hidden')};
}"""


def assert_chart_drawn(figure: Any, chart_id: str) -> tuple[dict[str, Any], str, int]:
    """A dashboard chart drawn with data, inside its box, labels apart, with its text equivalent (a
    caption and a data table with rows); returns its measures, its kind and its table's rows."""
    expect(figure).to_have_class(re.compile(r"\bdrawn\b"))
    kind = figure.get_attribute("data-chart") or ""
    expect(figure.locator(f"svg.chart-svg {MARKS[kind]}").first).to_be_attached()
    m = figure.evaluate(_CHART_JS)
    assert m is not None, f"{chart_id}: no SVG"
    assert m["marks"] > 0 and m["positive"] > 0, f"{chart_id} drew no data: {m}"
    assert m["width"] >= 200 and m["height"] >= 80, f"{chart_id} is too small: {m}"
    assert m["right"] <= m["figureRight"] + 1, f"{chart_id} overflows its box: {m}"
    assert m["overlaps"] == 0, f"{chart_id} has overlapping labels: {m}"
    expect(figure.locator("figcaption")).not_to_be_empty()
    table = figure.locator("details.chart-data table")
    expect(table).to_be_attached()
    rows = int(table.locator("tbody tr").count())
    assert rows > 0, f"{chart_id}: the data table is empty"
    return m, kind, rows


@pytest.fixture
def cdnow_analysed(transactional_db, analysed_portfolio):
    """The analysed CDNOW portfolio, committed so the live server sees it."""
    return analysed_portfolio


def test_dashboard_charts_and_anticipate(
    page, owner, cdnow_analysed, login, browser_log, shot, sideways_overflow, viewport
):
    from cartera.activity.models import Task

    login("owner")
    expect(page.locator("h1")).to_contain_text("Hola")
    expect(page.locator("#active-now")).to_have_text(re.compile(r"^\d[\d.]*$"))

    for chart_id in CHARTS:
        figure = page.locator(f"figure#{chart_id}")
        m, kind, rows = assert_chart_drawn(figure, chart_id)
        assert m["aria"] == "true", (
            f"{chart_id}: the SVG should be hidden from screen readers (it has a table)"
        )
        if kind in ("line", "bars") and chart_id != "chart-abc":
            assert (
                rows * len((figure.get_attribute("data-y") or "").split(",")) == m["marks"] or kind == "line"
            )
    # The table opens for people who want the numbers.
    active = page.locator("figure#chart-active details.chart-data")
    active.locator("summary").click()
    expect(active.locator("tbody tr").first).to_be_visible()
    expect(active.locator("thead")).to_contain_text("Mes")
    assert sideways_overflow("the dashboard") is None
    shots = shot("1-dashboard").parent
    page.locator("div.charts").screenshot(path=str(shots / f"dashboard-{viewport.name}-charts.png"))

    # Anticipate: the riskiest customers with a reason and a one-click follow-up.
    rows = page.locator("#anticipate ol.risk-list > li")
    assert rows.count() > 0
    first = rows.first
    expect(first.locator(".risk-value")).to_contain_text("€")
    name = first.locator(".risk-head a").inner_text()
    before = Task.objects.count()
    with page.expect_response(re.compile(r"/segments/follow-up/\d+/$")) as posted:
        first.locator("button[type=submit]").click()
    assert posted.value.ok
    expect(first.locator("p.ok")).to_contain_text(f"Tarea creada: Seguimiento de {name}")
    expect(first.locator("button[type=submit]")).to_have_count(0)
    assert Task.objects.count() == before + 1
    task = Task.objects.latest("pk")
    assert task.customer is not None and task.customer.full_name == name
    assert task.assignee == owner and not task.done
    shot("2-follow-up")

    # A million-customer portfolio's figures fit a phone too: "356.250.792 €" once pushed the cards
    # 41 px past a 375 px screen (a grid column grew to the figure's width).
    from decimal import Decimal

    from cartera.insights.models import PortfolioSnapshot

    latest = PortfolioSnapshot.objects.order_by("-taken_on").first()
    PortfolioSnapshot.objects.filter(pk=latest.pk).update(
        customers_total=1_000_000, active_base=850_093, new_customers=14_376, reactivated=9_912,
        newly_inactive=27_370, revenue_12m=Decimal("356250792.40"),
    )  # fmt: skip
    page.reload()
    expect(page.locator("section.cards")).to_contain_text("356")
    assert sideways_overflow("the dashboard with a million customers' figures") is None
    shot("3-big-figures")

    browser_log.assert_clean()
