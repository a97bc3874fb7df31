"""Reads for the analysis: all orders as numpy arrays (through :mod:`.storage`); metrics and
snapshots for the pages."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import numpy.typing as npt
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from cartera.core.scoping import restrict
from cartera.customers.models import Customer
from cartera.insights import storage
from cartera.insights.analysis import DEFAULT_MODEL, MAX_SPEND_CORRELATION, OrderArrays
from cartera.insights.models import Backtest, CustomerMetrics, PortfolioSnapshot, RefreshRun


def order_arrays() -> OrderArrays:
    """Every order in the base currency as (customer id, day, amount) arrays, read without building
    model objects (the others: :func:`other_currencies`)."""
    return storage.read_orders()


def order_date_bounds() -> tuple[dt.date, dt.date] | None:
    """The first and last day of the orders the analysis reads; ``None`` without any."""
    return storage.order_date_bounds()


def other_currencies() -> list[dict[str, Any]]:
    """The orders the analysis leaves out because they are not in the base currency, per currency."""
    return storage.other_currencies()


def customer_ids() -> npt.NDArray[np.int64]:
    """Every customer id, sorted."""
    return storage.read_customer_ids()


def metrics_for(*, user: Any, customer: Customer) -> CustomerMetrics | None:
    """The customer's metrics, if a refresh has computed them (the customer is already scoped)."""
    return CustomerMetrics.objects.filter(customer=customer).first()


def snapshots(*, user: Any, limit: int = 730) -> QuerySet[PortfolioSnapshot]:
    """Portfolio snapshots, newest first (for trends). Only users who see customers see them."""
    if not restrict(Customer.objects.all(), user, "view").exists():
        return PortfolioSnapshot.objects.none()
    return PortfolioSnapshot.objects.order_by("-taken_on")[:limit]


def last_run() -> RefreshRun | None:
    """The most recent refresh."""
    return RefreshRun.objects.order_by("-started_at").first()


def latest_backtest() -> Backtest | None:
    """The latest finished backtest (the one whose choice of model the figures follow)."""
    return Backtest.objects.filter(status=Backtest.Status.DONE).order_by("-started_at").first()


def backtest_for(*, user: Any) -> Backtest | None:
    """The latest finished backtest, for the page: only users who see customers see it."""
    if not restrict(Customer.objects.all(), user, "view").exists():
        return None
    return latest_backtest()


def chosen_model() -> tuple[str, str]:
    """The model behind the shown figures and why (in the active language): the latest backtest's
    choice, else the default."""
    latest = latest_backtest()
    if latest is None or not latest.shown_model:
        return DEFAULT_MODEL, _("model %(model)s: the default, no backtest yet") % {"model": DEFAULT_MODEL}
    return latest.shown_model, _(
        "model %(model)s: chosen by the backtest of %(day)s (cut-off %(cutoff)s, lowest Brier score "
        "of the 90-day probability)"
    ) % {"model": latest.shown_model, "day": f"{latest.started_at:%Y-%m-%d}", "cutoff": latest.cutoff}


MODEL_LABELS = {"bgnbd": "BG/NBD", "mbgnbd": "MBG/NBD", "paretonbd": "Pareto/NBD"}
# Statuses in the order of what they promise (most likely to buy again first); one-time buyers, a
# status of their own outside that ladder, last.
STATUS_ORDER = ("new", "active", "at_risk", "inactive", "lost", "one_time")


def backtest_page(*, user: Any) -> dict[str, Any]:
    """What the page "How good are these predictions?" shows, from the latest finished backtest.

    Rows ready for the template: the models compared, the shown probability's calibration by decile,
    the mean by purchases before the cut-off and each status's return rate, in the order of what
    the statuses promise. Empty (``{"backtest": None}``) before the first backtest or for a user who
    does not see customers.
    """
    from cartera.customers.classification import Lifecycle

    row = backtest_for(user=user)
    if row is None:
        return {"backtest": None, "can_view": restrict(Customer.objects.all(), user, "view").exists()}
    result = row.result
    shown = result["models"][result["shown_model"]]
    labels = dict(Lifecycle.choices)
    models = [
        {"name": name, "label": MODEL_LABELS.get(name, name), "shown": name == result["shown_model"], **m}
        for name, m in result["models"].items()
    ]
    statuses = [
        {
            "code": code,
            "label": labels.get(code, code),
            "customers": result["status_counts"][code],
            "rate": result["status_return_rates"][code],
        }
        for code in STATUS_ORDER
        if code in result["status_return_rates"]
    ]
    correlation = result.get("spend_correlation")
    return {
        "backtest": row,
        "can_view": True,
        "result": result,
        "cutoff": dt.date.fromisoformat(result["cutoff"]),
        "holdout_end": dt.date.fromisoformat(result["holdout_end"]),
        "shown": shown,
        "shown_label": MODEL_LABELS.get(result["shown_model"], result["shown_model"]),
        "models": models,
        "calibration": [{"predicted": p, "observed": o, "customers": n} for p, o, n in shown["calibration"]],
        "by_frequency": [
            {"purchases": label, "customers": n, "predicted": p, "actual": a}
            for label, n, p, a in shown["by_frequency"]
        ],
        "statuses": statuses,
        "spend_correlation": correlation,
        "spend_model_used": correlation is not None and abs(correlation) <= MAX_SPEND_CORRELATION,
        "ece_points": 100 * (result["ece_shown_score"] or 0.0),
        "beats_recency": (result["auc_shown_score"] or 0) >= (result["auc_recency"] or 0),
    }


def prediction_hint() -> dict[str, Any] | None:
    """A one-line hint of how good the predictions are, for the customer page: the shown score's AUC
    and calibration error from the latest backtest (None before the first one)."""
    row = latest_backtest()
    if row is None:
        return None
    result = row.result
    return {
        "auc": result.get("auc_shown_score"),
        "auc_recency": result.get("auc_recency"),
        "ece": result.get("ece_shown_score"),
        "model": MODEL_LABELS.get(row.shown_model, row.shown_model),
        "cutoff": row.cutoff,
    }


# A queued backtest's state, as the API tells it (django-tasks' statuses, in the API's words).
JOB_STATES = {"READY": "queued", "RUNNING": "running", "SUCCESSFUL": "done", "FAILED": "failed"}


def backtest_job(*, user: Any, job_id: str, task_path: str) -> dict[str, Any] | None:
    """A queued backtest (a ``task_path`` task result) and what it produced, for the API's polling.

    ``None`` when there is no such job or the user does not see customers (the page's rule). A job
    the worker finished without a stored result (a history too short to check) is ``failed`` with
    the reason, so that a client polling for ``done`` never waits for a report that will not come.
    """
    from django_tasks_db.models import DBTaskResult

    if not restrict(Customer.objects.all(), user, "view").exists():
        return None
    job = DBTaskResult.objects.filter(pk=job_id, task_path=task_path).first()
    if job is None:
        return None
    state = JOB_STATES.get(job.status, "failed")
    row = Backtest.objects.filter(task_id=str(job.pk)).order_by("-started_at").first()
    message = ""
    if state == "done":
        if row is not None and row.status == Backtest.Status.DONE:
            message = str(job.return_value or "")
        else:
            state = "failed"
            message = row.note if row is not None else str(job.return_value or "")
    elif state == "failed":
        message = _("The check stopped with an error; the server's log says why.")
    return {
        "id": str(job.pk),
        "status": state,
        "enqueued_at": job.enqueued_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "message": message,
        "backtest_id": row.pk if row is not None and row.status == Backtest.Status.DONE else None,
        "cutoff": row.cutoff if row is not None else None,
        "holdout_end": row.holdout_end if row is not None else None,
        "shown_model": (row.shown_model or None) if row is not None else None,
    }
