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
    # The dates of `cartera holdout --cutoff --end`; a JSON null is the default, like leaving it out.
    dates = {"cutoff": CUTOFF.isoformat(), "holdout_end": END.isoformat()}
    first = api.post(REPORT, dates)
    assert first.status_code == 202
    job = first.json()
    assert job["status"] == "queued" and job["backtest_id"] is None and job["started_at"] is None
    assert first["Location"] == f"/api/insights/backtest/jobs/{job['id']}"
    # A second request with the same dates while one waits answers the waiting one: still a single task.
    assert api.post(REPORT, dates).json()["id"] == job["id"]
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
    assert (row.cutoff, row.holdout_end) == (CUTOFF, END)
    assert (done["cutoff"], done["holdout_end"]) == ("1997-09-30", "1998-06-30")


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


def test_checks_with_other_dates_wait_apart_and_a_null_date_is_the_default(api_as, owner, cdnow_loader):
    from django_tasks_db.models import DBTaskResult

    cdnow_loader(max_rows=200)
    api = api_as(owner)
    default = api.post(REPORT).json()["id"]
    assert api.post(REPORT, {"cutoff": None, "holdout_end": None}).json()["id"] == default
    assert api.post(REPORT, {}).json()["id"] == default
    dated = api.post(REPORT, {"cutoff": "1997-03-01"})
    assert dated.status_code == 202 and dated.json()["id"] != default
    assert api.post(REPORT, {"cutoff": "1997-03-01"}).json()["id"] == dated.json()["id"]
    kwargs = DBTaskResult.objects.get(id=dated.json()["id"]).args_kwargs["kwargs"]
    assert kwargs["cutoff"] == "1997-03-01" and kwargs["holdout_end"] is None
    assert DBTaskResult.objects.count() == 2


@pytest.mark.parametrize(
    ("body", "field", "english", "spanish"),
    [
        (
            {"cutoff": "1998-06-30", "holdout_end": "1997-09-30"},
            "cutoff",
            "must fall after the first order",
            "La fecha de corte debe caer",
        ),
        (
            {"cutoff": "1990-01-01"},
            "cutoff",
            "must fall after the first order",
            "La fecha de corte debe caer",
        ),
        (
            {"cutoff": "1997-03-01", "holdout_end": "2030-01-01"},
            "holdout_end",
            "must end on or before the last order",
            "debe terminar",
        ),
        # pydantic's own message, in English in both languages (as for every date of the API).
        ({"cutoff": "yesterday"}, "cutoff", "valid date", "valid date"),
        ({"cut_off": "1997-03-01"}, "cut_off", "", ""),
    ],
    ids=[
        "cutoff after end",
        "cutoff before the first order",
        "end after the last order",
        "not a date",
        "unknown field",
    ],
)
def test_dates_that_cannot_work_are_a_422_on_their_field_in_both_languages_and_queue_nothing(
    api_as, owner, cdnow_loader, body, field, english, spanish
):
    from django.db.models import Max, Min
    from django_tasks_db.models import DBTaskResult

    from cartera.sales.models import Order

    cdnow_loader(max_rows=200)
    bounds = Order.objects.aggregate(first=Min("ordered_on"), last=Max("ordered_on"))
    api = api_as(owner)
    for language, words in (("en", english), ("es", spanish)):
        response = api.post(REPORT, body, headers={"Accept-Language": language})
        assert response.status_code == 422
        (error,) = response.json()["detail"]
        assert error["loc"][-1] == field and words in error["msg"], (language, error)
        if field == "cutoff" and "first order" in english:
            assert bounds["first"].isoformat() in error["msg"]
        if field == "holdout_end":
            assert bounds["last"].isoformat() in error["msg"]
    assert not DBTaskResult.objects.exists()
