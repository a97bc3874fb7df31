"""The check of the predictions through the API: the latest report (the JSON of ``cartera holdout
--json``), a new check queued in the worker, and its progress polled until done or failed."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from io import StringIO

import pytest
from django.core.management import call_command

from cartera.insights.models import Backtest

CUTOFF = dt.date(1997, 9, 30)
END = dt.date(1998, 6, 30)
REPORT = "/api/insights/backtest"
# These tests run the real worker in this process; it closes the database connection after its batch,
# which on PostgreSQL would end the test's own transaction: they commit for real instead.
WORKER = pytest.mark.django_db(transaction=True)


def _run_worker() -> None:
    call_command("db_worker", "--batch", "--interval", "0", verbosity=0)


def test_the_report_is_the_json_of_the_holdout_command(api_as, owner, cdnow_portfolio):
    out = StringIO()
    call_command("holdout", "--cutoff", CUTOFF.isoformat(), "--end", END.isoformat(), "--json", stdout=out)
    printed = json.loads(out.getvalue())
    response = api_as(owner).get(REPORT)
    assert response.status_code == 200
    body = response.json()
    assert body == printed
    assert body["cutoff"] == "1997-09-30" and body["customers"] == 2357
    assert round(body["auc_recency"], 3) == 0.771
    assert set(body["models"]) == {"bgnbd", "mbgnbd", "paretonbd"}
    assert len(body["models"][body["shown_model"]]["calibration"]) == 10


def test_before_any_check_the_report_is_a_404_that_says_how_to_start_one(api_as, owner, customer):
    response = api_as(owner).get(REPORT)
    assert response.status_code == 404
    assert "POST /api/insights/backtest" in response.json()["detail"]


@WORKER
def test_queue_poll_and_read_the_new_report(api_as, owner, cdnow_portfolio):
    from django_tasks_db.models import DBTaskResult

    api = api_as(owner)
    first = api.post(REPORT)
    assert first.status_code == 202
    job = first.json()
    assert job["status"] == "queued" and job["backtest_id"] is None and job["started_at"] is None
    assert first["Location"] == f"/api/insights/backtest/jobs/{job['id']}"
    # A second request while one waits answers the waiting one: still a single task.
    assert api.post(REPORT).json()["id"] == job["id"]
    assert DBTaskResult.objects.count() == 1
    assert api.get(first["Location"]).json()["status"] == "queued"

    _run_worker()
    polled = api.get(first["Location"])
    assert polled.status_code == 200
    done = polled.json()
    row = Backtest.objects.get()
    assert done["status"] == "done" and done["backtest_id"] == row.pk
    assert done["finished_at"] is not None and done["shown_model"] == row.shown_model
    assert row.trigger == f"api user {owner.pk}" and row.task_id == job["id"]
    report = api.get(REPORT).json()
    assert report == row.result and report["cutoff"] == done["cutoff"]


@WORKER
def test_a_check_that_cannot_be_made_is_a_failed_job_with_the_reason(api_as, owner, customer):
    api = api_as(owner)
    location = api.post(REPORT)["Location"]
    _run_worker()
    job = api.get(location).json()
    assert job["status"] == "failed" and job["backtest_id"] is None
    assert "Aún no hay pedidos" in job["message"]  # the worker speaks the site language
    assert api.get(REPORT).status_code == 404


@WORKER
def test_a_history_too_short_to_fit_leaves_a_failed_job_naming_the_failed_row(api_as, owner, cdnow_loader):
    cdnow_loader(max_rows=6)
    api = api_as(owner)
    location = api.post(REPORT)["Location"]
    _run_worker()
    job = api.get(location).json()
    row = Backtest.objects.get()
    assert row.status == Backtest.Status.FAILED
    assert job["status"] == "failed" and job["message"] == row.note and job["backtest_id"] is None


def test_outsider_sees_and_queues_nothing(api_as, outsider, owner, cdnow_portfolio):
    from django_tasks_db.models import DBTaskResult

    from cartera.insights.services import backtest_run

    backtest_run(cutoff=CUTOFF, holdout_end=END)
    location = api_as(owner).post(REPORT)["Location"]
    api = api_as(outsider)
    assert api.get(REPORT).status_code == 404
    assert api.post(REPORT).status_code == 404
    assert api.get(location).status_code == 404
    assert DBTaskResult.objects.count() == 1


def test_a_read_only_token_cannot_queue_a_check(owner, customer):
    from cartera.accounts.services import api_token_create
    from tests.api.conftest import ApiClient

    _, raw = api_token_create(user=owner, name="Excel", scope="read")
    response = ApiClient(raw).post(REPORT)
    assert response.status_code == 403
    from django_tasks_db.models import DBTaskResult

    assert not DBTaskResult.objects.exists()


@pytest.mark.parametrize("kind", ["unknown", "another task"])
def test_a_job_that_is_not_a_backtest_is_a_404(api_as, owner, customer, kind):
    from cartera.insights.tasks import refresh_insights

    job_id = uuid.uuid4() if kind == "unknown" else refresh_insights.enqueue(trigger="test").id
    assert api_as(owner).get(f"/api/insights/backtest/jobs/{job_id}").status_code == 404
