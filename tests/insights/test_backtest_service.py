"""The backtest on the portfolio's own history, through the database: service, command and storage.

On the CDNOW sample with the published calibration period (the first 39 weeks), the figures are the
ones reported in issue 12: plain recency's AUC 0.771, Pareto/NBD's expected purchases 0.779, BG/NBD's
P(alive) 0.316.
"""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import translation

from cartera.insights import selectors
from cartera.insights.models import Backtest
from cartera.insights.services import backtest_run, insights_refresh

CUTOFF = dt.date(1997, 9, 30)
END = dt.date(1998, 6, 30)
STATUS_ORDER = ["active", "at_risk", "inactive", "lost"]


def test_backtest_on_cdnow_is_stored_with_the_published_figures(cdnow_portfolio):
    row = backtest_run(cutoff=CUTOFF, holdout_end=END)
    assert row.status == Backtest.Status.DONE and row.customers == 2357
    assert selectors.latest_backtest() == row
    result = Backtest.objects.get(pk=row.pk).result
    assert result["cutoff"] == "1997-09-30" and result["holdout_end"] == "1998-06-30"
    assert result["horizon_days"] == 90
    assert round(result["auc_recency"], 3) == 0.771
    assert round(result["models"]["paretonbd"]["auc_expected"], 3) == 0.779
    assert round(result["models"]["bgnbd"]["auc_p_alive"], 3) == 0.316
    assert result["models"]["bgnbd"]["actual_total"] == 1882
    # The shown score: Pareto/NBD's probability of buying in 90 days, better than recency, calibrated.
    assert row.shown_model == "paretonbd" and result["shown_score"] == "p_purchase_paretonbd"
    assert result["auc_shown_score"] >= result["auc_recency"]
    assert result["ece_shown_score"] <= 0.03
    rates = result["status_return_rates"]
    present = [s for s in STATUS_ORDER if s in rates]
    assert present == sorted(present, key=lambda s: -rates[s]) and len(present) >= 3
    assert rates["one_time"] < rates["inactive"]


def test_refresh_follows_the_model_the_backtest_chose(cdnow_portfolio):
    Backtest.objects.create(
        started_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        cutoff=CUTOFF,
        holdout_end=END,
        shown_model="mbgnbd",
    )
    with translation.override("en"):  # the run's note speaks the active language
        run = insights_refresh(as_of=END)
    assert run.model_name == "mbgnbd" and "chosen by the backtest of 2026-01-01" in run.note


def test_holdout_command_prints_the_documented_json(cdnow_portfolio):
    out = StringIO()
    call_command("holdout", "--cutoff", "1997-09-30", "--end", "1998-06-30", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert {
        "cutoff", "holdout_end", "customers", "models", "auc_recency", "shown_score", "auc_shown_score",
        "status_return_rates",
    } <= set(data)  # fmt: skip
    for name in ("bgnbd", "mbgnbd", "paretonbd"):
        model = data["models"][name]
        assert {"params", "loglik", "predicted_total", "actual_total", "auc_p_alive", "auc_expected"} <= set(
            model
        )
    assert data["customers"] == 2357 and Backtest.objects.count() == 1


def test_holdout_command_prints_tables_by_default(cdnow_portfolio):
    out = StringIO()
    call_command(
        "holdout", "--calibration-end", "1997-09-30", "--end", "1998-06-30", "--lang", "en", stdout=out
    )
    text = out.getvalue()
    assert "paretonbd *" in text and "plain recency" in text and "bought again" in text
    assert "Calibration up to" in text and "compras antes" not in text
    # One language per run: in Spanish, every sentence, title and heading (issue 11, item 11).
    out = StringIO()
    with translation.override("en"):
        call_command("holdout", "--cutoff", "1997-09-30", "--end", "1998-06-30", "--lang", "es", stdout=out)
    text = out.getvalue()
    assert "Calibración hasta el" in text and "recencia simple" in text and "volvieron a comprar" in text
    assert "Modelos (AUC" in text and "Correlación gasto-frecuencia" in text
    for english in (
        "Calibration up to",
        "plain recency",
        "bought again",
        "Models (AUC",
        "Spend vs frequency",
    ):
        assert english not in text, (english, text)


def test_default_dates_split_the_history(cdnow_portfolio):
    row = backtest_run()
    # The history runs from 1997-01-01 to 1998-06-30: the second half is checked.
    assert row.holdout_end == END and row.cutoff == END - dt.timedelta(
        days=(END - dt.date(1997, 1, 1)).days // 2
    )


def test_bad_dates_and_no_history_are_clear_errors(db, cdnow_loader):
    with translation.override("en"):
        with pytest.raises(CommandError, match="no orders yet"):
            call_command("holdout", stdout=StringIO())
        cdnow_loader(max_rows=500)
        with pytest.raises(ValidationError, match="cut-off must fall after the first order"):
            backtest_run(cutoff=dt.date(1990, 1, 1))
    with translation.override("es"), pytest.raises(CommandError, match="La fecha de corte debe caer"):
        call_command("holdout", "--cutoff", "1999-01-01", "--end", "1998-01-01", stdout=StringIO())
    assert not Backtest.objects.exists()


# The worker closes the database connection after its batch: on PostgreSQL that needs a real commit.
@pytest.mark.django_db(transaction=True)
def test_the_worker_runs_the_backtest_after_a_refresh_at_most_daily(cdnow_portfolio):
    from django_tasks_db.models import DBTaskResult

    from cartera.insights.tasks import check_predictions, schedule_backtest

    schedule_backtest()
    schedule_backtest()
    assert DBTaskResult.objects.filter(task_path=check_predictions.module_path).count() == 1
    call_command("db_worker", "--batch", "--interval", "0", verbosity=0)
    job = DBTaskResult.objects.get(task_path=check_predictions.module_path)
    assert job.status == "SUCCESSFUL" and "customers, model" in job.return_value
    latest = selectors.latest_backtest()
    assert latest is not None and latest.task_id == str(job.pk)
    DBTaskResult.objects.all().delete()
    schedule_backtest()  # one ran less than a day ago
    assert not DBTaskResult.objects.exists()
