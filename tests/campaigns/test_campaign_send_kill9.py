"""kill -9 of the production web server (gunicorn) while it freezes and queues a campaign: the send is
one transaction, so the campaign is still a draft with nothing frozen, queued or given a code, and
sending it again sends it once (issue 16, "Load and faults")."""

from __future__ import annotations

import threading
import time

import pytest
import requests
from django.db import connection, transaction
from django.test import Client

from cartera.campaigns import services
from cartera.campaigns.models import Campaign, CampaignStatus, Recipient
from cartera.messaging.models import OutboxMessage
from cartera.sales.models import PromotionCode
from tests.campaigns.test_campaign_flow import SETTINGS, write_messages
from tests.conftest import login
from tests.shared_db import lock_probe, share_database, someone_waits_for_a_lock
from tests.web_server import WebServer, csrf_token


@pytest.mark.django_db(transaction=True)
def test_a_send_whose_web_server_is_killed_half_way_leaves_a_draft_that_sends_once(
    portfolio, manager, tmp_path
):
    if connection.vendor != "postgresql":
        pytest.skip("needs a table lock another process can wait on (PostgreSQL)")
    campaign = services.campaign_create(
        actor=manager, fields=SETTINGS, segments=[portfolio["at_risk"], portfolio["inactive"]]
    )
    write_messages(manager, campaign)
    session_key = login(Client(), manager).cookies["sessionid"].value
    db = share_database(tmp_path)
    probe = lock_probe()
    with WebServer(db["url"], tmp_path) as server:
        browser = server.session(session_key)
        review = browser.get(f"{server.base}/campaigns/{campaign.pk}/review/", timeout=60)
        assert review.status_code == 200, review.text[:300]
        answers: list[object] = []

        def send() -> None:
            try:
                answers.append(
                    browser.post(
                        f"{server.base}/campaigns/{campaign.pk}/send/",
                        data={"csrfmiddlewaretoken": csrf_token(review)},
                        allow_redirects=False,
                        timeout=120,
                    ).status_code
                )
            except requests.ConnectionError as exc:
                answers.append(exc)

        with transaction.atomic():
            # The send freezes the recipients and creates the codes, then waits here to queue the e-mails.
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {OutboxMessage._meta.db_table} IN SHARE ROW EXCLUSIVE MODE")
            sending = threading.Thread(target=send)
            sending.start()
            try:
                deadline = time.monotonic() + 120
                while not someone_waits_for_a_lock(probe):
                    assert server.process.poll() is None and time.monotonic() < deadline, (
                        "never reached the lock"
                    )
                    time.sleep(0.05)
                # Half-way: the waiting request has already written the frozen recipients.
                wrote = probe.execute(
                    "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                    "WHERE c.relname = %s AND l.mode = 'RowExclusiveLock' AND l.granted AND l.pid IN "
                    "(SELECT pid FROM pg_locks WHERE NOT granted)",
                    [Recipient._meta.db_table],
                ).fetchone()[0]
                assert wrote == 1
            finally:
                server.kill()
                sending.join(timeout=60)
        [answer] = answers
        assert isinstance(answer, requests.ConnectionError), answer  # the browser got no answer
    deadline = time.monotonic() + 60
    while someone_waits_for_a_lock(probe) and time.monotonic() < deadline:  # its server session winds down
        time.sleep(0.05)
    probe.close()

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT and campaign.sent_at is None
    assert not Recipient.objects.exists() and not OutboxMessage.objects.exists()
    assert not PromotionCode.objects.exists()

    services.campaign_send(actor=manager, campaign=Campaign.objects.get(pk=campaign.pk))
    assert Recipient.objects.filter(campaign=campaign).count() == 204
    assert OutboxMessage.objects.count() == 180  # each treated recipient's e-mail, once
    assert PromotionCode.objects.count() == 180
