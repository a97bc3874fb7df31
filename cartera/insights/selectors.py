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
from cartera.insights.analysis import OrderArrays
from cartera.insights.models import CustomerMetrics, PortfolioSnapshot, RefreshRun


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
