"""Reads for the outbox: a batch's progress, a customer's messages, the local sink's mailbox."""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Count, QuerySet

from cartera.core.scoping import restrict
from cartera.messaging.models import OutboxMessage, OutboxState


def batch_progress(*, batch: str) -> dict[str, int]:
    """How many rows of ``batch`` are in each state (every state present, zero when none)."""
    counts = dict.fromkeys(OutboxState.values, 0)
    rows = OutboxMessage.objects.filter(batch=batch).values("state").annotate(n=Count("id")).order_by()
    for row in rows:
        counts[row["state"]] = row["n"]
    return counts


def outbox_for_user(*, user: Any) -> QuerySet[OutboxMessage]:
    """The outbox rows ``user`` may see, newest first."""
    return restrict(OutboxMessage.objects.all(), user, "view").order_by("-id")


def sink_directory() -> Path:
    """Where the local SMTP sink keeps what it receives (one ``.eml`` file per message)."""
    return Path(settings.VAR_DIR) / "mailsink"


@dataclass
class SinkMessage:
    """One message the local SMTP sink received, as shown on its debug page."""

    name: str
    received: str
    sender: str
    to: str
    subject: str
    headers: list[tuple[str, str]]
    text: str
    html: str


def _body(parsed: EmailMessage, kind: str) -> str:
    part = parsed.get_body(preferencelist=(kind,))
    return "" if part is None else str(part.get_content())


def sink_messages(*, limit: int = 100) -> list[SinkMessage]:
    """The newest messages the local sink received, newest first."""
    folder = sink_directory()
    if not folder.is_dir():
        return []
    files = sorted(folder.glob("*.eml"), reverse=True)[:limit]
    found = []
    for path in files:
        parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        found.append(
            SinkMessage(
                name=path.stem,
                received=str(parsed.get("X-Sink-Received", "")),
                sender=str(parsed.get("X-Sink-Envelope-From", "")),
                to=str(parsed.get("X-Sink-Envelope-To", "")),
                subject=str(parsed.get("Subject", "")),
                headers=[(k, str(v)) for k, v in parsed.items() if not k.startswith("X-Sink-")],
                text=_body(parsed, "plain"),
                html=_body(parsed, "html"),
            )
        )
    return found
