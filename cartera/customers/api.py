"""REST API for the customer file: customers, companies and tags.

Each endpoint parses its input, calls one selector or service and returns; who may do what is
decided by :mod:`cartera.core.scoping` and the services, exactly as for the web pages.
"""

import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db import transaction
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
    page_of,
    responses,
    update_if_match,
    with_etag,
)
from cartera.core.dates import BIRTH_DATES
from cartera.core.scoping import get_for_user, require, restrict
from cartera.customers.classification import ABCClass, Lifecycle, RFMSegment, reason_text
from cartera.customers.fields import custom_field_specs
from cartera.customers.models import (
    Channel,
    Company,
    CompanySize,
    Customer,
    IncomeRange,
    Source,
    Stage,
    StageChange,
    StageVia,
    Title,
)
from cartera.customers.selectors import (
    CUSTOMER_SORTS,
    CustomerFilters,
    company_list,
    customer_detail,
    customer_list,
    customer_merge_detail,
    duplicate_candidate_list,
    duplicate_pair,
    may_merge,
    merge_moving_counts,
    merge_preview,
    merge_scope,
    tag_list,
)
from cartera.customers.services import (
    company_create,
    company_delete,
    company_update,
    customer_create,
    customer_delete,
    customer_merge,
    customer_merge_undo,
    customer_stage_change,
    customer_update,
    customer_viewed,
    merge_order,
    tags_get_or_create,
)

customer_router = Router(tags=["customers"])
company_router = Router(tags=["companies"])
tag_router = Router(tags=["tags"])


# --- customers ------------------------------------------------------------------------------------


class CustomerIn(InSchema):
    """A customer as written by a client. Email and phone are normalised (and checked) by the service;
    references are ids."""

    title: Annotated[str, OneOf(Title, blank=True)] = ""
    first_name: str
    last_name: str = ""
    email: str | None = Field(None, description="Stored lower-case; must not belong to another customer.")
    phone: str = Field("", description="Any common format; stored in E.164 (`+34612345678`).")
    stage: Stage = Stage.PROSPECT
    sector: str = ""
    company: int | None = Field(None, description="Company id.")
    job_title: str = ""
    profession: str = ""
    birth_date: Annotated[datetime.date, InRange(BIRTH_DATES)] | None = Field(
        None, description="From 1900-01-01 to today."
    )
    address: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = Field("ES", description="ISO 3166 alpha-2 code.")
    preferred_channel: Annotated[str, OneOf(Channel, blank=True)] = ""
    opt_in_email: bool = False
    opt_in_phone: bool = False
    opt_in_sms: bool = False
    opt_in_mail: bool = False
    source: Annotated[str, OneOf(Source, blank=True)] = ""
    income_range: Annotated[str, OneOf(IncomeRange, blank=True)] = ""
    owner: int | None = Field(
        None,
        description="User id; defaults to you. Only managers and admins may choose someone else or none.",
    )
    notes: str = ""
    custom_fields: dict[str, Any] = Field(default_factory=dict, description="Values by custom field key.")
    tags: list[str] = Field(default_factory=list, description="Tag names; unknown ones are created.")


class MetricsOut(Schema):
    """What the last refresh of the analysis says about the customer (see docs/analytics.md)."""

    lifecycle: Lifecycle
    reason_code: str
    reason: str = Field(description="The reason in words, in the request's language.")
    orders_count: int
    revenue: Decimal
    first_order_on: datetime.date | None
    last_order_on: datetime.date | None
    recency_days: int | None
    frequency: int
    monetary: Decimal
    usual_interval_days: float | None
    p_alive: float | None = Field(description="Probability the customer is still active (BG/NBD).")
    expected_purchases_90d: float | None
    clv_12m: Decimal | None = Field(description="Expected discounted value of the next 12 months.")
    r_score: int | None
    f_score: int | None
    m_score: int | None
    rfm_segment: str
    abc_class: str
    declining: bool
    decline_since: datetime.date | None
    computed_at: datetime.datetime

    @staticmethod
    def resolve_reason(obj: Any) -> str:
        return reason_text(obj.reason_code, obj.reason_data)


class CustomerOut(Schema):
    id: int
    title: Annotated[str, OneOf(Title, blank=True)]
    first_name: str
    last_name: str
    full_name: str
    email: str | None
    phone: str
    stage: Stage
    sector: str
    company: int | None
    job_title: str
    profession: str
    birth_date: datetime.date | None
    address: str
    city: str
    region: str
    postal_code: str
    country: str
    preferred_channel: Annotated[str, OneOf(Channel, blank=True)]
    opt_in_email: bool
    opt_in_phone: bool
    opt_in_sms: bool
    opt_in_mail: bool
    source: Annotated[str, OneOf(Source, blank=True)]
    income_range: Annotated[str, OneOf(IncomeRange, blank=True)]
    owner: int | None
    notes: str
    custom_fields: dict[str, Any]
    tags: list[str]
    created_at: datetime.datetime
    updated_at: datetime.datetime
    metrics: MetricsOut | None = Field(description="Null until the analysis has run for this customer.")

    @staticmethod
    def resolve_metrics(obj: Customer) -> Any:
        # The metrics row belongs to the insights app (above this one): reached by its relation name.
        try:
            return obj.metrics
        except ObjectDoesNotExist:
            return None

    @staticmethod
    def resolve_company(obj: Customer) -> int | None:
        return obj.company_id

    @staticmethod
    def resolve_owner(obj: Customer) -> int | None:
        return obj.owner_id

    @staticmethod
    def resolve_tags(obj: Customer) -> list[str]:
        return [tag.name for tag in obj.tags.all()]


class CustomerFilterIn(QueryIn):
    q: str = Field(
        "",
        description="Words of the name or e-mail (each the start of a word, any order), an e-mail, "
        "a phone or the start of a company name.",
    )
    stage: Stage | None = None
    owner: int | None = Field(None, description="Owner's user id.")
    tag: int | None = Field(None, description="Tag id (see `GET /api/tags`).")
    sector: str = ""
    source: Source | None = None
    company: int | None = Field(None, description="Company id.")
    lifecycle: Lifecycle | None = None
    rfm_segment: RFMSegment | None = None
    abc_class: ABCClass | None = None
    declining: bool = False
    sort: Literal["newest", "oldest", "name", "-name", "revenue", "clv", "last_purchase"] = "newest"
    custom: list[str] = Field(
        default_factory=list,
        description="Custom field filters, each `key:value` (repeat the parameter for several): a choice "
        "or yes/no field equal to the value, a text field containing it, a number or date (YYYY-MM-DD) "
        "equal to it. Keys are listed by `GET /api/customers/custom-fields`.",
    )

    def custom_filters(self) -> tuple[tuple[str, str], ...]:
        """The ``custom`` pairs, each checked against its field (a 422 on ``custom`` otherwise)."""
        if not self.custom:
            return ()
        specs = {spec.key: spec for spec in custom_field_specs()}
        pairs = []
        for item in self.custom:
            key, sep, raw = item.partition(":")
            spec = specs.get(key)
            if not sep or spec is None:
                raise UnknownReference("custom", _("Unknown custom field “%(key)s”.") % {"key": key})
            try:
                spec.parse(raw)
            except (ValueError, ArithmeticError):
                raise UnknownReference(
                    "custom",
                    _("“%(value)s” is not valid for %(label)s.") % {"value": raw, "label": spec.label},
                ) from None
            pairs.append((key, raw))
        return tuple(pairs)

    def to_filters(self) -> CustomerFilters:
        return CustomerFilters(
            custom=self.custom_filters(),
            query=self.q,
            stage=self.stage or "",
            owner_id=self.owner,
            tag_id=self.tag,
            sector=self.sector,
            source=self.source or "",
            company_id=self.company,
            lifecycle=self.lifecycle or "",
            rfm_segment=self.rfm_segment or "",
            abc_class=self.abc_class or "",
            declining=self.declining,
        )


def _customer_fields(user: Any, data: dict[str, Any]) -> tuple[dict[str, Any], list[str] | None]:
    """Service arguments from a request body: ids become rows; tags go apart."""
    tags = data.pop("tags", None)
    if data.get("company") is not None:
        company = restrict(Company.objects.all(), user, "view").filter(pk=data["company"]).first()
        if company is None:
            raise UnknownReference(
                "company", _("There is no company with id %(id)s.") % {"id": data["company"]}
            )
        data["company"] = company
    if data.get("owner") is not None:
        data["owner"] = active_user("owner", data["owner"])
    return data, tags


@customer_router.get("", response=responses({200: Page[CustomerOut]}, *LIST_ERRORS), summary="List customers")
def list_customers(request: HttpRequest, filters: Query[CustomerFilterIn], page: Query[PageIn]) -> Any:
    """Every customer of the shared portfolio, filtered and sorted, a page at a time."""
    qs = customer_list(user=request.auth, filters=filters.to_filters()).prefetch_related("tags")  # type: ignore[attr-defined]
    return page_of(qs, ordering=CUSTOMER_SORTS[filters.sort], page=page)


class CustomFieldOut(Schema):
    key: str = Field(
        description="The name in `custom_fields`, in the `custom` filter and as an import column."
    )
    label: str
    field_type: Literal["text", "number", "date", "boolean", "choice"]
    choices: list[str] = Field(description="The values a choice field takes.")
    required: bool
    editable_by: Literal["everyone", "managers", "admins"]

    @staticmethod
    def resolve_choices(obj: Any) -> list[str]:
        return list(obj.choice_list())


@customer_router.get(
    "/custom-fields",
    response=responses({200: list[CustomFieldOut]}, *LIST_ERRORS, 403),
    summary="List the custom fields",
)
def list_custom_fields(request: HttpRequest) -> Any:
    """The fields an administrator added to every customer, in the order forms show them."""
    require(request.auth, Customer, "view")  # type: ignore[attr-defined]
    return [spec.definition for spec in custom_field_specs()]


@customer_router.get(
    "/{int:customer_id}", response=responses({200: CustomerOut}, *READ_ERRORS), summary="Get a customer"
)
def get_customer(request: HttpRequest, customer_id: int, response: HttpResponse) -> Any:
    """The customer; the `ETag` header names this saved state (send it back in `If-Match` when updating)."""
    customer = customer_detail(user=request.auth, pk=customer_id)  # type: ignore[attr-defined]
    customer_viewed(actor=request.auth, customer=customer, where="api")  # type: ignore[attr-defined]
    return with_etag(response, customer)


@customer_router.post("", response=responses({201: CustomerOut}, *CREATE_ERRORS), summary="Create a customer")
def create_customer(request: HttpRequest, payload: CustomerIn) -> Any:
    """Create a customer; you own it unless a manager names another owner."""
    user = request.auth  # type: ignore[attr-defined]
    require(user, Customer, "add")
    fields, tags = _customer_fields(user, payload.model_dump(exclude_unset=True))
    # Tags are created with the customer or not at all.
    with transaction.atomic():
        customer = customer_create(actor=user, fields=fields, tags=tags_get_or_create(names=tags or ()))
    return Status(201, customer)


@customer_router.patch(
    "/{int:customer_id}",
    response=responses({200: CustomerOut}, *UPDATE_ERRORS),
    summary="Update a customer",
)
def update_customer(
    request: HttpRequest, customer_id: int, payload: Patch[CustomerIn], response: HttpResponse
) -> Any:
    """Change the fields sent (and only those); `tags`, when sent, replaces the customer's tags, and
    `custom_fields` changes the custom fields it names (`null` clears one) and keeps the others.

    Send the `ETag` of your last read in `If-Match`: if someone saved the customer since, nothing is
    changed and the answer is 412 (read it again, then retry).
    """
    user = request.auth  # type: ignore[attr-defined]
    customer = get_for_user(Customer.objects.all(), user, "change", pk=customer_id)
    fields, tags = _customer_fields(user, dict(payload))
    if fields.get("custom_fields") is not None:
        # Custom fields sent are merged into the stored ones (null clears one), like the other fields.
        fields["custom_fields"] = {**(customer.custom_fields or {}), **fields["custom_fields"]}

    def update(expected: str | None) -> Customer:
        tag_rows = tags_get_or_create(names=tags) if tags is not None else None
        return customer_update(
            actor=user,
            customer=customer,
            fields=fields,
            tags=tag_rows,
            expected_version=expected,
            via=StageVia.API,
        )

    return update_if_match(request, response, update)


@customer_router.delete(
    "/{int:customer_id}", response=responses({204: None}, *DELETE_ERRORS), summary="Delete a customer"
)
def delete_customer(request: HttpRequest, customer_id: int) -> Any:
    """Delete a customer with their interactions, orders and tasks (managers and admins)."""
    user = request.auth  # type: ignore[attr-defined]
    customer_delete(actor=user, customer=get_for_user(Customer.objects.all(), user, "delete", pk=customer_id))
    return Status(204, None)


class StageChangeIn(InSchema):
    """A move of the relationship stage, with why (kept in the stage history)."""

    stage: Annotated[str, OneOf(Stage)]
    reason: Annotated[str, Field(max_length=300)] = ""


class StageChangeOut(Schema):
    id: int
    from_stage: Annotated[str, OneOf(Stage, blank=True)]
    to_stage: Annotated[str, OneOf(Stage)]
    changed_by: int | None = Field(None, alias="changed_by_id")
    changed_at: datetime.datetime
    reason: str
    via: Annotated[str, OneOf(StageVia)]


@customer_router.post(
    "/{int:customer_id}/stage",
    response=responses({201: CustomerOut}, *CREATE_ERRORS),
    summary="Change a customer's stage",
)
def change_customer_stage(request: HttpRequest, customer_id: int, payload: StageChangeIn) -> Any:
    """Move the customer to another relationship stage; the move (from, to, who, when, why) is kept in
    the stage history. Moving to the stage the customer is already in changes nothing."""
    user = request.auth  # type: ignore[attr-defined]
    customer = get_for_user(Customer.objects.all(), user, "change", pk=customer_id)
    customer_stage_change(
        actor=user, customer=customer, stage=payload.stage, reason=payload.reason, via=StageVia.API
    )
    return Status(201, customer_detail(user=user, pk=customer_id))


@customer_router.get(
    "/{int:customer_id}/stage-history",
    response=responses({200: Page[StageChangeOut]}, *LIST_ERRORS, 404),
    summary="A customer's stage history",
)
def list_customer_stage_history(request: HttpRequest, customer_id: int, page: Query[PageIn]) -> Any:
    """Every move of the customer's stage, newest first."""
    user = request.auth  # type: ignore[attr-defined]
    customer = customer_detail(user=user, pk=customer_id)
    changes = restrict(StageChange.objects.filter(customer=customer), user, "view")
    return page_of(changes, ordering=("-changed_at", "-id"), page=page)


# --- companies ------------------------------------------------------------------------------------


class CompanyIn(InSchema):
    name: str
    tax_id: str = Field("", description="CIF/NIF; unique when present.")
    sector: str = ""
    size: Annotated[str, OneOf(CompanySize, blank=True)] = ""
    region: str = ""
    website: str = ""


class CompanyOut(Schema):
    id: int
    name: str
    tax_id: str
    sector: str
    size: Annotated[str, OneOf(CompanySize, blank=True)]
    region: str
    website: str
    created_at: datetime.datetime
    updated_at: datetime.datetime


class CompanyFilterIn(QueryIn):
    q: str = Field("", description="Name prefix.")


@company_router.get("", response=responses({200: Page[CompanyOut]}, *LIST_ERRORS), summary="List companies")
def list_companies(request: HttpRequest, filters: Query[CompanyFilterIn], page: Query[PageIn]) -> Any:
    qs = company_list(user=request.auth, query=filters.q)  # type: ignore[attr-defined]
    return page_of(qs, ordering=("name", "id"), page=page)


@company_router.get(
    "/{int:company_id}", response=responses({200: CompanyOut}, *READ_ERRORS), summary="Get a company"
)
def get_company(request: HttpRequest, company_id: int, response: HttpResponse) -> Any:
    """The company; the `ETag` header names this saved state (send it back in `If-Match` when updating)."""
    company = get_for_user(Company.objects.all(), request.auth, "view", pk=company_id)  # type: ignore[attr-defined]
    return with_etag(response, company)


@company_router.post("", response=responses({201: CompanyOut}, *CREATE_ERRORS), summary="Create a company")
def create_company(request: HttpRequest, payload: CompanyIn) -> Any:
    user = request.auth  # type: ignore[attr-defined]
    require(user, Company, "add")
    return Status(201, company_create(actor=user, fields=payload.model_dump(exclude_unset=True)))


@company_router.patch(
    "/{int:company_id}", response=responses({200: CompanyOut}, *UPDATE_ERRORS), summary="Update a company"
)
def update_company(
    request: HttpRequest, company_id: int, payload: Patch[CompanyIn], response: HttpResponse
) -> Any:
    """Change the fields sent; with `If-Match`, refused with 412 if someone saved the company since."""
    user = request.auth  # type: ignore[attr-defined]
    company = get_for_user(Company.objects.all(), user, "change", pk=company_id)
    return update_if_match(
        request,
        response,
        lambda expected: company_update(
            actor=user, company=company, fields=dict(payload), expected_version=expected
        ),
    )


@company_router.delete(
    "/{int:company_id}", response=responses({204: None}, *DELETE_ERRORS), summary="Delete a company"
)
def delete_company(request: HttpRequest, company_id: int) -> Any:
    """Delete a company; its contacts stay, without a company."""
    user = request.auth  # type: ignore[attr-defined]
    company_delete(actor=user, company=get_for_user(Company.objects.all(), user, "delete", pk=company_id))
    return Status(204, None)


# --- tags -----------------------------------------------------------------------------------------


class TagOut(Schema):
    id: int
    name: str


@tag_router.get("", response=responses({200: Page[TagOut]}, *LIST_ERRORS), summary="List tags")
def list_tags(request: HttpRequest, page: Query[PageIn]) -> Any:
    """Tags by name, with the ids that the customer list's `tag` filter takes."""
    return page_of(tag_list(user=request.auth), ordering=("name", "id"), page=page)  # type: ignore[attr-defined]


# --- duplicates and merges -------------------------------------------------------------------------

duplicate_router = Router(tags=["duplicates"])


class CustomerBriefOut(Schema):
    """Who a customer is, enough to tell two records apart."""

    id: int
    full_name: str
    email: str | None
    phone: str
    city: str
    company: str = ""
    owner: int | None = Field(None, alias="owner_id")
    created_at: datetime.datetime

    @staticmethod
    def resolve_company(obj: Customer) -> str:
        return obj.company.name if obj.company_id else ""  # type: ignore[union-attr]


class DuplicatePairOut(Schema):
    id: int
    first: CustomerBriefOut = Field(
        ..., description="One record of the pair; merge-preview's `suggested_keep` says which to keep."
    )
    second: CustomerBriefOut
    score: int = Field(..., description="0-100: how alike the two records are.")
    level: Literal["high", "medium", "low"]
    reasons: list[str] = Field(..., description="Codes of what agrees and what differs (`same_phone`...).")
    reason_labels: list[str] = Field(..., description="The reasons in the request's language.")
    found_at: datetime.datetime

    @staticmethod
    def resolve_level(obj: Any) -> str:
        return duplicate_pair(obj).level

    @staticmethod
    def resolve_reason_labels(obj: Any) -> list[str]:
        return duplicate_pair(obj).reason_labels()


class MergeFieldOut(Schema):
    name: str
    label: str
    keep: str = Field(..., description="The kept record's value, as the merge screen shows it.")
    remove: str = Field(..., description="The other record's value.")
    default: Literal["keep", "remove"] = Field(..., description="Whose value survives unless chosen.")
    differs: bool


class MovingOut(Schema):
    kind: str
    count: int


class MergePreviewOut(Schema):
    keep: CustomerBriefOut
    remove: CustomerBriefOut
    suggested_keep: int = Field(
        ..., description="The record the web screen keeps by default (fuller, older)."
    )
    fields: list[MergeFieldOut]
    moving: list[MovingOut] = Field(..., description="What goes with the removed record into the kept one.")


class MergePreviewIn(QueryIn):
    keep: int = Field(..., description="Id of the customer kept.")
    remove: int = Field(
        ..., description="Id of the customer merged into it (deleted; the merge can be undone)."
    )


class MergeIn(InSchema):
    keep: int = Field(..., description="Id of the customer kept.")
    remove: int = Field(..., description="Id of the customer merged into it.")
    choices: dict[str, Literal["keep", "remove"]] = Field(
        default_factory=dict,
        description="Per field (see merge-preview), whose value survives; the defaults for those left out.",
    )


class MergeOut(Schema):
    id: int
    keep: int = Field(..., alias="keep_id")
    removed_id: int = Field(..., description="The removed customer's id (it comes back with it on undo).")
    removed_label: str
    actor: int | None = Field(None, alias="actor_id")
    merged_at: datetime.datetime
    undone_at: datetime.datetime | None
    undone_by: int | None = Field(None, alias="undone_by_id")


def _may_merge(user: Any) -> None:
    """The duplicates page's rule (:func:`~cartera.customers.selectors.may_merge`), checked before the
    request's ids are looked at, so that someone with no right to merge gets 403, not a 422."""
    if not may_merge(user):
        raise PermissionDenied


def _mergeable(user: Any, pk: int) -> Customer:
    """A customer of a preview: 404 when ``user`` cannot see it, 403 when they see it but may not merge
    it (a colleague's, for a sales rep)."""
    customer = get_for_user(Customer.objects.select_related("company", "owner"), user, "view", pk=pk)
    if not merge_scope(user).filter(pk=pk).exists():
        raise PermissionDenied
    return customer


def _visible(user: Any, field: str, pk: int) -> Customer:
    customer = restrict(Customer.objects.select_related("company"), user, "view").filter(pk=pk).first()
    if customer is None:
        raise UnknownReference(
            field, _("There is no %(name)s with id %(id)s.") % {"name": "customer", "id": pk}
        )
    return customer


@duplicate_router.get(
    "/duplicates",
    response=responses({200: Page[DuplicatePairOut]}, *LIST_ERRORS, 403),
    summary="List possible duplicates",
)
def list_duplicates(request: HttpRequest, page: Query[PageIn]) -> Any:
    """Pairs of customers that may be one person, most alike first, among those you may merge: every
    pair for managers and admins, the pairs whose two records are both yours for a sales rep. The
    pairs are those of the last search (see docs/import-export.md)."""
    user = request.auth  # type: ignore[attr-defined]
    _may_merge(user)
    return page_of(duplicate_candidate_list(user=user), ordering=("-score", "id"), page=page)


@duplicate_router.get(
    "/merge-preview",
    response=responses({200: MergePreviewOut}, *READ_ERRORS, 403),
    summary="Preview a merge",
)
def preview_merge(request: HttpRequest, query: Query[MergePreviewIn]) -> Any:
    """Both records field by field, with whose value survives by default and what moves with the removed
    one. Nothing is changed."""
    user = request.auth  # type: ignore[attr-defined]
    _may_merge(user)
    if query.keep == query.remove:
        raise UnknownReference("remove", _("A customer cannot be merged with itself."))
    keep, remove = _mergeable(user, query.keep), _mergeable(user, query.remove)
    return {
        "keep": keep, "remove": remove, "suggested_keep": merge_order(keep, remove)[0].pk,
        "fields": merge_preview(keep=keep, remove=remove),
        "moving": [{"kind": kind, "count": n} for kind, n in merge_moving_counts(customer=remove)],
    }  # fmt: skip


@duplicate_router.post(
    "/merge", response=responses({201: MergeOut}, *CREATE_ERRORS), summary="Merge two customers"
)
def merge_customers(request: HttpRequest, payload: MergeIn) -> Any:
    """Fold `remove` into `keep`: every interaction, order, task, tag, consent record moves; each field
    takes the value of the side named in `choices` (the defaults of merge-preview otherwise); the kept
    record gets the earlier creation date. Your rights on both records are checked as the merge runs:
    managers merge any two, a sales rep two of their own customers (a colleague's: 403); someone who
    may not merge at all gets 403 before the body's ids are looked at. Undo with
    POST /api/customers/merges/{id}/undo."""
    user = request.auth  # type: ignore[attr-defined]
    _may_merge(user)
    keep, remove = _visible(user, "keep", payload.keep), _visible(user, "remove", payload.remove)
    record = customer_merge(actor=user, keep=keep, remove=remove, choices=payload.choices)
    return Status(201, record)


@duplicate_router.get(
    "/merges/{int:merge_id}", response=responses({200: MergeOut}, *READ_ERRORS), summary="Get a merge"
)
def get_merge(request: HttpRequest, merge_id: int) -> Any:
    """A merge whose kept customer you may change (else 404)."""
    return customer_merge_detail(user=request.auth, pk=merge_id)  # type: ignore[attr-defined]


@duplicate_router.post(
    "/merges/{int:merge_id}/undo", response=responses({201: MergeOut}, *CREATE_ERRORS), summary="Undo a merge"
)
def undo_merge(request: HttpRequest, merge_id: int) -> Any:
    """Bring the removed customer back with its own rows and give the kept one its values back. Refused
    (422) when already undone, or when a field the merge set was changed since."""
    user = request.auth  # type: ignore[attr-defined]
    merge = customer_merge_detail(user=user, pk=merge_id)
    customer_merge_undo(actor=user, merge=merge)
    return Status(201, customer_merge_detail(user=user, pk=merge_id))
