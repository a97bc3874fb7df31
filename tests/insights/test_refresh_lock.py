"""The refresh's one-at-a-time lock: a killed refresh blocks nothing, a stuck one can be cleared.

The holder is a real refresh in another process (paused at its first step, so that it is still
running when it is killed); the refreshes after it are the real ``cartera refresh`` command.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone, translation

from cartera.insights.models import RefreshRun
from cartera.insights.services import RefreshAlreadyRunning, insights_refresh, refresh_lock_clear
from tests.shared_db import query, share_database

ROOT = Path(__file__).resolve().parents[2]

# A real refresh that stops at its first step and waits there (for the kill).
HOLDER = """
import os, sys, time
import django
django.setup()
from django.utils import translation
from cartera.insights.services import insights_refresh

translation.activate("en")  # the progress lines speak the active language

def pause(message):
    if message == "reading orders":
        print("holding", flush=True)
        time.sleep(600)

insights_refresh(trigger="holder", progress=pause)
"""


@pytest.fixture
def shared_database(tmp_path) -> dict[str, Any]:
    """A ``DATABASE_URL`` other processes can open that holds this test's database (committed)."""
    return share_database(tmp_path)


def runs(db: dict[str, Any]) -> list[tuple[Any, ...]]:
    """(id, status, trigger, note, heartbeat_at) of every refresh run, oldest first."""
    return query(db, "SELECT id, status, trigger, note, heartbeat_at FROM insights_refreshrun ORDER BY id")


def _env(db: dict[str, Any]) -> dict[str, str]:
    return dict(
        os.environ,
        DATABASE_URL=db["url"],
        DJANGO_SETTINGS_MODULE="cartera.settings",
        CARTERA_REFRESH_HEARTBEAT_SECONDS="0.2",
    )


def start_holder(db: dict[str, Any]) -> subprocess.Popen[str]:
    holder = subprocess.Popen(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", HOLDER], env=_env(db), cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "holding"
    return holder


def refresh_command(db: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, str(ROOT / "manage.py"), "refresh", "--lang", "en", *args],
        env=_env(db),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.django_db(transaction=True)
def test_a_refresh_killed_with_sigkill_blocks_nothing(shared_database):
    db = shared_database
    holder = start_holder(db)
    try:
        # While it lives, a second refresh is refused and told who holds the lock and since when.
        refused = refresh_command(db)
        assert refused.returncode != 0
        assert "already running" in refused.stderr
        assert f"process {holder.pid} on {socket.gethostname()}" in refused.stderr
        assert "trigger holder" in refused.stderr and "started 20" in refused.stderr
        assert "--force" in refused.stderr
        # The holder shows signs of life while it works.
        first_beat = runs(db)[-1][4]
        time.sleep(0.8)
        assert runs(db)[-1][4] != first_beat
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert [r[1] for r in runs(db)] == ["running"]  # kill -9: nobody cleaned up

    after = refresh_command(db)
    assert after.returncode == 0, after.stderr
    assert "took over the lock" in after.stdout and f"holder process {holder.pid}" in after.stdout
    (killed_id, killed, *_), (_, new, new_trigger, *_) = runs(db)
    assert (killed, new, new_trigger) == ("failed", "done", "cli")
    assert "is gone" in runs(db)[0][3] and "taken over by process" in runs(db)[0][3]


@pytest.mark.django_db(transaction=True)
def test_refresh_force_clears_a_lock_whose_holder_still_lives(shared_database):
    db = shared_database
    holder = start_holder(db)
    try:
        forced = refresh_command(db, "--force")
        assert forced.returncode == 0, forced.stderr
        assert "cleared by --force" in forced.stdout
        assert [r[1] for r in runs(db)] == ["failed", "done"]
        assert "cleared by --force" in runs(db)[0][3]
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()


def _held_elsewhere(seconds_since_last_beat: float) -> RefreshRun:
    now = timezone.now()
    return RefreshRun.objects.create(
        started_at=now - dt.timedelta(hours=1),
        heartbeat_at=now - dt.timedelta(seconds=seconds_since_last_beat),
        trigger="task",
        holder={"host": "worker-2.example", "pid": 4242, "task_id": "7c1e"},
    )


def test_a_live_holder_on_another_host_keeps_the_lock(db):
    held = _held_elsewhere(5)
    with pytest.raises(RefreshAlreadyRunning) as refused:
        insights_refresh()
    message = str(refused.value)
    assert "process 4242 on worker-2.example" in message and "worker task 7c1e" in message
    assert refused.value.run == held
    held.refresh_from_db()
    assert held.status == RefreshRun.Status.RUNNING


def test_a_silent_holder_is_taken_over(db, settings):
    settings.CARTERA_REFRESH_STALE_SECONDS = 60
    held = _held_elsewhere(90)
    said: list[str] = []
    with translation.override("en"):  # what the refresh says and stores speaks the active language
        assert insights_refresh(progress=said.append).status == RefreshRun.Status.DONE
    held.refresh_from_db()
    assert held.status == RefreshRun.Status.FAILED and "no sign of life for 9" in held.note
    assert any("took over the lock" in s and "worker-2.example" in s for s in said)


def test_the_lock_can_be_cleared_by_hand(db):
    held = _held_elsewhere(1)
    assert refresh_lock_clear(note="stuck, cleared by the operator") == held
    held.refresh_from_db()
    assert held.status == RefreshRun.Status.FAILED and "operator" in held.note
    assert refresh_lock_clear() is None
    assert insights_refresh().status == RefreshRun.Status.DONE


@pytest.mark.django_db(transaction=True)
def test_the_worker_names_its_task_and_says_who_holds_the_lock():
    from django.core.management import call_command
    from django_tasks_db.models import DBTaskResult

    from cartera.insights.tasks import refresh_insights

    first = refresh_insights.enqueue(trigger="test")
    call_command("db_worker", "--batch", "--interval", "0", verbosity=0)
    run = RefreshRun.objects.get(trigger="test")
    assert run.status == RefreshRun.Status.DONE and run.holder["task_id"] == str(first.id)
    assert run.holder["pid"] == os.getpid() and run.holder["host"] == socket.gethostname()

    held = _held_elsewhere(5)
    second = refresh_insights.enqueue(trigger="test")
    call_command("db_worker", "--batch", "--interval", "0", verbosity=0)
    outcome = DBTaskResult.objects.get(pk=second.id)
    assert outcome.status == "SUCCESSFUL"
    assert outcome.return_value.startswith("skipped: a refresh is already running")
    assert f"run {held.pk} started" in outcome.return_value and "worker-2.example" in outcome.return_value
