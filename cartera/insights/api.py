"""REST API for the check of the predictions ("How good are these predictions?"): the latest
backtest report, and a new one queued in the worker with its progress to poll.

The report is the JSON of ``cartera holdout --json`` (schema in docs/analytics.md). Who sees it is
the page's rule: users who see customers; anyone else gets a 404, as for a row outside their scope.
No ``from __future__ import annotations``: django-ninja reads the annotations at run time.
"""

import datetime
import uuid
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError

from cartera.core.api_common import InSchema, responses
from cartera.core.scoping import restrict
from cartera.customers.models import Customer
from cartera.insights import selectors, services, tasks

insights_router = Router(tags=["insights"])


class ModelCheckOut(Schema):
    """One model's backtest (``models.{name}`` of ``cartera holdout --json``)."""

    params: dict[str, float] = Field(..., description="Fitted population parameters.")
    loglik: float | None = Field(..., description="Log-likelihood of the fit.")
    predicted_total: float = Field(..., description="Expected repeat purchases in the checked period.")
    actual_total: int = Field(..., description="Repeat purchase-days made in the checked period.")
    total_error: float | None = Field(..., description="(predicted - actual) / actual.")
    by_frequency: list[tuple[str, int, float, float]] = Field(
        ...,
        description='[x, customers, mean predicted, mean actual] by repeat purchases before the cut-off ("0" … "7+").',
    )
    auc_p_alive: float | None
    auc_expected: float | None
    auc_p_purchase: float | None
    calibration: list[tuple[float, float, int]] = Field(
        ..., description="[mean predicted, share who bought within the horizon, customers] by decile."
    )
    ece: float | None = Field(..., description="Expected calibration error over the deciles.")
    brier: float = Field(..., description="Brier score of the probability of buying within the horizon.")


class BacktestReportOut(Schema):
    """The report of ``cartera holdout --json`` (times in weeks unless named ``_days``; rates and AUCs
    from 0 to 1; ``null`` where a figure cannot be computed)."""

    cutoff: datetime.date = Field(..., description="Last day of the calibration period.")
    holdout_end: datetime.date = Field(..., description="Last day of the checked period.")
    horizon_days: int
    customers: int = Field(..., description="Customers who had bought by the cut-off (the ones scored).")
    horizon_weeks: float
    holdout_weeks: float
    actual_total: int
    came_back: int
    models: dict[str, ModelCheckOut]
    auc_recency: float | None = Field(..., description="AUC of plain recency: the baseline.")
    shown_model: str
    shown_score: str
    auc_shown_score: float | None
    ece_shown_score: float | None
    status_return_rates: dict[str, float]
    status_counts: dict[str, int]
    spend_correlation: float | None
    notes: list[str]


class BacktestJobOut(Schema):
    """A backtest queued in the worker: poll it until ``status`` is ``done`` or ``failed``."""

    id: uuid.UUID
    status: Literal["queued", "running", "done", "failed"]
    enqueued_at: datetime.datetime
    started_at: datetime.datetime | None
    finished_at: datetime.datetime | None
    message: str = Field(..., description="What the worker said, or why the check could not be made.")
    backtest_id: int | None = Field(
        ..., description="The stored backtest, once done (GET /insights/backtest)."
    )
    cutoff: datetime.date | None
    holdout_end: datetime.date | None
    shown_model: str | None


class BacktestIn(InSchema):
    """The dates of a new check; either left out (or ``null``) is the default of `cartera holdout`."""

    cutoff: datetime.date | None = Field(
        None,
        description="Last day of the calibration period: after the first order and before `holdout_end` "
        "(default: half the history, at most a year, before the end).",
    )
    holdout_end: datetime.date | None = Field(
        None,
        description="Last day of the checked period, on or before the last order (default: the last order).",
    )


def _require_view(user: Any) -> None:
    """The page's rule: only users who see customers see the check of the predictions."""
    if not restrict(Customer.objects.all(), user, "view").exists():
        raise HttpError(404, _("Not found."))


@insights_router.get(
    "/backtest",
    response=responses({200: BacktestReportOut}, 401, 404),
    summary="The latest check of the predictions",
)
def get_backtest(request: HttpRequest) -> Any:
    """The latest finished backtest, in the form of `cartera holdout --json`; 404 before the first one."""
    user = request.auth  # type: ignore[attr-defined]
    _require_view(user)
    row = selectors.backtest_for(user=user)
    if row is None:
        raise HttpError(
            404, _("The predictions have not been checked yet: POST /api/insights/backtest starts a check.")
        )
    return row.result


@insights_router.post(
    "/backtest",
    response=responses({202: BacktestJobOut}, 400, 401, 403, 404, 415, 422),
    summary="Check the predictions again (in the background)",
)
def queue_backtest(request: HttpRequest, response: HttpResponse, payload: BacktestIn | None = None) -> Any:
    """Queue a backtest in the worker (the page's "Check again now"), optionally with its own
    `cutoff` and `holdout_end` (as `cartera holdout --cutoff --end`); dates that cannot work are a
    422 on their field before anything is queued. At most one check with the same dates waits at a
    time, so a second request while one waits answers that one. Poll the `Location` it names."""
    user = request.auth  # type: ignore[attr-defined]
    _require_view(user)
    cutoff = payload.cutoff if payload else None
    holdout_end = payload.holdout_end if payload else None
    if cutoff is not None or holdout_end is not None:
        bounds = selectors.order_date_bounds()
        if bounds is None:
            raise ValidationError(
                _("There are no orders yet: predictions can only be checked on a purchase history.")
            )
        services.backtest_dates_within(*bounds, cutoff=cutoff, holdout_end=holdout_end)
    job_id = tasks.queue_backtest(trigger=f"api user {user.pk}", cutoff=cutoff, holdout_end=holdout_end)
    job = selectors.backtest_job(user=user, job_id=job_id, task_path=tasks.check_predictions.module_path)
    response["Location"] = reverse("api:get_backtest_job", args=[job_id])
    return Status(202, job)


@insights_router.get(
    "/backtest/jobs/{uuid:job_id}",
    url_name="get_backtest_job",
    response=responses({200: BacktestJobOut}, 401, 404),
    summary="A queued check of the predictions",
)
def get_backtest_job(request: HttpRequest, job_id: uuid.UUID) -> Any:
    """Where a queued backtest stands: `queued`, `running`, `done` (its report is then the latest, at
    GET /insights/backtest) or `failed` with the reason."""
    user = request.auth  # type: ignore[attr-defined]
    job = selectors.backtest_job(user=user, job_id=str(job_id), task_path=tasks.check_predictions.module_path)
    if job is None:
        raise HttpError(404, _("Not found."))
    return job
