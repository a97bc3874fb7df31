"""A real background worker (``manage.py db_worker``) killed with SIGKILL in the middle of a send and
started again sends no message twice and misses none (checked on what a real SMTP server received)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from cartera.messaging.services import OutboxDraft, messages_queue_many
from tests.shared_db import query, share_database
from tests.smtp_server import Recorder, start_server

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = 240


def start_worker(db: dict[str, Any], port: int) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        DATABASE_URL=db["url"],
        DJANGO_SETTINGS_MODULE="cartera.settings",
        CARTERA_EMAIL_PORT=str(port),
        CARTERA_EMAIL_RATE="60",
        CARTERA_OUTBOX_STALE_SECONDS="1.5",
    )
    return subprocess.Popen(  # noqa: S603 - our own manage.py
        [sys.executable, str(ROOT / "manage.py"), "db_worker", "--interval", "0.2"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for(condition: Any, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return False


def queue_and_start_sending(
    tmp_path: Path, batch: str
) -> tuple[Recorder, Any, dict[str, Any], subprocess.Popen[bytes]]:
    """A real SMTP server, ``MESSAGES`` messages queued (queueing wakes the worker: a delivery task
    waits in the queue) and a real worker started on the shared database."""
    recorder = Recorder()
    server = start_server(recorder)
    drafts = [
        OutboxDraft(to_address=f"cliente{i}@example.es", language="es", subject=f"Mensaje {i}", text="Hola")
        for i in range(MESSAGES)
    ]
    assert messages_queue_many(drafts=drafts, purpose="test", batch=batch, consent_purpose="") == MESSAGES
    db = share_database(tmp_path)
    return recorder, server, db, start_worker(db, server.port)


def received_once_each(recorder: Recorder, db: dict[str, Any]) -> tuple[list[str], set[str], set[str]]:
    """What the SMTP server received (asserting no message came twice), every outbox message's id, and
    the ones it never received."""
    ids = [r.message["Message-ID"] for r in recorder.received]
    twice = [mid for mid, n in Counter(ids).items() if n > 1]
    assert twice == [], f"sent twice: {twice}"
    every = {f"<outbox-{pk}@localhost>" for (pk,) in query(db, "SELECT id FROM messaging_outboxmessage")}
    return ids, every, every - set(ids)


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_send_and_restarted_sends_each_message_exactly_once(tmp_path):
    recorder, server, db, worker = queue_and_start_sending(tmp_path, batch="kill")
    try:
        assert wait_for(lambda: len(recorder.received) >= 60, 60), "the worker never started sending"
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        at_kill = len(recorder.received)
        assert at_kill < MESSAGES, "the worker finished before it was killed"
        # The one row a kill may lose (services module docstring): committed as sent, its final "."
        # not yet written. It can only be among those marked sent and not received by now.
        received_by_then = {r.message["Message-ID"] for r in list(recorder.received)}
        in_the_gap = {
            f"<outbox-{pk}@localhost>"
            for (pk,) in query(db, "SELECT id FROM messaging_outboxmessage WHERE state = 'sent'")
        } - received_by_then
        states = dict(query(db, "SELECT state, COUNT(*) FROM messaging_outboxmessage GROUP BY state"))
        assert states.get("queued", 0) + states.get("sending", 0) > 0
        worker = start_worker(db, server.port)
        assert wait_for(
            lambda: (
                query(db, "SELECT COUNT(*) FROM messaging_outboxmessage WHERE state = 'sent'")[0][0]
                == MESSAGES
            ),
            90,
        ), query(db, "SELECT state, COUNT(*) FROM messaging_outboxmessage GROUP BY state")
        time.sleep(0.5)
    finally:
        worker.kill()
        worker.wait(timeout=10)
        server.stop()
    ids, expected, missing = received_once_each(recorder, db)
    # A kill between the commit of "sent" and the write of the final "." loses that one message: the
    # gap is a few microseconds on a quiet machine, longer when the worker is preempted right there
    # (seen at load 14). Anything else missing is a defect.
    assert len(missing) <= 1 and missing <= in_the_gap, (
        f"missing outside the hand-over gap: {missing - in_the_gap}"
    )
    assert set(ids) <= expected
    assert len(recorder.received) >= MESSAGES - 1


@pytest.mark.django_db(transaction=True)
def test_a_worker_whose_database_connection_is_cut_mid_send_goes_on_and_sends_each_message_once(tmp_path):
    """The database connection cut under a sending worker (a PostgreSQL restart, a dropped network),
    three times: the worker keeps running, finishes the send by itself, and no message goes twice.
    A cut can land between the server's commit of "sent" and the worker hearing of it: the worker
    then holds back the final "." as for any failed commit, so that one row is marked sent and never
    delivered (the module docstring's gap, never a duplicate): at most one per cut."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("ends the worker's server session (PostgreSQL)")
    recorder, server, db, worker = queue_and_start_sending(tmp_path, batch="cut")
    cuts = 0
    try:
        for received in (40, 90, 140):
            assert wait_for(lambda n=received: len(recorder.received) >= n, 60), "the worker stopped sending"
            cut = query(
                db,
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()",
            )[0][0]
            assert cut >= 1, "no worker session to cut"
            cuts += 1
            assert worker.poll() is None, "the worker died with its connection"
        assert wait_for(
            lambda: (
                query(
                    db, "SELECT COUNT(*) FROM messaging_outboxmessage WHERE state IN ('queued', 'sending')"
                )[0][0]
                == 0
            ),
            90,
        ), query(db, "SELECT state, COUNT(*) FROM messaging_outboxmessage GROUP BY state")
        time.sleep(0.5)
        assert worker.poll() is None
    finally:
        worker.kill()
        worker.wait(timeout=10)
        server.stop()
    ids, sent, missing = received_once_each(recorder, db)
    states = dict(query(db, "SELECT state, COUNT(*) FROM messaging_outboxmessage GROUP BY state"))
    assert states == {"sent": MESSAGES}, states
    assert len(missing) <= cuts, f"missing beyond one per cut: {missing}"
    assert set(ids) <= sent
