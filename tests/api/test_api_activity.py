"""Interactions and tasks through the REST API."""

import datetime

import pytest
from django.utils import timezone

from cartera.activity.models import Interaction, Task
from cartera.activity.services import interaction_create, task_create

# --- interactions ---------------------------------------------------------------------------------


def test_interaction_crud(owner, owner_api, manager_api, customer):
    created = owner_api.post(
        "/api/interactions",
        {
            "customer": customer.pk,
            "kind": "meeting",
            "direction": "inbound",
            "occurred_at": "2026-02-03T10:30:00+01:00",
            "subject": "Visita",
            "body": "<b>no es HTML</b>",
            "outcome": "positive",
        },
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["author"] == owner.pk
    assert body["customer"] == customer.pk
    assert body["body"] == "<b>no es HTML</b>"  # plain text, stored as sent
    interaction = Interaction.objects.get(pk=body["id"])
    assert interaction.occurred_at == datetime.datetime(2026, 2, 3, 9, 30, tzinfo=datetime.UTC)

    assert owner_api.get(f"/api/interactions/{interaction.pk}").json()["subject"] == "Visita"
    patched = owner_api.patch(f"/api/interactions/{interaction.pk}", {"outcome": "follow_up"})
    assert patched.status_code == 200
    interaction.refresh_from_db()
    assert interaction.outcome == "follow_up"
    assert interaction.kind == "meeting"

    assert manager_api.delete(f"/api/interactions/{interaction.pk}").status_code == 204
    assert not Interaction.objects.exists()


def test_interaction_without_a_time_happens_now_and_a_naive_time_is_local(owner_api, customer):
    before = timezone.now()
    now = owner_api.post("/api/interactions", {"customer": customer.pk, "kind": "call"}).json()
    assert datetime.datetime.fromisoformat(now["occurred_at"]) >= before.replace(microsecond=0)
    naive = owner_api.post(
        "/api/interactions", {"customer": customer.pk, "kind": "call", "occurred_at": "2026-07-01T12:00:00"}
    )
    assert naive.status_code == 201
    saved = Interaction.objects.get(pk=naive.json()["id"])
    assert timezone.localtime(saved.occurred_at).hour == 12  # read in Europe/Madrid


def test_a_sales_rep_logs_interactions_on_a_customer_they_do_not_own(colleague, colleague_api, customer):
    response = colleague_api.post("/api/interactions", {"customer": customer.pk, "kind": "email"})
    assert response.status_code == 201
    assert Interaction.objects.get().author == colleague


@pytest.mark.parametrize(
    ("field", "value"),
    [("kind", "fax"), ("occurred_at", "ayer"), ("occurred_at", "2026-13-01T00:00"), ("subject", "x" * 201)],
)
def test_invalid_interactions_are_422_and_nothing_is_saved(owner_api, customer, field, value):
    response = owner_api.post("/api/interactions", {"customer": customer.pk, "kind": "call", field: value})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == field
    assert not Interaction.objects.exists()


def test_interaction_on_an_unknown_customer_is_404(owner_api):
    assert owner_api.post("/api/interactions", {"customer": 999999, "kind": "call"}).status_code == 404
    assert not Interaction.objects.exists()


def test_interaction_list_filters_and_pages(owner, colleague, owner_api, customer, make_customers):
    other = make_customers(1)[0]
    base = timezone.now() - datetime.timedelta(days=10)
    made = [
        interaction_create(
            actor=owner if i % 2 else colleague,
            customer=customer if i < 4 else other,
            fields={"kind": "call" if i % 3 else "visit", "occurred_at": base + datetime.timedelta(hours=i)},
        )
        for i in range(6)
    ]

    def ids(**params):
        return [x["id"] for x in owner_api.get("/api/interactions", params).json()["items"]]

    assert ids() == [i.pk for i in reversed(made)]  # newest first
    assert set(ids(customer=customer.pk)) == {i.pk for i in made[:4]}
    assert set(ids(kind="visit")) == {made[0].pk, made[3].pk}
    assert set(ids(author=colleague.pk)) == {made[0].pk, made[2].pk, made[4].pk}
    first = owner_api.get("/api/interactions", {"limit": 4}).json()
    second = owner_api.get("/api/interactions", {"limit": 4, "cursor": first["next_cursor"]}).json()
    assert [x["id"] for x in first["items"] + second["items"]] == [i.pk for i in reversed(made)]
    assert second["next_cursor"] is None


# --- tasks ----------------------------------------------------------------------------------------


def test_task_crud(owner, owner_api, manager_api, customer):
    created = owner_api.post(
        "/api/tasks", {"title": "Enviar oferta", "customer": customer.pk, "due_at": "2026-03-01T09:00:00Z"}
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["assignee"] == owner.pk  # to oneself by default
    assert body["created_by"] == owner.pk
    assert body["done"] is False
    task_id = body["id"]

    done = owner_api.patch(f"/api/tasks/{task_id}", {"done": True, "notes": "enviada"})
    assert done.status_code == 200
    assert done.json()["done"] is True
    assert done.json()["done_at"] is not None
    task = Task.objects.get(pk=task_id)
    assert task.done and task.notes == "enviada"

    reopened = owner_api.patch(f"/api/tasks/{task_id}", {"done": False})
    assert reopened.json()["done"] is False
    assert reopened.json()["done_at"] is None

    assert manager_api.delete(f"/api/tasks/{task_id}").status_code == 204
    assert not Task.objects.exists()


def test_a_manager_assigns_tasks_to_others(manager_api, colleague):
    response = manager_api.post(
        "/api/tasks", {"title": "Revisar", "assignee": colleague.pk, "due_at": "2026-03-01T09:00:00Z"}
    )
    assert response.status_code == 201
    assert Task.objects.get().assignee == colleague


def test_a_sales_rep_gives_a_task_to_a_colleague(owner, owner_api, colleague, colleague_api, task):
    response = owner_api.post(
        "/api/tasks", {"title": "Para Carlos", "assignee": colleague.pk, "due_at": "2026-03-01T09:00:00Z"}
    )
    assert response.status_code == 201, response.content
    given = Task.objects.get(pk=response.json()["id"])
    assert (given.assignee, given.created_by) == (colleague, owner)
    # Handing over one of one's own tasks works too; then it is the colleague's to change.
    assert owner_api.patch(f"/api/tasks/{task.pk}", {"assignee": colleague.pk}).status_code == 200
    assert owner_api.patch(f"/api/tasks/{task.pk}", {"done": True}).status_code == 403
    assert colleague_api.patch(f"/api/tasks/{task.pk}", {"done": True}).status_code == 200


def test_a_task_cannot_go_to_someone_without_a_role(owner_api, outsider, task, db_snapshot):
    before = db_snapshot()
    response = owner_api.post(
        "/api/tasks", {"title": "Para nadie", "assignee": outsider.pk, "due_at": "2026-03-01T09:00:00Z"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "assignee"
    assert owner_api.patch(f"/api/tasks/{task.pk}", {"assignee": outsider.pk}).status_code == 422
    assert db_snapshot() == before


def test_a_role_without_delegation_assigns_tasks_only_to_itself(
    owner, owner_api, colleague, task, db_snapshot
):
    from django.contrib.auth.models import Group, Permission

    Group.objects.get(name="sales_rep").permissions.remove(Permission.objects.get(codename="assign_task"))
    before = db_snapshot()
    response = owner_api.post(
        "/api/tasks", {"title": "Para otro", "assignee": colleague.pk, "due_at": "2026-03-01T09:00:00Z"}
    )
    assert response.status_code == 403
    assert owner_api.patch(f"/api/tasks/{task.pk}", {"assignee": colleague.pk}).status_code == 403
    assert db_snapshot() == before
    assert (
        owner_api.post(
            "/api/tasks", {"title": "Para mí", "assignee": owner.pk, "due_at": "2026-03-01T09:00:00Z"}
        ).status_code
        == 201
    )


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": "x"}, "due_at"),
        ({"title": "x", "due_at": "mañana"}, "due_at"),
        ({"title": "", "due_at": "2026-03-01T09:00:00Z"}, "title"),
        ({"title": "x", "due_at": "2026-03-01T09:00:00Z", "assignee": 999999}, "assignee"),
    ],
)
def test_invalid_tasks_are_422_and_nothing_is_saved(owner_api, payload, field):
    response = owner_api.post("/api/tasks", payload)
    assert response.status_code == 422, response.content
    assert response.json()["detail"][0]["loc"][-1] == field
    assert not Task.objects.exists()


def test_null_assignee_is_a_field_error(owner_api, task):
    response = owner_api.patch(f"/api/tasks/{task.pk}", {"assignee": None})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "assignee"


def test_task_list_filters(owner, colleague, owner_api, customer):
    soon = timezone.now() + datetime.timedelta(days=1)
    mine = task_create(actor=owner, fields={"title": "mía", "customer": customer, "due_at": soon})
    theirs = task_create(
        actor=colleague, fields={"title": "suya", "due_at": soon + datetime.timedelta(hours=1)}
    )
    done = task_create(actor=owner, fields={"title": "hecha", "due_at": soon - datetime.timedelta(days=3)})
    owner_api.patch(f"/api/tasks/{done.pk}", {"done": True})

    def ids(**params):
        return [x["id"] for x in owner_api.get("/api/tasks", params).json()["items"]]

    assert ids() == [mine.pk, theirs.pk, done.pk]  # open ones first, by due date
    assert ids(assignee=owner.pk) == [mine.pk, done.pk]
    assert ids(done="false") == [mine.pk, theirs.pk]
    assert ids(done="true") == [done.pk]
    assert ids(customer=customer.pk) == [mine.pk]
    first = owner_api.get("/api/tasks", {"limit": 2}).json()
    rest = owner_api.get("/api/tasks", {"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [x["id"] for x in first["items"] + rest["items"]] == [mine.pk, theirs.pk, done.pk]


def test_after_reassignment_only_the_new_assignee_controls_the_task(
    owner, colleague, owner_api, colleague_api, manager_api, task, db_snapshot
):
    assert task.created_by == owner
    assert manager_api.patch(f"/api/tasks/{task.pk}", {"assignee": colleague.pk}).status_code == 200
    before = db_snapshot()
    assert owner_api.patch(f"/api/tasks/{task.pk}", {"done": True}).status_code == 403
    assert owner_api.patch(f"/api/tasks/{task.pk}", {"title": "Mío otra vez"}).status_code == 403
    assert owner_api.patch(f"/api/tasks/{task.pk}", {"assignee": owner.pk}).status_code == 403
    assert owner_api.delete(f"/api/tasks/{task.pk}").status_code == 403
    assert db_snapshot() == before
    assert owner_api.get(f"/api/tasks/{task.pk}").status_code == 200  # still visible to the team
    assert colleague_api.patch(f"/api/tasks/{task.pk}", {"done": True}).status_code == 200
