"""A task given to a colleague is announced to them by e-mail through the outbox (the
``tasks_assigned`` hook answered by messaging), checked on what a real SMTP server received."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from cartera.activity.services import task_create, task_update
from cartera.messaging.models import OutboxMessage
from cartera.messaging.services import NOTIFICATION_TASKS_LISTED, deliver_pending
from cartera.privacy.services import email_suppress

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep(make_user):
    return make_user("rep", "sales_rep", first_name="Rita", last_name="Rep", email="rita@cartera.example")


def _give(actor, assignee, customer, title, captured):
    with captured(execute=True):
        return task_create(
            actor=actor,
            fields={
                "title": title,
                "assignee": assignee,
                "customer": customer,
                "due_at": timezone.now() + dt.timedelta(days=1),
            },
        )


def test_the_assignee_gets_one_email_naming_the_task_and_who_gave_it(
    smtp, manager, rep, customer, django_capture_on_commit_callbacks
):
    _give(manager, rep, customer, "Llamar por el presupuesto", django_capture_on_commit_callbacks)
    assert deliver_pending().sent == 1
    [got] = smtp.received
    assert got.rcpt_tos == ["rita@cartera.example"]
    assert got.message["Subject"] == "Marta Manager te ha asignado una tarea"
    text = got.text()
    assert "Llamar por el presupuesto" in text and "Lucía" in text
    assert "https://cartera.example/activity/tasks/" in text
    # A service message about their work: no unsubscribe header.
    assert got.message["List-Unsubscribe"] is None


def test_no_email_for_a_task_you_give_yourself_or_to_a_suppressed_address(
    smtp, manager, rep, customer, django_capture_on_commit_callbacks
):
    _give(rep, rep, customer, "Mi propia tarea", django_capture_on_commit_callbacks)
    email_suppress(email="rita@cartera.example", reason="bounce")
    _give(manager, rep, customer, "Otra tarea", django_capture_on_commit_callbacks)
    deliver_pending()
    assert smtp.received == [] and not OutboxMessage.objects.exists()


def test_a_reassignment_is_announced_to_the_new_assignee(
    smtp, manager, rep, customer, django_capture_on_commit_callbacks
):
    task = _give(manager, manager, customer, "Visita", django_capture_on_commit_callbacks)
    assert not OutboxMessage.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        task_update(actor=manager, task=task, fields={"assignee": rep})
    deliver_pending()
    assert [m.rcpt_tos for m in smtp.received] == [["rita@cartera.example"]]


def test_many_tasks_at_once_are_one_email_listing_the_first_ones(manager, rep, customer):
    from cartera.activity.models import Task
    from cartera.messaging.services import tasks_assigned_email

    tasks = [
        Task.objects.create(
            title=f"Tarea {n}", assignee=rep, created_by=manager, customer=customer, due_at=timezone.now()
        )
        for n in range(NOTIFICATION_TASKS_LISTED + 5)
    ]
    [row] = tasks_assigned_email(actor=manager, tasks=tasks)
    assert "25 tareas" in row.subject
    assert row.text.count("- Tarea ") == NOTIFICATION_TASKS_LISTED and "5 más" in row.text
