"""REST API for the timeline: interactions, and tasks.

A sales rep logs interactions on any customer and corrects their own; a task can be given to any
colleague with a role, and then only its assignee (or a manager or admin) may change it. Those rules live in the scoping helper and the
services; these endpoints only parse and call them.
"""

import datetime
from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, FilterLookup, Query, Router, Schema, Status

from cartera.activity.models import Direction, Interaction, InteractionKind, Outcome, Task
from cartera.activity.selectors import interaction_list, task_list
from cartera.activity.services import (
    interaction_create,
    interaction_delete,
    interaction_update,
    task_create,
    task_delete,
    task_set_done,
    task_update,
)
from cartera.core.api_common import (
    CREATE_ERRORS,
    DELETE_ERRORS,
    LIST_ERRORS,
    READ_ERRORS,
    UPDATE_ERRORS,
    DateTimeIn,
    FilterIn,
    InRange,
    InSchema,
    OneOf,
    Page,
    PageIn,
    Patch,
    active_user,
    page_of,
    responses,
    update_if_match,
    with_etag,
)
from cartera.core.dates import INTERACTION_DATES, TASK_DUE_DATES
from cartera.core.scoping import get_for_user, require
from cartera.customers.models import Customer

interaction_router = Router(tags=["interactions"])
task_router = Router(tags=["tasks"])

# Date ranges: docs/api.md, Dates.
OccurredAt = Annotated[DateTimeIn, InRange(INTERACTION_DATES)]
DueAt = Annotated[DateTimeIn, InRange(TASK_DUE_DATES)]


# --- interactions ---------------------------------------------------------------------------------


class InteractionIn(InSchema):
    customer: int = Field(..., description="Customer id; cannot be changed afterwards.")
    kind: InteractionKind
    direction: Direction = Direction.OUTBOUND
    occurred_at: OccurredAt | None = Field(
        None, description="Defaults to now; without an offset it is read in the server's time zone."
    )
    subject: str = ""
    body: str = Field("", description="Plain text.")
    outcome: Annotated[str, OneOf(Outcome, blank=True)] = ""


class InteractionUpdate(InSchema):
    kind: InteractionKind
    direction: Direction
    occurred_at: OccurredAt
    subject: str
    body: str
    outcome: Annotated[str, OneOf(Outcome, blank=True)]


class InteractionOut(Schema):
    id: int
    customer: int
    kind: InteractionKind
    direction: Direction
    occurred_at: datetime.datetime
    author: int | None
    subject: str
    body: str
    outcome: Annotated[str, OneOf(Outcome, blank=True)]
    created_at: datetime.datetime
    updated_at: datetime.datetime

    @staticmethod
    def resolve_customer(obj: Interaction) -> int:
        return obj.customer_id

    @staticmethod
    def resolve_author(obj: Interaction) -> int | None:
        return obj.author_id


class InteractionFilterIn(FilterIn):
    customer: Annotated[int | None, FilterLookup("customer_id")] = None
    kind: InteractionKind | None = None
    author: Annotated[int | None, FilterLookup("author_id")] = None


@interaction_router.get(
    "", response=responses({200: Page[InteractionOut]}, *LIST_ERRORS), summary="List interactions"
)
def list_interactions(request: HttpRequest, filters: Query[InteractionFilterIn], page: Query[PageIn]) -> Any:
    """Interactions, newest first."""
    qs = filters.filter(interaction_list(user=request.auth))  # type: ignore[attr-defined]
    return page_of(qs, ordering=("-occurred_at", "-id"), page=page)


@interaction_router.get(
    "/{int:interaction_id}",
    response=responses({200: InteractionOut}, *READ_ERRORS),
    summary="Get an interaction",
)
def get_interaction(request: HttpRequest, interaction_id: int, response: HttpResponse) -> Any:
    """The interaction; the `ETag` header names this saved state (send it in `If-Match` when correcting)."""
    interaction = get_for_user(Interaction.objects.all(), request.auth, "view", pk=interaction_id)  # type: ignore[attr-defined]
    return with_etag(response, interaction)


@interaction_router.post(
    "", response=responses({201: InteractionOut}, *CREATE_ERRORS), summary="Log an interaction"
)
def create_interaction(request: HttpRequest, payload: InteractionIn) -> Any:
    """Log a contact with any customer you can see; you are its author."""
    user = request.auth  # type: ignore[attr-defined]
    require(user, Interaction, "add")
    fields = payload.model_dump(exclude_unset=True)
    customer = get_for_user(Customer.objects.all(), user, "view", pk=fields.pop("customer"))
    return Status(201, interaction_create(actor=user, customer=customer, fields=fields))


@interaction_router.patch(
    "/{int:interaction_id}",
    response=responses({200: InteractionOut}, *UPDATE_ERRORS),
    summary="Correct an interaction",
)
def update_interaction(
    request: HttpRequest, interaction_id: int, payload: Patch[InteractionUpdate], response: HttpResponse
) -> Any:
    """Sales reps may correct the interactions they logged; managers and admins any.

    With `If-Match`, refused with 412 if someone saved the interaction since your read.
    """
    user = request.auth  # type: ignore[attr-defined]
    interaction = get_for_user(Interaction.objects.all(), user, "change", pk=interaction_id)
    return update_if_match(
        request,
        response,
        lambda expected: interaction_update(
            actor=user, interaction=interaction, fields=dict(payload), expected_version=expected
        ),
    )


@interaction_router.delete(
    "/{int:interaction_id}",
    response=responses({204: None}, *DELETE_ERRORS),
    summary="Delete an interaction",
)
def delete_interaction(request: HttpRequest, interaction_id: int) -> Any:
    user = request.auth  # type: ignore[attr-defined]
    interaction = get_for_user(Interaction.objects.all(), user, "delete", pk=interaction_id)
    interaction_delete(actor=user, interaction=interaction)
    return Status(204, None)


# --- tasks ----------------------------------------------------------------------------------------


class TaskIn(InSchema):
    title: str
    customer: int | None = Field(None, description="Customer id, for a task about a customer.")
    assignee: int | None = Field(
        None,
        description="User id; defaults to you. Any colleague with a role (roles may be configured not to delegate).",
    )
    due_at: DueAt = Field(..., description="Without an offset it is read in the server's time zone.")
    notes: str = ""


class TaskUpdate(InSchema):
    title: str
    assignee: int
    due_at: DueAt
    notes: str
    done: bool = Field(..., description="Ticks the task off (or reopens it).")


class TaskOut(Schema):
    id: int
    title: str
    customer: int | None
    assignee: int
    due_at: datetime.datetime
    done: bool
    done_at: datetime.datetime | None
    notes: str
    created_by: int | None
    created_at: datetime.datetime
    updated_at: datetime.datetime

    @staticmethod
    def resolve_customer(obj: Task) -> int | None:
        return obj.customer_id

    @staticmethod
    def resolve_assignee(obj: Task) -> int:
        return obj.assignee_id

    @staticmethod
    def resolve_created_by(obj: Task) -> int | None:
        return obj.created_by_id


class TaskFilterIn(FilterIn):
    assignee: Annotated[int | None, FilterLookup("assignee_id")] = None
    done: bool | None = Field(None, description="Only open (`false`) or only done (`true`) tasks.")
    customer: Annotated[int | None, FilterLookup("customer_id")] = None


@task_router.get("", response=responses({200: Page[TaskOut]}, *LIST_ERRORS), summary="List tasks")
def list_tasks(request: HttpRequest, filters: Query[TaskFilterIn], page: Query[PageIn]) -> Any:
    """Tasks, open ones first by due date."""
    qs = filters.filter(task_list(user=request.auth, include_done=True))  # type: ignore[attr-defined]
    return page_of(qs, ordering=("done", "due_at", "id"), page=page)


@task_router.get("/{int:task_id}", response=responses({200: TaskOut}, *READ_ERRORS), summary="Get a task")
def get_task(request: HttpRequest, task_id: int, response: HttpResponse) -> Any:
    """The task; the `ETag` header names this saved state (send it back in `If-Match` when updating)."""
    return with_etag(response, get_for_user(Task.objects.all(), request.auth, "view", pk=task_id))  # type: ignore[attr-defined]


@task_router.post("", response=responses({201: TaskOut}, *CREATE_ERRORS), summary="Create a task")
def create_task(request: HttpRequest, payload: TaskIn) -> Any:
    user = request.auth  # type: ignore[attr-defined]
    require(user, Task, "add")
    fields = payload.model_dump(exclude_unset=True)
    if fields.get("customer") is not None:
        fields["customer"] = get_for_user(Customer.objects.all(), user, "view", pk=fields["customer"])
    if fields.get("assignee") is not None:
        fields["assignee"] = active_user("assignee", fields["assignee"])
    return Status(201, task_create(actor=user, fields=fields))


@task_router.patch(
    "/{int:task_id}", response=responses({200: TaskOut}, *UPDATE_ERRORS), summary="Update a task"
)
def update_task(
    request: HttpRequest, task_id: int, payload: Patch[TaskUpdate], response: HttpResponse
) -> Any:
    """Change a task; `done` ticks it off or reopens it.

    With `If-Match`, refused with 412 if someone saved the task since your read.
    """
    user = request.auth  # type: ignore[attr-defined]
    task = get_for_user(Task.objects.all(), user, "change", pk=task_id)
    fields = dict(payload)
    done = fields.pop("done", None)
    if "assignee" in fields:
        fields["assignee"] = active_user("assignee", fields["assignee"])

    def update(expected: str | None) -> Task:
        changed = task
        if fields:
            changed = task_update(actor=user, task=changed, fields=fields, expected_version=expected)
            expected = None  # checked once, before the first write
        if done is not None and done != changed.done:
            changed = task_set_done(actor=user, task=changed, done=done, expected_version=expected)
        return changed

    return update_if_match(request, response, update)


@task_router.delete(
    "/{int:task_id}", response=responses({204: None}, *DELETE_ERRORS), summary="Delete a task"
)
def delete_task(request: HttpRequest, task_id: int) -> Any:
    user = request.auth  # type: ignore[attr-defined]
    task_delete(actor=user, task=get_for_user(Task.objects.all(), user, "delete", pk=task_id))
    return Status(204, None)
