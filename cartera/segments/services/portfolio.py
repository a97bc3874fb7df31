"""Portfolio figures (computed once per snapshot; the pages only read them) and the dashboard's
one-click follow-up."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from cartera.accounts.models import User
from cartera.activity.services import task_create
from cartera.customers.models import Customer
from cartera.insights import selectors as insights_selectors
from cartera.insights.analysis import OrderArrays, PortfolioMetrics
from cartera.insights.models import CustomerMetrics, PortfolioSnapshot
from cartera.segments import figures
from cartera.segments.models import PortfolioFigures
from cartera.segments.selectors.portfolio import at_risk_customer_ids

# --------------------------------------------------------------------------------------------------
# Portfolio figures (computed once per snapshot; the pages only read them)


def _grouped(field: str) -> dict[str, dict[str, float]]:
    rows = (
        CustomerMetrics.objects.values(field)
        .annotate(n=Count("customer_id"), revenue=Sum("revenue"), clv=Sum("clv_12m"))
        .order_by(field)
    )
    return {
        str(r[field] or ""): {
            "customers": int(r["n"]),
            "revenue": float(r["revenue"] or 0),
            "clv": float(r["clv"] or 0),
        }
        for r in rows
    }


def _at_risk_ids() -> list[int]:
    return at_risk_customer_ids()


def figures_refresh(
    *,
    snapshot: PortfolioSnapshot | None = None,
    orders: OrderArrays | None = None,
    metrics: PortfolioMetrics | None = None,
) -> PortfolioFigures | None:
    """Compute the cohort table, RFM grid and moves, ABC and Pareto figures for the latest snapshot.

    Reads every order once (as numpy arrays, like the refresh) and a few GROUP BY queries over the
    metrics; about what one refresh of the snapshot costs, never per page view. The refresh passes
    the ``orders`` it has read and the ``metrics`` it has just stored (as of the snapshot's day), so
    that nothing is read or computed twice.
    """
    snapshot = snapshot or PortfolioSnapshot.objects.order_by("-taken_on").first()
    if snapshot is None:
        return None
    as_of = snapshot.taken_on
    if metrics is not None and metrics.as_of != as_of:
        raise ValueError("the metrics are not of the snapshot's day")
    if orders is None:
        orders = insights_selectors.order_arrays()
    if metrics is not None:
        ids = metrics.customer_ids
        buyers = metrics.orders_count > 0
        # Today's segments are the ones just computed for the metrics, by the same scoring.
        current = (metrics.customer_ids[buyers], metrics.rfm_segment[buyers])
    else:
        ids = insights_selectors.customer_ids()
        current = None
    revenue = figures.revenue_per_customer(orders, ids, as_of=as_of)
    bought = np.isin(ids, orders.until(np.datetime64(as_of, "D")).customer_ids)
    rfm = _grouped("rfm_segment")
    rfm.pop("", None)
    abc = _grouped("abc_class")
    abc.pop("", None)
    with transaction.atomic():
        result, _created = PortfolioFigures.objects.update_or_create(
            taken_on=as_of,
            defaults={
                "snapshot_computed_at": snapshot.computed_at,
                "computed_at": timezone.now(),
                "cohorts": figures.cohort_table(orders, as_of=as_of),
                "rfm": rfm,
                "rfm_moves": figures.rfm_moves(orders, as_of=as_of, current=current),
                "abc": abc,
                # Over buyers only: people who never bought are shown apart, not as zeros that push
                # the top 20%'s share towards 100% as prospects are added.
                "pareto": {
                    **figures.pareto_curve(revenue[bought]),
                    "prospects": int(ids.shape[0] - bought.sum()),
                },
                "at_risk_ids": _at_risk_ids(),
                "stages": stage_counts(),
                "other_currencies": insights_selectors.other_currencies(),
            },
        )
        # Older days' figures go; a newer day's stay (a refresh "as of" a past day, a backfill, must
        # not leave the latest snapshot without figures).
        PortfolioFigures.objects.exclude(pk=result.pk).filter(taken_on__lt=as_of).delete()
    return result


def figures_current() -> PortfolioFigures | None:
    """The figures of the latest snapshot, computed first when the snapshot is newer than them.

    Normally ``cartera refresh`` has already computed them; this only catches the first page view
    after a refresh that did not. A page view computes them only for a small portfolio (at most
    ``CARTERA_FIGURES_INLINE_MAX_CUSTOMERS`` customers at the last refresh): at a million customers
    it reads ten million orders for half a minute, longer than a production server lets a request
    run, and every worker answering the home page at that moment would do the same. There, the worker
    computes them (``segments.tasks.compute_figures``, queued once) and the pages show the latest
    figures there are, marked ``pending`` (``None`` when there are none yet).
    """
    snapshot = PortfolioSnapshot.objects.order_by("-taken_on").only("taken_on", "computed_at").first()
    if snapshot is None:
        return None
    current = PortfolioFigures.objects.filter(
        taken_on=snapshot.taken_on, snapshot_computed_at=snapshot.computed_at
    ).first()
    if current is None and not _small_enough_to_compute_now():
        from cartera.segments.tasks import figures_schedule

        figures_schedule()
        latest = PortfolioFigures.objects.order_by("-taken_on").first()
        if latest is not None:
            latest.pending = True
        return latest
    if current is not None and not current.stages:
        # Figures computed before they held the stage counts: add them once, without the rest.
        current.stages = stage_counts()
        current.save(update_fields=["stages"])
    if current is not None and current.other_currencies is None:
        # Figures computed before they listed the orders left out: the same, once.
        current.other_currencies = insights_selectors.other_currencies()
        current.save(update_fields=["other_currencies"])
    return current or figures_refresh(snapshot=PortfolioSnapshot.objects.get(pk=snapshot.pk))


def _small_enough_to_compute_now() -> bool:
    from django.conf import settings

    from cartera.insights.models import RefreshRun

    last = (
        RefreshRun.objects.filter(status=RefreshRun.Status.DONE)
        .order_by("-id")
        .values_list("customers")
        .first()
    )
    customers = last[0] if last else Customer.objects.count()
    return bool(customers <= settings.CARTERA_FIGURES_INLINE_MAX_CUSTOMERS)


def stage_counts() -> dict[str, int]:
    """Customers per stage (every customer: seeing customers means seeing all of them)."""
    rows = Customer.objects.values_list("stage").annotate(n=Count("id")).values_list("stage", "n").order_by()
    return {str(stage): int(n) for stage, n in rows}


# --------------------------------------------------------------------------------------------------
# Follow-up from the dashboard


def follow_up_create(*, actor: User, customer: Customer, note: str = "") -> Any:
    """A task to contact ``customer`` tomorrow morning (one click from "Anticipate"), for the person
    who looks after the customer (its owner; the actor when it has no active owner)."""
    tomorrow = timezone.localtime() + dt.timedelta(days=1)
    due = tomorrow.replace(hour=10, minute=0, second=0, microsecond=0)
    owner = customer.owner if customer.owner_id and customer.owner and customer.owner.is_active else actor
    return task_create(
        actor=actor,
        fields={
            "title": (_("Follow up with %(name)s") % {"name": customer.full_name})[:200],
            "customer": customer,
            "due_at": due,
            "notes": note,
            "assignee": owner,
        },
    )
