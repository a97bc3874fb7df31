"""The segment and persona lists cost a fixed number of queries (per persona for its report)."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cartera.segments.services import persona_create, segment_create

RULE = {"groups": [{"match": "all", "rules": [{"field": "region", "op": "eq", "value": "Madrid"}]}]}


def queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_the_segment_list_does_not_grow_with_the_segments(client, owner, colleague, customer):
    client.force_login(owner)
    segment_create(actor=owner, fields={"name": "S0", "definition": RULE})
    one = queries(client, reverse("segments:list"))
    for i in range(1, 20):
        segment_create(actor=colleague if i % 2 else owner, fields={"name": f"S{i}", "definition": RULE})
    assert queries(client, reverse("segments:list")) == one


def test_the_persona_list_costs_three_queries_per_persona(client, owner, customer):
    client.force_login(owner)
    persona_create(actor=owner, fields={"name": "P0", "definition": RULE})
    one = queries(client, reverse("segments:persona_list"))
    for i in range(1, 5):
        persona_create(actor=owner, fields={"name": f"P{i}", "definition": RULE if i % 2 else {}})
    # The persona's rule (one query), its totals (one) and its share at risk (one).
    assert queries(client, reverse("segments:persona_list")) <= one + 4 * 3
