"""REST API for segments: create, list, count, and evaluate (members a page at a time).

Definitions are the same JSON as in the web builder (see docs/segments.md), checked against the
allowlist; members always come through the scoping helper.
"""

import json
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from cartera.core.api_common import CREATE_ERRORS, LIST_ERRORS, READ_ERRORS, Page, PageIn, page_of, responses
from cartera.core.scoping import require
from cartera.customers.api import CustomerOut
from cartera.segments import selectors, services
from cartera.segments.models import Segment

segment_router = Router(tags=["segments"])


class SegmentIn(Schema):
    name: str
    description: str = ""
    definition: dict[str, Any]
    kind: Literal["dynamic", "static"] = "dynamic"


class SegmentOut(Schema):
    id: int
    name: str
    description: str
    definition: dict[str, Any]
    kind: str
    owner: int | None = None

    @staticmethod
    def resolve_owner(obj: Any) -> int | None:
        return obj.owner_id  # type: ignore[no-any-return]


class DefinitionIn(Schema):
    definition: str = Field(..., description="The definition as JSON text (see docs/segments.md).")


class CountOut(Schema):
    count: int


@segment_router.get("", response=responses({200: list[SegmentOut]}, *LIST_ERRORS), summary="List segments")
def list_segments(request: HttpRequest) -> Any:
    return list(selectors.segment_list(user=request.auth)[:500])  # type: ignore[attr-defined]


@segment_router.post("", response=responses({201: SegmentOut}, *CREATE_ERRORS), summary="Create a segment")
def create_segment(request: HttpRequest, payload: SegmentIn) -> Any:
    user = request.auth  # type: ignore[attr-defined]
    require(user, Segment, "add")
    return Status(201, services.segment_create(actor=user, fields=payload.model_dump()))


@segment_router.get("/count", response=responses({200: CountOut}, *LIST_ERRORS), summary="Count a definition")
def count_definition(request: HttpRequest, query: Query[DefinitionIn]) -> Any:
    """How many customers a definition matches, without saving it."""
    user = request.auth  # type: ignore[attr-defined]
    try:
        definition = json.loads(query.definition)
    except json.JSONDecodeError as exc:
        raise ValidationError(_("The definition is not valid JSON.")) from exc
    return {"count": selectors.definition_count(user=user, definition=definition)}


# A segment whose stored conditions no longer pass the checks (written by an older version) is a 422
# that says why, like an unsaved definition.
EVALUATE_ERRORS = (*READ_ERRORS, 422)


@segment_router.get(
    "/{int:segment_id}/count",
    response=responses({200: CountOut}, *EVALUATE_ERRORS),
    summary="Count a segment",
)
def count_segment(request: HttpRequest, segment_id: int) -> Any:
    user = request.auth  # type: ignore[attr-defined]
    segment = selectors.segment_get(user=user, pk=segment_id)
    return {"count": selectors.segment_count(user=user, segment=segment)}


@segment_router.get(
    "/{int:segment_id}/members",
    response=responses({200: Page[CustomerOut]}, *EVALUATE_ERRORS),
    summary="Evaluate a segment (its members, a page at a time)",
)
def segment_members(request: HttpRequest, segment_id: int, page: Query[PageIn]) -> Any:
    user = request.auth  # type: ignore[attr-defined]
    segment = selectors.segment_get(user=user, pk=segment_id)
    qs = selectors.segment_members(user=user, segment=segment).prefetch_related("tags")
    return page_of(qs, ordering=["-id"], page=page)
