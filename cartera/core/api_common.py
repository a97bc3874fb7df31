"""Pieces every REST API router shares: error bodies, the declared status codes, keyset pages.

Kept out of :mod:`cartera.api` so that the domain routers can import them without importing the
API object that imports them.

No ``from __future__ import annotations`` here: django-ninja and pydantic read these annotations
at run time.
"""

import copy
import datetime
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Choices, Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Body, Field, FilterSchema, Schema, Status
from ninja.patch_dict import ModelToDict
from pydantic import AfterValidator, ConfigDict, GetCoreSchemaHandler, create_model, field_validator
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from cartera.core.concurrency import StaleEditError, etag, if_match, stale_answer_detail
from cartera.core.dates import ANY_DATES, DateRange
from cartera.core.money import base_currency
from cartera.core.pagination import paginate

MAX_PAGE_SIZE = 200

# What both databases store in an integer column (PostgreSQL's bigint, SQLite's INTEGER).
MIN_DB_INT, MAX_DB_INT = -(2**63), 2**63 - 1


def _is_surrogate(char: str) -> bool:
    return "\ud800" <= char <= "\udfff"


def storable(value: Any) -> Any:
    """``value`` unchanged if every part of it can be stored by both databases, else a 422 on its field.

    Run on every field of every API input (bodies, query parameters): text without NUL (PostgreSQL
    refuses it) or lone surrogates (not encodable as UTF-8), integers within 64 bits, dates within
    :data:`cartera.core.dates.ANY_DATES`. Lists and objects are checked item by item, keys included.
    """
    if isinstance(value, str):
        if "\x00" in value:
            raise PydanticCustomError(
                "invalid_text", _("The text contains a NUL character, which cannot be stored.")
            )
        if any(_is_surrogate(char) for char in value):
            raise PydanticCustomError(
                "invalid_text", _("The text contains an invalid character (an unpaired Unicode surrogate).")
            )
    elif isinstance(value, bool):
        pass
    elif isinstance(value, int):
        if not MIN_DB_INT <= value <= MAX_DB_INT:
            raise PydanticCustomError(
                "out_of_range",
                _("The number is too large: enter one between %(min)s and %(max)s.")
                % {"min": MIN_DB_INT, "max": MAX_DB_INT},
            )
    elif isinstance(value, datetime.date):
        _check_range(ANY_DATES, value)
    elif isinstance(value, dict):
        for key, item in value.items():
            storable(key)
            storable(item)
    elif isinstance(value, list | tuple | set):
        for item in value:
            storable(item)
    return value


def _check_range(date_range: DateRange, value: Any) -> Any:
    message = date_range.error(value)
    if message is not None:
        raise PydanticCustomError("date_out_of_range", message)
    return value


class InSchema(Schema):
    """A request body: a field the API does not know (a typo, a read-only field) is a 422, not ignored.

    Every value must be storable (see :func:`storable`).
    """

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return storable(value)


class QueryIn(Schema):
    """Query parameters: every value must be storable (see :func:`storable`), like a body's."""

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return storable(value)


def _base_currency_in_schema(schema: dict[str, Any]) -> None:
    # Written when the document is: the setting's value, not the code's guess of it.
    schema["default"] = base_currency()


def base_currency_field() -> Any:
    """A request's currency field: an ISO 4217 code, the base currency (``CARTERA_DEFAULT_CURRENCY``)
    when left out, read when the request arrives and shown as the default in the OpenAPI document."""
    return Field(
        default_factory=base_currency,
        description="ISO 4217 code (`EUR`, `usd`...; `€` and `£` are read too). Left out: the base "
        "currency, the `CARTERA_DEFAULT_CURRENCY` setting (EUR unless configured; the default shown "
        "here is this server's). An unknown code is a 422 on `currency`.",
        examples=["EUR"],
        json_schema_extra=_base_currency_in_schema,
    )


class FilterIn(FilterSchema):
    """Query parameters that filter a queryset (django-ninja's ``FilterSchema``), checked like :class:`QueryIn`."""

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return storable(value)


class _PatchOf:
    """``Patch[SomeIn]``: the body of a PATCH, where every field of ``SomeIn`` may be left out.

    django-ninja's ``PatchDict`` makes each field optional by making it *nullable*, so a JSON
    ``null`` reached the database as NULL in a NOT NULL text column (a 500). Here a field left out
    is left alone, and ``null`` is accepted only where ``SomeIn`` itself accepts it.
    The endpoint receives a dict of the fields that were sent.
    """

    def __getitem__(self, schema: type[Schema]) -> Any:
        fields: dict[str, Any] = {}
        for name, info in schema.model_fields.items():
            optional = copy.copy(info)
            optional.default, optional.default_factory = None, None
            fields[name] = (info.annotation, optional)
        patch_model = create_model(f"{schema.__name__}Patch", __base__=schema, **fields)

        class PatchBody(ModelToDict):
            _wrapped_model = patch_model
            _wrapped_model_dump_params = {"exclude_unset": True}

        return Body[PatchBody]


if TYPE_CHECKING:  # for mypy: ``Patch[SomeIn]`` is a dict of the fields sent

    class Patch[T](dict[str, Any]):
        pass

else:
    Patch = _PatchOf()


class ErrorOut(Schema):
    """Any refusal that is not about the fields of the request (400, 401, 403, 404, 405, 412, 413, 415)."""

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
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    412: ErrorOut,
    413: ErrorOut,
    415: ErrorOut,
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


# Status sets by kind of operation. 400: a cursor that is not one we issued, or a body that is not
# JSON; 415: a body sent as something other than JSON; 422: a field (or parameter) is wrong.
LIST_ERRORS = (400, 401, 422)
READ_ERRORS = (400, 401, 404, 422)
CREATE_ERRORS = (400, 401, 403, 404, 413, 415, 422)
# 412: the If-Match of a PATCH names an older version than the stored one (see ``update_if_match``).
UPDATE_ERRORS = (400, 401, 403, 404, 412, 413, 415, 422)
DELETE_ERRORS = (401, 403, 404)


def with_etag[M: Model](response: HttpResponse, row: M) -> M:
    """Name ``row``'s saved state in the ``ETag`` header (send it back in ``If-Match`` when updating)."""
    response["ETag"] = etag(row)
    return row


def update_if_match[M: Model](
    request: HttpRequest, response: HttpResponse, update: Callable[[str | None], M]
) -> M | Status[Any]:
    """Run ``update(expected_version)`` with the version the request's ``If-Match`` names.

    The update service checks the version inside its transaction (:func:`check_version`): when the
    row was saved since, nothing is written and the answer is 412. Without ``If-Match`` the last write
    wins, as documented. The answer carries the new ``ETag``.
    """
    try:
        with transaction.atomic():
            row = update(if_match(request))
    except StaleEditError:
        return Status(412, stale_answer_detail())
    return with_etag(response, row)


class Page[T](Schema):
    """One page of a list; pass ``next_cursor`` back as ``cursor`` for the next one (``null`` at the end)."""

    items: list[T]
    next_cursor: str | None


class PageIn(QueryIn):
    """Keyset pagination parameters of every list endpoint."""

    cursor: str | None = Field(None, description="The `next_cursor` of the previous page.")
    limit: int = Field(
        settings.CARTERA_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="Rows per page (at most 200)."
    )


def page_of(queryset: QuerySet[Any], *, ordering: Sequence[str], page: PageIn) -> dict[str, Any]:
    """The page of ``queryset`` that ``page`` asks for, ready for a ``Page[...]`` response."""
    result = paginate(queryset, ordering=ordering, cursor=page.cursor, size=page.limit, strict=True)
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


class InRange:
    """``Annotated[datetime.date, InRange(ORDER_DATES)]``: a date (or date-time) within a :class:`DateRange`.

    Out of range is a 422 on the field, with the accepted range in words.
    """

    def __init__(self, date_range: DateRange) -> None:
        self.date_range = date_range

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(
            lambda value: _check_range(self.date_range, value), handler(source)
        )


# Every date of an input is also held to ``ANY_DATES`` by :func:`storable`.
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
