"""The segment evaluator: every operator of every field type, on SQLite and PostgreSQL, and the
allowlist that refuses anything else."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from cartera.customers.models import Customer
from cartera.insights.models import CustomerMetrics
from cartera.segments.rules import FIELDS, OPERATORS, definition_clean, on_metrics_alone
from cartera.segments.selectors import definition_count, definition_members

TODAY = dt.date(2026, 6, 15)


@pytest.fixture
def people(owner, colleague):
    from cartera.customers.services import customer_create, tags_get_or_create

    vip, feria = tags_get_or_create(names=["VIP", "Feria"])
    rows = {
        "ana": {"first_name": "Ana", "city": "Madrid", "region": "Madrid", "stage": "customer", "source": "web",
                    "birth_date": dt.date(1990, 6, 15), "income_range": "25k-40k", "opt_in_email": True},
        "bea": {"first_name": "Bea", "city": "Barcelona", "region": "Cataluña", "stage": "prospect", "source": "event",
                    "birth_date": dt.date(1970, 1, 1)},
        "carlos": {"first_name": "Carlos", "city": "", "region": "", "stage": "customer", "source": ""},
    }  # fmt: skip
    made = {}
    for key, fields in rows.items():
        actor = colleague if key == "carlos" else owner
        made[key] = customer_create(actor=actor, fields=fields)
    made["ana"].tags.set([vip, feria])
    made["bea"].tags.set([feria])
    now = timezone.now()
    CustomerMetrics.objects.create(
        customer=made["ana"], orders_count=5, revenue=Decimal("500"), lifecycle="active", rfm_segment="champions",
        abc_class="A", r_score=5, f_score=4, m_score=5, p_alive=0.9, clv_12m=Decimal("300"),
        last_order_on=TODAY - dt.timedelta(days=10), first_order_on=dt.date(2024, 1, 1), recency_days=10,
        declining=False, computed_at=now,
    )  # fmt: skip
    CustomerMetrics.objects.create(
        customer=made["bea"], orders_count=1, revenue=Decimal("40"), lifecycle="at_risk", rfm_segment="at_risk",
        abc_class="C", r_score=2, f_score=1, m_score=1, p_alive=0.2, clv_12m=Decimal("10"),
        last_order_on=TODAY - dt.timedelta(days=200), first_order_on=dt.date(2025, 11, 1), recency_days=200,
        declining=True, computed_at=now,
    )  # fmt: skip
    made["vip"], made["feria"] = vip, feria
    return made


def names(user, rule, match="all"):
    definition = {
        "match": "all",
        "groups": [{"match": match, "rules": rule if isinstance(rule, list) else [rule]}],
    }
    qs = definition_members(user=user, definition=definition, today=TODAY)
    return sorted(qs.values_list("first_name", flat=True))


CASES = [
    ({"field": "city", "op": "eq", "value": "madrid"}, ["Ana"]),
    ({"field": "city", "op": "neq", "value": "Madrid"}, ["Bea", "Carlos"]),
    ({"field": "city", "op": "contains", "value": "arcel"}, ["Bea"]),
    ({"field": "city", "op": "startswith", "value": "ma"}, ["Ana"]),
    ({"field": "city", "op": "in", "value": "Madrid, Barcelona"}, ["Ana", "Bea"]),
    ({"field": "city", "op": "empty"}, ["Carlos"]),
    ({"field": "city", "op": "not_empty"}, ["Ana", "Bea"]),
    ({"field": "stage", "op": "in", "value": ["customer"]}, ["Ana", "Carlos"]),
    ({"field": "stage", "op": "not_in", "value": ["customer"]}, ["Bea"]),
    ({"field": "source", "op": "empty"}, ["Carlos"]),
    ({"field": "source", "op": "not_empty"}, ["Ana", "Bea"]),
    ({"field": "lifecycle", "op": "in", "value": ["active", "at_risk"]}, ["Ana", "Bea"]),
    ({"field": "lifecycle", "op": "not_in", "value": ["active"]}, ["Bea", "Carlos"]),
    ({"field": "revenue", "op": "eq", "value": "500"}, ["Ana"]),
    ({"field": "revenue", "op": "neq", "value": "500"}, ["Bea", "Carlos"]),
    ({"field": "revenue", "op": "gt", "value": "40"}, ["Ana"]),
    ({"field": "revenue", "op": "gte", "value": "40"}, ["Ana", "Bea"]),
    ({"field": "p_alive", "op": "lt", "value": "0.5"}, ["Bea"]),
    ({"field": "clv_12m", "op": "lte", "value": "300"}, ["Ana", "Bea"]),
    ({"field": "orders_count", "op": "between", "value": ["2", "9"]}, ["Ana"]),
    ({"field": "clv_12m", "op": "empty"}, ["Carlos"]),
    ({"field": "clv_12m", "op": "not_empty"}, ["Ana", "Bea"]),
    ({"field": "age", "op": "gte", "value": "36"}, ["Ana", "Bea"]),  # Ana turns 36 today
    ({"field": "age", "op": "lte", "value": "35"}, []),
    ({"field": "age", "op": "between", "value": ["30", "40"]}, ["Ana"]),
    ({"field": "age", "op": "empty"}, ["Carlos"]),
    ({"field": "last_order_on", "op": "eq", "value": "2026-06-05"}, ["Ana"]),
    ({"field": "last_order_on", "op": "before", "value": "2026-01-01"}, ["Bea"]),
    ({"field": "last_order_on", "op": "after", "value": "2026-01-01"}, ["Ana"]),
    ({"field": "last_order_on", "op": "between", "value": ["2025-01-01", "2026-01-01"]}, ["Bea"]),
    ({"field": "last_order_on", "op": "last_days", "value": 30}, ["Ana"]),
    ({"field": "last_order_on", "op": "older_days", "value": 30}, ["Bea"]),
    ({"field": "last_order_on", "op": "empty"}, ["Carlos"]),
    ({"field": "last_order_on", "op": "not_empty"}, ["Ana", "Bea"]),
    ({"field": "declining", "op": "true"}, ["Bea"]),
    ({"field": "declining", "op": "false"}, ["Ana"]),
    ({"field": "opt_in_email", "op": "false"}, ["Bea", "Carlos"]),
]


@pytest.mark.parametrize(("rule", "expected"), CASES, ids=[f"{r['field']}-{r['op']}" for r, _ in CASES])
def test_operator(owner, people, rule, expected):
    assert names(owner, rule) == expected
    # The builder's count (on the metrics table alone when the definition allows it) agrees.
    definition = {"match": "all", "groups": [{"match": "all", "rules": [rule]}]}
    assert definition_count(user=owner, definition=definition, today=TODAY) == len(expected)


def test_counting_on_metrics_alone_only_when_a_customer_without_metrics_cannot_match(owner, people):
    def definition(*rules, match="all"):
        return definition_clean({"groups": [{"match": match, "rules": list(rules)}]})

    positive = {"field": "lifecycle", "op": "in", "value": ["active", "at_risk"]}
    assert on_metrics_alone(definition(positive, {"field": "revenue", "op": "gt", "value": "10"}))
    stage = {"field": "stage", "op": "in", "value": ["customer"]}
    # The stage is copied onto the metrics: with an analysis condition beside it, no join is needed...
    assert on_metrics_alone(definition(positive, stage))
    assert definition_count(user=owner, definition=definition(positive, stage), today=TODAY) == 1  # Ana
    # ... but alone, or as an alternative, it matches customers who have no metrics row (Carlos).
    assert not on_metrics_alone(definition(stage))
    assert not on_metrics_alone(definition(positive, stage, match="any"))
    assert definition_count(user=owner, definition=definition(positive, stage, match="any"), today=TODAY) == 3
    assert not on_metrics_alone(definition({"field": "lifecycle", "op": "not_in", "value": ["active"]}))
    assert not on_metrics_alone(definition({"field": "clv_12m", "op": "empty"}))
    assert not on_metrics_alone(definition())
    either = {
        "match": "any",
        "groups": [{"match": "any", "rules": [positive, {"field": "p_alive", "op": "lt", "value": "0.5"}]}],
    }
    assert definition_count(user=owner, definition=either, today=TODAY) == 2


def test_tags_owner_and_groups(owner, colleague, people):
    vip, feria = str(people["vip"].pk), str(people["feria"].pk)
    assert names(owner, {"field": "tags", "op": "any", "value": [vip, feria]}) == ["Ana", "Bea"]
    assert names(owner, {"field": "tags", "op": "all", "value": [vip, feria]}) == ["Ana"]
    assert names(owner, {"field": "tags", "op": "none", "value": [vip]}) == ["Bea", "Carlos"]
    assert names(owner, {"field": "owner", "op": "me"}) == ["Ana", "Bea"]
    assert names(colleague, {"field": "owner", "op": "me"}) == ["Carlos"]
    assert names(owner, {"field": "owner", "op": "in", "value": [str(colleague.pk)]}) == ["Carlos"]
    assert names(owner, {"field": "owner", "op": "not_in", "value": [str(colleague.pk)]}) == ["Ana", "Bea"]
    Customer.objects.filter(first_name="Carlos").update(owner=None)
    assert names(owner, {"field": "owner", "op": "empty"}) == ["Carlos"]
    either = [{"field": "city", "op": "eq", "value": "Madrid"}, {"field": "declining", "op": "true"}]
    assert names(owner, either, match="any") == ["Ana", "Bea"]
    assert names(owner, either, match="all") == []
    two_groups = {
        "match": "any",
        "groups": [
            {"match": "all", "rules": [{"field": "abc_class", "op": "in", "value": ["A"]}]},
            {"match": "all", "rules": [{"field": "stage", "op": "in", "value": ["prospect"]}]},
        ],
    }
    got = definition_members(user=owner, definition=two_groups, today=TODAY).values_list(
        "first_name", flat=True
    )
    assert sorted(got) == ["Ana", "Bea"]


def test_persona_field(owner, people):
    from cartera.segments.services import persona_create

    persona = persona_create(
        actor=owner,
        fields={
            "name": "Madrileños",
            "definition": {
                "groups": [{"match": "all", "rules": [{"field": "region", "op": "eq", "value": "Madrid"}]}]
            },
        },  # fmt: skip
    )
    persona.members.add(people["carlos"])
    assert names(owner, {"field": "persona", "op": "in", "value": [str(persona.pk)]}) == ["Ana", "Carlos"]
    assert names(owner, {"field": "persona", "op": "not_in", "value": [str(persona.pk)]}) == ["Bea"]


def test_every_field_type_has_cases():
    tested = {r["field"] for r, _ in CASES} | {"tags", "owner", "persona"}
    # "campaign" is the type of the field the campaigns app adds through segments.rules.register_field; its
    # cases are in tests/campaigns/test_campaign_segment_conditions.py.
    assert {FIELDS[f].type for f in tested} | {"campaign"} == set(OPERATORS)


@pytest.mark.parametrize(
    "bad",
    [
        {"groups": [{"rules": [{"field": "password", "op": "eq", "value": "x"}]}]},
        {"groups": [{"rules": [{"field": "city", "op": "regex", "value": ".*"}]}]},
        {"groups": [{"rules": [{"field": "metrics__revenue__gt", "op": "eq", "value": "1"}]}]},
        {"groups": [{"rules": [{"field": "revenue", "op": "gt", "value": "1; DROP TABLE x"}]}]},
        {"groups": [{"rules": [{"field": "lifecycle", "op": "in", "value": ["zombie"]}]}]},
        {"groups": [{"rules": [{"field": "last_order_on", "op": "before", "value": "ayer"}]}]},
        {"groups": [{"rules": [{"field": "revenue", "op": "between", "value": ["1"]}]}]},
        {"raw": "SELECT 1"},
        ["not", "a", "dict"],
    ],
)
def test_allowlist_refuses(bad):
    with pytest.raises(ValidationError):
        definition_clean(bad)


def test_members_are_scoped(outsider, people):
    assert names(outsider, {"field": "city", "op": "not_empty"}) == []
    on_metrics = {"groups": [{"match": "all", "rules": [{"field": "revenue", "op": "gt", "value": "1"}]}]}
    assert definition_count(user=outsider, definition=on_metrics, today=TODAY) == 0


def test_description_keeps_lists_apart_from_the_conditions(db):
    from cartera.segments.rules import describe

    definition = definition_clean(
        {
            "groups": [
                {
                    "match": "all",
                    "rules": [
                        {"field": "lifecycle", "op": "in", "value": ["at_risk", "inactive"]},
                        {"field": "revenue", "op": "gt", "value": "100"},
                    ],
                }
            ]
        }
    )
    from django.utils import translation

    with translation.override("en"):
        assert describe(definition) == "status is one of (At risk, Inactive) and revenue > 100"


def test_the_stage_copy_on_the_metrics_follows_every_change(owner, people):
    from cartera.customers.services import customer_update

    ana, bea = people["ana"], people["bea"]
    assert CustomerMetrics.objects.get(customer=ana).stage == "customer"
    customer_update(actor=owner, customer=ana, fields={"stage": "former"})
    Customer.objects.filter(pk=bea.pk).update(stage="customer")  # a bulk update, no model code runs
    copies = dict(CustomerMetrics.objects.values_list("customer_id", "stage"))
    assert copies == {ana.pk: "former", bea.pk: "customer"}
    at_risk_customers = {
        "groups": [
            {
                "match": "all",
                "rules": [
                    {"field": "stage", "op": "in", "value": ["customer"]},
                    {"field": "lifecycle", "op": "in", "value": ["at_risk"]},
                ],
            }
        ]
    }
    assert definition_count(user=owner, definition=at_risk_customers, today=TODAY) == 1  # Bea, now


def test_description_names_users_tags_and_personas(owner, colleague, people):
    from django.utils import translation

    from cartera.segments.rules import describe
    from cartera.segments.services import persona_create

    persona = persona_create(actor=owner, fields={"name": "Madrileños"})
    definition = definition_clean({"groups": [{"match": "all", "rules": [
        {"field": "owner", "op": "in", "value": [str(colleague.pk)]},
        {"field": "tags", "op": "any", "value": [str(people["vip"].pk), "987654"]},
        {"field": "persona", "op": "not_in", "value": [str(persona.pk)]},
    ]}]})  # fmt: skip
    with translation.override("en"):
        text = describe(definition)
    assert "owner is one of Carlos Colleague" in text
    assert "tags has any of (VIP, 987654)" in text  # a deleted tag keeps its id
    assert "persona is none of Madrileños" in text
