"""Starting a commit: only after a dry run that went through, once however often it is clicked, resumable,
with its progress counted against the file's real number of rows."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from cartera.customers.models import Customer
from cartera.imports.models import ImportJob, JobStatus
from cartera.imports.services import (
    import_job_enqueue,
    import_job_fail,
    import_job_run,
)

pytestmark = pytest.mark.django_db

ROWS = "Nombre,Email\n" + "".join(f"Nombre{i},persona{i}@example.es\n" for i in range(5))


@pytest.fixture
def immediate_tasks(settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


def _broken_file(monkeypatch) -> str:
    """Seven readable rows, then a line longer than the reader accepts."""
    from cartera.imports import parsers

    monkeypatch.setattr(parsers, "MAX_LINE_CHARS", 200)
    return ROWS + "Nombre5,persona5@example.es\nNombre6,persona6@example.es\n" + "x" * 300 + "\nOtro,o@x.es\n"


def test_a_file_that_failed_its_dry_run_cannot_be_committed(
    client, owner, start_job, monkeypatch, immediate_tasks, django_capture_on_commit_callbacks
):
    job = start_job(owner, _broken_file(monkeypatch))
    with pytest.raises(ValidationError):
        import_job_run(job=job, dry_run=True)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.started_at is None

    client.force_login(owner)
    page = client.get(reverse("imports:detail", args=[job.pk]))
    assert 'id="commit"' not in page.text and "rollback" not in page.text
    assert reverse("imports:commit", args=[job.pk]) not in page.text  # no Resume either
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(reverse("imports:commit", args=[job.pk]), follow=True)
    assert not callbacks
    assert "no superó la simulación" in response.text
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.processed_rows == 0
    assert Customer.objects.count() == 0

    # Nor through the service the worker and the command line use.
    with pytest.raises(ValidationError):
        import_job_run(job=job, dry_run=False)
    assert Customer.objects.count() == 0 and ImportJob.objects.get(pk=job.pk).status == JobStatus.FAILED


def test_import_now_needs_a_dry_run(owner, start_job):
    job = start_job(owner, ROWS)
    with pytest.raises(ValidationError):
        import_job_enqueue(actor=owner, job=job)
    assert ImportJob.objects.get(pk=job.pk).status == JobStatus.UPLOADED


def test_a_double_click_on_import_now_is_harmless(
    owner, start_job, immediate_tasks, django_capture_on_commit_callbacks
):
    job = import_job_run(job=start_job(owner, ROWS), dry_run=True)
    # Two requests read the checked job before either of them queues it.
    first, second = ImportJob.objects.get(pk=job.pk), ImportJob.objects.get(pk=job.pk)
    with django_capture_on_commit_callbacks(execute=True):
        import_job_enqueue(actor=owner, job=first)
    assert ImportJob.objects.get(pk=job.pk).status == JobStatus.DONE
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(ValidationError):
        import_job_enqueue(actor=owner, job=second)
    assert not callbacks
    job.refresh_from_db()
    assert job.status == JobStatus.DONE and job.created_count == 5 and job.message == ""
    assert Customer.objects.count() == 5


def test_a_second_task_for_the_same_job_does_nothing(owner, start_job):
    from cartera.imports.tasks import run_import

    job = import_job_run(job=start_job(owner, ROWS), dry_run=True)
    ImportJob.objects.filter(pk=job.pk).update(status=JobStatus.QUEUED)
    assert run_import.call(job.pk).startswith("5 created")
    assert run_import.call(job.pk).startswith("skipped")
    job.refresh_from_db()
    assert job.status == JobStatus.DONE and job.created_count == 5 and Customer.objects.count() == 5


def test_resume_after_a_failure_finishes_the_import(
    client, owner, start_job, monkeypatch, immediate_tasks, django_capture_on_commit_callbacks
):
    from cartera.imports.services import running

    monkeypatch.setattr(running, "BATCH_SIZE", 2)
    job = import_job_run(job=start_job(owner, ROWS), dry_run=True)
    calls = {"n": 0}

    def crash_after_first_batch(done, total):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("the database connection dropped")

    with pytest.raises(RuntimeError):
        import_job_run(job=job, dry_run=False, progress=crash_after_first_batch)
    import_job_fail(job=job, message="RuntimeError('the database connection dropped')")
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.committed_row == 3 and Customer.objects.count() == 2

    client.force_login(owner)
    page = client.get(reverse("imports:detail", args=[job.pk]))
    assert reverse("imports:commit", args=[job.pk]) in page.text  # the Resume button
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("imports:commit", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == JobStatus.DONE and job.created_count == 5 and job.processed_rows == 5
    assert (job.total_rows, job.percent) == (5, 100)
    assert Customer.objects.count() == 5
    # A click on Resume after it finished changes nothing.
    client.post(reverse("imports:commit", args=[job.pk]))
    assert ImportJob.objects.get(pk=job.pk).status == JobStatus.DONE


def test_progress_counts_against_the_real_number_of_rows(owner, start_job, monkeypatch):
    """A commit without a dry run (the command line) counts the rows before writing any."""
    from cartera.imports.services import running

    monkeypatch.setattr(running, "BATCH_SIZE", 2)
    seen = []

    def progress(done, total):
        seen.append((done, total, ImportJob.objects.get(pk=job.pk).total_rows))

    job = start_job(owner, ROWS)
    import_job_run(job=job, dry_run=False, progress=progress)
    assert seen == [(2, 5, 5), (4, 5, 5), (5, 5, 5)]


def test_a_failing_task_does_not_mark_a_finished_import_failed(owner, start_job):
    job = import_job_run(job=start_job(owner, ROWS), dry_run=False)
    import_job_fail(job=job, message="late error")
    job.refresh_from_db()
    assert job.status == JobStatus.DONE and job.message == ""


def test_a_big_files_dry_run_runs_in_the_worker_with_progress(
    client, owner, start_job, monkeypatch, django_capture_on_commit_callbacks
):
    from django_tasks_db.models import DBTaskResult

    from cartera.imports.services import running
    from cartera.imports.tasks import run_check

    monkeypatch.setattr(running, "DRY_RUN_INLINE_BYTES", 10)
    monkeypatch.setattr(running, "BATCH_SIZE", 2)
    job = start_job(owner, ROWS + "Mal,no-es-correo\n")
    client.force_login(owner)
    form = {f"col_{i}": job.columns.get(h, "") for i, h in enumerate(job.headers)}
    form.update(date_order="dmy", duplicate_policy="skip", source="import", action="dry_run")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("imports:mapping", args=[job.pk]), form)
        assert response.status_code == 302
        client.post(reverse("imports:mapping", args=[job.pk]), form)  # a second click: to the job page
    job.refresh_from_db()
    assert job.status == JobStatus.CHECKING and Customer.objects.count() == 0
    assert DBTaskResult.objects.filter(task_path__endswith="run_check").count() == 1
    page = client.get(reverse("imports:progress", args=[job.pk]))
    assert "hx-trigger" in page.text and "<progress" in page.text

    assert run_check.call(job.pk, "en").startswith("checked")
    job.refresh_from_db()
    assert job.status == JobStatus.CHECKED and job.total_rows == 6
    assert job.report == {
        "create": 5, "update": 0, "unchanged": 0, "duplicate": 0, "skip": 0, "error": 1, "customers": 0,
        "rows": 6, "ignored": [],
    }  # fmt: skip
    assert "is not a valid email address" in job.row_errors.get().reason  # in the language of the request
    assert (job.processed_rows, job.percent) == (6, 100)  # progress was recorded batch by batch
    assert run_check.call(job.pk, "en").startswith("skipped")
    assert Customer.objects.count() == 0
