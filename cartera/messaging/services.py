"""Writes for the outbox: queue a message, send what is due, hold and release a batch, unsubscribe.

The public API other apps call (surveys, campaigns, task notifications, lead-form double opt-in):

- :func:`message_queue` — one message to one customer or address; consent and suppression checked;
  the worker is woken once the transaction commits.
- :func:`messages_queue_many` — many rows at once (a campaign), already checked by the caller.
- :func:`outbox_hold` / :func:`outbox_release` — pause and resume a batch.
- :func:`deliver_pending` — what the worker runs: send every due row over one SMTP connection.
- :func:`unsubscribe_record` — what the public unsubscribe page and the one-click POST call.

Why ``kill -9`` neither sends a row twice nor misses one
--------------------------------------------------------
A row is *claimed* (``queued → sending``, with this run's claim token) in a committed UPDATE that
only matches queued rows, so two runs never claim the same row. For each claimed row the worker
speaks SMTP up to the end of the message body but holds back the final ``.`` line; then it commits
``sending → sent`` (only if the row is still claimed by it) and only then writes the ``.``, which is
what makes the server accept the message. So:

- killed before that commit: the server never saw the ``.`` and drops the message; the row is still
  ``sending`` and goes back to ``queued`` once its claim is older than ``CARTERA_OUTBOX_STALE_SECONDS``;
- killed after it: the ``.`` is one ``send()`` away, already in the kernel's socket buffer or about
  to be, and the row says ``sent``;
- a run that lost its claim (it stalled, the row was taken back and sent by another run) finds the
  commit matches nothing, and drops the connection without the ``.``;
- a run whose database connection is lost at that commit drops the SMTP connection without the
  ``.`` (no QUIT, which the server would read as more of the message) and stops; the row is still
  ``sending`` and is taken back as above, and the worker goes on with its next task. If the commit
  reached the server but its answer did not come back, that row is marked ``sent`` and was not
  delivered: the same gap as below.

The remaining gap is between the commit and the ``send()`` of the ``.``: a few microseconds, longer
when the machine is so loaded that the worker is preempted right there (seen in tests at load 14). A
kill exactly there leaves one row marked ``sent`` that the server never got (never a duplicate):
SMTP offers no way to close it both ways, and a lost message was chosen over a doubled one.
"""

from __future__ import annotations

import datetime as dt
import email.policy as email_policy
import logging
import os
import re
import smtplib
import socket
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email import headerregistry
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, mailers
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from cartera.accounts.models import User
from cartera.activity.models import Direction, InteractionKind, Task
from cartera.activity.services import interaction_record_system
from cartera.core import bulk
from cartera.customers.models import Customer
from cartera.messaging.models import DeliveryLease, OutboxMessage, OutboxState
from cartera.privacy.models import ConsentChannel, ConsentPurpose, ConsentSource, SuppressionReason
from cartera.privacy.selectors import email_permissions, email_suppressions
from cartera.privacy.services import consent_record, email_suppress

logger = logging.getLogger(__name__)

UNSUBSCRIBE_SALT = "cartera.messaging.unsubscribe"
LEASE_NAME = "outbox"
CLAIM_BATCH = 25
CLAIM_MAX = 200


class MessageRefused(ValidationError):
    """The message may not be sent to this recipient; ``reason`` says why (``no_email``,
    ``no_consent``, ``unsubscribed``, ``suppressed``, ``bounced``)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, code=reason)
        self.reason = reason


def refusal_text(reason: str) -> str:
    """The reason a recipient is refused, in words for the user."""
    texts = {
        "no_email": _("No e-mail address."),
        "no_consent": _("No consent or lawful basis for this kind of e-mail."),
        "unsubscribed": _("Unsubscribed."),
        "suppressed": _("On the suppression list."),
        "bounced": _("The address bounced before."),
    }
    return texts.get(reason, reason)


def _suppression_reason(reason: str) -> str:
    names: dict[str, str] = {
        SuppressionReason.UNSUBSCRIBE: "unsubscribed",
        SuppressionReason.BOUNCE: "bounced",
    }
    return names.get(reason, "suppressed")


def recipient_refusals(
    *, recipients: list[tuple[int | None, str]], consent_purpose: str, customers: QuerySet[Any] | None = None
) -> dict[tuple[int | None, str], str]:
    """Why each ``(customer id or None, address)`` may not receive a message needing
    ``consent_purpose`` (empty for a service message); allowed recipients are absent.

    One pass for any number of recipients: the suppression list by address, then the consent of the
    customers. ``customers``, a queryset of ids holding at least the recipients' (a campaign's
    audience), lets the database pick the refused among them
    (:func:`cartera.privacy.selectors.email_permissions`).
    """
    refused: dict[tuple[int | None, str], str] = {}
    suppressed = email_suppressions(emails=[address for _pk, address in recipients if address])
    for key in recipients:
        customer_id, address = key
        if not address:
            refused[key] = "no_email"
        elif address in suppressed:
            refused[key] = _suppression_reason(suppressed[address])
    if consent_purpose:
        ids: list[int] | QuerySet[Any] = (
            customers if customers is not None else [pk for pk, _address in recipients if pk is not None]
        )
        denied = email_permissions(customer_ids=ids, purpose=consent_purpose)
        for key in recipients:
            if key not in refused and key[0] in denied:
                refused[key] = denied[key[0]]
    return refused


# --- queueing -------------------------------------------------------------------------------------


def message_queue(
    *,
    purpose: str,
    subject: str,
    text: str,
    language: str,
    to_customer: Customer | None = None,
    to_address: str | None = None,
    html: str | None = None,
    sender_user: User | None = None,
    reference: str = "",
    batch: str = "",
    consent_purpose: str = "",
    reply_to: str = "",
) -> OutboxMessage:
    """Queue one message to a customer (their address) or to an address; the worker sends it.

    ``consent_purpose`` (``marketing``, ``surveys``) is the consent the customer must have given; a
    message with one carries the unsubscribe link and headers. Raises :class:`MessageRefused` for a
    recipient without address, consent, or on the suppression list: nothing is queued then.
    """
    address = (to_address or (to_customer.email if to_customer is not None else "") or "").strip()
    if consent_purpose and consent_purpose not in ConsentPurpose.values:
        raise ValueError(f"unknown consent purpose {consent_purpose!r}")
    if not subject.strip():
        raise ValidationError({"subject": _("Write a subject.")})
    key = (to_customer.pk if to_customer is not None else None, address)
    reason = recipient_refusals(recipients=[key], consent_purpose=consent_purpose).get(key)
    if reason is not None:
        raise MessageRefused(reason, refusal_text(reason))
    row = OutboxMessage.objects.create(
        purpose=purpose[:40],
        reference=reference[:80],
        batch=batch[:80],
        consent_purpose=consent_purpose,
        customer=to_customer,
        sender_user=sender_user if sender_user is not None and sender_user.pk else None,
        to_address=address,
        from_address=settings.DEFAULT_FROM_EMAIL,
        reply_to=reply_to,
        language=language or settings.LANGUAGE_CODE,
        subject=subject.strip()[:255],
        text=text,
        html=html or "",
    )
    wake_worker()
    return row


def message_queue_from_hook(**kwargs: Any) -> OutboxMessage:
    """Answer the ``email_queue`` hook (a lower app such as activity sending a notification)."""
    return message_queue(**kwargs)


@dataclass
class OutboxDraft:
    """One rendered message for :func:`messages_queue_many`."""

    to_address: str
    language: str
    subject: str
    text: str
    html: str = ""
    customer_id: int | None = None
    reference: str = ""


# Every column of an outbox row, in the order :func:`messages_queue_many` writes them.
OUTBOX_COLUMNS = (
    "purpose", "reference", "batch", "consent_purpose", "customer_id", "sender_user_id", "to_address",
    "from_address", "reply_to", "language", "subject", "text", "html", "state", "attempts", "error",
    "smtp_reply", "next_attempt_at", "claim", "claimed_at", "created_at", "sent_at", "unsubscribed_at",
)  # fmt: skip


def messages_queue_many(
    *,
    drafts: Iterable[OutboxDraft],
    purpose: str,
    batch: str,
    consent_purpose: str,
    sender_user: User | None = None,
    held: bool = False,
    chunk: int = 2000,
) -> int:
    """Queue many rendered messages at once (a campaign's recipients); how many were queued.

    The caller has already excluded who may not receive them (:func:`recipient_refusals`); the worker
    checks the suppression list and consent again just before sending each one. ``held`` rows wait
    for :func:`outbox_release`. The rows are written ``chunk`` at a time with the bulk toolkit
    (``COPY`` on PostgreSQL, one prepared ``INSERT`` elsewhere; ``CARTERA_BULK_PLAIN`` its plain twin).
    """
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    state = OutboxState.HELD if held else OutboxState.QUEUED
    sender_id = sender_user.pk if sender_user is not None and sender_user.pk else None
    from_address = settings.DEFAULT_FROM_EMAIL
    count = 0
    rows: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        for draft in drafts:
            rows.append(
                (
                    purpose[:40], draft.reference[:80], batch[:80], consent_purpose, draft.customer_id,
                    sender_id, draft.to_address, from_address, "", draft.language, draft.subject[:255],
                    draft.text, draft.html, state, 0, "", "", now, "", None, now, None, None,
                )
            )  # fmt: skip
            if len(rows) >= chunk:
                bulk.write_rows(cursor, OutboxMessage._meta.db_table, OUTBOX_COLUMNS, rows)
                count += len(rows)
                rows = []
        if rows:
            bulk.write_rows(cursor, OutboxMessage._meta.db_table, OUTBOX_COLUMNS, rows)
            count += len(rows)
    if count and not held:
        wake_worker()
    return count


def outbox_hold(*, batch: str) -> int:
    """Pause a batch: its queued rows wait (a row already being sent finishes). How many were held."""
    return OutboxMessage.objects.filter(batch=batch, state=OutboxState.QUEUED).update(state=OutboxState.HELD)


def outbox_release(*, batch: str) -> int:
    """Resume a batch: its held rows are queued again and the worker woken. How many were released."""
    released = OutboxMessage.objects.filter(batch=batch, state=OutboxState.HELD).update(
        state=OutboxState.QUEUED, next_attempt_at=timezone.now()
    )
    if released:
        wake_worker()
    return released


def outbox_cancel(*, batch: str, reason: str) -> int:
    """Stop a batch for good: its queued and held rows will not be sent. How many were cancelled."""
    return OutboxMessage.objects.filter(batch=batch, state__in=(OutboxState.QUEUED, OutboxState.HELD)).update(
        state=OutboxState.CANCELLED, error=reason[:500]
    )


def wake_worker() -> None:
    """Queue a delivery run in the background worker once the current transaction commits."""
    from cartera.messaging.tasks import outbox_schedule

    transaction.on_commit(outbox_schedule)


# --- the message as it goes out -------------------------------------------------------------------


def unsubscribe_token(message: OutboxMessage) -> str:
    """The signed, unguessable token of a message's unsubscribe link (HMAC with the secret key)."""
    return signing.Signer(salt=UNSUBSCRIBE_SALT, algorithm="sha256").sign_object(message.pk)


def unsubscribe_url(message: OutboxMessage) -> str:
    """The public https address of the message's unsubscribe page (also the one-click POST target)."""
    return _unsubscribe_url(unsubscribe_token(message))


def _unsubscribe_url(token: str) -> str:
    from django.urls import reverse

    return settings.CARTERA_PUBLIC_URL.rstrip("/") + reverse("messaging:unsubscribe", args=[token])


def unsubscribe_mailto(message: OutboxMessage) -> str:
    """The ``mailto:`` form of the unsubscribe link: a message to this address with the token as
    subject unsubscribes (the local sink reads them; see docs/messaging.md)."""
    return f"mailto:{settings.CARTERA_UNSUBSCRIBE_ADDRESS}?subject=unsubscribe%20{unsubscribe_token(message)}"


def build_email(message: OutboxMessage, connection: Any = None) -> EmailMultiAlternatives:
    """The e-mail of an outbox row: its text (and HTML), the footer with the unsubscribe link in the
    recipient's language, and the RFC 8058 headers when the message needs consent."""
    headers = {"Message-ID": message.message_id, "Auto-Submitted": "auto-generated"}
    text, html = message.text, message.html
    if message.consent_purpose:
        token = unsubscribe_token(message)
        url = _unsubscribe_url(token)
        mailto = f"mailto:{settings.CARTERA_UNSUBSCRIBE_ADDRESS}?subject=unsubscribe%20{token}"
        headers["List-Unsubscribe"] = f"<{mailto}>, <{url}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        headers["Precedence"] = "bulk"
        with translation.override(message.language):
            footer = _("To stop receiving these e-mails, open %(url)s") % {"url": url}
            link = _("Unsubscribe")
        text = f"{text.rstrip()}\n\n-- \n{footer}\n"
        if html:
            html = f'{html}<hr><p style="font-size:small"><a href="{url}">{link}</a></p>'
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=text,
        from_email=message.from_address or settings.DEFAULT_FROM_EMAIL,
        to=[message.to_address],
        reply_to=[message.reply_to] if message.reply_to else None,
        headers=headers,
        connection=connection,
    )
    if html:
        email.attach_alternative(html, "text/html")
    return email


# --- sending --------------------------------------------------------------------------------------


@dataclass
class SmtpOutcome:
    """What the server answered: ``code`` 250 accepted, 4xx try later, 5xx never; ``phase`` the
    command it answered (``rcpt`` failures are the address's fault). ``handed_over`` whether the row
    was marked sent (the final ``.`` was written)."""

    code: int
    reply: str
    phase: str = "data"
    handed_over: bool = False


class SmtpSession:
    """One connection to the SMTP server for a whole delivery run, opened with Django's SMTP backend
    (the ``default`` mailer of ``MAILERS``: host, port, TLS, login from the environment) and reopened
    after a failure.

    With another backend configured (console, file), each message goes through that backend's
    ``send_messages`` after the row is marked sent.
    """

    def __init__(self) -> None:
        self.backend: Any = mailers.default
        self.is_smtp = isinstance(self.backend, SmtpBackend)

    def close(self) -> None:
        try:
            self.backend.close()
        except Exception:  # noqa: BLE001 - closing a broken connection must not hide the real error
            logger.debug("closing the SMTP connection failed", exc_info=True)
            if self.is_smtp:
                self.backend.connection = None

    def _drop(self) -> None:
        """Drop the connection without a QUIT, so the server discards a half-sent message."""
        smtp = getattr(self.backend, "connection", None)
        if smtp is not None:
            try:
                smtp.close()
            finally:
                self.backend.connection = None

    def send(
        self,
        email: EmailMultiAlternatives,
        hand_over: Callable[[], bool],
        payload: bytes | None = None,
        meanwhile: Callable[[], None] | None = None,
    ) -> SmtpOutcome | None:
        """Send ``email`` (``payload``: its bytes, if :func:`smtp_payload` made them already);
        ``hand_over()`` is called just before the server is told to accept it and must return whether
        the row may go (``None`` comes back when it may not). ``meanwhile()`` runs while the server
        reads the message, before its answer is read (the next message is prepared then)."""
        if not self.is_smtp:
            if not hand_over():
                return None
            self.backend.send_messages([email])
            return SmtpOutcome(250, "accepted by the configured backend", handed_over=True)
        if self.backend.connection is None:
            self.backend.open()
            _no_delay(self.backend.connection)
        smtp: smtplib.SMTP = self.backend.connection
        smtp.ehlo_or_helo_if_needed()
        from_address = self.backend.prep_address(email.from_email)
        code, reply = smtp.mail(from_address)
        if code != 250:
            smtp.rset()
            return SmtpOutcome(code, reply.decode(errors="replace"), "mail")
        code, reply = smtp.rcpt(self.backend.prep_address(email.to[0]))
        if code not in (250, 251):
            smtp.rset()
            return SmtpOutcome(code, reply.decode(errors="replace"), "rcpt")
        code, reply = smtp.docmd("data")
        if code != 354:
            smtp.rset()
            return SmtpOutcome(code, reply.decode(errors="replace"), "data")
        smtp.send(payload if payload is not None else smtp_payload(email))
        try:
            allowed = hand_over()
        except BaseException:
            # The row could not be marked sent (the database connection was lost...): the server must
            # discard the body it holds. Closing politely would send QUIT, which the server reads as
            # more of the message, and then wait for an answer that never comes (the SMTP timeout).
            self._drop()
            raise
        if not allowed:
            self._drop()
            return None
        smtp.send(b".\r\n")
        if meanwhile is not None:
            meanwhile()
        code, reply = smtp.getreply()
        return SmtpOutcome(code, reply.decode(errors="replace"), "data", handed_over=True)


class _UrlListHeader(headerregistry.UnstructuredHeader, headerregistry.BaseHeader):
    """A header that is a list of ``<URL>`` (RFC 2369: ``List-Unsubscribe``), folded as RFC 5322
    says, between the items and nowhere else, and never encoded.

    The standard folding treats the value as free text: a URL longer than the line it should fit in
    is turned into RFC 2047 encoded words (``=?utf-8?q?...?=``), and some mail clients then no longer
    find the ``mailto:`` or the one-click address. Our URLs are ASCII (the token is base64 and a
    signature), so each goes on a line of its own, whole: longer than 78 characters maybe (a SHOULD),
    far below the 998 that RFC 5322 allows."""

    def fold(self, *, policy: Any) -> str:
        items = [item.strip() for item in str(self).split(",") if item.strip()]
        if not str(self).isascii() or any(not (i.startswith("<") and i.endswith(">")) for i in items):
            return str(super().fold(policy=policy))  # not a plain URL list: the standard folding
        return f"{self.name}: " + f",{policy.linesep} ".join(items) + str(policy.linesep)


class _HeaderClasses(headerregistry.HeaderRegistry):
    """The standard header registry, making each header's class once: the standard one builds a new
    class for every header it parses (a tenth of a millisecond each, a dozen per message); and
    ``List-Unsubscribe`` folded as a list of URLs (:class:`_UrlListHeader`)."""

    def __init__(self) -> None:
        super().__init__()
        self.map_to_type("list-unsubscribe", _UrlListHeader)
        self._made: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        key = name.lower()  # the standard registry looks the class up by the lower-case name
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = super().__getitem__(name)
        return made


# ``email.policy.SMTP`` with the registry above: the same bytes, made faster.
SMTP_POLICY = email_policy.SMTP.clone(header_factory=_HeaderClasses())


def smtp_payload(email: EmailMultiAlternatives) -> bytes:
    """The bytes of ``email`` as written after ``DATA`` (without the final ``.`` line)."""
    return _dot_quoted(email.message(policy=SMTP_POLICY).as_bytes())


def _no_delay(smtp: smtplib.SMTP | None) -> None:
    """Send each command as soon as it is written (``TCP_NODELAY``). With Nagle's algorithm on, the
    small final ``.`` line written after the body waits for the server's acknowledgement of the body,
    which the server delays (up to 40 ms on Linux): a few messages a second at most."""
    sock = getattr(smtp, "sock", None)
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _dot_quoted(data: bytes) -> bytes:
    """The message body as SMTP's DATA wants it (RFC 5321 4.5.2): CRLF line ends, leading dots
    doubled, ending with CRLF; the final ``.`` line is written separately."""
    data = re.sub(rb"(?:\r\n|\n|\r(?!\n))", b"\r\n", data)
    data = re.sub(rb"(?m)^\.", b"..", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data


@dataclass
class DeliveryReport:
    """What one delivery run did."""

    holder: str
    sent: int = 0
    retried: int = 0
    failed: int = 0
    bounced: int = 0
    cancelled: int = 0
    recovered: int = 0
    skipped: bool = False
    errors: list[str] = field(default_factory=list)
    # Rows the server accepted whose reply is not written yet, by reply (see :func:`_record_accepted`).
    accepted: dict[str, list[int]] = field(default_factory=dict, repr=False)

    def summary(self) -> str:
        if self.skipped:
            return "another delivery run is sending"
        return (
            f"sent {self.sent}, retry later {self.retried}, failed {self.failed}, bounced {self.bounced}, "
            f"not sent {self.cancelled}, taken back {self.recovered}"
        )


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _lease_take(holder: str) -> bool:
    """Take the delivery lease unless another live run holds it."""
    now = timezone.now()
    stale = now - dt.timedelta(seconds=settings.CARTERA_OUTBOX_STALE_SECONDS)
    DeliveryLease.objects.get_or_create(name=LEASE_NAME)
    taken = DeliveryLease.objects.filter(
        Q(holder="") | Q(heartbeat_at__lt=stale) | Q(holder=holder), name=LEASE_NAME
    ).update(holder=holder, heartbeat_at=now)
    return taken == 1


def _lease_beat(holder: str) -> bool:
    """Refresh the lease; ``False`` when it was taken over (this run stalled and must stop)."""
    return (
        DeliveryLease.objects.filter(name=LEASE_NAME, holder=holder).update(heartbeat_at=timezone.now()) == 1
    )


def _lease_release(holder: str) -> None:
    DeliveryLease.objects.filter(name=LEASE_NAME, holder=holder).update(holder="", heartbeat_at=None)


def outbox_recover_stale() -> int:
    """Queue again the rows left ``sending`` by a run that died: their final ``.`` was never written
    (see the module docstring), so sending them again cannot make a duplicate."""
    stale = timezone.now() - dt.timedelta(seconds=settings.CARTERA_OUTBOX_STALE_SECONDS)
    return OutboxMessage.objects.filter(state=OutboxState.SENDING, claimed_at__lt=stale).update(
        state=OutboxState.QUEUED, claim="", claimed_at=None
    )


def _claim(holder: str, size: int) -> list[OutboxMessage]:
    """Claim up to ``size`` due rows for this run (a committed ``queued → sending``)."""
    now = timezone.now()
    ids = list(
        OutboxMessage.objects.filter(state=OutboxState.QUEUED, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:size]
    )
    if not ids:
        return []
    OutboxMessage.objects.filter(pk__in=ids, state=OutboxState.QUEUED).update(
        state=OutboxState.SENDING, claim=holder, claimed_at=now
    )
    return list(
        OutboxMessage.objects.filter(pk__in=ids, claim=holder, state=OutboxState.SENDING).order_by("id")
    )


def _still_allowed(rows: list[OutboxMessage]) -> dict[int, str]:
    """Rows whose recipient was suppressed or withdrew consent since they were queued."""
    refused: dict[int, str] = {}
    by_purpose: dict[str, list[OutboxMessage]] = {}
    for row in rows:
        by_purpose.setdefault(row.consent_purpose, []).append(row)
    for purpose, group in by_purpose.items():
        keys = [(row.customer_id, row.to_address) for row in group]
        reasons = recipient_refusals(recipients=keys, consent_purpose=purpose)
        for row, key in zip(group, keys, strict=True):
            if key in reasons:
                refused[row.pk] = reasons[key]
    return refused


def _mine(row: OutboxMessage, holder: str) -> QuerySet[OutboxMessage]:
    return OutboxMessage.objects.filter(pk=row.pk, state=OutboxState.SENDING, claim=holder)


def _retry_delay(attempts: int) -> dt.timedelta:
    """Back-off: the base delay doubled at each attempt, at most a day."""
    return dt.timedelta(seconds=min(settings.CARTERA_EMAIL_RETRY_SECONDS * 2 ** max(attempts - 1, 0), 86400))


def _temporary_failure(row: OutboxMessage, holder: str, error: str, report: DeliveryReport) -> None:
    attempts = row.attempts + 1
    if attempts >= settings.CARTERA_EMAIL_MAX_ATTEMPTS:
        OutboxMessage.objects.filter(pk=row.pk, claim=holder).update(
            state=OutboxState.FAILED, attempts=attempts, error=error[:2000], claim="", claimed_at=None
        )
        report.failed += 1
        return
    OutboxMessage.objects.filter(pk=row.pk, claim=holder).update(
        state=OutboxState.QUEUED,
        attempts=attempts,
        error=error[:2000],
        claim="",
        claimed_at=None,
        sent_at=None,
        next_attempt_at=timezone.now() + _retry_delay(attempts),
    )
    report.retried += 1


def _settle(row: OutboxMessage, holder: str, outcome: SmtpOutcome, report: DeliveryReport) -> None:
    """Record what the server answered for a row."""
    reply = f"{outcome.code} {outcome.reply}"[:255]
    if outcome.code in (250, 251):
        report.accepted.setdefault(reply, []).append(row.pk)
        report.sent += 1
    elif 400 <= outcome.code < 500:
        _temporary_failure(row, holder, f"{outcome.phase}: {reply}", report)
    else:
        # The address itself was refused (at RCPT, or an enhanced code 5.1.x after the data): it
        # bounced and goes on the suppression list. Anything else permanent is a failure of the
        # message, not of the address.
        bounced = outcome.phase == "rcpt" or outcome.reply.startswith("5.1.")
        OutboxMessage.objects.filter(pk=row.pk, claim=holder).update(
            state=OutboxState.BOUNCED if bounced else OutboxState.FAILED,
            attempts=row.attempts + 1,
            smtp_reply=reply,
            error=f"{outcome.phase}: {reply}"[:2000],
            claim="",
            claimed_at=None,
        )
        if bounced:
            email_suppress(email=row.to_address, reason=SuppressionReason.BOUNCE)
            report.bounced += 1
        else:
            report.failed += 1


def _record_accepted(report: DeliveryReport) -> None:
    """Write the server's reply on the rows it accepted: one UPDATE per distinct reply for a claimed
    batch, not one per message. The rows are already ``sent`` (committed before the final ``.``),
    so a run killed before this only loses the text of the reply, never the state."""
    for reply, pks in report.accepted.items():
        OutboxMessage.objects.filter(pk__in=pks).update(smtp_reply=reply, error="")
    report.accepted.clear()


def _claim_size(per_second: float) -> int:
    """How many rows to claim at once: about a second's worth at the configured rate, at least
    ``CLAIM_BATCH`` and at most ``CLAIM_MAX`` (with no rate limit)."""
    if per_second <= 0:
        return CLAIM_MAX
    return max(CLAIM_BATCH, min(CLAIM_MAX, int(per_second)))


def deliver_pending(*, max_messages: int | None = None, rate: float | None = None) -> DeliveryReport:
    """Send every due outbox row over one SMTP connection at ``CARTERA_EMAIL_RATE`` messages a second
    (the background worker's job; see the module docstring for why it is safe to kill).

    Only one run sends at a time: a run finding another live one returns at once (``skipped``).
    Temporary errors are retried with back-off up to ``CARTERA_EMAIL_MAX_ATTEMPTS``; a permanent
    refusal of the address marks the row bounced and suppresses the address.
    """
    holder = _holder()
    report = DeliveryReport(holder=holder)
    if not _lease_take(holder):
        report.skipped = True
        return report
    per_second = settings.CARTERA_EMAIL_RATE if rate is None else rate
    interval = 1.0 / per_second if per_second > 0 else 0.0
    session = SmtpSession()
    next_send = time.monotonic()
    last_beat = time.monotonic()
    done = 0
    try:
        report.recovered = outbox_recover_stale()
        claim_size = _claim_size(per_second)
        while max_messages is None or done < max_messages:
            _record_accepted(report)
            size = claim_size if max_messages is None else min(claim_size, max_messages - done)
            rows = _claim(holder, size)
            if not rows:
                break
            refused = _still_allowed(rows)
            prepared: dict[int, tuple[EmailMultiAlternatives, bytes | None]] = {}
            for position, row in enumerate(rows):
                if time.monotonic() - last_beat > 2:
                    if not _lease_beat(holder):
                        report.errors.append("lease taken over; stopping")
                        return report
                    last_beat = time.monotonic()
                done += 1
                if row.pk in refused:
                    _mine(row, holder).update(
                        state=OutboxState.CANCELLED,
                        error=refused[row.pk],
                        claim="",
                        claimed_at=None,
                    )
                    report.cancelled += 1
                    continue
                if interval:
                    pause = next_send - time.monotonic()
                    if pause > 0:
                        time.sleep(pause)
                    next_send = max(next_send, time.monotonic() - interval) + interval
                upcoming = next((r for r in rows[position + 1 :] if r.pk not in refused), None)
                _deliver_one(row, holder, session, report, prepared, upcoming)
    finally:
        session.close()
        _record_accepted(report)
        _lease_release(holder)
    return report


def _deliver_one(
    row: OutboxMessage,
    holder: str,
    session: SmtpSession,
    report: DeliveryReport,
    prepared: dict[int, tuple[EmailMultiAlternatives, bytes | None]] | None = None,
    upcoming: OutboxMessage | None = None,
) -> None:
    """Send one claimed row and record the outcome. ``prepared`` holds messages built ahead (by row);
    ``upcoming``, the row sent next, is built into it while the server reads this one."""
    prepared = {} if prepared is None else prepared
    email, payload = prepared.pop(row.pk) if row.pk in prepared else (build_email(row), None)

    def meanwhile() -> None:
        if upcoming is not None and upcoming.pk not in prepared:
            ahead = build_email(upcoming)
            prepared[upcoming.pk] = (ahead, smtp_payload(ahead) if session.is_smtp else None)

    def hand_over() -> bool:
        # Committed on its own (autocommit) before the final "." is written: see the module docstring.
        return (
            _mine(row, holder).update(
                state=OutboxState.SENT, sent_at=timezone.now(), attempts=F("attempts") + 1
            )
            == 1
        )

    try:
        outcome = session.send(email, hand_over, payload, meanwhile)
    except (smtplib.SMTPException, OSError) as exc:
        session._drop()
        # A failure before the hand-over leaves the row ours and sending; after it, the server may
        # or may not have the message, and the row says sent (never a duplicate).
        if _mine(row, holder).exists():
            _temporary_failure(row, holder, f"{type(exc).__name__}: {exc}", report)
        else:
            OutboxMessage.objects.filter(pk=row.pk).update(
                error=f"after hand-over: {type(exc).__name__}: {exc}"[:2000]
            )
            report.sent += 1
        return
    if outcome is None:
        report.errors.append(f"row {row.pk} taken back by another run; not sent by this one")
        return
    if outcome.handed_over and outcome.code not in (250, 251):
        # Marked sent just before the server refused it: take the row back to settle it.
        OutboxMessage.objects.filter(pk=row.pk, state=OutboxState.SENT).update(
            state=OutboxState.SENDING, claim=holder, sent_at=None, attempts=F("attempts") - 1
        )
    _settle(row, holder, outcome, report)


# --- unsubscribe ----------------------------------------------------------------------------------


def message_for_token(token: str) -> OutboxMessage | None:
    """The outbox row an unsubscribe token was made for, or ``None`` for a forged or unknown token."""
    try:
        pk = signing.Signer(salt=UNSUBSCRIBE_SALT, algorithm="sha256").unsign_object(token)
    except (signing.BadSignature, ValueError):
        return None
    if not isinstance(pk, int):
        return None
    return OutboxMessage.objects.select_related("customer").filter(pk=pk).first()


@transaction.atomic
def unsubscribe_record(*, message: OutboxMessage, how: str) -> bool:
    """Record that the recipient of ``message`` wants no more of these e-mails: the address goes on
    the suppression list and, for a customer, the consent ledger gets the withdrawal (date, the
    message's reference, e-mail channel) and the timeline a note. ``how`` is ``page``,
    ``one-click`` or ``mailto``. Whether anything changed (a second click changes nothing)."""
    locked = OutboxMessage.objects.select_for_update().get(pk=message.pk)
    if locked.unsubscribed_at is not None:
        return False
    now = timezone.now()
    OutboxMessage.objects.filter(pk=locked.pk).update(unsubscribed_at=now)
    message.unsubscribed_at = now
    email_suppress(email=locked.to_address, reason=SuppressionReason.UNSUBSCRIBE)
    customer = locked.customer
    if customer is not None:
        reference = locked.reference or f"messaging.outbox:{locked.pk}"
        consent_record(
            actor=None,
            customer=customer,
            channel=ConsentChannel.EMAIL,
            purpose=locked.consent_purpose or ConsentPurpose.MARKETING,
            granted=False,
            source=ConsentSource.UNSUBSCRIBE,
            wording="",
            version=how[:40],
            reference=reference,
        )
        with translation.override(locked.language):
            subject = _("Unsubscribed from “%(subject)s”") % {"subject": locked.subject}
        interaction_record_system(
            customer=customer,
            kind=InteractionKind.EMAIL,
            direction=Direction.INBOUND,
            occurred_at=now,
            subject=subject,
            body=f"{how} · {reference}",
        )
    return True


def unsubscribe_from_mail(*, recipients: list[str], subject: str) -> bool:
    """Read an unsubscribe request sent by e-mail (the ``mailto:`` of ``List-Unsubscribe``): a
    message to ``CARTERA_UNSUBSCRIBE_ADDRESS`` whose subject holds a token."""
    wanted = settings.CARTERA_UNSUBSCRIBE_ADDRESS.lower()
    if wanted not in (r.lower() for r in recipients):
        return False
    for word in subject.split():
        message = message_for_token(word)
        if message is not None:
            return unsubscribe_record(message=message, how="mailto")
    return False


# --- task notifications (the ``tasks_assigned`` hook) ----------------------------------------------

#: At most this many tasks are listed in one notification; the rest are "and N more" (a bulk action
#: from a segment can give one person hundreds).
NOTIFICATION_TASKS_LISTED = 20


def tasks_assigned_email(*, actor: User, tasks: list[Task]) -> list[OutboxMessage]:
    """Tell each person who was given tasks by a colleague, by e-mail: one message per assignee.

    Answers the ``tasks_assigned`` hook (activity fires it after the commit). It is a service message
    to a member of the team about their work: no marketing consent applies, but a suppressed address
    still gets nothing, and an assignee without an e-mail address only has the app's badge.
    """
    by_assignee: dict[int, list[Task]] = {}
    for task in tasks:
        if task.assignee_id and task.assignee_id != actor.pk:
            by_assignee.setdefault(task.assignee_id, []).append(task)
    people = User.objects.in_bulk(list(by_assignee))
    from django.urls import reverse

    link = settings.CARTERA_PUBLIC_URL.rstrip("/") + reverse("activity:my_tasks")
    giver = actor.get_full_name() or actor.get_username()
    queued: list[OutboxMessage] = []
    for assignee_id, given in by_assignee.items():
        person = people.get(assignee_id)
        if person is None or not person.email:
            continue
        with translation.override(settings.LANGUAGE_CODE):
            subject = ngettext(
                "%(giver)s gave you a task", "%(giver)s gave you %(count)d tasks", len(given)
            ) % {"giver": giver, "count": len(given)}
            lines = [_task_line(task) for task in given[:NOTIFICATION_TASKS_LISTED]]
            if len(given) > NOTIFICATION_TASKS_LISTED:
                lines.append(_("…and %(count)d more.") % {"count": len(given) - NOTIFICATION_TASKS_LISTED})
            text = "\n".join(
                [subject + ":", "", *lines, "", _("See them in My tasks: %(link)s") % {"link": link}]
            )
        try:
            queued.append(
                message_queue(
                    to_address=person.email,
                    purpose="notification",
                    subject=subject,
                    text=text,
                    language=settings.LANGUAGE_CODE,
                    sender_user=actor,
                    reference=f"activity.task:{given[0].pk}",
                )
            )
        except MessageRefused:
            continue
    return queued


def _task_line(task: Task) -> str:
    due = date_format(timezone.localtime(task.due_at), "SHORT_DATETIME_FORMAT") if task.due_at else "—"
    who = f" ({task.customer})" if task.customer_id else ""
    return f"- {task.title}{who} — {due}"
