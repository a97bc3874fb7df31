"""Reads for the analysis: all orders as numpy arrays (through :mod:`.storage`); metrics and
snapshots for the pages."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from django.db.models import QuerySet

from cartera.core.scoping import restrict
from cartera.customers.models import Customer
from cartera.insights import storage
from cartera.insights.analysis import DEFAULT_MODEL, OrderArrays
from cartera.insights.models import Backtest, CustomerMetrics, PortfolioSnapshot, RefreshRun


def order_arrays() -> OrderArrays:
    """Every order as (customer id, day, amount) arrays, read without building model objects."""
    return storage.read_orders()


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
    """The model behind the shown figures and why: the latest backtest's choice, else the default."""
    latest = latest_backtest()
    if latest is None or not latest.shown_model:
        return DEFAULT_MODEL, f"model {DEFAULT_MODEL}: the default, no backtest yet"
    return latest.shown_model, (
        f"model {latest.shown_model}: chosen by the backtest of {latest.started_at:%Y-%m-%d} "
        f"(cut-off {latest.cutoff}, lowest Brier score of the 90-day probability)"
    )
