"""Segment, Pareto, RFM and persona pages through the test client on the CDNOW data."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from cartera.activity.models import Task
from cartera.customers.models import Customer
from cartera.segments.models import Persona, Segment


@pytest.fixture
def portfolio(cdnow_loader, cdnow_end):
    """The first 1,500 CDNOW orders (about 900 customers), analysed."""
    from cartera.insights.services import insights_refresh

    cdnow_loader(max_rows=1500)
    insights_refresh(as_of=cdnow_end)
    return sorted(Customer.objects.values_list("id", flat=True))


BUILDER = {
    "groups": "1", "match": "all", "g0-match": "all", "g0-rules": "2",
    "g0-r0-field": "lifecycle", "g0-r0-op": "in", "g0-r0-value": ["inactive", "lost"],
    "g0-r1-field": "region", "g0-r1-op": "eq", "g0-r1-value": "Madrid",
}  # fmt: skip


def test_build_count_save_and_bulk(client, owner, manager, portfolio):
    client.force_login(owner)
    count = client.post(reverse("segments:count"), BUILDER)
    assert count.status_code == 200
    n = int(count.content.decode().split("segcount")[1].split(">")[1].split()[0])
    assert n > 0
    added = client.post(
        reverse("segments:new"), {**BUILDER, "action": "add_rule:0"}, headers={"HX-Request": "true"}
    )
    assert added.content.decode().count('class="rule"') == 3
    saved = client.post(reverse("segments:new"), {**BUILDER, "action": "save", "name": "Perdidos de Madrid"})
    segment = Segment.objects.get(name="Perdidos de Madrid")
    assert saved.status_code == 302
    page = client.get(reverse("segments:detail", args=[segment.pk]))
    assert page.context["totals"].customers == n
    client.post(reverse("segments:bulk", args=[segment.pk]), {"action": "add_tag", "tag": "Recuperar"})
    from cartera.customers.models import Customer

    assert Customer.objects.filter(tags__name="Recuperar").count() == n
    denied = client.post(
        reverse("segments:bulk", args=[segment.pk]), {"action": "assign_owner", "owner": manager.pk}
    )
    assert denied.status_code == 403 and not Customer.objects.filter(owner=manager).exists()
    client.post(
        reverse("segments:bulk", args=[segment.pk]),
        {"action": "create_task", "title": "Llamar", "due_at": "2026-12-01T10:00"},
    )
    assert Task.objects.filter(title="Llamar").count() == n
    client.force_login(manager)
    client.post(reverse("segments:bulk", args=[segment.pk]), {"action": "assign_owner", "owner": manager.pk})
    assert Customer.objects.filter(owner=manager).count() == n
    client.post(reverse("segments:freeze", args=[segment.pk]))
    segment.refresh_from_db()
    assert segment.is_static and segment.members.count() == n


def test_pareto_rfm_and_personas(client, owner, portfolio):
    client.force_login(owner)
    pareto = client.get(reverse("segments:pareto"))
    assert pareto.status_code == 200 and 0.2 < pareto.context["top20"] <= 1
    rfm = client.get(reverse("segments:rfm"))
    grid = rfm.context["grid"]
    assert sum(r["customers"] for r in grid) == len(portfolio)
    client.post(reverse("segments:persona_suggest"))
    run = client.get(reverse("segments:persona_suggest")).context["run"]
    assert 3 <= run.k <= 5 and len(run.suggestions) == run.k
    assert "€" in run.suggestions[0]["description"]
    client.post(reverse("segments:persona_adopt", args=[run.pk, 0]), {"name": "Grupo uno"})
    persona = Persona.objects.get(name="Grupo uno")
    report = client.get(reverse("segments:persona_detail", args=[persona.pk])).context["report"]
    assert report.customers == run.suggestions[0]["size"]


def test_api_create_count_and_evaluate(client, owner, portfolio):
    client.force_login(owner)
    definition = {"match": "all", "groups": [{"match": "all", "rules": [
        {"field": "abc_class", "op": "in", "value": ["A"]}]}]}  # fmt: skip
    count = client.get("/api/segments/count", {"definition": json.dumps(definition)})
    assert count.status_code == 200
    made = client.post(
        "/api/segments", {"name": "A", "definition": definition}, content_type="application/json"
    )
    assert made.status_code == 201
    pk = made.json()["id"]
    assert client.get(f"/api/segments/{pk}/count").json()["count"] == count.json()["count"]
    members = client.get(f"/api/segments/{pk}/members?limit=10").json()
    assert len(members["items"]) == 10
    bad = client.get(
        "/api/segments/count",
        {"definition": json.dumps({"groups": [{"rules": [{"field": "x", "op": "eq", "value": 1}]}]})},
    )
    assert bad.status_code == 422
    assert [s["id"] for s in client.get("/api/segments").json()] == [pk]


def test_outsider_gets_nothing(client, outsider, portfolio):
    client.force_login(outsider)
    for name in ("segments:list", "segments:new", "segments:pareto", "segments:rfm", "segments:persona_list"):
        assert client.get(reverse(name)).status_code in (403, 404)
    assert client.post(reverse("segments:count"), BUILDER).status_code in (403, 404)
