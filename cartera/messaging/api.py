"""REST API for the outbox: the state of one message (what a sender polls after queueing it).

No ``from __future__ import annotations``: django-ninja reads the annotations at run time.
"""

import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from cartera.core.api_common import READ_ERRORS, responses
from cartera.core.scoping import get_for_user
from cartera.messaging.models import OutboxMessage, OutboxState

outbox_router = Router(tags=["messaging"])


class OutboxOut(Schema):
    id: int
    purpose: str
    reference: str
    customer_id: int | None
    language: str
    subject: str
    state: OutboxState
    attempts: int
    error: str
    smtp_reply: str
    created_at: datetime.datetime
    sent_at: datetime.datetime | None
    unsubscribed_at: datetime.datetime | None


@outbox_router.get(
    "/{int:message_id}",
    response=responses({200: OutboxOut}, *READ_ERRORS),
    summary="One outbox message and its state",
)
def get_outbox_message(request: HttpRequest, message_id: int) -> Any:
    """Queued, sending, sent, failed, bounced, held or not sent, with the attempts and last error."""
    user = request.auth  # type: ignore[attr-defined]
    return get_for_user(OutboxMessage.objects.all(), user, "view", pk=message_id)
