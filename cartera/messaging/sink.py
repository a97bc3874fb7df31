"""The local SMTP sink for development: an aiosmtpd server that keeps every message it receives as a
file under ``var/mailsink/`` (shown by the debug page ``/mail/sink/``), so that a new user sees a
campaign land without a real mail server. ``make run`` starts it beside the web server.

Messages to ``CARTERA_UNSUBSCRIBE_ADDRESS`` are read as unsubscribe requests (the ``mailto:`` of
``List-Unsubscribe``) instead.
"""

from __future__ import annotations

import email
import email.policy
import logging
import threading
import uuid
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from django.conf import settings
from django.utils import timezone

logger = logging.getLogger(__name__)


class SinkHandler:
    """aiosmtpd handler: write each message to ``folder`` with its envelope in ``X-Sink-*`` headers."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        from cartera.messaging.services import unsubscribe_from_mail

        content: bytes = envelope.original_content or envelope.content
        # Only a message to the unsubscribe address is read (parsing every message, and a thread
        # for each, made the sink the bottleneck of a campaign's send).
        wanted = settings.CARTERA_UNSUBSCRIBE_ADDRESS.lower()
        if any(r.lower() == wanted for r in envelope.rcpt_tos):
            parsed = email.message_from_bytes(content, policy=email.policy.default)
            subject = str(parsed.get("Subject", ""))
            try:
                if await _in_thread(
                    unsubscribe_from_mail, recipients=list(envelope.rcpt_tos), subject=subject
                ):
                    return "250 Unsubscribed"
            except Exception:  # noqa: BLE001 - a bad request must not stop the sink
                logger.exception("unsubscribe by mail failed")
        stamp = timezone.now()
        head = (
            f"X-Sink-Received: {stamp.isoformat()}\r\n"
            f"X-Sink-Envelope-From: {envelope.mail_from}\r\n"
            f"X-Sink-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n"
        ).encode()
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{stamp:%Y%m%d-%H%M%S-%f}-{uuid.uuid4().hex[:6]}.eml"
        (self.folder / name).write_bytes(head + content)
        return "250 Message accepted for delivery"


async def _in_thread(func: Any, **kwargs: Any) -> Any:
    """Run a Django (synchronous, database) call from the sink's event loop."""
    from asgiref.sync import sync_to_async

    return await sync_to_async(func, thread_sensitive=False)(**kwargs)


def start_sink(*, host: str, port: int, folder: Path) -> Controller:
    """Start the sink in a thread; stop it with ``controller.stop()``."""
    controller = Controller(SinkHandler(folder), hostname=host, port=port)
    controller.start()
    return controller
