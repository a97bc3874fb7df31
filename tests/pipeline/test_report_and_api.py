"""The bottleneck report's figures from a known history, each linking to the opportunities behind it;
and the API for opportunities and pipelines (scoping included)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from cartera.pipeline import selectors, services
from cartera.pipeline.models import LostReason, Opportunity
from tests.conftest import login

pytestmark = pytest.mark.django_db


def test_report_figures(history, owner, manager):
    pipeline, s = history
    report = selectors.bottleneck_report(user=owner, pipeline=pipeline)
    # A manager's report reads every move of the pipeline's stages without naming the opportunities:
    # the same figures here, where they are all the owner's.
    everyone = selectors.bottleneck_report(user=manager, pipeline=pipeline)
    assert (everyone.stages, everyone.by_source, everyone.forecast) == (
        report.stages,
        report.by_source,
        report.forecast,
    )
    first, second = report.stages[0], report.stages[1]
    assert (first.entered, first.advanced, first.conversion) == (4, 3, 0.75)
    assert (first.median_days, first.p90_days) == (4, 6)
    assert (second.entered, second.advanced, second.lost, second.open_now, second.rotting) == (3, 1, 1, 1, 1)
    assert second.rotting_value == Decimal("300")
    assert second.lost_reasons == [
        {"id": LostReason.objects.get(name="Precio").pk, "name": "Precio", "count": 1}
    ]
    assert (second.median_days, second.p90_days) == (5.5, 10)
    assert (report.won, report.lost, report.open_count, report.win_rate) == (1, 1, 2, 0.5)
    (source,) = report.by_source
    assert (source.key, source.won, source.lost, source.won_value) == ("referral", 1, 1, Decimal("1000"))
    march = [m for m in report.forecast if m["month"] == dt.date(2026, 3, 1)][0]
    assert march["count"] == 2 and march["value"] == Decimal("500")
    assert (
        march["weighted"] == Decimal("300") * s[1].probability / 100 + Decimal("200") * s[0].probability / 100
    )
    assert [f["value"] for f in report.funnel()] == [4, 3, 1, 1]


def test_each_figure_links_to_its_opportunities(client, history, owner, manager):
    pipeline, s = history
    login(client, manager)
    page = client.get(f"/pipeline/report/?pipeline={pipeline.pk}")
    assert page.status_code == 200
    assert 'id="funnel-data"' in page.text
    for query, titles in (
        (f"passed={s[0].pk}", {"won", "lost", "stuck", "fresh"}),
        (f"advanced_from={s[1].pk}", {"won"}),
        (f"lost_from={s[1].pk}", {"lost"}),
        (f"stage={s[1].pk}&status=open&rotting=on", {"stuck"}),
        (f"pipeline={pipeline.pk}&status=open&close_month=2026-03", {"stuck", "fresh"}),
    ):
        assert f"?{query.replace('&', '&amp;')}" in page.text or query.split("&")[0] in page.text, query
        listing = client.get(f"/pipeline/opportunities/?{query}")
        shown = {o.title for o in listing.context["page"].rows}
        assert shown == titles, query


def test_api_opportunities_scoped_moved_won_and_lost(client, owner, colleague, customer):
    from cartera.accounts.services import api_token_create

    pipeline = services.pipeline_defaults_ensure()
    s = selectors.stages_of(pipeline)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {api_token_create(user=owner, name='t')[1]}"}
    other = {"HTTP_AUTHORIZATION": f"Bearer {api_token_create(user=colleague, name='t')[1]}"}
    created = client.post("/api/opportunities", {"title": "API deal", "customer": customer.pk, "value": "250.50"},
                          content_type="application/json", **auth)  # fmt: skip
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["stage"], body["probability"], body["owner"]) == (s[0].pk, s[0].probability, owner.pk)
    pk = body["id"]
    assert client.get(f"/api/opportunities/{pk}", **other).status_code == 404
    assert client.get("/api/opportunities", **other).json()["items"] == []
    assert (
        client.post(
            f"/api/opportunities/{pk}/move", {"stage": s[1].pk}, content_type="application/json", **other
        ).status_code
        == 404
    )
    moved = client.post(
        f"/api/opportunities/{pk}/move", {"stage": s[1].pk}, content_type="application/json", **auth
    )
    assert moved.json()["stage"] == s[1].pk
    bad = client.post(
        f"/api/opportunities/{pk}/move", {"stage": 999999}, content_type="application/json", **auth
    )
    assert bad.status_code == 422
    reasons = client.get("/api/pipelines/lost-reasons", **auth).json()
    lost = client.post(
        f"/api/opportunities/{pk}/lose",
        {"lost_reason": reasons[0]["id"]},
        content_type="application/json",
        **auth,
    )
    assert lost.json()["status"] == "lost"
    pipelines = client.get("/api/pipelines", **auth).json()
    assert [st["id"] for st in pipelines[0]["stages"]] == [st.pk for st in s]
    second = client.post("/api/opportunities", {"title": "Otro", "customer": customer.pk, "value": "99"},
                         content_type="application/json", **auth).json()  # fmt: skip
    won = client.post(
        f"/api/opportunities/{second['id']}/win",
        {"create_order": True},
        content_type="application/json",
        **auth,
    )
    assert won.status_code == 201 and won.json()["order"] is not None


def test_an_opportunity_without_a_currency_is_in_the_base_currency(client, settings, owner, customer):
    """As for orders (issue 11): no hard-coded euros; an unknown code is a 422 on ``currency``."""
    from cartera.accounts.services import api_token_create

    services.pipeline_defaults_ensure()
    settings.CARTERA_DEFAULT_CURRENCY = "GBP"
    auth = {"HTTP_AUTHORIZATION": f"Bearer {api_token_create(user=owner, name='t')[1]}"}
    created = client.post("/api/opportunities", {"title": "Libras", "customer": customer.pk, "value": "10"},
                          content_type="application/json", **auth)  # fmt: skip
    assert created.status_code == 201, created.content
    assert created.json()["currency"] == Opportunity.objects.get().currency == "GBP"
    bad = client.post("/api/opportunities", {"title": "X", "customer": customer.pk, "currency": "ZZZ"},
                      content_type="application/json", HTTP_ACCEPT_LANGUAGE="en", **auth)  # fmt: skip
    assert bad.status_code == 422, bad.content
    assert [e["msg"] for e in bad.json()["detail"] if e["loc"][-1] == "currency"] == [
        "“ZZZ” is not a currency code (ISO 4217, three letters such as EUR, USD or GBP)"
    ]
    assert Opportunity.objects.count() == 1
