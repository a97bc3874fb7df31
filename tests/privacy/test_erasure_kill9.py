"""kill -9 in the middle of an erasure (of the command, or of the web server answering the erasure
page), or its database connection cut: the person is never left half anonymised, and the erasure can
simply be run again (issue 16, "Load and faults").

The erasure is the real ``cartera privacy erase`` command, or the production web server (gunicorn)
answering the confirmed erasure page, in its own process. The test holds a row
lock on the person's interaction, so the command stops half-way (the customer row already cleared,
inside its transaction) and waits there; then it is killed with SIGKILL, or its server session is
ended (``pg_terminate_backend``, as a database restart or a dropped network would). PostgreSQL only: on SQLite
the erasure holds the database's one write lock for its whole transaction, so there is no half-way
point another connection could observe.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import Sum
from django.test import Client

from cartera.activity.models import Interaction
from cartera.activity.services import interaction_create
from cartera.customers.models import Customer
from cartera.privacy.models import AuditEntry, PrivacyProfile, SuppressedEmail
from cartera.sales.models import Order
from cartera.sales.services import order_create
from tests.conftest import login
from tests.shared_db import share_database
from tests.web_server import WebServer, csrf_token

ROOT = Path(__file__).resolve().parents[2]


def _waiting_for_a_lock() -> bool:
    return bool(_sessions_waiting())


def _sessions_waiting() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT pid FROM pg_locks WHERE NOT granted")
        return [row[0] for row in cursor.fetchall()]


def _stop(eraser: subprocess.Popen, how: str) -> None:
    if how == "kill -9":
        os.killpg(eraser.pid, signal.SIGKILL)
        eraser.wait()
        return
    try:
        with connection.cursor() as cursor:
            for pid in _sessions_waiting():
                cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        out, err = eraser.communicate(timeout=60)
    finally:
        if eraser.poll() is None:
            os.killpg(eraser.pid, signal.SIGKILL)
            eraser.wait()
    # The command stops with a message of its own, not a traceback, and says nothing was erased.
    assert eraser.returncode == 1, (out, err)
    assert not out.strip(), out
    assert b"Traceback" not in err and "base de datos" in err.decode(), err


def _person_with_history(owner, customer) -> tuple[Interaction, object]:
    order_create(actor=owner, customer=customer, fields={"ordered_on": "2025-11-10", "amount": "120.00"})
    call = interaction_create(
        actor=owner, customer=customer, fields={"kind": "call", "subject": "Lucía pide precio"}
    )
    return call, Order.objects.aggregate(total=Sum("amount"))["total"]


def _wait_until_waiting_for_the_lock(process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 120
    while not _waiting_for_a_lock():
        assert process.poll() is None, f"{what} stopped before the locked row"
        assert time.monotonic() < deadline, f"{what} never reached the locked row"
        time.sleep(0.05)


def _nothing_erased_and_it_runs_again(customer, call, revenue) -> None:
    # Nothing of the half-done erasure is left: the dead client never committed.
    deadline = time.monotonic() + 60
    while _waiting_for_a_lock() and time.monotonic() < deadline:  # its server session winds down
        time.sleep(0.05)
    customer.refresh_from_db()
    assert (customer.first_name, customer.email) == ("Lucía", "lucia@example.es")
    assert Interaction.objects.get(pk=call.pk).subject == "Lucía pide precio"
    assert not PrivacyProfile.objects.filter(customer=customer, erased_at__isnull=False).exists()
    assert not SuppressedEmail.objects.exists() and not AuditEntry.objects.filter(action="erased").exists()

    call_command(
        "privacy", "erase", str(customer.pk), "--user", "manager", "--confirm", f"ERASE {customer.pk}"
    )
    customer.refresh_from_db()
    assert customer.email is None and customer.first_name != "Lucía"
    assert AuditEntry.objects.filter(action="erased", target_id=customer.pk).count() == 1
    assert Order.objects.aggregate(total=Sum("amount"))["total"] == revenue  # the analysis is unchanged
    assert Customer.objects.count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how", ["kill -9", "connection cut"])
def test_an_erasure_stopped_half_way_changes_nothing_and_can_be_run_again(
    owner, manager, customer, tmp_path, how
):
    if connection.vendor != "postgresql":
        pytest.skip("needs row locks another process can wait on (PostgreSQL)")
    call, revenue = _person_with_history(owner, customer)
    db = share_database(tmp_path)
    env = dict(os.environ, DATABASE_URL=db["url"], DJANGO_SETTINGS_MODULE="cartera.settings")
    command = [sys.executable, "-m", "cartera", "--lang", "es", "privacy", "erase", str(customer.pk),
               "--user", "manager", "--confirm", f"ERASE {customer.pk}"]  # fmt: skip

    with transaction.atomic():
        Interaction.objects.select_for_update().get(pk=call.pk)  # the erasure will wait here, half-way
        eraser = subprocess.Popen(  # noqa: S603 - our own manage.py
            command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
        )
        try:
            _wait_until_waiting_for_the_lock(eraser, "the erasure")
        finally:
            _stop(eraser, how)
    _nothing_erased_and_it_runs_again(customer, call, revenue)


@pytest.mark.django_db(transaction=True)
def test_an_erasure_whose_web_server_is_killed_half_way_changes_nothing(owner, manager, customer, tmp_path):
    """The manager confirms the erasure on the web page; the production server (gunicorn) is killed
    with SIGKILL while the request is half-way through."""
    if connection.vendor != "postgresql":
        pytest.skip("needs row locks another process can wait on (PostgreSQL)")
    call, revenue = _person_with_history(owner, customer)
    session_key = login(Client(), manager).cookies["sessionid"].value
    db = share_database(tmp_path)
    with WebServer(db["url"], tmp_path) as server:
        browser = server.session(session_key)
        url = f"{server.base}/privacy/customers/{customer.pk}/erase/"
        page = browser.get(url, timeout=60)
        assert page.status_code == 200, page.text[:300]
        form = {
            "reason": "erasure",
            "confirmation": f"ERASE {customer.pk}",
            "csrfmiddlewaretoken": csrf_token(page),
        }
        answers: list[object] = []

        def confirm() -> None:
            try:
                answers.append(browser.post(url, data=form, allow_redirects=False, timeout=120).status_code)
            except requests.ConnectionError as exc:
                answers.append(exc)

        with transaction.atomic():
            Interaction.objects.select_for_update().get(pk=call.pk)  # the request will wait here, half-way
            confirming = threading.Thread(target=confirm)
            confirming.start()
            try:
                _wait_until_waiting_for_the_lock(server.process, "the web server")
            finally:
                server.kill()
                confirming.join(timeout=60)
        [answer] = answers
        assert isinstance(answer, requests.ConnectionError), answer  # the browser got no answer
    _nothing_erased_and_it_runs_again(customer, call, revenue)
