"""Export files really expire (issue 16): the file is deleted when ``CARTERA_RETAIN_EXPORT_FILES_HOURS``
pass, by a sweep the worker runs at each file's expiry (and at least hourly while files wait), not up
to a day later by the nightly retention run; a download attempt after the expiry deletes the file on
the spot. The clock is moved by moving the job's timestamps and the queued sweep's ``run_after``
back by the same amount; the real worker (django-tasks-db's ``db_worker``) runs what is then due."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from cartera.customers.services import customer_create
from cartera.imports.models import ExportJob
from cartera.imports.services import export_job_create, export_job_run
from cartera.imports.tasks import SWEEP_EVERY, sweep_export_files

# Transactional: django-tasks-db's worker closes the database connection between tasks, which would
# end the transaction an ordinary test runs in (on PostgreSQL).
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def portfolio(owner, customer):
    customer_create(actor=owner, fields={"first_name": "Tomás", "email": "t@example.es"})
    return customer


@pytest.fixture
def written(manager, portfolio, settings, tmp_path, django_capture_on_commit_callbacks):
    """``written(hours)``: an export file written by the worker with that retention; the job."""

    def write(hours: int = 24) -> ExportJob:
        settings.VAR_DIR = tmp_path
        settings.CARTERA_RETENTION = {**settings.CARTERA_RETENTION, "export_files_hours": hours}
        job = export_job_create(actor=manager, kind="customers", file_format="csv", filters={})
        with django_capture_on_commit_callbacks(execute=True):
            done = export_job_run(job_id=job.pk)
        assert done is not None and Path(done.stored_path).is_file()
        return done

    return write


def _sweeps():
    return DBTaskResult.objects.filter(task_path=sweep_export_files.module_path, status="READY")


def _move_clock_back(job: ExportJob, by: dt.timedelta) -> None:
    """As if ``by`` had passed: the job's times and every queued sweep's time move back by it."""
    ExportJob.objects.filter(pk=job.pk).update(
        created_at=job.created_at - by,
        finished_at=job.finished_at - by,
        expires_at=job.expires_at - by,
    )
    for task in _sweeps():
        task.run_after -= by
        task.save(update_fields=["run_after"])


def _run_worker() -> None:
    call_command("db_worker", "--batch", "--no-startup-delay", "--interval", "0", verbosity=0)


def test_the_file_goes_when_its_hours_pass_not_at_night(written):
    job = written(hours=2)
    path = Path(job.stored_path)
    # Writing the file queued a sweep for the moment it expires.
    assert list(_sweeps().values_list("run_after", flat=True)) == [job.expires_at]

    _run_worker()  # nothing due yet: the file stays
    assert path.exists() and ExportJob.objects.get(pk=job.pk).file_deleted_at is None

    _move_clock_back(job, dt.timedelta(hours=1, minutes=59))
    _run_worker()
    assert path.exists()  # a minute left

    _move_clock_back(ExportJob.objects.get(pk=job.pk), dt.timedelta(minutes=1, seconds=1))
    _run_worker()
    assert not path.exists()
    job.refresh_from_db()
    assert job.file_deleted_at is not None and job.row_count == 2  # the row stays as the record
    assert not _sweeps().exists()  # nothing left to wait for: the chain stops until the next file


def test_while_files_wait_the_sweep_comes_at_least_hourly(written):
    job = written(hours=24)
    sweep_export_files.call()
    following = _sweeps().order_by("run_after").values_list("run_after", flat=True)
    assert following[0] <= timezone.now() + SWEEP_EVERY
    assert Path(job.stored_path).exists()


def test_a_file_past_its_hours_is_never_served_and_goes_on_the_download_attempt(client, manager, written):
    job = written()
    path = Path(job.stored_path)
    _move_clock_back(job, dt.timedelta(hours=24, seconds=1))
    assert path.exists()  # the sweep has not come by (no worker ran)
    client.force_login(manager)
    response = client.get(
        reverse("imports:export_download", args=[job.pk]), headers={"accept-language": "en"}
    )
    assert response.status_code == 302 and not hasattr(response, "streaming_content")
    assert not path.exists()  # deleted on the spot
    assert ExportJob.objects.get(pk=job.pk).file_deleted_at is not None


def test_the_api_download_attempt_deletes_it_too(manager, written, settings):
    from cartera.accounts.services import api_token_create
    from tests.api.conftest import ApiClient

    job = written()
    path = Path(job.stored_path)
    _move_clock_back(job, dt.timedelta(hours=25))
    _, raw = api_token_create(user=manager, name="tests", scope="read")
    gone = ApiClient(raw).get(f"/api/exports/{job.pk}/file", headers={"accept-language": "es"})
    assert gone.status_code == 410 and "ha caducado" in gone.json()["detail"]
    assert not path.exists()


def test_the_nightly_schedule_and_make_run_start_the_sweep(written):
    from cartera.privacy.tasks import retention_schedule

    job = written()
    _move_clock_back(job, dt.timedelta(hours=25))
    DBTaskResult.objects.all().delete()  # the queue was emptied (a restore, a worker wiped)
    retention_schedule()
    assert _sweeps().exists()
    _run_worker()
    assert not Path(job.stored_path).exists()


def test_a_writer_killed_half_way_leaves_no_file_and_a_message(manager, portfolio, settings, tmp_path):
    """What ``kill -9`` of the worker leaves behind (issue 16): a job still "running" that nobody
    writes any more, with its half-written ``.part`` file (and, from before the file was named on the
    job, ``.part`` files no job names). Once the job has been silent for ``EXPORT_STALE_AFTER``, the
    sweep fails it with a message in its requester's language and deletes its file; a stray ``.part``
    that old goes too; a job still writing, and a stray file younger than that, are left alone."""
    import os

    from cartera.imports.models import EXPORT_STALE_AFTER, ExportStatus
    from cartera.imports.services import export_dir

    settings.VAR_DIR = tmp_path
    folder = export_dir()
    folder.mkdir(parents=True, exist_ok=True)
    long_ago = timezone.now() - EXPORT_STALE_AFTER - dt.timedelta(minutes=1)

    def running(name: str, silent_since: dt.datetime, language: str) -> ExportJob:
        job = export_job_create(actor=manager, kind="customers", file_format="xlsx", filters={})
        part = folder / f"{name}.part"
        part.write_bytes(b"PK half a workbook")
        ExportJob.objects.filter(pk=job.pk).update(
            status=ExportStatus.RUNNING, stored_path=str(part), updated_at=silent_since, language=language
        )
        return job

    killed = running("killed", long_ago, "es")
    writing = running("writing", timezone.now(), "en")
    stray_old, stray_new = folder / "stray-old.part", folder / "stray-new.part"
    for stray in (stray_old, stray_new):
        stray.write_bytes(b"PK")
    os.utime(stray_old, (long_ago.timestamp(), long_ago.timestamp()))
    DBTaskResult.objects.all().delete()

    sweep_export_files.enqueue()
    _run_worker()
    [result] = DBTaskResult.objects.filter(task_path=sweep_export_files.module_path, status="SUCCESSFUL")
    assert result.return_value == "0 export files deleted, 2 half-written files deleted"
    killed.refresh_from_db()
    assert killed.status == ExportStatus.FAILED and killed.stored_path == ""
    assert (
        killed.message
        == "La exportación se detuvo a medias (se detuvo el proceso en segundo plano). Exporta de nuevo."
    )
    assert not (folder / "killed.part").exists() and not stray_old.exists()
    writing.refresh_from_db()
    assert (
        writing.status == ExportStatus.RUNNING and (folder / "writing.part").exists() and stray_new.exists()
    )
    # While an export is being written, the sweep comes back within the hour to check on it.
    [following] = _sweeps()
    assert following.run_after <= timezone.now() + SWEEP_EVERY
