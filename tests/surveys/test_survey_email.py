"""Survey invitations by e-mail go through the shared outbox and arrive, on a real SMTP server,
in the customer's language with the answer link and one-click unsubscribe; a customer without
consent for surveys gets nothing, and the survey page says why."""

from __future__ import annotations

import pytest

from cartera.messaging.services import deliver_pending
from cartera.privacy.services import consent_record
from cartera.surveys.models import Invitation, InvitationChannel, Trigger
from cartera.surveys.services.surveys import invitation_link, invitations_create_bulk, invitations_send
from tests.conftest import login

pytestmark = pytest.mark.django_db


def _consent_to_surveys(customer, actor):
    consent_record(
        actor=actor,
        customer=customer,
        channel="email",
        purpose="surveys",
        granted=True,
        source="form",
        wording="Acepto responder encuestas",
        version="t1",
    )


def test_a_segment_invitation_arrives_with_its_answer_link(smtp, manager, owner, customer, nps_survey):
    _consent_to_surveys(customer, owner)
    rows = invitations_create_bulk(survey=nps_survey, customer_ids=[customer.pk], trigger=Trigger.MANUAL)
    assert invitations_send(invitations=rows, sender_user=manager) == {"queued": 1, "refused": 0}
    assert deliver_pending().sent == 1
    [got] = smtp.received
    assert got.rcpt_tos == [customer.email]
    text = got.text()
    invitation = Invitation.objects.get()
    assert invitation.sent_at is not None
    assert text.startswith("Hola Lucía,") and invitation_link(invitation) in text
    assert "recomiendes" in text or "recomendar" in text  # the NPS question, in Spanish
    assert got.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # Sending again does nothing: the invitation is already sent.
    assert invitations_send(invitations=[invitation]) == {"queued": 0, "refused": 0}


def test_without_consent_for_surveys_nothing_is_sent_and_the_page_says_why(
    client, smtp, manager, customer, nps_survey
):
    rows = invitations_create_bulk(survey=nps_survey, customer_ids=[customer.pk], trigger=Trigger.MANUAL)
    assert invitations_send(invitations=rows) == {"queued": 0, "refused": 1}
    deliver_pending()
    assert smtp.received == []
    assert Invitation.objects.get().not_sent_reason == "no_consent"
    page = login(client, manager).get(f"/surveys/{nps_survey.pk}/").content.decode()
    assert "No consent" in page or "consentimiento" in page


def test_inviting_one_customer_by_email_from_the_page_queues_it(
    client, smtp, manager, owner, customer, nps_survey
):
    _consent_to_surveys(customer, owner)
    login(client, manager).post(
        f"/surveys/{nps_survey.pk}/invite/", {"customer": customer.pk, "channel": InvitationChannel.EMAIL}
    )
    assert deliver_pending().sent == 1
    assert [m.rcpt_tos for m in smtp.received] == [[customer.email]]
