"""Writes to the timeline: interactions and tasks."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cartera.accounts.models import User
from cartera.activity.models import Interaction, Task
from cartera.core import bulk, hooks
from cartera.core.concurrency import check_version
from cartera.core.dates import INTERACTION_DATES, TASK_DUE_DATES, check_dates
from cartera.customers.models import Customer

INTERACTION_FIELDS = ("kind", "direction", "occurred_at", "subject", "body", "outcome")
TASK_FIELDS = ("title", "customer", "assignee", "due_at", "notes")


def _assign(obj: Any, fields: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = set(fields) - set(allowed)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        setattr(obj, name, value.strip() if isinstance(value, str) else value)


@transaction.atomic
def interaction_create(*, actor: User, customer: Customer, fields: Mapping[str, Any]) -> Interaction:
    """Log a contact with ``customer``; the actor is its author."""
    interaction = Interaction(customer=customer, author=actor)
    _assign(interaction, fields, INTERACTION_FIELDS)
    if interaction.occurred_at is None:
        interaction.occurred_at = timezone.now()
    interaction.full_clean()  # first: it turns a date given as text into a date-time
    check_dates(interaction, {"occurred_at": INTERACTION_DATES})
    interaction.save()
    return interaction


def interaction_record_system(
    *,
    customer: Customer,
    kind: str,
    direction: str,
    subject: str,
    body: str = "",
    occurred_at: datetime.datetime | None = None,
    author: User | None = None,
) -> Interaction:
    """Write something the system saw happen into the timeline (an e-mail sent, an unsubscribe, a
    campaign response), with no author unless one is given; no rights are checked: the caller has."""
    return Interaction.objects.create(
        customer=customer,
        author=author,
        kind=kind,
        direction=direction,
        occurred_at=occurred_at or timezone.now(),
        subject=subject[:200],
        body=body,
    )


def interactions_record_many(*, rows: list[dict[str, Any]], author: User | None = None) -> int:
    """Write many system-seen events into timelines at once (a campaign's e-mails): each row gives
    ``customer_id``, ``kind``, ``direction``, ``subject`` and optionally ``body``. How many."""
    # Written with the bulk toolkit (COPY on PostgreSQL, one prepared INSERT elsewhere; its plain
    # twin with CARTERA_BULK_PLAIN): a campaign writes one row per recipient, and building and
    # compiling a model instance for each cost more than the writing.
    adapt = connection.ops.adapt_datetimefield_value
    now = timezone.now()
    stamp = adapt(now)
    author_id = author.pk if author is not None else None
    values = [
        (
            row["customer_id"], row["kind"], row["direction"],
            adapt(row["occurred_at"]) if row.get("occurred_at") else stamp,
            author_id, str(row["subject"])[:200], row.get("body", ""), "", stamp, stamp,
        )
        for row in rows
    ]  # fmt: skip
    columns = (
        "customer_id", "kind", "direction", "occurred_at", "author_id", "subject", "body", "outcome",
        "created_at", "updated_at",
    )  # fmt: skip
    with connection.cursor() as cursor:
        for start in range(0, len(values), 5000):
            bulk.write_rows(cursor, Interaction._meta.db_table, columns, values[start : start + 5000])
    return len(values)


def interaction_record_merge(*, actor: User, keep: Customer, summary: str) -> Interaction:
    """Write a merge into the kept customer's timeline (answers the ``customers_merged`` hook)."""
    return interaction_create(
        actor=actor,
        customer=keep,
        fields={
            "kind": "note",
            "direction": "internal",
            "subject": _("Merged with a duplicate record")[:200],
            "body": _("%(removed)s was merged into this customer by %(actor)s.")
            % {"removed": summary, "actor": actor},
        },
    )


@transaction.atomic
def interaction_update(
    *, actor: User, interaction: Interaction, fields: Mapping[str, Any], expected_version: str | None = None
) -> Interaction:
    """Correct a logged interaction; refused (``StaleEditError``) when ``expected_version``, the version
    the editor read, is older than the stored one."""
    check_version(interaction, expected_version)
    _assign(interaction, fields, INTERACTION_FIELDS)
    interaction.full_clean()  # first: it turns a date given as text into a date-time
    check_dates(interaction, {"occurred_at": INTERACTION_DATES})
    interaction.save()
    return interaction


def interaction_delete(*, actor: User, interaction: Interaction) -> None:
    """Remove an interaction from the timeline."""
    interaction.delete()


def _check_assignee(actor: User, assignee: User) -> None:
    """Giving work to someone else needs a role that may (``activity.assign_task``), and someone
    whose own role lets them work on tasks."""
    if assignee == actor:
        return
    if not actor.has_perm("activity.assign_task"):
        raise PermissionDenied(_("You can only assign tasks to yourself."))
    if not (assignee.is_active and assignee.has_perm("activity.change_task")):
        raise ValidationError(
            {
                "assignee": _("%(user)s cannot be given tasks: they have no role that works on them.")
                % {"user": assignee}
            }
        )


@transaction.atomic
def task_create(*, actor: User, fields: Mapping[str, Any], notify: bool = True) -> Task:
    """Create a task; it goes to the actor unless an (allowed) assignee is given. A task for someone
    else is new to them (badge) and, with ``notify``, announced (a bulk action announces its tasks
    together, with :func:`tasks_assigned_notify`)."""
    fields = dict(fields)
    if not fields.get("assignee"):
        fields["assignee"] = actor
    _check_assignee(actor, fields["assignee"])
    task = Task(created_by=actor)
    _assign(task, fields, TASK_FIELDS)
    task.full_clean()  # first: it turns a date given as text into a date-time
    check_dates(task, {"due_at": TASK_DUE_DATES})
    # A task you give yourself is not news to you; one a colleague gives you is, until you see it.
    task.seen_at = timezone.now() if task.assignee == actor else None
    task.save()
    if notify and task.assignee != actor:
        tasks_assigned_notify(actor=actor, tasks=[task])
    return task


def tasks_assigned_notify(*, actor: User, tasks: list[Task]) -> None:
    """Tell the assignees of ``tasks`` (given by ``actor``) once the transaction commits: the app's
    badge needs nothing more; the ``tasks_assigned`` hook lets the outbox e-mail them."""
    given = [task for task in tasks if task.assignee_id != actor.pk]
    if given:
        transaction.on_commit(lambda: hooks.fire("tasks_assigned", actor=actor, tasks=given))


@transaction.atomic
def task_update(
    *, actor: User, task: Task, fields: Mapping[str, Any], expected_version: str | None = None
) -> Task:
    """Change a task's title, due date, assignee or notes; refused (``StaleEditError``) when
    ``expected_version``, the version the editor read, is older than the stored one."""
    check_version(task, expected_version)
    reassigned = "assignee" in fields and fields["assignee"] != task.assignee
    if reassigned:
        _check_assignee(actor, fields["assignee"])
    _assign(task, fields, TASK_FIELDS)
    task.full_clean()  # first: it turns a date given as text into a date-time
    check_dates(task, {"due_at": TASK_DUE_DATES})
    if reassigned:
        task.seen_at = timezone.now() if task.assignee == actor else None
    task.save()
    if reassigned:
        tasks_assigned_notify(actor=actor, tasks=[task])
    return task


SNOOZE_CHOICES = ("tomorrow", "next_week")


def task_snooze_target(
    task: Task, when: str | datetime.date, *, today: datetime.date | None = None
) -> datetime.datetime:
    """The new due moment for "tomorrow", "next week" (next Monday) or a date: that day, at the task's
    own time of day (in the current time zone), so a 10:00 call stays a 10:00 call."""
    today = today or timezone.localdate()
    if when == "tomorrow":
        day = today + datetime.timedelta(days=1)
    elif when == "next_week":
        day = today + datetime.timedelta(days=7 - today.weekday())
    elif isinstance(when, datetime.date):
        day = when
    else:
        raise ValidationError({"due_at": _("Choose tomorrow, next week or a date.")})
    local_time = timezone.localtime(task.due_at).time() if task.due_at else datetime.time(9, 0)
    return timezone.make_aware(datetime.datetime.combine(day, local_time))


@transaction.atomic
def task_reschedule(*, actor: User, task: Task, when: str | datetime.date) -> Task:
    """Snooze or reschedule a task in one step: "tomorrow", "next_week" or a date (see
    :func:`task_snooze_target`). A done task is left as it is."""
    if task.done:
        raise ValidationError(_("This task is already done."))
    task.due_at = task_snooze_target(task, when)
    check_dates(task, {"due_at": TASK_DUE_DATES})
    task.save(update_fields=["due_at", "updated_at"])
    return task


def tasks_mark_seen(*, actor: User, task_ids: list[int]) -> int:
    """The actor has seen these tasks given to them (they stop counting in the badge)."""
    return Task.objects.filter(pk__in=task_ids, assignee=actor, seen_at__isnull=True).update(
        seen_at=timezone.now()
    )


@transaction.atomic
def task_set_done(
    *,
    actor: User,
    task: Task,
    done: bool,
    at: datetime.datetime | None = None,
    expected_version: str | None = None,
) -> Task:
    """Tick a task off (or reopen it); with ``expected_version``, refused when saved since (as above)."""
    check_version(task, expected_version)
    task.done = done
    task.done_at = (at or timezone.now()) if done else None
    task.save(update_fields=["done", "done_at", "updated_at"])
    return task


def task_delete(*, actor: User, task: Task) -> None:
    """Remove a task."""
    task.delete()
