"""REST API of the pipeline: opportunities (open, move, win, lose), pipelines with their stages, lost
reasons, call lists (today's calls, lists built from a segment, one-tap outcomes) and lead forms with
their answers. A sales rep reaches their own opportunities and call lists, managers and admins all of
them; lead forms are the managers'."""

import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
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
    base_currency_field,
    page_of,
    responses,
    update_if_match,
    with_etag,
)
from cartera.core.dates import ANY_DATES, ORDER_DATES
from cartera.core.scoping import get_for_user, require, restrict
from cartera.customers.models import Company, Customer, Source
from cartera.pipeline import selectors, services
from cartera.pipeline.models import (
    CallList,
    CallListEntry,
    CallOutcome,
    LeadAssignment,
    LeadForm,
    LostReason,
    Opportunity,
    OpportunityStatus,
    Pipeline,
    PipelineStage,
)

opportunity_router = Router(tags=["opportunities"])
pipeline_router = Router(tags=["pipelines"])
call_list_router = Router(tags=["call lists"])
lead_form_router = Router(tags=["lead forms"])
prospect_router = Router(tags=["prospects"])

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
    currency: str = base_currency_field()
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
def get_opportunity(request: HttpRequest, opportunity_id: int, response: HttpResponse) -> Any:
    """The opportunity; the `ETag` header names this saved state (send it back in `If-Match` when
    updating)."""
    return with_etag(response, _get(request.auth, opportunity_id))  # type: ignore[attr-defined]


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
def update_opportunity(
    request: HttpRequest, opportunity_id: int, payload: Patch[OpportunityIn], response: HttpResponse
) -> Any:
    """Change the fields sent; a new `stage` is a move, kept in the opportunity's history.

    Send the `ETag` of your last read (GET, or the previous PATCH's answer) in `If-Match`: if someone
    saved the opportunity since (an edit, a move on the board, a win), nothing is changed and the
    answer is 412; read it again and retry. Without `If-Match` the last write wins."""
    user = request.auth  # type: ignore[attr-defined]
    opportunity = _get(user, opportunity_id, "change")
    fields = _refs(user, dict(payload))

    def update(expected: str | None) -> Opportunity:
        return services.opportunity_update(
            actor=user, opportunity=opportunity, fields=fields, expected_version=expected
        )

    return update_if_match(request, response, update)


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


# --- call lists ------------------------------------------------------------------------------------

CallDate = Annotated[datetime.date, InRange(ANY_DATES)]


class CallListOut(Schema):
    id: int
    name: str
    assignee: int = Field(..., alias="assignee_id", description="User id of the person who calls.")
    for_date: datetime.date
    created_by: int | None = Field(None, alias="created_by_id")
    created_at: datetime.datetime
    total: int = Field(..., description="People on the list.")
    done: int = Field(..., description="People already called (any outcome).")


class CallListEntryOut(Schema):
    id: int
    customer: int = Field(..., alias="customer_id")
    customer_name: str
    phone: str
    position: int
    reason: str = Field(..., description='Why the person is on the list: always "assigned" here.')
    detail: str = Field(..., description="The list's name (what the manager built it for).")
    outcome: Annotated[str, OneOf(CallOutcome, blank=True)]
    called_at: datetime.datetime | None
    next_call_at: datetime.datetime | None = Field(
        None, description="The earliest open task about the customer for the list's person (a call back)."
    )

    @staticmethod
    def resolve_customer_name(obj: CallListEntry) -> str:
        return obj.customer.full_name

    @staticmethod
    def resolve_phone(obj: CallListEntry) -> str:
        return obj.customer.phone

    @staticmethod
    def resolve_reason(obj: CallListEntry) -> str:
        return "assigned"

    @staticmethod
    def resolve_detail(obj: CallListEntry) -> str:
        return obj.call_list.name


class CallListDetailOut(CallListOut):
    entries: list[CallListEntryOut]

    @staticmethod
    def resolve_entries(obj: CallList) -> list[CallListEntry]:
        return list(selectors.call_list_entries(call_list=obj))


class CallTodayOut(Schema):
    """One person to call today, in the order of the calls page (most at stake first)."""

    customer: int
    customer_name: str
    phone: str
    reason: Literal["assigned", "at_risk", "hot", "overdue", "new"] = Field(
        ...,
        description="assigned (a list), at_risk (value at risk), hot (opportunity), overdue (follow-up), "
        "new (lead)",
    )
    detail: str = Field(..., description="The list's name, the opportunity's title or the task's title.")
    stake: Decimal = Field(..., description="Value at risk, or the opportunity's weighted value.")
    call_list: int | None = None
    fit: int | None = Field(None, description="Prospect fit score (0-100) of a new lead.")


class CallTodayIn(QueryIn):
    min_fit: int | None = Field(None, ge=0, le=100, description="New leads scoring at least this.")


class CallListIn(InSchema):
    segment: int = Field(..., description="Id of the saved segment whose members are called.")
    name: Annotated[str, Field(min_length=1, max_length=120)]
    for_date: CallDate = Field(..., description="The day to call on.")
    assignee: int | None = Field(
        None, description="User id of the person who calls; each customer's owner when left out."
    )


class CallOutcomeIn(InSchema):
    outcome: Annotated[str, OneOf(CallOutcome)]
    call_back_on: CallDate | None = Field(None, description='The next call, for "call_back".')
    note: Annotated[str, Field(max_length=500)] = ""


class CallLoggedOut(Schema):
    entry: CallListEntryOut
    interaction: int = Field(..., description="The call on the customer's timeline.")


def _require_calls(user: Any) -> None:
    """The calls page's rule: whoever may see call lists (sales reps, managers, admins)."""
    require(user, CallList, "view")


@call_list_router.get(
    "", response=responses({200: Page[CallListOut]}, *LIST_ERRORS), summary="List call lists"
)
def list_call_lists(request: HttpRequest, page: Query[PageIn]) -> Any:
    """Your call lists (everybody's for managers), the newest day first, with how many were called."""
    qs = selectors.call_lists_for(user=request.auth)  # type: ignore[attr-defined]
    return page_of(qs, ordering=("-for_date", "-id"), page=page)


@call_list_router.get(
    "/today", response=responses({200: list[CallTodayOut]}, *LIST_ERRORS, 403), summary="Your calls for today"
)
def calls_today(request: HttpRequest, query: Query[CallTodayIn]) -> Any:
    """Who to call today, as the calls page orders them: the lists given to you, then customers at risk
    (by value at risk), hot opportunities, overdue follow-ups and new leads; each person once."""
    user = request.auth  # type: ignore[attr-defined]
    _require_calls(user)
    rows = selectors.calls_today(user=user, min_fit=query.min_fit)
    return [
        {"customer": r.customer.pk, "customer_name": r.customer.full_name, "phone": r.customer.phone,
         "reason": r.kind, "detail": r.detail, "stake": r.stake,
         "call_list": r.call_list.pk if r.call_list else None, "fit": r.fit}
        for r in rows
    ]  # fmt: skip


@call_list_router.get(
    "/{int:call_list_id}",
    response=responses({200: CallListDetailOut}, *READ_ERRORS),
    summary="Get a call list with its people",
)
def get_call_list(request: HttpRequest, call_list_id: int) -> Any:
    return selectors.call_list_get(user=request.auth, pk=call_list_id)  # type: ignore[attr-defined]


@call_list_router.post(
    "",
    response=responses({201: list[CallListOut]}, *CREATE_ERRORS),
    summary="Build call lists from a segment",
)
def create_call_lists(request: HttpRequest, payload: CallListIn) -> Any:
    """Managers: a list for `for_date` from a segment's members, for one person (`assignee`) or, left
    out, one list per owner with the customers they look after (at most 200 people a list)."""
    from cartera.segments.selectors import segment_list, segment_members

    user = request.auth  # type: ignore[attr-defined]
    require(user, CallList, "add")
    segment = segment_list(user=user).filter(pk=payload.segment).first()
    if segment is None:
        raise UnknownReference(
            "segment", _("There is no %(name)s with id %(id)s.") % {"name": "segment", "id": payload.segment}
        )
    assignee = active_user("assignee", payload.assignee) if payload.assignee is not None else None
    made = services.call_lists_from_segment(
        actor=user, members=segment_members(user=user, segment=segment), name=payload.name,
        for_date=payload.for_date, assignee=assignee,
    )  # fmt: skip
    return Status(201, list(selectors.call_lists_for(user=user).filter(pk__in=[c.pk for c in made])))


@call_list_router.post(
    "/{int:call_list_id}/entries/{int:entry_id}/outcome",
    response=responses({201: CallLoggedOut}, *CREATE_ERRORS),
    summary="Log how a call went",
)
def log_call(request: HttpRequest, call_list_id: int, entry_id: int, payload: CallOutcomeIn) -> Any:
    """One tap after calling someone on your list: `reached`, `no_answer`, or `call_back` with the day
    (`call_back_on`), which schedules the next call as a task for you. The call goes on the customer's
    timeline. Only the person the list is for logs its calls (a manager reading it gets 403)."""
    user = request.auth  # type: ignore[attr-defined]
    call_list = selectors.call_list_get(user=user, pk=call_list_id)
    entry = selectors.call_list_entry_get(call_list=call_list, pk=entry_id)
    interaction = services.call_outcome_log(
        actor=user, customer=entry.customer, outcome=payload.outcome, call_back_on=payload.call_back_on,
        note=payload.note, entry=entry,
    )  # fmt: skip
    return Status(201, {"entry": selectors.call_list_entry_get(call_list=call_list, pk=entry_id),
                        "interaction": interaction.pk})  # fmt: skip


# --- lead forms ------------------------------------------------------------------------------------


class LeadFormIn(InSchema):
    name: Annotated[str, Field(min_length=1, max_length=120)]
    active: bool = True
    title: Annotated[str, Field(min_length=1, max_length=150)]
    intro: str = ""
    thank_you: str = ""
    language: Literal["es", "en"] = "es"
    stage: Literal["suspect", "prospect"] = Field("prospect", description="New leads enter as.")
    fields: list[str] = Field(
        default_factory=list,
        description="Customer fields asked (first_name and email always are); `cf:<key>` for custom fields.",
    )
    required_fields: list[str] = Field(default_factory=list, description="Which of `fields` are required.")
    consent_text: str = Field("", description="A new wording gets a new consent version.")
    allowed_origins: str = Field(
        "", description="Websites that may embed the form, one per line (https://www.example.com)."
    )
    assignment: Annotated[str, OneOf(LeadAssignment)] = LeadAssignment.FIXED.value
    assign_to: int | None = Field(None, description="User id who gets every new lead (`fixed`).")
    round_robin_users: list[int] = Field(
        default_factory=list, description="User ids taking turns (`round_robin`)."
    )


class LeadFormOut(Schema):
    id: int
    name: str
    slug: str = Field(..., description="The public page is /pipeline/f/{slug}/.")
    active: bool
    title: str
    intro: str
    thank_you: str
    language: str
    stage: str
    fields: list[str]
    required_fields: list[str]
    consent_text: str
    consent_version: int
    allowed_origins: str
    assignment: Annotated[str, OneOf(LeadAssignment)]
    assign_to: int | None = Field(None, alias="assign_to_id")
    round_robin_users: list[int]
    created_by: int | None = Field(None, alias="created_by_id")
    answer_count: int
    new_count: int = Field(..., description="Answers that brought a new lead.")
    confirmed_count: int = Field(..., description="Answers whose marketing consent was confirmed by e-mail.")
    created_at: datetime.datetime
    updated_at: datetime.datetime

    @staticmethod
    def resolve_round_robin_users(obj: LeadForm) -> list[int]:
        return sorted(user.pk for user in obj.round_robin_users.all())


class LeadSubmissionOut(Schema):
    id: int
    customer: int = Field(..., alias="customer_id")
    created_new: bool
    owner: int | None = Field(None, alias="owner_id")
    answers: dict[str, Any]
    language: str
    page_url: str
    utm_source: str
    utm_medium: str
    utm_campaign: str
    utm_term: str
    utm_content: str
    consent_asked: bool
    consent_ticked: bool
    consent_text: str
    consent_version: str
    confirmation_sent_at: datetime.datetime | None
    confirmed_at: datetime.datetime | None
    created_at: datetime.datetime


def _lead_people(data: dict[str, Any]) -> tuple[dict[str, Any], list[Any] | None]:
    """The body's user ids become users (an unknown or inactive one is a 422 on its field)."""
    if "assign_to" in data:
        pk = data["assign_to"]
        data["assign_to"] = active_user("assign_to", pk) if pk is not None else None
    people = data.pop("round_robin_users", None)
    if people is not None:
        people = [active_user("round_robin_users", pk) for pk in people]
    return data, people


def _lead_form(user: Any, pk: int, action: Any = "view") -> LeadForm:
    return selectors.lead_form_get(user=user, pk=pk, action=action)


@lead_form_router.get(
    "", response=responses({200: Page[LeadFormOut]}, *LIST_ERRORS), summary="List lead forms"
)
def list_lead_forms(request: HttpRequest, page: Query[PageIn]) -> Any:
    """The lead forms (managers), by name, with their answers, new leads and confirmed consents."""
    qs = selectors.lead_forms(user=request.auth).prefetch_related("round_robin_users")  # type: ignore[attr-defined]
    return page_of(qs, ordering=("name", "id"), page=page)


@lead_form_router.get(
    "/{int:lead_form_id}", response=responses({200: LeadFormOut}, *READ_ERRORS), summary="Get a lead form"
)
def get_lead_form(request: HttpRequest, lead_form_id: int, response: HttpResponse) -> Any:
    return with_etag(response, _lead_form(request.auth, lead_form_id))  # type: ignore[attr-defined]


@lead_form_router.post(
    "", response=responses({201: LeadFormOut}, *CREATE_ERRORS), summary="Create a lead form"
)
def create_lead_form(request: HttpRequest, payload: LeadFormIn) -> Any:
    """Managers: a new public form; new leads go to `assign_to` (`fixed`) or in turn to
    `round_robin_users` (`round_robin`)."""
    user = request.auth  # type: ignore[attr-defined]
    require(user, LeadForm, "add")
    data, people = _lead_people(payload.model_dump())
    fields, required = data.pop("fields"), data.pop("required_fields")
    saved = services.lead_form_save(
        actor=user, lead_form=None, settings_values=data, fields=fields, required=required,
        round_robin_users=people or [],
    )  # fmt: skip
    return Status(201, _lead_form(user, saved.pk))


@lead_form_router.patch(
    "/{int:lead_form_id}",
    response=responses({200: LeadFormOut}, *UPDATE_ERRORS),
    summary="Update a lead form",
)
def update_lead_form(
    request: HttpRequest, lead_form_id: int, payload: Patch[LeadFormIn], response: HttpResponse
) -> Any:
    """Managers: change the fields sent. Send the `ETag` of your last read in `If-Match`: if someone
    saved the form since, nothing is changed and the answer is 412. A new `consent_text` gets a new
    `consent_version`."""
    user = request.auth  # type: ignore[attr-defined]
    lead_form = _lead_form(user, lead_form_id, "change")
    data, people = _lead_people(dict(payload))
    fields = data.pop("fields", None)
    required = data.pop("required_fields", None)

    def update(expected: str | None) -> LeadForm:
        saved = services.lead_form_save(
            actor=user, lead_form=lead_form, settings_values=data, expected_version=expected,
            fields=lead_form.fields if fields is None else fields,
            required=lead_form.required_fields if required is None else required,
            round_robin_users=list(lead_form.round_robin_users.all()) if people is None else people,
        )  # fmt: skip
        return _lead_form(user, saved.pk)

    return update_if_match(request, response, update)


@lead_form_router.get(
    "/{int:lead_form_id}/submissions",
    response=responses({200: Page[LeadSubmissionOut]}, *READ_ERRORS),
    summary="List a lead form's answers",
)
def list_lead_submissions(request: HttpRequest, lead_form_id: int, page: Query[PageIn]) -> Any:
    """Managers: the answers to a form, newest first: what was sent, where from, the consent as shown and
    whether it was confirmed, and the customer it became."""
    user = request.auth  # type: ignore[attr-defined]
    qs = selectors.lead_submission_list(user=user, lead_form=_lead_form(user, lead_form_id))
    return page_of(qs, ordering=("-created_at", "-id"), page=page)


# --- prospects and their fit score ----------------------------------------------------------------


class ProspectOut(Schema):
    """A suspect or prospect with their fit score: how much they look like the customers who bring the
    revenue (the top 20 % by revenue), 0-100, as the prospects page shows it."""

    id: int = Field(..., description="The customer's id (`/api/customers/{id}`).")
    name: str
    stage: str
    owner: int | None = None
    fit: int | None = Field(None, description="0-100; null: not scored yet (scored after each refresh).")
    fit_reasons: list[str] = Field(
        default_factory=list, description='Why, in words: "Sector: Industria", "Age: 35-44"...'
    )
    fit_persona: int | None = Field(
        None, description="The persona whose paying members they look most like (its id); null: none."
    )
    fit_persona_name: str | None = None
    fit_computed_at: datetime.datetime | None = None


class ProspectFilterIn(QueryIn):
    min_fit: int | None = Field(None, ge=0, le=100, description="Only those scoring at least this.")
    owner: int | None = Field(None, description="Only this user's prospects (a user id).")


def _prospect(customer: Customer) -> dict[str, Any]:
    fit = getattr(customer, "prospect_fit", None)
    return {
        "id": customer.pk, "name": customer.full_name, "stage": customer.stage, "owner": customer.owner_id,
        "fit": fit.score if fit else None, "fit_reasons": selectors.fit_reasons(fit.reasons) if fit else [],
        "fit_persona": fit.persona_id if fit else None,
        "fit_persona_name": fit.persona.name if fit and fit.persona else None,
        "fit_computed_at": fit.computed_at if fit else None,
    }  # fmt: skip


@prospect_router.get(
    "", response=responses({200: Page[ProspectOut]}, *LIST_ERRORS), summary="List prospects by fit score"
)
def list_prospects(request: HttpRequest, filters: Query[ProspectFilterIn], page: Query[PageIn]) -> Any:
    """The suspects and prospects you may see, the best fit first (those not scored yet last), with
    the reasons of each score."""
    user = request.auth  # type: ignore[attr-defined]
    qs = selectors.prospects(user=user, min_fit=filters.min_fit, owner_id=filters.owner)
    found = page_of(qs, ordering=("-prospect_fit__score", "-id"), page=page)
    return {**found, "items": [_prospect(c) for c in found["items"]]}


@prospect_router.get(
    "/{int:customer_id}",
    response=responses({200: ProspectOut}, *READ_ERRORS),
    summary="Get one customer's fit score",
)
def get_prospect(request: HttpRequest, customer_id: int) -> Any:
    """One customer's fit score and its reasons (`fit` is null for a customer who is not a suspect or
    prospect, or not scored yet)."""
    user = request.auth  # type: ignore[attr-defined]
    customer = get_for_user(
        Customer.objects.select_related("prospect_fit", "prospect_fit__persona"), user, pk=customer_id
    )
    return _prospect(customer)
