"""The source attribution on the report page: people, buyers, revenue and won opportunities by source,
by lead form and by UTM campaign, on the page and as CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.urls import reverse

from cartera.customers.models import Customer, Stage
from cartera.customers.services import customer_create
from cartera.insights.services import insights_refresh
from cartera.pipeline import selectors, services
from cartera.pipeline.models import LeadAssignment
from cartera.sales.services import order_create
from tests.conftest import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def attributed(owner, manager):
    cache.clear()
    services.pipeline_defaults_ensure()
    form = services.lead_form_save(
        actor=manager, lead_form=None,
        settings_values={"name": "Landing", "active": True, "title": "Hola", "intro": "", "thank_you": "",
                         "language": "es", "stage": Stage.PROSPECT, "consent_text": "", "allowed_origins": "",
                         "assignment": LeadAssignment.FIXED, "assign_to": owner},
        fields=[], required=[], round_robin_users=[],
    )  # fmt: skip
    people = []
    for i, campaign in enumerate(["primavera", "primavera", "verano"]):
        people.append(
            services.lead_submit(
                lead_form=form, answers={"first_name": f"Web{i}", "email": f"web{i}@example.com"},
                consent=False, language="es", utm={"utm_campaign": campaign},
            ).customer
        )  # fmt: skip
    # The first person answers twice: still one person and one revenue for the form. The third comes
    # back from another campaign: "verano" was their first touch, "otoño" their last.
    services.lead_submit(lead_form=form, answers={"first_name": "Web0", "email": "web0@example.com"},
                         consent=False, language="es", utm={"utm_campaign": "primavera"})  # fmt: skip
    services.lead_submit(lead_form=form, answers={"first_name": "Web2", "email": "web2@example.com"},
                         consent=False, language="es", utm={"utm_campaign": "otoño"})  # fmt: skip
    # Web0 came in on 20 December 2024 and bought 16 days later, then again 13 months after coming in
    # (outside their first 12 months).
    Customer.objects.filter(pk=people[0].pk).update(created_at=dt.datetime(2024, 12, 20, 12, tzinfo=dt.UTC))
    for when, amount in ((dt.date(2025, 1, 5), "300"), (dt.date(2026, 1, 25), "40")):
        order_create(actor=owner, customer=people[0], fields={"ordered_on": when, "amount": Decimal(amount)})
    # Ref was entered after buying (an imported customer with history): no days to a first order.
    referral = customer_create(actor=owner, fields={"first_name": "Ref", "source": "referral"})
    order_create(
        actor=owner, customer=referral, fields={"ordered_on": dt.date(2026, 1, 6), "amount": Decimal("50")}
    )
    deal = services.opportunity_create(actor=owner, fields={"customer": people[1], "title": "Gran pedido",
                                                            "value": Decimal("1000")})  # fmt: skip
    services.opportunity_win(actor=owner, opportunity=deal)
    insights_refresh()  # the revenue is each person's as of the last refresh
    return form


def test_people_buyers_revenue_and_wins_by_source_form_and_campaign(manager, attributed):
    data = selectors.source_attribution(user=manager)
    web = next(r for r in data.by_source if r.label == "Web / entrante")
    assert (web.leads, web.converted, web.revenue, web.won, web.won_value) == (
        3,
        1,
        Decimal("340.00"),
        1,
        Decimal("1000.00"),
    )
    # Time to the first order and the first year's revenue count from the day they came in.
    assert (web.days_to_first_order, web.revenue_12m) == (16, Decimal("300.00"))
    referral = next(r for r in data.by_source if r.label == "Recomendación")
    assert (referral.leads, referral.converted, referral.revenue) == (1, 1, Decimal("50.00"))
    assert referral.days_to_first_order is None  # bought before being entered
    [landing] = data.by_form
    assert (landing.label, landing.leads, landing.revenue, landing.won) == (
        "Landing",
        3,
        Decimal("340.00"),
        1,
    )
    assert (landing.days_to_first_order, landing.revenue_12m) == (16, Decimal("300.00"))
    spring, summer = data.by_first_campaign
    assert (spring.label, spring.leads, spring.converted, spring.conversion) == ("primavera", 2, 1, 0.5)
    assert (spring.days_to_first_order, spring.revenue_12m) == (16, Decimal("300.00"))
    assert (summer.label, summer.leads, summer.revenue) == ("verano", 1, Decimal("0"))
    # The last touch: Web2 came back from "otoño".
    assert sorted((r.label, r.leads) for r in data.by_last_campaign) == [("otoño", 1), ("primavera", 2)]


def test_the_report_shows_it_and_the_csv_has_every_line(client, manager, owner, attributed):
    login(client, manager)
    page = client.get(reverse("pipeline:report")).content.decode()
    assert 'id="sources"' in page and "primavera" in page and "Landing" in page and "otoño" in page
    response = client.get(reverse("pipeline:report_sources_csv"))
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["Agrupado por", "Nombre", "Personas"]
    assert rows[0][5:7] == [
        "Mediana de días hasta el primer pedido",
        "Ingresos en sus primeros 12 meses (EUR)",
    ]
    assert [
        "Campaña, primer contacto",
        "primavera",
        "2",
        "1",
        "50.0",
        "16",
        "300.00",
        "340.00",
        "1",
        "1000.00",
    ] in rows
    assert ["Campaña, último contacto", "otoño", "1", "0", "0.0", "", "0.00", "0.00", "0", "0.00"] in rows
    # A sales rep sees no lead form answers (they are the managers'), only the sources.
    client.logout()
    login(client, owner)
    rows = list(
        csv.reader(
            io.StringIO(
                b"".join(client.get(reverse("pipeline:report_sources_csv")).streaming_content).decode()
            )
        )
    )
    assert {row[0] for row in rows[1:]} == {"Origen"}


def test_won_values_add_the_base_currency_only_and_the_page_says_what_was_left_out(
    client, manager, owner, attributed
):
    """Issue 15: a deal won in dollars is counted as won, but its value is not added to the euros; the
    report (es/en) says how many won opportunities in other currencies were left out, and how much."""
    someone = customer_create(actor=owner, fields={"first_name": "Dólar", "source": "web"})
    for value in ("2000", "500"):
        deal = services.opportunity_create(
            actor=owner, fields={"customer": someone, "title": "En dólares", "value": Decimal(value),
                                 "currency": "usd", "source": "web"},
        )  # fmt: skip
        services.opportunity_win(actor=owner, opportunity=deal)
    data = selectors.source_attribution(user=manager)
    web = next(r for r in data.by_source if r.label == "Web / entrante")
    assert (web.won, web.won_value) == (3, Decimal("1000.00"))  # not 3,500
    assert data.won_other_currencies == [{"currency": "USD", "count": 2, "value": Decimal("2500.00")}]
    pipeline = services.pipeline_defaults_ensure()
    report = selectors.bottleneck_report(user=manager, pipeline=pipeline)
    [by_web] = [g for g in report.by_source if g.key == "web"]
    assert (by_web.won, by_web.won_value) == (2, Decimal("0"))  # both in dollars
    assert report.won_other_currencies == data.won_other_currencies

    login(client, manager)
    spanish = client.get(reverse("pipeline:report"), headers={"Accept-Language": "es"}).content.decode()
    assert 'id="sources-other-currencies"' in spanish and 'id="won-other-currencies"' in spanish
    assert "Los valores ganados suman solo las oportunidades en EUR" in spanish
    assert "2 oportunidades ganadas en USD (2.500\u00a0$)" in spanish
    english = client.get(reverse("pipeline:report"), headers={"Accept-Language": "en"}).content.decode()
    assert "Won values add up opportunities in EUR only" in english
    assert "2 won opportunities in USD ($2,500)" in english
    rows = list(
        csv.reader(
            io.StringIO(
                b"".join(client.get(reverse("pipeline:report_sources_csv")).streaming_content).decode()
            )
        )
    )
    assert rows[0][7:] == ["Facturación (EUR)", "Oportunidades ganadas", "Valor ganado (EUR)"]
    assert ["Origen", "Web / entrante", "4", "1", "25.0", "16", "300.00", "340.00", "3", "1000.00"] in rows


def test_without_other_currencies_the_report_says_nothing_about_them(client, manager, attributed):
    login(client, manager)
    page = client.get(reverse("pipeline:report")).content.decode()
    assert "other-currencies" not in page


def test_open_values_add_the_base_currency_only_on_the_board_the_forecast_and_the_rotting(
    client, manager, owner, attributed
):
    """Issue 15: an open deal in dollars counts on the board and in the forecast, but its value is
    not added to the euros of the column, the weighted forecast or the rotting value; both pages say
    (es/en) what was left out."""
    from cartera.pipeline.models import Opportunity

    pipeline = services.pipeline_defaults_ensure()
    someone = customer_create(actor=owner, fields={"first_name": "Abierta", "source": "web"})
    close = dt.date.today() + dt.timedelta(days=20)
    made = {}
    for title, value, currency in (("En euros", "1000", "EUR"), ("En dólares", "9000", "USD")):
        made[currency] = services.opportunity_create(
            actor=owner, fields={"customer": someone, "title": title, "value": Decimal(value),
                                 "currency": currency, "expected_close_on": close, "pipeline": pipeline},
        )  # fmt: skip
    stage = made["EUR"].stage
    assert made["USD"].stage == stage
    stage.rotting_days = 1
    stage.save()
    Opportunity.objects.update(last_activity_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    [column] = [c for c in selectors.board(user=manager, pipeline=pipeline, filters=selectors.OpportunityFilters())
                if c.stage == stage]  # fmt: skip
    assert (column.count, column.value, column.rotting) == (2, Decimal("1000"), 2)
    assert column.weighted == Decimal(1000 * stage.probability) / 100
    report = selectors.bottleneck_report(user=manager, pipeline=pipeline)
    [figures] = [f for f in report.stages if f.stage == stage]
    assert (figures.open_now, figures.rotting, figures.rotting_value) == (2, 2, Decimal("1000"))
    [month] = [m for m in report.forecast if m["month"] is not None and m["month"].month == close.month]
    assert (month["count"], month["value"]) == (2, Decimal("1000"))
    assert report.open_other_currencies == [{"currency": "USD", "count": 1, "value": Decimal("9000.00")}]

    login(client, manager)
    for url in (reverse("pipeline:board"), reverse("pipeline:report")):
        spanish = client.get(url, headers={"Accept-Language": "es"}).content.decode()
        assert 'id="open-other-currencies"' in spanish
        assert "Los valores abiertos suman solo las oportunidades en EUR" in spanish
        assert "1 oportunidad abierta en USD (9.000\u00a0$)" in spanish
        english = client.get(url, headers={"Accept-Language": "en"}).content.decode()
        assert "Open values add up opportunities in EUR only" in english
        assert "1 open opportunity in USD ($9,000)" in english
