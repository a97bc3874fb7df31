"""Survey answers as segment conditions (registered by surveys through segments.rules.register_field):
last NPS / CSAT score, last answer date, NPS category and lapse reason — checked like every other
condition, compiled against each customer's latest answer, usable from the segment builder and the API,
and a broken stored rule shows a message."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from cartera.customers.models import Customer
from cartera.segments.models import Segment
from cartera.segments.rules import all_fields, definition_clean, describe, to_q
from cartera.surveys.services.surveys import invitation_create, response_record, survey_create


def rule(field, op, value=None):
    return {
        "match": "all",
        "groups": [{"match": "all", "rules": [{"field": field, "op": op, "value": value}]}],
    }


@pytest.fixture
def answered(manager):
    """Five customers: NPS 3 then 9 (latest promoter), NPS 7, CSAT 2, a lapse reason, and no answer."""
    from cartera.customers.services import customer_create

    nps = survey_create(actor=manager, fields={"name": "NPS", "kind": "nps"})
    csat = survey_create(actor=manager, fields={"name": "CSAT", "kind": "csat"})
    lapse = survey_create(actor=manager, fields={"name": "Baja", "kind": "lapse"})
    people = {
        name: customer_create(actor=manager, fields={"first_name": name})
        for name in ("Prom", "Pasivo", "Insat", "Perdido", "Nadie")
    }
    now = timezone.now()

    def answer(survey, who, days_ago, **given):
        invitation = invitation_create(actor=None, survey=survey, customer=people[who])
        response_record(invitation=invitation, now=now - dt.timedelta(days=days_ago), **given)

    answer(nps, "Prom", 40, score=3)
    answer(nps, "Prom", 2, score=9)
    answer(nps, "Pasivo", 10, score=7)
    answer(csat, "Insat", 5, score=2)
    answer(lapse, "Perdido", 100, score=None, reason="price")
    return people


def names(definition):
    clean = definition_clean(definition)
    return sorted(Customer.objects.filter(to_q(clean)).values_list("first_name", flat=True))


def test_survey_conditions_are_offered_with_the_others(db):
    fields = all_fields()
    for name in ("survey_last_nps", "survey_last_csat", "survey_last_answer", "survey_nps_category",
                 "survey_lapse_reason"):  # fmt: skip
        assert name in fields


def test_conditions_read_each_customers_latest_answer(answered):
    assert names(rule("survey_last_nps", "gte", "9")) == ["Prom"]  # the 3 before it no longer counts
    assert names(rule("survey_last_nps", "between", ["0", "8"])) == ["Pasivo"]
    assert names(rule("survey_last_nps", "empty")) == ["Insat", "Nadie", "Perdido"]
    assert names(rule("survey_last_csat", "lte", "2")) == ["Insat"]
    assert names(rule("survey_nps_category", "in", ["promoter"])) == ["Prom"]
    assert names(rule("survey_nps_category", "in", ["detractor", "passive"])) == ["Pasivo"]
    assert names(rule("survey_nps_category", "not_in", ["promoter"])) == ["Pasivo"]
    assert names(rule("survey_lapse_reason", "in", ["price", "service"])) == ["Perdido"]
    assert names(rule("survey_last_answer", "last_days", "7")) == ["Insat", "Prom"]
    assert names(rule("survey_last_answer", "older_days", "30")) == ["Perdido"]
    assert names(rule("survey_last_answer", "empty")) == ["Nadie"]
    combined = {
        "match": "any",
        "groups": [
            {"match": "all", "rules": [{"field": "survey_nps_category", "op": "in", "value": ["passive"]}]},
            {"match": "all", "rules": [{"field": "survey_last_csat", "op": "lt", "value": "3"}]},
        ],
    }
    assert names(combined) == ["Insat", "Pasivo"]


@pytest.mark.parametrize(
    ("definition", "words"),
    [
        (rule("survey_last_nps", "gt", "11"), "no está entre 0 y 10"),
        (rule("survey_last_csat", "eq", "0"), "no está entre 1 y 5"),
        (rule("survey_last_nps", "gt", "mucho"), "no es un número"),
        (rule("survey_nps_category", "in", ["enfadado"]), "enfadado"),
        (rule("survey_lapse_reason", "in", ["aburrimiento"]), "aburrimiento"),
        (rule("survey_last_answer", "after", "2026-02-30"), "no es una fecha"),
        (rule("survey_last_answer", "contains", "x"), "no se puede usar"),
    ],
)
def test_bad_values_are_refused_with_a_clear_message(definition, words, settings):
    from django.utils import translation

    with translation.override("es"), pytest.raises(ValidationError) as exc:
        definition_clean(definition)
    assert words in " ".join(exc.value.messages)


def test_the_segment_builder_and_the_api_use_them(client, manager, answered):
    client.force_login(manager)
    definition = rule("survey_nps_category", "in", ["promoter"])
    counted = client.get("/api/segments/count", {"definition": json.dumps(definition)})
    assert counted.status_code == 200 and counted.json()["count"] == 1
    refused = client.get(
        "/api/segments/count", {"definition": json.dumps(rule("survey_last_nps", "gt", "99"))}
    )
    assert refused.status_code == 422 and "10" in refused.json()["detail"][0]["msg"]
    segment = Segment.objects.create(name="Promotores", owner=manager, definition=definition)
    members = client.get(f"/api/segments/{segment.pk}/members").json()
    assert [m["first_name"] for m in members["items"]] == ["Prom"]
    page = client.get(reverse("segments:detail", args=[segment.pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200 and page.context["totals"].customers == 1
    assert "NPS category" in describe(definition_clean(definition))
    # The builder lists the survey conditions with their choices.
    assert "survey_lapse_reason" in client.get(reverse("segments:new")).content.decode()


def test_a_broken_stored_survey_rule_shows_a_message(client, manager, answered):
    bad = Segment.objects.create(name="Roto", owner=manager, definition=rule("survey_last_nps", "gte", "42"))
    client.force_login(manager)
    page = client.get(reverse("segments:detail", args=[bad.pk]))
    assert page.status_code == 200 and page.context["problem"]
    assert client.get(f"/api/segments/{bad.pk}/count").status_code == 422


def test_the_standing_gives_the_nps_category(client, manager, answered):
    client.force_login(manager)
    standing = client.get(f"/api/surveys/customers/{answered['Prom'].pk}/standing").json()
    assert standing["nps_category"] == "promoter" and standing["last_score"] == 9
    assert (
        client.get(f"/api/surveys/customers/{answered['Nadie'].pk}/standing").json()["nps_category"] is None
    )
