"""The outbox against a real SMTP server (aiosmtpd): headers, bodies in both languages, refusals,
retries with back-off, bounces that suppress the address, hold and release."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from cartera.messaging.models import OutboxMessage, OutboxState
from cartera.messaging.selectors import batch_progress
from cartera.messaging.services import (
    MessageRefused,
    OutboxDraft,
    deliver_pending,
    message_queue,
    messages_queue_many,
    outbox_hold,
    outbox_release,
    unsubscribe_token,
)
from cartera.privacy.models import SuppressedEmail
from cartera.privacy.selectors import email_suppressions, is_suppressed
from cartera.privacy.services import email_suppress

pytestmark = pytest.mark.django_db


def test_a_marketing_message_arrives_with_one_click_unsubscribe_headers(smtp, consenting, manager):
    row = message_queue(
        to_customer=consenting,
        purpose="campaign",
        subject="Te echamos de menos, Lucía",
        text="Hola Lucía,\n.una línea que empieza por punto\nVuelve con VUELVE10.",
        html="<p>Hola <b>Lucía</b></p>",
        language="es",
        sender_user=manager,
        reference="campaigns.recipient:1",
        consent_purpose="marketing",
    )
    assert row.state == OutboxState.QUEUED and row.to_address == "lucia@example.es"
    report = deliver_pending()
    assert report.sent == 1, list(OutboxMessage.objects.values_list("error", "smtp_reply"))
    [got] = smtp.received
    message = got.message
    assert got.rcpt_tos == ["lucia@example.es"] and got.mail_from == "tienda@cartera.example"
    assert message["Subject"] == "Te echamos de menos, Lucía"
    assert message["Message-ID"] == f"<outbox-{row.pk}@cartera.example>"
    token = unsubscribe_token(row)
    url = f"https://cartera.example/u/{token}/"
    assert message["List-Unsubscribe"] == (
        f"<mailto:baja@cartera.example?subject=unsubscribe%20{token}>, <{url}>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = got.text()
    # The leading dot survived SMTP's dot-stuffing; the footer is in Spanish with the link.
    assert "\n.una línea que empieza por punto\n" in text
    assert f"Para dejar de recibir estos correos, abre {url}" in text
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "<b>Lucía</b>" in html and url in html
    row.refresh_from_db()
    assert row.state == OutboxState.SENT and row.sent_at is not None and row.attempts == 1
    assert row.smtp_reply.startswith("250")
    # Sending again sends nothing more.
    assert deliver_pending().sent == 0 and len(smtp.received) == 1


def test_english_recipients_get_the_english_footer_and_service_messages_no_unsubscribe(smtp, consenting):
    message_queue(
        to_customer=consenting,
        purpose="campaign",
        subject="We miss you",
        text="Hi",
        language="en",
        consent_purpose="marketing",
    )
    message_queue(
        to_address="lead@example.com", purpose="opt_in", subject="Confirm", text="Click", language="en"
    )
    deliver_pending()
    marketing, service = smtp.received
    assert "To stop receiving these e-mails, open https://cartera.example/u/" in marketing.text()
    assert service.message["List-Unsubscribe"] is None
    assert "stop receiving" not in service.text()


def test_list_unsubscribe_goes_out_as_plain_ascii_folded_between_its_urls(smtp, consenting, settings):
    """Read in the raw bytes the server received: the header is not RFC 2047-encoded (some clients
    then miss the mailto), and both URLs are whole, each folded onto a line of its own."""
    settings.CARTERA_UNSUBSCRIBE_ADDRESS = "bajas-de-las-campanas-de-otono@tienda-de-ejemplo.cartera.example"
    row = message_queue(
        to_customer=consenting, purpose="campaign", subject="Vuelve", text="Hola", language="es",
        reference="campaigns.recipient:1", consent_purpose="marketing",
    )  # fmt: skip
    deliver_pending()
    [got] = smtp.received
    head = got.raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    lines = head.split("\r\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("List-Unsubscribe:"))
    folded = [lines[start]] + [line for line in lines[start + 1 :] if line[:1] in (" ", "\t")][:1]
    token = unsubscribe_token(row)
    mailto = f"<mailto:{settings.CARTERA_UNSUBSCRIBE_ADDRESS}?subject=unsubscribe%20{token}>"
    url = f"<https://cartera.example/u/{token}/>"
    assert len(f"List-Unsubscribe: {mailto}, {url}") > 78  # long enough to need folding
    assert folded == [f"List-Unsubscribe: {mailto},", f" {url}"]
    assert "=?" not in head and all(len(line) <= 998 for line in lines)
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in lines
    # And a reader that unfolds it gets the two URLs.
    assert got.message["List-Unsubscribe"] == f"{mailto}, {url}"


def test_refused_recipients_are_never_queued(smtp, customer, consenting):
    from cartera.customers.models import Customer

    no_email = Customer.objects.create(first_name="Sin", last_name="Correo", owner=customer.owner)
    with pytest.raises(MessageRefused) as refused:
        message_queue(to_customer=no_email, purpose="x", subject="s", text="t", language="es")
    assert refused.value.reason == "no_email"
    no_consent = Customer.objects.create(first_name="Sin", email="nada@example.es", owner=customer.owner)
    with pytest.raises(MessageRefused) as refused:
        message_queue(
            to_customer=no_consent,
            purpose="x",
            subject="s",
            text="t",
            language="es",
            consent_purpose="marketing",
        )
    assert refused.value.reason == "no_consent"
    email_suppress(email="LUCIA@example.es", reason="unsubscribe")
    with pytest.raises(MessageRefused) as refused:
        message_queue(
            to_customer=consenting,
            purpose="x",
            subject="s",
            text="t",
            language="es",
            consent_purpose="marketing",
        )
    assert refused.value.reason == "unsubscribed"
    assert not OutboxMessage.objects.exists()
    # An unsubscribe stops e-mail but does not keep the person out of a re-import (erasure does).
    assert not is_suppressed("lucia@example.es")
    assert email_suppressions(emails=["lucia@example.es"]) == {"lucia@example.es": "unsubscribe"}


def test_an_address_suppressed_after_queueing_is_not_sent(smtp, consenting):
    row = message_queue(
        to_customer=consenting,
        purpose="campaign",
        subject="s",
        text="t",
        language="es",
        consent_purpose="marketing",
    )
    email_suppress(email="lucia@example.es", reason="erasure")
    report = deliver_pending()
    assert report.cancelled == 1 and smtp.received == []
    row.refresh_from_db()
    assert row.state == OutboxState.CANCELLED and row.error == "suppressed"


def test_temporary_errors_are_retried_with_back_off_and_permanent_ones_suppress(smtp, settings):
    settings.CARTERA_EMAIL_RETRY_SECONDS = 60
    settings.CARTERA_EMAIL_MAX_ATTEMPTS = 3
    smtp.refuse["later@example.com"] = "451 4.7.1 Try again later"
    smtp.refuse["gone@example.com"] = "550 5.1.1 No such user"
    later = message_queue(to_address="later@example.com", purpose="t", subject="s", text="t", language="es")
    gone = message_queue(to_address="gone@example.com", purpose="t", subject="s", text="t", language="es")
    fine = message_queue(to_address="fine@example.com", purpose="t", subject="s", text="t", language="es")
    before = timezone.now()
    report = deliver_pending()
    assert (report.sent, report.retried, report.bounced) == (1, 1, 1)
    later.refresh_from_db(), gone.refresh_from_db(), fine.refresh_from_db()
    assert fine.state == OutboxState.SENT
    assert gone.state == OutboxState.BOUNCED and "550" in gone.error
    assert SuppressedEmail.objects.get().reason == "bounce"
    assert later.state == OutboxState.QUEUED and later.attempts == 1 and "451" in later.error
    assert later.next_attempt_at >= before + dt.timedelta(seconds=59)
    # Not due yet: nothing happens. Due: the second failure waits twice as long.
    assert deliver_pending().retried == 0
    OutboxMessage.objects.filter(pk=later.pk).update(next_attempt_at=timezone.now())
    now = timezone.now()
    deliver_pending()
    later.refresh_from_db()
    assert later.attempts == 2 and later.next_attempt_at >= now + dt.timedelta(seconds=119)
    OutboxMessage.objects.filter(pk=later.pk).update(next_attempt_at=timezone.now())
    assert deliver_pending().failed == 1
    later.refresh_from_db()
    assert later.state == OutboxState.FAILED and later.attempts == 3
    # The bounced address is refused from now on.
    with pytest.raises(MessageRefused) as refused:
        message_queue(to_address="gone@example.com", purpose="t", subject="s", text="t", language="es")
    assert refused.value.reason == "bounced"
    assert [r.rcpt_tos for r in smtp.received] == [["fine@example.com"]]


def test_a_server_that_is_down_is_a_temporary_error(settings, db):
    from tests.conftest import smtp_mailers
    from tests.smtp_server import free_port

    settings.MAILERS = smtp_mailers(free_port())
    settings.CARTERA_EMAIL_RATE = 0
    row = message_queue(to_address="a@example.com", purpose="t", subject="s", text="t", language="es")
    assert deliver_pending().retried == 1
    row.refresh_from_db()
    assert row.state == OutboxState.QUEUED and row.attempts == 1 and "Connection" in row.error


def test_a_held_batch_waits_until_released(smtp):
    drafts = [
        OutboxDraft(to_address=f"p{i}@example.com", language="es", subject="s", text="t") for i in range(5)
    ]
    assert messages_queue_many(drafts=drafts, purpose="campaign", batch="campaign:1", consent_purpose="") == 5
    assert outbox_hold(batch="campaign:1") == 5
    assert deliver_pending().sent == 0
    assert batch_progress(batch="campaign:1")["held"] == 5
    assert outbox_release(batch="campaign:1") == 5
    assert deliver_pending().sent == 5
    assert batch_progress(batch="campaign:1")["sent"] == 5
    assert sorted(r.rcpt_tos[0] for r in smtp.received) == [f"p{i}@example.com" for i in range(5)]


def test_the_rate_limit_spaces_messages(smtp):
    import time

    drafts = [
        OutboxDraft(to_address=f"r{i}@example.com", language="es", subject="s", text="t") for i in range(4)
    ]
    messages_queue_many(drafts=drafts, purpose="t", batch="", consent_purpose="")
    started = time.monotonic()
    deliver_pending(rate=20)
    # Four messages at 20 a second: at least three gaps of 50 ms.
    assert time.monotonic() - started >= 0.15


def test_only_one_delivery_run_sends_at_a_time(smtp):
    from cartera.messaging.services import _lease_release, _lease_take

    assert _lease_take("other-live-run")
    message_queue(to_address="a@example.com", purpose="t", subject="s", text="t", language="es")
    assert deliver_pending().skipped and smtp.received == []
    _lease_release("other-live-run")
    assert deliver_pending().sent == 1
