"""kill -9 of the real task worker in the middle of an import: every batch is written whole or not at
all, and Resume finishes the file with nothing doubled and nothing lost (issue 16, "Load and faults").

The worker is the real ``manage.py db_worker`` in its own process, running the import task queued by
"Import now"; it is killed with SIGKILL once the first batches are in.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from cartera.imports.services import import_job_enqueue, import_job_run
from cartera.imports.services.running import BATCH_SIZE
from tests.shared_db import query, share_database

ROOT = Path(__file__).resolve().parents[2]
ROWS = 8 * BATCH_SIZE

# What the "Resume" button does once the killed run has been silent long enough (STALE_AFTER): the
# clock is moved back instead of waiting two minutes.
RESUME = """
import datetime, django
django.setup()
from cartera.imports.models import ImportJob
from cartera.imports.services import import_job_enqueue
job = ImportJob.objects.get(pk={job_id})
ImportJob.objects.filter(pk=job.pk).update(updated_at=job.updated_at - datetime.timedelta(minutes=3))
job.refresh_from_db()
import_job_enqueue(actor=job.created_by, job=job)
print("queued", flush=True)
"""


def _env(db: dict[str, Any], tmp_path: Path) -> dict[str, str]:
    return dict(
        os.environ,
        DATABASE_URL=db["url"],
        DJANGO_SETTINGS_MODULE="cartera.settings",
        CARTERA_VAR_DIR=str(tmp_path),
    )


def _worker(db: dict[str, Any], tmp_path: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - our own manage.py
        [
            sys.executable,
            str(ROOT / "manage.py"),
            "db_worker",
            "--no-startup-delay",
            "--interval",
            "0.1",
            *args,
        ],
        env=_env(db, tmp_path),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: the kill reaches anything it started
    )


def _job(db: dict[str, Any], job_id: int) -> tuple[str, int, int]:
    sql = f"SELECT status, committed_row, created_count FROM imports_importjob WHERE id = {job_id:d}"  # noqa: S608
    (row,) = query(db, sql)
    return row


def _resume(db: dict[str, Any], tmp_path: Path, job_id: int) -> None:
    """Press "Resume" (in another process, as the web page would), once the run is stale."""
    resumed = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", RESUME.format(job_id=job_id)],
        env=_env(db, tmp_path),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.stdout.strip() == "queued", resumed.stderr


def _customers(db: dict[str, Any]) -> tuple[int, int]:
    ((count, emails),) = query(db, "SELECT COUNT(*), COUNT(DISTINCT email) FROM customers_customer")
    return count, emails


@pytest.mark.django_db(transaction=True)
def test_an_import_killed_mid_run_resumes_with_nothing_doubled_or_lost(owner, start_job, tmp_path):
    content = "Nombre,Apellidos,Email\n" + "".join(
        f"Nombre{i},Prueba,persona{i}@example.es\n" for i in range(ROWS)
    )
    job = import_job_run(job=start_job(owner, content), dry_run=True)
    import_job_enqueue(actor=owner, job=job)  # "Import now": the task waits in the queue
    db = share_database(tmp_path)

    worker = _worker(db, tmp_path)
    try:
        deadline = time.monotonic() + 240
        while _job(db, job.pk)[1] < 2 * BATCH_SIZE:
            assert worker.poll() is None, worker.stderr.read().decode() if worker.stderr else ""
            assert time.monotonic() < deadline, "the worker never got going"
            time.sleep(0.02)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()

    status, committed, created = _job(db, job.pk)
    assert status == "running" and BATCH_SIZE < created < ROWS, "killed in the middle"
    # Nothing half-written: exactly the whole batches recorded as written are there (``committed`` is
    # the file's line number of the last written row; the header is line 1).
    assert created % BATCH_SIZE == 0 and committed == created + 1
    assert _customers(db) == (created, created)

    _resume(db, tmp_path, job.pk)
    finisher = _worker(db, tmp_path, "--batch")
    assert finisher.wait(timeout=300) == 0, finisher.stderr.read().decode() if finisher.stderr else ""

    assert _job(db, job.pk) == ("done", ROWS + 1, ROWS)
    assert _customers(db) == (ROWS, ROWS), "every row once: none lost, none doubled"


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="a server connection: PostgreSQL")
def test_an_import_whose_database_connection_is_cut_resumes_with_nothing_doubled_or_lost(
    owner, start_job, tmp_path
):
    """The database connection cut under the worker (a database restart, a dropped network): the
    batch being written is rolled back whole, the import can be resumed, and the same worker, still
    running, finishes it with every row once."""
    content = "Nombre,Apellidos,Email\n" + "".join(
        f"Nombre{i},Prueba,persona{i}@example.es\n" for i in range(ROWS)
    )
    job = import_job_run(job=start_job(owner, content), dry_run=True)
    import_job_enqueue(actor=owner, job=job)
    db = share_database(tmp_path)

    worker = _worker(db, tmp_path)
    try:
        deadline = time.monotonic() + 240
        while _job(db, job.pk)[1] < 2 * BATCH_SIZE:
            assert worker.poll() is None, worker.stderr.read().decode() if worker.stderr else ""
            assert time.monotonic() < deadline, "the worker never got going"
            time.sleep(0.02)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        deadline = time.monotonic() + 60
        while _job(db, job.pk)[0] == "running":
            assert time.monotonic() < deadline, "the import never said it failed"
            time.sleep(0.1)
        status, committed, created = _job(db, job.pk)
        assert status == "failed"  # said at once, on a new connection (the old one is gone)
        assert BATCH_SIZE < created < ROWS, "cut in the middle"
        assert created % BATCH_SIZE == 0 and committed == created + 1
        assert _customers(db) == (created, created)

        _resume(db, tmp_path, job.pk)
        deadline = time.monotonic() + 240
        while _job(db, job.pk)[0] != "done":
            assert worker.poll() is None, (
                f"the worker died with its connection: {worker.stderr.read().decode()[-3000:] if worker.stderr else ''}"
            )
            assert time.monotonic() < deadline, f"not finished: {_job(db, job.pk)}"
            time.sleep(0.1)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
    assert _job(db, job.pk) == ("done", ROWS + 1, ROWS)
    assert _customers(db) == (ROWS, ROWS), "every row once: none lost, none doubled"
