"""REST API for personal data: the access export, the consent ledger and erasure.

Who may do what is decided by :mod:`cartera.core.scoping` and the services, as for the web pages.
No ``from __future__ import annotations``: django-ninja reads the annotations at run time.
"""

import datetime
from typing import Any

from django.http import HttpRequest
from django.utils.translation import get_language
from ninja import Field, Router, Schema, Status

from cartera.core.api_common import CREATE_ERRORS, READ_ERRORS, InSchema, responses
from cartera.core.scoping import get_for_user, require
from cartera.customers.models import Customer
from cartera.privacy import selectors, services
from cartera.privacy.models import ConsentChannel, ConsentEvent, ConsentPurpose, ConsentSource

privacy_router = Router(tags=["privacy"])


@privacy_router.get(
    "/customers/{int:customer_id}/personal-data",
    response=responses({200: dict[str, Any]}, *READ_ERRORS),
    summary="Everything held about a customer (GDPR Art. 15)",
)
def get_personal_data(request: HttpRequest, customer_id: int) -> Any:
    """Profile, consent history, interactions, orders, tasks, import provenance and the analysis
    figures with what they mean, in the person's language when known; each call is audit-logged."""
    user = request.auth  # type: ignore[attr-defined]
    customer = get_for_user(Customer.objects.all(), user, "view", pk=customer_id)
    return services.personal_data_export(actor=user, customer=customer, language=get_language() or "").data


class ConsentOut(Schema):
    channel: ConsentChannel
    purpose: ConsentPurpose
    granted: bool
    source: ConsentSource
    wording: str
    version: str
    recorded_at: datetime.datetime
    recorded_by: int | None = Field(None, description="User id.")

    @staticmethod
    def resolve_recorded_by(obj: ConsentEvent) -> int | None:
        return obj.recorded_by_id


class ConsentIn(InSchema):
    channel: ConsentChannel
    purpose: ConsentPurpose
    granted: bool
    source: ConsentSource = ConsentSource.USER
    wording: str = Field("", max_length=2000, description="The exact sentence agreed to (required to grant).")
    version: str = Field("", max_length=40)


@privacy_router.get(
    "/customers/{int:customer_id}/consents",
    response=responses({200: list[ConsentOut]}, *READ_ERRORS),
    summary="A customer's consent ledger",
)
def list_consents(request: HttpRequest, customer_id: int) -> Any:
    """Every grant and withdrawal, newest first; the first row per channel and purpose is the current state."""
    user = request.auth  # type: ignore[attr-defined]
    customer = get_for_user(Customer.objects.all(), user, "view", pk=customer_id)
    return list(selectors.consent_history(user=user, customer=customer))


@privacy_router.post(
    "/customers/{int:customer_id}/consents",
    response=responses({201: ConsentOut}, *CREATE_ERRORS),
    summary="Record a consent or a withdrawal",
)
def create_consent(request: HttpRequest, customer_id: int, payload: ConsentIn) -> Any:
    """A grant needs the right to change the customer; a withdrawal only to see them."""
    user = request.auth  # type: ignore[attr-defined]
    require(user, ConsentEvent, "add")
    customer = get_for_user(
        Customer.objects.all(), user, "change" if payload.granted else "view", pk=customer_id
    )
    event = services.consent_record(actor=user, customer=customer, **payload.model_dump())
    return Status(201, event)


class EraseIn(InSchema):
    confirmation: str = Field(..., max_length=40, description="`ERASE <id>` (in Spanish: `BORRAR <id>`).")
    reason: str = Field("erasure", description="`erasure` (Art. 17) or `objection` (Art. 21).")


class ErasureOut(Schema):
    customer_id: int
    rows: dict[str, int]
    suppressed: bool


@privacy_router.post(
    "/customers/{int:customer_id}/erase",
    response=responses({201: ErasureOut}, *CREATE_ERRORS),
    summary="Erase (anonymise) a customer for good",
)
def erase_customer(request: HttpRequest, customer_id: int, payload: EraseIn) -> Any:
    """Managers and admins. Irreversible: personal fields cleared, orders kept anonymous, e-mail
    suppressed. Answers 201 with what the erasure changed."""
    user = request.auth  # type: ignore[attr-defined]
    customer = get_for_user(Customer.objects.all(), user, "view", pk=customer_id)
    report = services.customer_erase(
        actor=user, customer=customer, confirmation=payload.confirmation, reason=payload.reason
    )
    return Status(201, report)
