"""REST API for purchases.

Everyone who sees the portfolio sees its orders; recording, correcting or deleting one needs the
right to act on its customer (a sales rep: the customers they own; deleting: managers and admins).
"""

import datetime
from decimal import Decimal
from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, FilterLookup, Query, Router, Schema, Status

from cartera.core.api_common import (
    CREATE_ERRORS,
    DELETE_ERRORS,
    LIST_ERRORS,
    READ_ERRORS,
    UPDATE_ERRORS,
    FilterIn,
    InRange,
    InSchema,
    OneOf,
    Page,
    PageIn,
    Patch,
    base_currency_field,
    page_of,
    responses,
    update_if_match,
    with_etag,
)
from cartera.core.dates import ORDER_DATES
from cartera.core.scoping import get_for_user, require
from cartera.customers.models import Customer
from cartera.sales.models import Order, SalesChannel
from cartera.sales.selectors import order_list
from cartera.sales.services import order_create, order_delete, order_update

order_router = Router(tags=["orders"])

# From 1900-01-01 to a year from today (docs/api.md, Dates).
OrderDate = Annotated[datetime.date, InRange(ORDER_DATES)]


class OrderIn(InSchema):
    customer: int = Field(..., description="Customer id; cannot be changed afterwards.")
    ordered_on: OrderDate
    amount: Decimal = Field(..., description="Not negative, at most 2 decimals.", examples=["19.90"])
    currency: str = base_currency_field()
    channel: Annotated[str, OneOf(SalesChannel, blank=True)] = ""
    category: str = Field("", description="Purchase type.")
    source: str = Field("manual", description="Where the order comes from (`manual`, an import...).")
    external_ref: str | None = Field(None, description="Reference in the source; unique per source.")
    promo_code: str = Field(
        "",
        max_length=40,
        description="A promotion code the customer gave; checked (unknown, expired, used up).",
    )


class OrderUpdate(InSchema):
    ordered_on: OrderDate
    amount: Decimal
    currency: str
    channel: Annotated[str, OneOf(SalesChannel, blank=True)]
    category: str
    source: str
    external_ref: str | None = None


class OrderOut(Schema):
    id: int
    customer: int
    ordered_on: datetime.date
    amount: Decimal = Field(..., description='A decimal string, e.g. `"19.90"`.')
    currency: str
    channel: Annotated[str, OneOf(SalesChannel, blank=True)]
    category: str
    source: str
    external_ref: str | None
    promo_code: str | None = Field(None, description="The promotion code used, if any.")
    created_by: int | None
    created_at: datetime.datetime
    updated_at: datetime.datetime

    @staticmethod
    def resolve_customer(obj: Order) -> int:
        return obj.customer_id

    @staticmethod
    def resolve_created_by(obj: Order) -> int | None:
        return obj.created_by_id

    @staticmethod
    def resolve_promo_code(obj: Order) -> str | None:
        return obj.promotion.code if obj.promotion is not None else None


class OrderFilterIn(FilterIn):
    customer: Annotated[int | None, FilterLookup("customer_id")] = None
    date_from: Annotated[datetime.date | None, FilterLookup("ordered_on__gte")] = Field(
        None, description="First day included."
    )
    date_to: Annotated[datetime.date | None, FilterLookup("ordered_on__lte")] = Field(
        None, description="Last day included."
    )
    channel: SalesChannel | None = None


@order_router.get("", response=responses({200: Page[OrderOut]}, *LIST_ERRORS), summary="List orders")
def list_orders(request: HttpRequest, filters: Query[OrderFilterIn], page: Query[PageIn]) -> Any:
    """Orders, newest first."""
    qs = filters.filter(order_list(user=request.auth))  # type: ignore[attr-defined]
    return page_of(qs, ordering=("-ordered_on", "-id"), page=page)


@order_router.get(
    "/{int:order_id}", response=responses({200: OrderOut}, *READ_ERRORS), summary="Get an order"
)
def get_order(request: HttpRequest, order_id: int, response: HttpResponse) -> Any:
    """The order; the `ETag` header names this saved state (send it back in `If-Match` when correcting)."""
    return with_etag(response, get_for_user(Order.objects.all(), request.auth, "view", pk=order_id))  # type: ignore[attr-defined]


@order_router.post("", response=responses({201: OrderOut}, *CREATE_ERRORS), summary="Record an order")
def create_order(request: HttpRequest, payload: OrderIn) -> Any:
    """Record a purchase of a customer you may act on; a first purchase makes them a customer."""
    user = request.auth  # type: ignore[attr-defined]
    require(user, Order, "add")
    fields = payload.model_dump(exclude_unset=True)
    # Recording a purchase is acting on the customer: a sales rep only for the customers they own.
    customer = get_for_user(Customer.objects.all(), user, "change", pk=fields.pop("customer"))
    return Status(201, order_create(actor=user, customer=customer, fields=fields))


@order_router.patch(
    "/{int:order_id}", response=responses({200: OrderOut}, *UPDATE_ERRORS), summary="Correct an order"
)
def update_order(
    request: HttpRequest, order_id: int, payload: Patch[OrderUpdate], response: HttpResponse
) -> Any:
    """Correct the fields sent; with `If-Match`, refused with 412 if someone saved the order since."""
    user = request.auth  # type: ignore[attr-defined]
    order = get_for_user(Order.objects.all(), user, "change", pk=order_id)
    return update_if_match(
        request,
        response,
        lambda expected: order_update(
            actor=user, order=order, fields=dict(payload), expected_version=expected
        ),
    )


@order_router.delete(
    "/{int:order_id}", response=responses({204: None}, *DELETE_ERRORS), summary="Delete an order"
)
def delete_order(request: HttpRequest, order_id: int) -> Any:
    user = request.auth  # type: ignore[attr-defined]
    order_delete(actor=user, order=get_for_user(Order.objects.all(), user, "delete", pk=order_id))
    return Status(204, None)
