"""The pipeline in a real browser: a rep opens an opportunity from the customer page, moves it across
the board (with the "move to" control, and by dragging on a desktop) and wins it, recording the order;
a manager reads the bottleneck report and follows a figure to its opportunities; the stage of a
customer changes from their page and shows on the timeline. Phone and desktop, Spanish."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


@pytest.fixture
def stages(db):
    from cartera.pipeline import selectors, services

    return selectors.stages_of(services.pipeline_defaults_ensure())


def _no_sideways(sideways_overflow, where):
    problem = sideways_overflow(where)
    assert problem is None, problem


def test_rep_opens_moves_and_wins_an_opportunity(
    page, owner, customer, stages, login, browser_log, viewport, shot, sideways_overflow
):
    from cartera.customers.models import Stage
    from cartera.pipeline.models import Opportunity
    from cartera.sales.models import Order

    login("owner")
    page.goto(f"/customers/{customer.pk}/")
    page.locator(f"a[href='/pipeline/opportunities/new/?customer={customer.pk}']").click()
    page.locator("input[name=title]").fill("Reforma de la oficina de Alcalá")
    page.locator("input[name=value]").fill("12.345,50")
    page.locator("input[name=expected_close_on]").fill("2026-12-15")
    page.locator("form.grid-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/pipeline/opportunities/\d+/$"))
    deal = Opportunity.objects.get()
    assert (deal.value, deal.stage, deal.owner) == (Decimal("12345.50"), stages[0], owner)
    _no_sideways(sideways_overflow, "opportunity page")

    # The board, with the "move to" control (works without script, from the keyboard and on a phone).
    page.goto("/pipeline/")
    card = page.locator(f"li.deal[data-id='{deal.pk}']")
    expect(
        page.locator(f".board-col[data-stage='{stages[0].pk}'] li.deal[data-id='{deal.pk}']")
    ).to_be_visible()
    _no_sideways(sideways_overflow, "board")
    shot("board")
    card.locator("select[name=stage]").select_option(str(stages[1].pk))
    card.locator("button[type=submit]").click()
    expect(
        page.locator(f".board-col[data-stage='{stages[1].pk}'] li.deal[data-id='{deal.pk}']")
    ).to_be_visible()
    deal.refresh_from_db()
    assert deal.stage == stages[1]

    if not viewport.mobile:
        # Drag and drop (board.js): the card lands in the third column and stays there after a reload.
        source = f".board-col[data-stage='{stages[1].pk}'] li.deal[data-id='{deal.pk}']"
        target = f".board-col[data-stage='{stages[2].pk}'] ol[data-drop]"
        # board.js reloads the page once the server has accepted the move: wait for that reload, or
        # the next navigation races it (net::ERR_ABORTED).
        with (
            page.expect_navigation(),
            page.expect_response(re.compile(rf"/pipeline/opportunities/{deal.pk}/move/$")),
        ):
            page.drag_and_drop(source, target)
        expect(
            page.locator(f".board-col[data-stage='{stages[2].pk}'] li.deal[data-id='{deal.pk}']")
        ).to_be_visible()
        deal.refresh_from_db()
        assert deal.stage == stages[2]

    # Won, recording the order: the prospect becomes a customer.
    page.goto(f"/pipeline/opportunities/{deal.pk}/")
    page.locator("form[action$='/win/']").locator("xpath=..").locator("summary").click()
    win = page.locator(f"form[action='/pipeline/opportunities/{deal.pk}/win/']")
    expect(win.locator("input[name=create_order]")).to_be_checked()
    win.locator("button[type=submit]").click()
    expect(page.locator(".pagehead .badge.deal-won")).to_be_visible()
    shot("won")
    deal.refresh_from_db()
    customer.refresh_from_db()
    assert deal.status == "won" and deal.order is not None
    assert Order.objects.get().amount == Decimal("12345.50")
    assert customer.stage == Stage.CUSTOMER
    assert deal.stage_changes.count() == (3 if viewport.mobile else 4)
    browser_log.assert_clean()


@pytest.fixture
def pipeline_history(owner, colleague, customer, stages):
    from cartera.customers.services import customer_create
    from cartera.pipeline import services
    from cartera.pipeline.models import LostReason

    other = customer_create(actor=colleague, fields={"first_name": "Tomás", "last_name": "Gil"})
    price = LostReason.objects.get(name="Precio")
    deals = []
    for n, (who, person) in enumerate([(owner, customer), (colleague, other)] * 4):
        deal = services.opportunity_create(
            actor=who,
            fields={
                "customer": person,
                "title": f"Trato {n}",
                "value": Decimal(1000 * (n + 1)),
                "source": "referral",
            },
        )
        deals.append(deal)
        if n % 4 != 3:
            services.opportunity_move(actor=who, opportunity=deal, stage=stages[1])
        if n % 4 == 0:
            services.opportunity_win(actor=who, opportunity=deal)
        if n % 4 == 1:
            services.opportunity_lose(actor=who, opportunity=deal, reason=price)
    return deals


def test_manager_reads_the_bottleneck_report(
    page, manager, pipeline_history, stages, login, browser_log, shot, sideways_overflow
):
    login("manager")
    page.goto("/pipeline/report/")
    expect(page.locator("#chart-funnel.drawn svg rect.chart-bar")).to_have_count(len(stages))
    # Every stage's label (name · reached · share) ends inside the chart: on a phone it was cut.
    cut = page.evaluate(
        """() => { const svg = document.querySelector('#chart-funnel svg');
                   const edge = svg.getBoundingClientRect().right + 1;
                   return [...svg.querySelectorAll('text')].filter(t => t.getBoundingClientRect().right > edge)
                          .map(t => t.textContent); }"""
    )
    assert cut == [], f"funnel labels cut at the chart's edge: {cut}"
    _no_sideways(sideways_overflow, "bottleneck report")
    shot("report")
    # The second stage was reached by 6 opportunities; the figure opens exactly those.
    row = page.locator("#stages-table tbody tr").filter(has_text=stages[1].name)
    reached = row.locator(f"a[href*='passed={stages[1].pk}']")
    expect(reached).to_have_text("6")
    reached.click()
    expect(page.locator("table.list tbody tr")).to_have_count(6)
    page.go_back()
    row.locator(f"a[href*='lost_from={stages[1].pk}']").first.click()
    expect(page.locator("table.list tbody tr")).to_have_count(2)
    browser_log.assert_clean()


def test_a_big_report_says_when_the_worker_counted_it(
    page, manager, owner, pipeline_history, stages, settings, login, browser_log, shot, sideways_overflow
):
    from cartera.pipeline import services
    from cartera.pipeline.models import Opportunity, OpportunityStatus
    from cartera.pipeline.tasks import count_report_figures

    settings.CARTERA_REPORT_INLINE_OPPORTUNITIES = 1  # every pipeline and file counts as big
    settings.CARTERA_REPORT_INLINE_CUSTOMERS = 0
    login("manager")
    page.goto("/pipeline/report/")  # the first view counts and keeps the figures
    expect(page.locator("#history-counted")).to_have_count(0)
    page.reload()
    expect(page.locator("#history-counted")).to_be_visible()
    expect(page.locator("#attribution-counted")).to_be_visible()
    expect(page.locator("#history-counted.pending")).to_have_count(0)
    # A rep moves an opportunity: the page still shows what was counted, and says newer changes are
    # being counted; the worker's count brings them in.
    deal = Opportunity.objects.filter(status=OpportunityStatus.OPEN, stage=stages[0]).first()
    services.opportunity_move(actor=manager, opportunity=deal, stage=stages[1])
    page.reload()
    expect(page.locator("#history-counted.pending")).to_be_visible()
    row = page.locator("#stages-table tbody tr").filter(has_text=stages[1].name)
    expect(row.locator(f"a[href*='passed={stages[1].pk}']")).to_have_text("6")
    _no_sideways(sideways_overflow, "bottleneck report counted by the worker")
    shot("report-counted")
    count_report_figures.call()
    page.reload()
    expect(page.locator("#history-counted.pending")).to_have_count(0)
    expect(row.locator(f"a[href*='passed={stages[1].pk}']")).to_have_text("7")
    browser_log.assert_clean()


def test_stage_change_from_the_customer_page_shows_on_the_timeline(
    page, owner, customer, login, browser_log, shot, sideways_overflow
):
    from cartera.customers.models import StageChange

    login("owner")
    page.goto(f"/customers/{customer.pk}/")
    form = page.locator("#stage-form")
    form.locator("select[name=stage]").select_option("suspect")
    form.locator("input[name=reason]").fill("Pide que le llamemos en primavera")
    with page.expect_response(re.compile(rf"/customers/{customer.pk}/stage/$")):
        form.locator("button[type=submit]").click()
    entry = page.locator("#timeline li.entry.stage").first
    expect(entry).to_contain_text("Pide que le llamemos en primavera")
    expect(page.locator("#stage-badge")).to_have_class(re.compile(r"stage-suspect"))
    page.locator(".stagecard details.explain summary").click()
    _no_sideways(sideways_overflow, "customer page")
    shot("customer-stage")
    change = StageChange.objects.get()
    assert (change.from_stage, change.to_stage, change.changed_by, change.via) == (
        "prospect",
        "suspect",
        owner,
        "page",
    )
    browser_log.assert_clean()


def test_manager_assigns_a_call_list_from_the_at_risk_segment_and_the_rep_calls(
    page, manager, owner, stages, login, browser_log, shot, sideways_overflow
):
    """The end of issue 15's walk: the manager reads the report, builds today's call list from the
    at-risk segment for a rep; the rep finds those people first on their calls page, taps to call and
    logs each outcome in one tap."""
    from django.utils import timezone

    from cartera.activity.models import Interaction
    from cartera.customers.services import customer_create
    from cartera.insights.models import CustomerMetrics
    from cartera.pipeline.models import CallList, CallListEntry
    from cartera.segments.models import Segment

    def person(name, phone, lifecycle, revenue):
        who = customer_create(actor=owner, fields={"first_name": name, "last_name": "Prueba", "phone": phone,
                                                   "stage": "customer"})  # fmt: skip
        CustomerMetrics.objects.create(customer=who, revenue=Decimal(revenue), lifecycle=lifecycle,
                                       clv_12m=Decimal(revenue), computed_at=timezone.now())  # fmt: skip
        return who

    slipping = person("Rosa", "612000301", "at_risk", "4200")
    also = person("Ramón", "612000302", "at_risk", "900")
    person("Alicia", "612000303", "active", "3000")
    rule = {"field": "lifecycle", "op": "in", "value": ["at_risk"]}
    Segment.objects.create(name="En riesgo", owner=manager,
                           definition={"match": "all", "groups": [{"match": "all", "rules": [rule]}]})  # fmt: skip

    login("manager")
    page.goto("/pipeline/report/")
    expect(page.locator("#stages-table")).to_be_visible()
    page.goto("/pipeline/calls/team/")
    form = page.locator("form.grid-form")
    form.locator("select[name=segment]").select_option(label="En riesgo")
    form.locator("select[name=assignee]").select_option(str(owner.pk))
    form.locator("input[name=name]").fill("Recuperar a los que se van")
    form.locator("button[type=submit]").click()
    expect(page.locator(".messages")).to_contain_text("1")
    calls = CallList.objects.get()
    assert (calls.assignee, calls.for_date, calls.name) == (
        owner,
        timezone.localdate(),
        "Recuperar a los que se van",
    )
    assert set(CallListEntry.objects.values_list("customer__first_name", flat=True)) == {"Rosa", "Ramón"}
    _no_sideways(sideways_overflow, "team page")
    shot("team")

    page.context.clear_cookies()
    login("owner")
    page.goto("/pipeline/calls/")
    rosa = page.locator(".callrow", has_text="Rosa")
    expect(rosa).to_be_visible()
    expect(page.locator(".callrow", has_text="Alicia")).to_have_count(0)  # active: not on the list
    expect(rosa.locator("a[href^='tel:']")).to_have_attribute("href", "tel:+34612000301")
    _no_sideways(sideways_overflow, "calls page")
    shot("calls-assigned")
    rosa.locator("button[value=no_answer]").click()
    expect(page.locator(".callrow", has_text="Rosa")).to_contain_text(
        re.compile("Llamada anotada|Call logged")
    )
    ramon = page.locator(".callrow", has_text="Ramón")
    ramon.locator("button[value=reached]").click()
    expect(page.locator(".callrow", has_text="Ramón")).to_contain_text(
        re.compile("Llamada anotada|Call logged")
    )
    outcomes = dict(CallListEntry.objects.values_list("customer__first_name", "outcome"))
    assert outcomes == {"Rosa": "no_answer", "Ramón": "reached"}
    assert Interaction.objects.filter(customer__in=[slipping, also], kind="call").count() == 2
    browser_log.assert_clean()
