"""Call lists through the REST API: each rep's calls for today in the calls page's order, the lists a
manager builds from a segment and assigns, and the one-tap outcome (with the next call scheduled), all
under the same rules as the web pages (issue 15: "API endpoints for ... call lists")."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from cartera.activity.models import Interaction, Task
from cartera.customers.services import customer_create
from cartera.pipeline import selectors
from cartera.pipeline.models import CallList, CallListEntry
from cartera.segments.services import segment_create

pytestmark = pytest.mark.django_db

PROSPECTS = {"groups": [{"match": "all", "rules": [{"field": "stage", "op": "in", "value": ["prospect"]}]}]}


@pytest.fixture
def team_lists(manager, owner, colleague):
    """Three prospects of the owner and one of the colleague, and the lists a manager built for each
    owner from the prospects' segment (through the API, as a program would)."""
    mine = [
        customer_create(actor=owner, fields={"first_name": name, "phone": f"61200000{i}"})
        for i, name in enumerate(["Ana", "Berta", "Carmen"])
    ]
    theirs = customer_create(actor=colleague, fields={"first_name": "Dora", "phone": "612000009"})
    segment = segment_create(actor=manager, fields={"name": "Potenciales", "definition": PROSPECTS})
    return {"mine": mine, "theirs": theirs, "segment": segment}


def build(api, on, **extra):
    body = {"segment": on.pk, "name": "Campaña otoño", "for_date": timezone.localdate().isoformat()}
    return api.post("/api/call-lists", {**body, **extra})


def test_a_manager_builds_one_list_per_owner_from_a_segment(manager_api, owner, colleague, team_lists):
    response = build(manager_api, team_lists["segment"])
    assert response.status_code == 201
    made = {row["assignee"]: row for row in response.json()}
    assert set(made) == {owner.pk, colleague.pk}
    assert (made[owner.pk]["total"], made[owner.pk]["done"]) == (3, 0)
    assert made[colleague.pk]["name"] == "Campaña otoño"
    assert CallList.objects.count() == 2


def test_a_manager_gives_the_whole_segment_to_one_person(manager_api, owner, team_lists):
    response = build(manager_api, team_lists["segment"], assignee=owner.pk)
    assert response.status_code == 201
    [made] = response.json()
    assert (made["assignee"], made["total"]) == (owner.pk, 4)


def test_a_rep_reads_their_own_list_with_its_people(manager_api, owner_api, team_lists, owner):
    build(manager_api, team_lists["segment"])
    listing = owner_api.get("/api/call-lists").json()
    assert [row["assignee"] for row in listing["items"]] == [owner.pk]
    detail = owner_api.get(f"/api/call-lists/{listing['items'][0]['id']}")
    assert detail.status_code == 200
    entries = detail.json()["entries"]
    assert [e["customer_name"] for e in entries] == ["Ana", "Berta", "Carmen"]
    assert entries[0]["phone"] == "+34612000000"
    assert entries[0]["reason"] == "assigned" and entries[0]["detail"] == "Campaña otoño"
    assert entries[0]["outcome"] == "" and entries[0]["next_call_at"] is None


def test_a_rep_cannot_see_or_log_on_a_colleagues_list(manager_api, owner_api, colleague, team_lists):
    build(manager_api, team_lists["segment"])
    theirs = CallList.objects.get(assignee=colleague)
    entry = theirs.entries.get()
    assert owner_api.get(f"/api/call-lists/{theirs.pk}").status_code == 404
    response = owner_api.post(
        f"/api/call-lists/{theirs.pk}/entries/{entry.pk}/outcome", {"outcome": "reached"}
    )
    assert response.status_code == 404
    assert not Interaction.objects.exists()
    entry.refresh_from_db()
    assert entry.outcome == ""


def test_managers_read_every_list_but_only_its_person_logs_its_calls(manager_api, owner, team_lists):
    build(manager_api, team_lists["segment"])
    assert len(manager_api.get("/api/call-lists").json()["items"]) == 2
    mine = CallList.objects.get(assignee=owner)
    entry = mine.entries.first()
    assert manager_api.get(f"/api/call-lists/{mine.pk}").status_code == 200
    response = manager_api.post(
        f"/api/call-lists/{mine.pk}/entries/{entry.pk}/outcome", {"outcome": "reached"}
    )
    assert response.status_code == 403
    assert set(response.json()) == {"detail"}
    assert not Interaction.objects.exists()


def test_reps_cannot_build_lists(owner_api, team_lists, owner):
    response = build(owner_api, team_lists["segment"], assignee=owner.pk)
    assert response.status_code == 403
    assert not CallList.objects.exists()


def test_one_tap_outcomes_log_the_call_and_schedule_the_next(manager_api, owner_api, owner, team_lists):
    build(manager_api, team_lists["segment"])
    call_list = CallList.objects.get(assignee=owner)
    first, second, _ = call_list.entries.order_by("position")
    url = f"/api/call-lists/{call_list.pk}/entries/{{}}/outcome"

    reached = owner_api.post(url.format(first.pk), {"outcome": "reached", "note": "Interesada"})
    assert reached.status_code == 201
    body = reached.json()
    assert body["entry"]["outcome"] == "reached" and body["entry"]["called_at"]
    call = Interaction.objects.get(pk=body["interaction"])
    assert (call.customer_id, call.kind, call.author, call.body) == (
        first.customer_id,
        "call",
        owner,
        "Interesada",
    )

    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    again = owner_api.post(
        url.format(second.pk), {"outcome": "call_back", "call_back_on": tomorrow.isoformat()}
    )
    assert again.status_code == 201
    task = Task.objects.get(customer=second.customer)
    assert task.assignee == owner and timezone.localtime(task.due_at).date() == tomorrow
    assert again.json()["entry"]["next_call_at"] is not None
    detail = owner_api.get(f"/api/call-lists/{call_list.pk}").json()
    assert detail["done"] == 2
    assert [e["outcome"] for e in detail["entries"]] == ["reached", "call_back", ""]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"outcome": "maybe"}, "outcome"),
        ({"outcome": "call_back"}, "call_back_on"),
        ({"outcome": "call_back", "call_back_on": "2001-01-01"}, "call_back_on"),
        ({"outcome": "reached", "note": "x" * 501}, "note"),
        ({"outcome": "reached", "extra": 1}, "extra"),
    ],
)
def test_bad_outcomes_are_a_422_naming_the_field(manager_api, owner_api, owner, team_lists, body, field):
    build(manager_api, team_lists["segment"])
    call_list = CallList.objects.get(assignee=owner)
    entry = call_list.entries.first()
    response = owner_api.post(f"/api/call-lists/{call_list.pk}/entries/{entry.pk}/outcome", body)
    assert response.status_code == 422
    assert any(error["loc"][-1] == field for error in response.json()["detail"]), response.json()
    assert not Interaction.objects.exists() and not Task.objects.exists()


def test_an_entry_of_another_list_is_404(manager_api, owner_api, owner, team_lists):
    build(manager_api, team_lists["segment"])
    build(manager_api, team_lists["segment"], assignee=owner.pk, name="Otra")
    first, second = CallList.objects.filter(assignee=owner).order_by("id")
    stranger = second.entries.first()
    response = owner_api.post(
        f"/api/call-lists/{first.pk}/entries/{stranger.pk}/outcome", {"outcome": "reached"}
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"segment": 999999}, "segment"),
        ({"assignee": 999999}, "assignee"),
        ({"name": ""}, "name"),
        ({"for_date": "9999-01-01"}, "for_date"),
    ],
)
def test_bad_list_requests_are_a_422_naming_the_field(manager_api, team_lists, extra, field):
    response = build(manager_api, team_lists["segment"], **extra)
    assert response.status_code == 422
    assert any(error["loc"][-1] == field for error in response.json()["detail"]), response.json()
    assert not CallList.objects.exists()


def test_an_empty_segment_is_a_422(manager_api, manager):
    segment = segment_create(actor=manager, fields={"name": "Nadie", "definition": PROSPECTS})
    response = build(manager_api, segment)
    assert response.status_code == 422
    assert not CallList.objects.exists()


def test_todays_calls_are_in_the_calls_page_order(manager_api, owner_api, owner, team_lists):
    build(manager_api, team_lists["segment"])
    response = owner_api.get("/api/call-lists/today")
    assert response.status_code == 200
    rows = response.json()
    expected = selectors.calls_today(user=owner)
    assert [(r["customer"], r["reason"]) for r in rows] == [(r.customer.pk, r.kind) for r in expected]
    assert rows[0]["reason"] == "assigned" and rows[0]["call_list"] is not None
    assert team_lists["theirs"].pk not in {r["customer"] for r in rows}
    # Logged: off today's list.
    entry = CallListEntry.objects.get(customer=team_lists["mine"][0])
    owner_api.post(
        f"/api/call-lists/{entry.call_list_id}/entries/{entry.pk}/outcome", {"outcome": "no_answer"}
    )
    assert team_lists["mine"][0].pk not in {
        r["customer"] for r in owner_api.get("/api/call-lists/today").json()
    }


def test_todays_calls_check_their_filter(owner_api):
    response = owner_api.get("/api/call-lists/today", {"min_fit": 101})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "min_fit"


def test_the_outsider_has_no_calls(outsider_api):
    assert outsider_api.get("/api/call-lists/today").status_code == 403
    assert outsider_api.get("/api/call-lists").json() == {"items": [], "next_cursor": None}


def test_reading_a_list_costs_the_same_queries_however_long_it_is(manager_api, owner_api, owner, team_lists):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    build(manager_api, team_lists["segment"], assignee=owner.pk)
    short = CallList.objects.get()
    for i in range(6):
        customer_create(actor=owner, fields={"first_name": f"Más{i}"})
    build(manager_api, team_lists["segment"], assignee=owner.pk, name="Larga")
    long = CallList.objects.get(name="Larga")
    assert long.entries.count() > short.entries.count()
    owner_api.get("/api/me")  # the token's first use of the test is recorded once; not a list's cost
    counts = []
    for call_list in (short, long):
        with CaptureQueriesContext(connection) as queries:
            assert owner_api.get(f"/api/call-lists/{call_list.pk}").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
