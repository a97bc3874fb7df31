"""Reads of purchases."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from cartera.core.scoping import restrict
from cartera.sales.models import Order


def order_list(*, user: Any) -> QuerySet[Order]:
    """Orders the user may see, newest first."""
    return restrict(Order.objects.all(), user, "view").select_related("customer", "promotion")
