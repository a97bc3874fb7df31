"""Unsubscribing: the public page (no login, the customer's language), the RFC 8058 one-click POST,
the mailto: request read by the local sink; each records the withdrawal once, on the customer and in
the suppression list."""

from __future__ import annotations

import smtplib

import pytest
from django.test import Client

from cartera.activity.models import Interaction
from cartera.messaging.models import OutboxMessage
from cartera.messaging.selectors import sink_messages
from cartera.messaging.services import deliver_pending, message_queue, unsubscribe_token
from cartera.privacy.models import ConsentEvent, SuppressedEmail
from cartera.privacy.selectors import email_suppressions
from tests.conftest import login
from tests.smtp_server import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(consenting):
    return message_queue(
        to_customer=consenting,
        purpose="campaign",
        subject="Vuelve",
        text="Hola",
        language="es",
        reference="campaigns.recipient:7",
        consent_purpose="marketing",
    )


def withdrawals(customer):
    return ConsentEvent.objects.filter(customer=customer, channel="email", purpose="marketing", granted=False)


def test_opening_the_link_only_asks(sent, consenting):
    response = Client().get(f"/u/{unsubscribe_token(sent)}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert '<html lang="es">' in body and "lucia@example.es" in body and '<form method="post">' in body
    assert not withdrawals(consenting).exists() and not SuppressedEmail.objects.exists()


def test_one_click_post_unsubscribes_once_without_login_or_csrf(sent, consenting):
    client = Client(enforce_csrf_checks=True)
    url = f"/u/{unsubscribe_token(sent)}/"
    response = client.post(
        url, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    [event] = withdrawals(consenting)
    assert event.source == "unsubscribe" and event.reference == "campaigns.recipient:7"
    assert event.version == "one-click" and event.recorded_by is None
    consenting.refresh_from_db()
    assert consenting.opt_in_email is False
    assert email_suppressions(emails=["lucia@example.es"]) == {"lucia@example.es": "unsubscribe"}
    sent.refresh_from_db()
    assert sent.unsubscribed_at is not None
    note = Interaction.objects.get(customer=consenting, direction="inbound")
    assert "Vuelve" in note.subject and note.kind == "email"
    # A second click changes nothing.
    client.post(url, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    assert (
        withdrawals(consenting).count() == 1 and Interaction.objects.filter(customer=consenting).count() == 1
    )


def test_the_page_speaks_the_recipients_language(consenting):
    english = message_queue(
        to_customer=consenting,
        purpose="campaign",
        subject="Come back",
        text="Hi",
        language="en",
        consent_purpose="marketing",
    )
    response = Client().post(f"/u/{unsubscribe_token(english)}/")
    body = response.content.decode()
    assert '<html lang="en">' in body and "You are unsubscribed" in body
    assert response["Content-Language"] == "en"


def test_a_forged_or_altered_token_is_a_404_and_changes_nothing(sent, consenting):
    token = unsubscribe_token(sent)
    other_id = token.replace(token.split(":")[0], "Mg", 1)  # "2" instead of "1", same signature
    for bad in ("nonsense", token[:-2] + "xx", other_id, str(sent.pk)):
        assert (
            Client()
            .post(
                f"/u/{bad}/", "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
            )
            .status_code
            == 404
        )
    assert not withdrawals(consenting).exists()


def test_after_unsubscribing_nothing_more_is_sent(smtp, sent, consenting):
    Client().post(f"/u/{unsubscribe_token(sent)}/")
    assert deliver_pending().cancelled == 1 and smtp.received == []
    sent.refresh_from_db()
    assert sent.state == "cancelled"


@pytest.mark.django_db(transaction=True)  # the sink reads the database from its own thread
def test_the_local_sink_keeps_messages_and_reads_mailto_unsubscribes(
    settings, tmp_path, sent, consenting, manager, client
):
    from cartera.messaging.sink import start_sink
    from tests.conftest import smtp_mailers

    settings.VAR_DIR = tmp_path
    settings.CARTERA_UNSUBSCRIBE_ADDRESS = "baja@cartera.example"
    settings.CARTERA_EMAIL_RATE = 0
    port = free_port()
    settings.MAILERS = smtp_mailers(port)
    sink = start_sink(host="127.0.0.1", port=port, folder=tmp_path / "mailsink")
    try:
        assert deliver_pending().sent == 1
        [received] = sink_messages()
        assert received.subject == "Vuelve" and received.to == "lucia@example.es"
        assert dict(received.headers)["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        settings.DEBUG = True
        page = login(client, manager).get("/mail/sink/")
        assert page.status_code == 200 and "Vuelve" in page.content.decode()
        # The mail client's mailto: unsubscribe, as it would send it.
        with smtplib.SMTP("127.0.0.1", port) as conn:
            conn.sendmail(
                "lucia@example.es",
                ["baja@cartera.example"],
                f"Subject: unsubscribe {unsubscribe_token(sent)}\r\n\r\n".encode(),
            )
    finally:
        sink.stop()
    [event] = withdrawals(consenting)
    assert event.version == "mailto"
    assert len(sink_messages()) == 1  # the request itself is not kept as a message
    settings.DEBUG = False
    assert client.get("/mail/sink/").status_code == 404


def test_outbox_rows_are_scoped_like_their_customer(sent, owner, colleague, client):
    assert login(client, owner).get(f"/api/outbox/{sent.pk}").status_code == 200
    response = login(Client(), colleague).get(f"/api/outbox/{sent.pk}")
    assert response.status_code == 200  # viewing is shared by the team, like the customer
    assert OutboxMessage.objects.count() == 1
