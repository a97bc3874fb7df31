"""Survey results by status, segment, persona and product category (small groups flagged, not hidden),
and the NPS next to the service-audit scores month by month, on one page and in its CSV export."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from cartera.segments.models import Persona, Segment
from cartera.surveys.models import Audit, AuditStatus
from cartera.surveys.selectors.breakdowns import breakdowns, nps_and_audits_by_month
from cartera.surveys.services.surveys import invitation_create, response_record


@pytest.fixture
def portfolio(manager, nps_survey):
    """Two customers who bought shoes (NPS 10 and 2), one who bought a bag (NPS 9)."""
    from cartera.customers.services import customer_create
    from cartera.sales.services import order_create

    people = []
    for name, category, score in (("Ana", "Calzado", 10), ("Bea", "Calzado", 2), ("Carla", "=Bolsos", 9)):
        customer = customer_create(actor=manager, fields={"first_name": name})
        order_create(
            actor=manager,
            customer=customer,
            fields={"ordered_on": dt.date.today(), "amount": Decimal("30"), "category": category},
        )
        response_record(
            invitation=invitation_create(actor=None, survey=nps_survey, customer=customer), score=score
        )
        people.append(customer)
    segment = Segment.objects.create(
        name="Calzado", owner=manager,
        definition={"match": "all", "groups": [{"match": "all", "rules": [
            {"field": "first_name", "op": "in", "value": ["Ana", "Bea"]}]}]},
    )  # fmt: skip
    persona = Persona.objects.create(name="Fieles", owner=manager)
    persona.members.add(people[0])
    Segment.objects.create(name="Roto", owner=manager, definition={"groups": "no"})
    return people, segment, persona


def test_each_breakdown_scores_its_group_and_flags_small_ones(manager, nps_survey, portfolio):
    groups = breakdowns(user=manager, survey=nps_survey)
    by_segment = {r["group"]: r for r in groups["segment"]}
    assert (
        by_segment["Calzado"]["n"] == 2 and by_segment["Calzado"]["score"].value == 0.0
    )  # 1 promoter, 1 detractor
    assert by_segment["Calzado"]["small"]  # 2 < 30 answers: flagged, still shown
    assert "Roto" not in by_segment  # a broken rule is left out here (its page says why)
    assert [(r["group"], r["n"], r["score"].value) for r in groups["persona"]] == [("Fieles", 1, 100.0)]
    by_category = {r["group"]: (r["n"], r["score"].value) for r in groups["category"]}
    assert by_category == {"Calzado": (2, 0.0), "=Bolsos": (1, 100.0)}
    assert sum(r["n"] for r in groups["status"]) == 3


def test_nps_and_audit_scores_share_the_month(manager, nps_survey, portfolio, audit):
    Audit.objects.filter(pk=audit.pk).update(
        status=AuditStatus.SUBMITTED, score=Decimal("80.0"), scheduled_on=timezone.localdate()
    )
    rows = nps_and_audits_by_month(user=manager)
    this_month = f"{timezone.now():%Y-%m}"
    row = next(r for r in rows if r["month"] == this_month)
    assert row["nps"].n == 3 and row["nps"].value == pytest.approx(33.3, abs=0.1)
    assert row["audits"]["mean"] == 80.0 and row["audits"]["n"] == 1
    assert row["audits"]["locations"] == [{"location": "Tienda Centro", "mean": 80.0, "n": 1}]


def test_nps_and_audit_scores_share_the_channel(manager, nps_survey, portfolio, audit):
    """The portfolio's three answers came by link (the website); a promoter at the shop counter and a
    detractor on the phone add a shop and a phone NPS; the audit was a shop visit."""
    from cartera.surveys.selectors.breakdowns import nps_and_audits_by_channel

    counter = invitation_create(actor=manager, survey=nps_survey, customer=None, channel="counter")
    response_record(invitation=counter, score=10)
    people, _segment, _persona = portfolio
    response_record(
        invitation=invitation_create(actor=None, survey=nps_survey, customer=people[1], channel="phone"),
        score=0,
    )
    Audit.objects.filter(pk=audit.pk).update(
        status=AuditStatus.SUBMITTED, score=Decimal("80.0"), scheduled_on=timezone.localdate()
    )
    rows = {r["channel"]: r for r in nps_and_audits_by_channel(user=manager)}
    assert list(rows) == ["shop", "phone", "email", "web"]
    assert (rows["shop"]["nps"].n, rows["shop"]["nps"].value, rows["shop"]["audit_mean"], rows["shop"]["audits"]) == (
        1, 100.0, 80.0, 1)  # fmt: skip
    assert (rows["phone"]["nps"].value, rows["phone"]["audit_mean"]) == (-100.0, None)
    assert rows["web"]["nps"].n == 3 and rows["email"]["nps"].n == 0


def test_the_page_and_its_csv(client, manager, owner, outsider, nps_survey, portfolio):
    client.force_login(manager)
    url = reverse("surveys:breakdowns", args=[nps_survey.pk])
    page = client.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    assert "Calzado" in body and "Fieles" in body and 'class="small-group"' in body
    assert 'id="nps-audits-channel"' in body and "Visita a tienda" in body
    export = client.get(url + "?format=csv")
    assert export["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(export.content.decode())))
    assert any(r[1:4] == ["Calzado", "2", "0.0"] for r in rows if len(r) > 3)
    assert any(r[1] == "'=Bolsos" for r in rows if len(r) > 1)  # a formula stays text
    assert ["Canal", "NPS", "Respuestas NPS", "Puntuación de auditoría", "Auditorías"] in rows
    client.force_login(owner)
    assert client.get(url).status_code == 200  # sales reps read results
    client.force_login(outsider)
    assert client.get(url).status_code in (403, 404)


def test_the_worker_stores_the_same_breakdowns_and_the_page_says_when(
    client, manager, owner, nps_survey, portfolio, settings
):
    """A survey with many answers: the worker counts the breakdowns (each segment as its owner defined
    it) and the page shows them with the time; the same rows as counted in the page."""
    from cartera.surveys.models import SurveyFigures
    from cartera.surveys.services.figures import figures_count

    inline = breakdowns(user=manager, survey=nps_survey)
    stored = figures_count(SurveyFigures.objects.create(survey=nps_survey))
    assert breakdowns(user=manager, survey=nps_survey, figures=stored) == inline
    from cartera.surveys.selectors.breakdowns import nps_and_audits_by_channel

    for portfolio_wide in (nps_and_audits_by_month, nps_and_audits_by_channel):
        assert portfolio_wide(user=manager, stored=[stored]) == portfolio_wide(user=manager)
    private = Segment.objects.create(name="De Olga", owner=owner, definition={"match": "all", "groups": []})
    stored = figures_count(stored)
    assert "De Olga" in [
        r["group"] for r in breakdowns(user=manager, survey=nps_survey, figures=stored)["segment"]
    ]
    Segment.objects.filter(pk=private.pk).update(name="Clientes de Olga")  # names are read at view time
    assert "Clientes de Olga" in [
        r["group"] for r in breakdowns(user=manager, survey=nps_survey, figures=stored)["segment"]
    ]
    settings.CARTERA_SURVEY_RESULTS_INLINE_MAX = 1
    client.force_login(manager)
    body = client.get(reverse("surveys:breakdowns", args=[nps_survey.pk])).content.decode()
    assert "estas cifras se contaron en segundo plano" in body and "Calzado" in body
