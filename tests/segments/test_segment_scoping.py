"""Segments, personas and persona suggestions are read through the scoping helper: everyone with a
role sees them, only their author (or a manager, an admin) changes or deletes them, an outsider
reaches nothing. Every route of the app is walked, found from the URL resolver."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, get_resolver, reverse

from cartera.activity.models import Task
from cartera.customers.models import Customer
from cartera.segments.models import Persona, PersonaSuggestionRun, Segment, SegmentMember
from cartera.segments.services import persona_create, segment_create

DEFINITION = {"groups": [{"match": "all", "rules": [{"field": "first_name", "op": "not_empty"}]}]}


@pytest.fixture
def world(owner, customer):
    segment = segment_create(actor=owner, fields={"name": "Todos", "definition": DEFINITION})
    persona = persona_create(actor=owner, fields={"name": "Lucías", "definition": DEFINITION})
    run = PersonaSuggestionRun.objects.create(
        created_by=owner, k=3, silhouette=0.4, suggestions=[{"name": "Uno", "label": 0, "size": 1}]
    )
    return {"segment": segment, "persona": persona, "run": run, "customer": customer}


def _state():
    """Everything a segment route could change."""
    return (
        list(Segment.objects.values_list("pk", "name", "definition", "kind", "owner_id").order_by("pk")),
        list(Persona.objects.values_list("pk", "name", "definition", "owner_id").order_by("pk")),
        SegmentMember.objects.count(),
        Persona.members.through.objects.count(),
        PersonaSuggestionRun.objects.count(),
        list(Customer.objects.values_list("pk", "owner_id", "updated_at").order_by("pk")),
        Customer.tags.through.objects.count(),
        Task.objects.count(),
    )


def _args(pattern: URLPattern, world) -> list[int]:
    ids = {
        "pk": None,
        "run": world["run"].pk,
        "index": 0,
        "customer_pk": world["customer"].pk,
    }
    args = []
    for name in pattern.pattern.converters:
        if name == "pk":
            ids["pk"] = world["persona"].pk if "persona" in (pattern.name or "") else world["segment"].pk
        args.append(ids[name])
    return args


def _routes(world):
    _prefix, resolver = get_resolver().namespace_dict["segments"]
    for pattern in resolver.url_patterns:
        yield pattern.name, reverse(f"segments:{pattern.name}", args=_args(pattern, world))


def test_the_outsider_reaches_no_segment_route_and_changes_nothing(client, outsider, world):
    client.force_login(outsider)
    before = _state()
    seen = set()
    for name, url in _routes(world):
        seen.add(name)
        for method in ("get", "post"):
            answer = getattr(client, method)(url, {"name": "x", "action": "save", "rule": ""})
            assert answer.status_code in (403, 404, 405), (name, method, answer.status_code)
    assert _state() == before
    assert {"detail", "edit", "delete", "persona_detail", "persona_delete", "persona_adopt"} <= seen
    # The API too.
    for url in (f"/api/segments/{world['segment'].pk}/count", f"/api/segments/{world['segment'].pk}/members"):
        assert client.get(url).status_code == 404
    assert client.get("/api/segments").json() == []
    made = client.post("/api/segments", {"name": "x", "definition": {}}, content_type="application/json")
    assert made.status_code == 403
    assert _state() == before


def test_a_colleague_sees_but_does_not_change(client, colleague, world):
    client.force_login(colleague)
    segment, persona = world["segment"], world["persona"]
    assert client.get(reverse("segments:detail", args=[segment.pk])).status_code == 200
    assert client.get(reverse("segments:persona_detail", args=[persona.pk])).status_code == 200
    assert client.get(reverse("segments:persona_suggest")).context["run"] == world["run"]
    before = _state()
    for name, obj in [("edit", segment), ("freeze", segment), ("delete", segment),
                      ("persona_edit", persona), ("persona_delete", persona)]:  # fmt: skip
        answer = client.post(reverse(f"segments:{name}", args=[obj.pk]), {"name": "x", "action": "save"})
        assert answer.status_code == 403, name
    assert client.get(reverse("segments:edit", args=[segment.pk])).status_code == 403
    assert client.get(reverse("segments:persona_edit", args=[persona.pk])).status_code == 403
    assert _state() == before
    assert [s["id"] for s in client.get("/api/segments").json()] == [segment.pk]


def test_a_manager_changes_anyones(client, manager, world):
    client.force_login(manager)
    segment = world["segment"]
    page = client.get(reverse("segments:detail", args=[segment.pk]))
    assert page.context["can_edit"]
    assert client.post(reverse("segments:freeze", args=[segment.pk])).status_code == 302
    segment.refresh_from_db()
    assert segment.is_static and segment.members.count() == 1
    assert client.post(reverse("segments:delete", args=[segment.pk])).status_code == 302
    assert not Segment.objects.filter(pk=segment.pk).exists()
