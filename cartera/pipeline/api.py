"""REST API of the pipeline: opportunities (open, move, win, lose), pipelines with their stages, and
lost reasons. A sales rep reaches their own opportunities, managers and admins all of them."""

import datetime
from decimal import Decimal
from typing import Annotated, Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from cartera.core.api_common import (
    CREATE_ERRORS,
    DELETE_ERRORS,
    LIST_ERRORS,
    READ_ERRORS,
    UPDATE_ERRORS,
    InRange,
    InSchema,
    OneOf,
    Page,
    PageIn,
    Patch,
    QueryIn,
    UnknownReference,
    active_user,
    page_of,
    responses,
)
from cartera.core.dates import ORDER_DATES
from cartera.core.scoping import require, restrict
from cartera.customers.models import Company, Customer, Source
from cartera.pipeline import selectors, services
from cartera.pipeline.models import LostReason, Opportunity, OpportunityStatus, Pipeline, PipelineStage

opportunity_router = Router(tags=["opportunities"])
pipeline_router = Router(tags=["pipelines"])

CloseDate = Annotated[datetime.date, InRange(services.CLOSE_DATES)]
OrderDate = Annotated[datetime.date, InRange(ORDER_DATES)]


class StageOut(Schema):
    id: int
    name: str
    position: int
    probability: int
    rotting_days: int | None


class PipelineOut(Schema):
    id: int
    name: str
    active: bool
    stages: list[StageOut]

    @staticmethod
    def resolve_stages(obj: Pipeline) -> list[PipelineStage]:
        return list(obj.stages.order_by("position", "id"))


class LostReasonOut(Schema):
    id: int
    name: str


class OpportunityIn(InSchema):
    title: Annotated[str, Field(min_length=1, max_length=200)]
    customer: int | None = Field(None, description="Customer id (a customer or a company is needed).")
    company: int | None = Field(None, description="Company id.")
    value: Decimal = Field(Decimal("0"), ge=0, max_digits=12, decimal_places=2, examples=["1500.00"])
    currency: Annotated[str, Field(min_length=3, max_length=3)] = "EUR"
    expected_close_on: CloseDate | None = None
    pipeline: int | None = Field(None, description="Pipeline id; the first active one when left out.")
    stage: int | None = Field(None, description="Stage id of that pipeline; its first stage when left out.")
    probability: int | None = Field(None, ge=0, le=100, description="Percent; the stage's when left out.")
    owner: int | None = Field(None, description="User id; yourself when left out (managers may choose).")
    source: Annotated[str, OneOf(Source, blank=True)] = ""
    next_step: Annotated[str, Field(max_length=200)] = ""
    next_step_on: CloseDate | None = None
    has_need: bool = False
    has_budget: bool = False
    has_decision_maker: bool = False
    has_timing: bool = False
    qualification_notes: str = ""


class OpportunityOut(Schema):
    id: int
    title: str
    customer: int | None = Field(None, alias="customer_id")
    company: int | None = Field(None, alias="company_id")
    value: Decimal = Field(..., description='A decimal string, e.g. `"1500.00"`.')
    currency: str
    expected_close_on: datetime.date | None
    pipeline: int = Field(..., alias="pipeline_id")
    stage: int = Field(..., alias="stage_id")
    probability: int
    weighted_value: Decimal
    owner: int | None = Field(None, alias="owner_id")
    source: Annotated[str, OneOf(Source, blank=True)]
    next_step: str
    next_step_on: datetime.date | None
    status: Annotated[str, OneOf(OpportunityStatus)]
    stage_entered_at: datetime.datetime
    closed_at: datetime.datetime | None
    lost_reason: int | None = Field(None, alias="lost_reason_id")
    lost_note: str
    order: int | None = Field(None, alias="order_id")
    rotting: bool
    has_need: bool
    has_budget: bool
    has_decision_maker: bool
    has_timing: bool
    qualification_notes: str
    created_at: datetime.datetime
    updated_at: datetime.datetime

    @staticmethod
    def resolve_rotting(obj: Opportunity) -> bool:
        return obj.is_rotting()


class OpportunityFilterIn(QueryIn):
    pipeline: int | None = None
    stage: int | None = None
    status: Annotated[str, OneOf(OpportunityStatus, blank=True)] = ""
    owner: int | None = None
    source: Annotated[str, OneOf(Source, blank=True)] = ""
    close_month: str = Field("", pattern=r"^(\d{4}-\d{2})?$", description="YYYY-MM of the expected close.")
    rotting: bool = False

    def to_filters(self) -> selectors.OpportunityFilters:
        month = None
        if self.close_month:
            try:
                month = datetime.date.fromisoformat(f"{self.close_month}-01")
            except ValueError as exc:
                raise UnknownReference("close_month", _("Choose a month, such as 2026-05.")) from exc
        return selectors.OpportunityFilters(
            pipeline_id=self.pipeline, stage_id=self.stage, status=self.status, owner_id=self.owner,
            source=self.source, close_month=month, rotting=self.rotting,
        )  # fmt: skip


class MoveIn(InSchema):
    stage: int = Field(..., description="Stage id in the opportunity's pipeline.")


class WinIn(InSchema):
    create_order: bool = Field(False, description="Record the order in sales (needs a customer).")
    ordered_on: OrderDate | None = Field(None, description="Today when left out.")
    amount: Decimal | None = Field(
        None, ge=0, max_digits=12, decimal_places=2, description="The value when left out."
    )


class LoseIn(InSchema):
    lost_reason: int = Field(..., description="Id from GET /api/pipelines/lost-reasons.")
    note: Annotated[str, Field(max_length=300)] = ""


def _refs(user: Any, data: dict[str, Any]) -> dict[str, Any]:
    """Ids of the body become rows (an id the user cannot reach is a 422 on its field)."""
    for name, model in (("customer", Customer), ("company", Company)):
        if data.get(name) is not None:
            row = restrict(model.objects.all(), user, "view").filter(pk=data[name]).first()
            if row is None:
                raise UnknownReference(
                    name, _("There is no %(name)s with id %(id)s.") % {"name": name, "id": data[name]}
                )
            data[name] = row
    if data.get("pipeline") is not None:
        pipeline = Pipeline.objects.filter(pk=data["pipeline"]).first()
        if pipeline is None:
            raise UnknownReference(
                "pipeline", _("There is no pipeline with id %(id)s.") % {"id": data["pipeline"]}
            )
        data["pipeline"] = pipeline
    if data.get("stage") is not None:
        stage = PipelineStage.objects.filter(pk=data["stage"]).first()
        if stage is None:
            raise UnknownReference("stage", _("There is no stage with id %(id)s.") % {"id": data["stage"]})
        data["stage"] = stage
        data.setdefault("pipeline", stage.pipeline)
    if "owner" in data:
        data["owner"] = active_user("owner", data["owner"]) if data["owner"] is not None else None
        if data["owner"] is None:
            data.pop("owner")
    for name in ("pipeline", "stage", "probability"):
        if name in data and data[name] is None:
            data.pop(name)
    return data


def _get(user: Any, pk: int, action: Any = "view") -> Opportunity:
    return selectors.opportunity_get(user=user, pk=pk, action=action)


@opportunity_router.get(
    "", response=responses({200: Page[OpportunityOut]}, *LIST_ERRORS), summary="List opportunities"
)
def list_opportunities(request: HttpRequest, filters: Query[OpportunityFilterIn], page: Query[PageIn]) -> Any:
    """Your opportunities (all of them for managers), newest first."""
    qs = selectors.opportunity_list(user=request.auth, filters=filters.to_filters())  # type: ignore[attr-defined]
    return page_of(qs.select_related("stage"), ordering=("-id",), page=page)


@opportunity_router.get(
    "/{int:opportunity_id}",
    response=responses({200: OpportunityOut}, *READ_ERRORS),
    summary="Get an opportunity",
)
def get_opportunity(request: HttpRequest, opportunity_id: int) -> Any:
    return _get(request.auth, opportunity_id)  # type: ignore[attr-defined]


@opportunity_router.post(
    "", response=responses({201: OpportunityOut}, *CREATE_ERRORS), summary="Open an opportunity"
)
def create_opportunity(request: HttpRequest, payload: OpportunityIn) -> Any:
    """Open an opportunity with a customer or a company; it starts in the pipeline's first stage unless
    another is given, with that stage's probability unless one is given."""
    user = request.auth  # type: ignore[attr-defined]
    require(user, Opportunity, "add")
    fields = _refs(user, payload.model_dump(exclude_unset=True))
    return Status(201, services.opportunity_create(actor=user, fields=fields))


@opportunity_router.patch(
    "/{int:opportunity_id}",
    response=responses({200: OpportunityOut}, *UPDATE_ERRORS),
    summary="Update an opportunity",
)
def update_opportunity(request: HttpRequest, opportunity_id: int, payload: Patch[OpportunityIn]) -> Any:
    """Change the fields sent; a new `stage` is a move, kept in the opportunity's history."""
    user = request.auth  # type: ignore[attr-defined]
    opportunity = _get(user, opportunity_id, "change")
    return services.opportunity_update(actor=user, opportunity=opportunity, fields=_refs(user, dict(payload)))


@opportunity_router.post(
    "/{int:opportunity_id}/move",
    response=responses({201: OpportunityOut}, *CREATE_ERRORS),
    summary="Move an opportunity to another stage",
)
def move_opportunity(request: HttpRequest, opportunity_id: int, payload: MoveIn) -> Any:
    user = request.auth  # type: ignore[attr-defined]
    opportunity = _get(user, opportunity_id, "change")
    stage = PipelineStage.objects.filter(pk=payload.stage).first()
    if stage is None:
        raise UnknownReference("stage", _("There is no stage with id %(id)s.") % {"id": payload.stage})
    return Status(201, services.opportunity_move(actor=user, opportunity=opportunity, stage=stage))


@opportunity_router.post(
    "/{int:opportunity_id}/win",
    response=responses({201: OpportunityOut}, *CREATE_ERRORS),
    summary="Mark an opportunity as won",
)
def win_opportunity(request: HttpRequest, opportunity_id: int, payload: WinIn) -> Any:
    """Close as won; with `create_order` the order is recorded for the customer."""
    user = request.auth  # type: ignore[attr-defined]
    opportunity = _get(user, opportunity_id, "change")
    won = services.opportunity_win(
        actor=user, opportunity=opportunity, create_order=payload.create_order,
        ordered_on=payload.ordered_on, amount=payload.amount,
    )  # fmt: skip
    return Status(201, won)


@opportunity_router.post(
    "/{int:opportunity_id}/lose",
    response=responses({201: OpportunityOut}, *CREATE_ERRORS),
    summary="Mark an opportunity as lost",
)
def lose_opportunity(request: HttpRequest, opportunity_id: int, payload: LoseIn) -> Any:
    user = request.auth  # type: ignore[attr-defined]
    opportunity = _get(user, opportunity_id, "change")
    reason = LostReason.objects.filter(pk=payload.lost_reason, active=True).first()
    if reason is None:
        raise UnknownReference(
            "lost_reason", _("There is no lost reason with id %(id)s.") % {"id": payload.lost_reason}
        )
    return Status(
        201, services.opportunity_lose(actor=user, opportunity=opportunity, reason=reason, note=payload.note)
    )


@opportunity_router.delete(
    "/{int:opportunity_id}", response=responses({204: None}, *DELETE_ERRORS), summary="Delete an opportunity"
)
def delete_opportunity(request: HttpRequest, opportunity_id: int) -> Any:
    user = request.auth  # type: ignore[attr-defined]
    services.opportunity_delete(actor=user, opportunity=_get(user, opportunity_id, "delete"))
    return Status(204, None)


def _require_viewer(user: Any) -> None:
    if not user.has_perm("pipeline.view_opportunity"):
        raise PermissionDenied


@pipeline_router.get(
    "", response=responses({200: list[PipelineOut]}, *LIST_ERRORS, 403), summary="List pipelines"
)
def list_pipelines(request: HttpRequest) -> Any:
    """Every pipeline with its stages (probability, rotting days), in order."""
    _require_viewer(request.auth)  # type: ignore[attr-defined]
    return list(Pipeline.objects.prefetch_related("stages").order_by("position", "id"))


@pipeline_router.get(
    "/lost-reasons",
    response=responses({200: list[LostReasonOut]}, *LIST_ERRORS, 403),
    summary="List lost reasons",
)
def list_lost_reasons(request: HttpRequest) -> Any:
    _require_viewer(request.auth)  # type: ignore[attr-defined]
    return list(selectors.lost_reasons())
