"""Rule values are checked against their type and the column's range when saved (builder, API, persona
form, services), and a rule stored broken (by an older version) shows a message instead of a 500."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from cartera.segments.models import Persona, Segment
from cartera.segments.rules import definition_clean
from cartera.segments.selectors import definition_count


@pytest.fixture(autouse=True)
def _english():
    """Messages are compared in English (the pages ask for it too, below)."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def client():
    from django.test import Client

    return Client(headers={"Accept-Language": "en"})


BEYOND_64_BITS = "99999999999999999999999"
LARGEST_ID = str(2**63 - 1)

# (field, op, value, words the message must hold)
BAD = [
    ("owner", "in", ["abc"], "owner"),
    ("owner", "not_in", [BEYOND_64_BITS], "owner"),
    ("owner", "in", ["-3"], "owner"),
    ("tags", "any", ["1; DROP TABLE x"], "tags"),
    ("tags", "all", [BEYOND_64_BITS], "tags"),
    ("persona", "in", ["Madrid"], "persona"),
    ("persona", "not_in", [BEYOND_64_BITS], "persona"),
    ("age", "gte", "5000", "age"),
    ("age", "lte", "-1", "age"),
    ("age", "between", ["30", "5000"], "age"),
    ("age", "gte", "36.5", "age"),
    ("orders_count", "gt", "1e30", "orders"),
    ("recency_days", "lt", BEYOND_64_BITS, "days since last purchase"),
    ("r_score", "gte", "70000", "R score"),
    ("revenue", "gt", "1e20", "revenue"),
    ("clv_12m", "between", ["0", "1e15"], "CLV"),
    ("p_alive", "gt", "5", "probability still active"),
    ("city", "eq", "Mad\x00rid", "city"),
    ("city", "contains", "\ud800", "city"),
    ("last_order_on", "last_days", "1e9", "last purchase"),
]
IDS = [f"{f}-{op}-{str(v)[:12]}" for f, op, v, _w in BAD]


def definition(field, op, value):
    return {
        "match": "all",
        "groups": [{"match": "all", "rules": [{"field": field, "op": op, "value": value}]}],
    }


@pytest.mark.parametrize(("field", "op", "value", "words"), BAD, ids=IDS)
def test_a_bad_value_is_refused_with_a_message_naming_the_condition(db, field, op, value, words):
    with pytest.raises(ValidationError) as caught:
        definition_clean(definition(field, op, value))
    assert words.lower() in " ".join(caught.value.messages).lower()


def test_the_message_is_translated(db):
    from django.utils import translation

    with translation.override("es"), pytest.raises(ValidationError) as caught:
        definition_clean(definition("age", "gte", "5000"))
    text = " ".join(caught.value.messages)
    assert text == "Edad: «5000» no es una edad en años (de 0 a 150)."


EXTREMES = [
    ("owner", "in", [LARGEST_ID]),
    ("tags", "all", [LARGEST_ID, "1"]),
    ("persona", "in", [LARGEST_ID]),
    ("age", "between", ["0", "150"]),
    ("orders_count", "gt", "2147483647"),
    ("recency_days", "lt", "-2147483648"),
    ("revenue", "lt", "999999999999.99"),
    ("clv_12m", "gt", "-999999999999.99"),
    ("r_score", "lte", "32767"),
    ("p_alive", "between", ["0", "1"]),
    ("birth_date", "between", ["0001-01-01", "9999-12-31"]),
    ("last_order_on", "older_days", "100000"),
    ("city", "contains", "ñandú 北京 🙂"),
]


@pytest.mark.parametrize(("field", "op", "value"), EXTREMES, ids=[f"{f}-{o}" for f, o, _v in EXTREMES])
def test_the_extremes_of_every_range_are_counted(owner, customer, field, op, value):
    """The largest values accepted reach the database without an error (SQLite and PostgreSQL)."""
    assert definition_count(user=owner, definition=definition(field, op, value)) >= 0


def _segment_post(field, op, value, name):
    values = value if isinstance(value, list) else [value]
    data = {"groups": "1", "match": "all", "g0-match": "all", "g0-rules": "1",
            "g0-r0-field": field, "g0-r0-op": op, "action": "save", "name": name}  # fmt: skip
    if op == "between":
        data["g0-r0-value"], data["g0-r0-value2"] = values[0], values[1]
    else:
        data["g0-r0-value"] = values
    return data


# A browser's form cannot send a NUL or a lone surrogate (Django decodes the body with "replace").
WEB_BAD = [b for b in BAD if "\x00" not in str(b[2]) and "\ud800" not in str(b[2])]
WEB_IDS = [i for i, b in zip(IDS, BAD, strict=True) if b in WEB_BAD]


@pytest.mark.parametrize(("field", "op", "value", "words"), WEB_BAD, ids=WEB_IDS)
def test_the_builder_refuses_a_bad_value(client, owner, field, op, value, words):
    client.force_login(owner)
    answer = client.post(reverse("segments:new"), _segment_post(field, op, value, "Malo"))
    assert answer.status_code == 200
    assert not Segment.objects.exists()
    assert words.lower() in answer.context["save_error"].lower()


@pytest.mark.parametrize(("field", "op", "value", "words"), BAD, ids=IDS)
def test_the_api_refuses_a_bad_value(client, owner, field, op, value, words):
    client.force_login(owner)
    payload = {"name": "Malo", "definition": definition(field, op, value)}
    body = json.dumps(payload)  # "\ud800" goes out as the escape a hostile client would send
    answer = client.post("/api/segments", body, content_type="application/json")
    assert answer.status_code == 422, answer.content
    assert words.lower() in json.dumps(answer.json(), ensure_ascii=False).lower()
    assert not Segment.objects.exists()
    counted = client.get("/api/segments/count", {"definition": json.dumps(definition(field, op, value))})
    assert counted.status_code == 422


@pytest.mark.parametrize(("field", "op", "value", "words"), WEB_BAD, ids=WEB_IDS)
def test_the_persona_form_refuses_a_bad_rule(client, owner, field, op, value, words):
    client.force_login(owner)
    answer = client.post(reverse("segments:persona_new"), _segment_post(field, op, value, "Mala"))
    assert answer.status_code == 200
    assert not Persona.objects.exists()
    assert words.lower() in " ".join(answer.context["form"].non_field_errors()).lower()


def test_the_services_refuse_a_bad_rule(owner):
    from cartera.segments import services

    with pytest.raises(ValidationError):
        services.persona_create(
            actor=owner, fields={"name": "P", "definition": definition("age", "gte", "5000")}
        )
    with pytest.raises(ValidationError):
        services.segment_create(
            actor=owner, fields={"name": "S", "definition": definition("owner", "in", ["x"])}
        )
    persona = services.persona_create(actor=owner, fields={"name": "P"})
    with pytest.raises(ValidationError):
        services.persona_update(
            actor=owner, persona=persona, fields={"definition": definition("tags", "any", ["x"])}
        )
    persona.refresh_from_db()
    assert persona.definition == {}


# --------------------------------------------------------------------------------------------------
# A rule stored broken (written by an older version, or by hand in the database)

BROKEN = [
    definition("owner", "in", ["abc"]),
    definition("persona", "in", [BEYOND_64_BITS]),
    definition("age", "gte", "5000"),
    definition("nonexistent", "eq", "x"),
    {"groups": "not a list"},
    ["not", "an", "object"],
]


@pytest.mark.parametrize("broken", BROKEN, ids=range(len(BROKEN)))
def test_a_broken_persona_rule_shows_a_message(client, owner, colleague, customer, broken):
    good = Persona.objects.create(name="Buena", owner=owner)
    good.members.add(customer)
    bad = Persona.objects.create(name="Rota", owner=owner, definition=broken)
    client.force_login(colleague)  # everyone's list, not only the author's
    listing = client.get(reverse("segments:persona_list"))
    assert listing.status_code == 200
    rows = {p.name: (report, problem) for p, report, problem in listing.context["rows"]}
    assert rows["Buena"][0].customers == 1 and not rows["Buena"][1]
    assert rows["Rota"][0] is None and rows["Rota"][1]
    assert "cannot be used" in listing.content.decode()
    detail = client.get(reverse("segments:persona_detail", args=[bad.pk]))
    assert detail.status_code == 200 and detail.context["problem"]
    client.force_login(owner)
    edit = client.get(reverse("segments:persona_edit", args=[bad.pk]))
    assert edit.status_code == 200
    # A segment naming the broken persona says so too; the others still count.
    segment = Segment.objects.create(
        name="Con rota", owner=owner, definition=definition("persona", "in", [str(bad.pk)])
    )
    page = client.get(reverse("segments:detail", args=[segment.pk]))
    assert page.status_code == 200 and page.context["problem"]
    assert "Rota" in page.context["problem"]


@pytest.mark.parametrize("broken", BROKEN, ids=range(len(BROKEN)))
def test_a_broken_segment_shows_a_message(client, owner, customer, broken):
    bad = Segment.objects.create(name="Roto", owner=owner, definition=broken)
    good = Segment.objects.create(name="Bueno", owner=owner, definition={})
    client.force_login(owner)
    assert client.get(reverse("segments:list")).status_code == 200
    page = client.get(reverse("segments:detail", args=[bad.pk]))
    assert page.status_code == 200
    assert page.context["problem"] and page.context["totals"] is None
    assert "cannot be used" in page.content.decode()
    assert client.get(reverse("segments:edit", args=[bad.pk])).status_code == 200
    assert client.get(reverse("segments:detail", args=[good.pk])).context["totals"].customers == 1
    counted = client.get(f"/api/segments/{bad.pk}/count")
    assert counted.status_code == 422 and counted.json()["detail"]
    assert client.get(f"/api/segments/{bad.pk}/members").status_code == 422
    assert client.get(f"/api/segments/{good.pk}/count").json()["count"] == 1
    # Frozen, the broken conditions still say so, and the frozen members are listed.
    Segment.objects.filter(pk=bad.pk).update(kind=Segment.Kind.STATIC)
    frozen = client.get(reverse("segments:detail", args=[bad.pk]))
    assert frozen.status_code == 200 and frozen.context["problem"]
