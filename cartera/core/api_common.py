"""Pieces every REST API router shares: error bodies, the declared status codes, keyset pages.

Kept out of :mod:`cartera.api` so that the domain routers can import them without importing the
API object that imports them.

No ``from __future__ import annotations`` here: django-ninja and pydantic read these annotations
at run time.
"""

import datetime
from collections.abc import Sequence
from typing import Annotated, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Choices, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Schema
from pydantic import AfterValidator, ConfigDict, GetCoreSchemaHandler
from pydantic_core import CoreSchema, core_schema

from cartera.core.pagination import paginate

MAX_PAGE_SIZE = 200


class InSchema(Schema):
    """A request body: a field the API does not know (a typo, a read-only field) is a 422, not ignored."""

    model_config = ConfigDict(extra="forbid")


class ErrorOut(Schema):
    """Any refusal that is not about the fields of the request (401, 403, 404, 413)."""

    detail: str


class FieldErrorOut(Schema):
    """One problem with one field, in django-ninja's own format; the field is the last item of ``loc``."""

    model_config = ConfigDict(extra="allow")

    loc: list[str | int] = Field(..., examples=[["body", "payload", "email"]])
    msg: str
    type: str
    existing_id: int | None = Field(
        None, description="For a duplicate email: the id of the customer who already has it."
    )


class ValidationErrorOut(Schema):
    """422: the request was understood but some fields are wrong; nothing was saved."""

    detail: list[FieldErrorOut]


_ERROR_SCHEMAS: dict[int, Any] = {
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    412: ErrorOut,
    413: ErrorOut,
    422: ValidationErrorOut,
}


def responses(success: dict[int, Any], *errors: int) -> dict[int, Any]:
    """The ``response=`` of an operation: its success schema plus the error statuses it can return.

    Every status an endpoint can answer with is declared, so that the OpenAPI document is complete.
    """
    declared = dict(success)
    for status in errors:
        declared[status] = _ERROR_SCHEMAS[status]
    return declared


# Status sets by kind of operation.
LIST_ERRORS = (401, 422)
READ_ERRORS = (401, 404)
CREATE_ERRORS = (401, 403, 404, 413, 422)
UPDATE_ERRORS = (401, 403, 404, 413, 422)
DELETE_ERRORS = (401, 403, 404)


class Page[T](Schema):
    """One page of a list; pass ``next_cursor`` back as ``cursor`` for the next one (``null`` at the end)."""

    items: list[T]
    next_cursor: str | None


class PageIn(Schema):
    """Keyset pagination parameters of every list endpoint."""

    cursor: str | None = Field(None, description="The `next_cursor` of the previous page.")
    limit: int = Field(
        settings.CARTERA_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="Rows per page (at most 200)."
    )


def page_of(queryset: QuerySet[Any], *, ordering: Sequence[str], page: PageIn) -> dict[str, Any]:
    """The page of ``queryset`` that ``page`` asks for, ready for a ``Page[...]`` response."""
    result = paginate(queryset, ordering=ordering, cursor=page.cursor, size=page.limit)
    return {"items": result.rows, "next_cursor": result.next_cursor}


class OneOf:
    """``Annotated[str, OneOf(Source, blank=True)]``: one of a model field's choice values (or ``""``).

    A plain ``Source | Literal[""]`` union would report errors under each member of the union
    (``loc: [..., "source", "str-enum[Source]"]``); this is one enum, with the field as the location.
    """

    def __init__(self, choices: type[Choices], *, blank: bool = False) -> None:
        self.values = [*choices.values, *([""] if blank else [])]

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.literal_schema(self.values)


def _aware(value: datetime.datetime | None) -> datetime.datetime | None:
    """A date-time without an offset is read in the server's time zone (``CARTERA_TIME_ZONE``)."""
    if value is not None and timezone.is_naive(value):
        return timezone.make_aware(value)
    return value


DateTimeIn = Annotated[datetime.datetime, AfterValidator(_aware)]


class UnknownReference(Exception):
    """A field of the request names a row that does not exist (or that the user cannot use).

    Answered as a 422 on that field, like any other invalid value.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def active_user(field: str, pk: int | None) -> Any:
    """The active user ``pk`` named by request field ``field`` (owner, assignee)."""
    if pk is None:
        raise UnknownReference(field, _("This field cannot be null."))
    user = get_user_model().objects.filter(pk=pk, is_active=True).first()
    if user is None:
        raise UnknownReference(field, _("There is no active user with id %(id)s.") % {"id": pk})
    return user
