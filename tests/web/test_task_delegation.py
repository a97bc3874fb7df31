"""Delegation: a task given to a colleague is news to them (a badge in the header, a list on My tasks,
the ``tasks_assigned`` hook for e-mail); tasks are postponed in one tap; My tasks counts what is
overdue, due today and upcoming; "a task for each" member of a segment goes to each customer's owner
or to the person chosen, and never silently to whoever clicked."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from cartera.activity.models import Task
from cartera.activity.services import task_create, task_snooze_target
from cartera.core import hooks
from tests.conftest import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def announced(monkeypatch):
    """What the ``tasks_assigned`` hook was fired with (the outbox answers it once it exists)."""
    calls: list[tuple[str, list[str]]] = []

    def record(*, actor, tasks):
        calls.append((actor.username, [f"{t.assignee.username}:{t.title}" for t in tasks]))

    monkeypatch.setitem(hooks._handlers, "tasks_assigned", record)
    return calls


def test_a_rep_gives_a_colleague_a_task_and_the_colleague_is_told(
    client, owner, colleague, customer, announced, django_capture_on_commit_callbacks
):
    login(client, owner)
    due = (timezone.localtime() + datetime.timedelta(days=2)).strftime("%Y-%m-%dT10:00")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("activity:my_tasks"), {"title": "Llamar a Lucía", "due_at": due, "assignee": colleague.pk}
        )
    assert response.status_code == 302
    assert announced == [("owner", ["colleague:Llamar a Lucía"])]
    # The giver's own header shows no badge; the colleague's does, on every page, until they look.
    assert 'class="badge count"' not in client.get(reverse("customers:list")).content.decode()
    login(client, colleague)
    page = client.get(reverse("customers:list"), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert 'class="badge count"' in page and "1 tarea nueva de compañeros" in page
    tasks_page = client.get(reverse("activity:my_tasks"), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "new-tasks" in tasks_page and "Llamar a Lucía" in tasks_page and "de Olga Owner" in tasks_page
    assert 'class="badge count"' not in client.get(reverse("customers:list")).content.decode()


def test_tasks_you_give_yourself_are_not_news(owner, announced, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        task = task_create(actor=owner, fields={"title": "Yo", "due_at": timezone.now()})
    assert task.seen_at is not None and announced == []


def test_snooze_in_one_tap_keeps_the_time_of_day(client, owner, colleague):
    login(client, owner)
    ten = timezone.make_aware(datetime.datetime.combine(timezone.localdate(), datetime.time(10, 30)))
    task = task_create(actor=owner, fields={"title": "Llamar", "due_at": ten - datetime.timedelta(days=3)})
    client.post(reverse("activity:task_snooze", args=[task.pk]), {"when": "tomorrow"})
    task.refresh_from_db()
    local = timezone.localtime(task.due_at)
    assert local.date() == timezone.localdate() + datetime.timedelta(
        days=1
    ) and local.time() == datetime.time(10, 30)
    client.post(
        reverse("activity:task_snooze", args=[task.pk]), {"when": "next_week"}, HTTP_HX_REQUEST="true"
    )
    task.refresh_from_db()
    assert timezone.localtime(task.due_at).weekday() == 0 and task.due_at > timezone.now()
    client.post(reverse("activity:task_snooze", args=[task.pk]), {"when": "date", "date": "2030-03-04"})
    task.refresh_from_db()
    assert timezone.localtime(task.due_at).date() == datetime.date(2030, 3, 4)
    # Nothing picked: a message in the user's language, the task unchanged.
    row = client.post(
        reverse("activity:task_snooze", args=[task.pk]), {"when": "date"}, HTTP_HX_REQUEST="true",
        HTTP_ACCEPT_LANGUAGE="es",
    ).content.decode()  # fmt: skip
    assert "Elige mañana, la semana que viene o una fecha." in row
    task.refresh_from_db()
    assert timezone.localtime(task.due_at).date() == datetime.date(2030, 3, 4)
    # Someone else's task: not theirs to postpone.
    login(client, colleague)
    assert (
        client.post(reverse("activity:task_snooze", args=[task.pk]), {"when": "tomorrow"}).status_code == 403
    )


def test_next_week_means_next_monday():
    task = Task(due_at=timezone.make_aware(datetime.datetime(2026, 12, 2, 16, 0)))
    target = task_snooze_target(task, "next_week", today=datetime.date(2026, 12, 2))  # a Wednesday
    assert timezone.localtime(target).date() == datetime.date(2026, 12, 7)
    target = task_snooze_target(task, "next_week", today=datetime.date(2026, 12, 7))  # a Monday
    assert timezone.localtime(target).date() == datetime.date(2026, 12, 14)


def test_my_tasks_counts_overdue_today_and_upcoming(client, owner):
    now = timezone.now()
    end_of_today = timezone.make_aware(
        datetime.datetime.combine(timezone.localdate() + datetime.timedelta(days=1), datetime.time())
    )
    for title, due in [("a", now - datetime.timedelta(days=2)), ("b", now - datetime.timedelta(minutes=5)),
                       ("c", now + (end_of_today - now) / 2), ("d", now + datetime.timedelta(days=3)),
                       ("e", now + datetime.timedelta(days=9))]:  # fmt: skip
        Task.objects.create(title=title, assignee=owner, created_by=owner, due_at=due, seen_at=now)
    Task.objects.create(title="hecha", assignee=owner, created_by=owner, due_at=now, done=True)
    login(client, owner)
    counts = client.get(reverse("activity:my_tasks")).context["counts"]
    assert (counts.overdue, counts.today, counts.upcoming) == (2, 1, 2)


@pytest.fixture
def members(owner, colleague, manager):
    """Four customers in a segment: two of the owner's, one of the colleague's, one without owner."""
    from cartera.customers.models import Customer
    from cartera.customers.services import customer_create
    from cartera.segments.services import segment_create

    for name, who in [("Ana", owner), ("Bea", owner), ("Ciro", colleague), ("Dora", None)]:
        customer_create(actor=manager, fields={"first_name": name, "owner": who, "sector": "Llamadas"})
    segment = segment_create(
        actor=manager,
        fields={"name": "A llamar", "definition": {"groups": [{"rules": [{"field": "sector", "op": "eq", "value": "Llamadas"}]}]}},
    )  # fmt: skip
    assert Customer.objects.count() == 4
    return segment


def _bulk(client, segment, **extra):
    data = {"action": "create_task", "title": "Llamar", "due_at": "2030-12-01T10:00", **extra}
    return client.post(reverse("segments:bulk", args=[segment.pk]), data, follow=True)


def test_a_task_for_each_goes_to_each_customers_owner(
    client, manager, members, announced, django_capture_on_commit_callbacks
):
    login(client, manager)
    with django_capture_on_commit_callbacks(execute=True):
        page = _bulk(client, members, assign_to="owner", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    by_customer = dict(Task.objects.values_list("customer__first_name", "assignee__username"))
    assert by_customer == {"Ana": "owner", "Bea": "owner", "Ciro": "colleague", "Dora": "manager"}
    # The one without an owner went to the person who clicked, and the page says so.
    assert "1 cliente no tiene responsable: esa tarea es tuya." in page
    # One announcement for the whole action (the outbox groups it per assignee).
    assert len(announced) == 1 and sorted(announced[0][1]) == [
        "colleague:Llamar",
        "owner:Llamar",
        "owner:Llamar",
    ]


def test_a_task_for_each_goes_to_the_person_chosen(client, owner, colleague, members):
    login(client, owner)  # a sales rep may give tasks to colleagues
    page = client.get(reverse("segments:detail", args=[members.pk])).content.decode()
    assert 'name="assign_to"' in page and f'value="{colleague.pk}"' in page
    _bulk(client, members, assign_to=str(colleague.pk))
    assert set(Task.objects.values_list("assignee__username", flat=True)) == {"colleague"}
    assert Task.objects.count() == 4
    Task.objects.all().delete()
    _bulk(client, members, assign_to="999999")
    assert not Task.objects.exists()


def test_a_needs_follow_up_outcome_offers_the_task_in_one_tap(client, owner, manager, customer):
    login(client, manager)
    url = reverse("activity:interaction_create", args=[customer.pk])
    data = {"kind": "call", "direction": "outbound", "subject": "Llamada", "outcome": "follow_up",
            "occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M")}  # fmt: skip
    answer = client.post(url, data, HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    offer = reverse("segments:follow_up", args=[customer.pk])
    assert 'id="follow-up-offer"' in answer and offer in answer and "Crear la tarea de seguimiento" in answer
    # Another outcome offers nothing (and clears an earlier offer).
    answer = client.post(url, {**data, "outcome": "positive"}, HTTP_HX_REQUEST="true").content.decode()
    assert 'id="follow-up-offer"' in answer and offer not in answer
    client.post(offer, HTTP_HX_REQUEST="true")
    task = Task.objects.get(customer=customer)
    assert task.assignee == owner and timezone.localtime(task.due_at).hour == 10
