"""Reads of saved segments. Segments come through the scoping helper (shared for viewing; changed
and deleted by their author or by whoever acts on every record); their members through
:func:`restrict` on the customers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Count, DecimalField, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from cartera.core.scoping import Action, get_for_user, restrict, sees_every_row
from cartera.customers.models import Customer
from cartera.insights.models import CustomerMetrics
from cartera.segments import rules
from cartera.segments.models import Segment
from cartera.segments.rules import definition_clean, to_q


def segment_list(*, user: Any) -> QuerySet[Segment]:
    """Saved segments are shared with everyone who may view them (every role)."""
    return restrict(Segment.objects.select_related("owner"), user, "view").order_by("name", "id")


def segment_get(*, user: Any, pk: int, action: Action = "view") -> Segment:
    """One segment for ``action``: 404 when the user cannot see it, 403 when they see it but may not act."""
    return get_for_user(Segment.objects.select_related("owner"), user, action, pk=pk)


def may(user: Any, obj: models.Model, action: Action) -> bool:
    """Whether the scoping rule lets ``user`` do ``action`` on ``obj`` (a segment or a persona): the
    pages show their edit and delete buttons by it."""
    return restrict(type(obj)._default_manager.filter(pk=obj.pk), user, action).exists()


def definition_members(*, user: Any, definition: Any, today: dt.date | None = None) -> QuerySet[Customer]:
    """The customers ``user`` may see that match a definition (checked first)."""
    clean = definition_clean(definition)
    return restrict(Customer.objects.all(), user, "view").filter(to_q(clean, user=user, today=today))


def definition_count(*, user: Any, definition: Any, today: dt.date | None = None) -> int:
    """How many customers ``user`` may see match a definition (the builder's live count).

    A definition on analysis metrics alone is counted on the metrics table, from its covering
    index, without reading the customer file: a million-customer join costs seconds on SQLite.
    """
    clean = definition_clean(definition)
    if rules.on_metrics_alone(clean) and sees_every_row(user, Customer):
        return CustomerMetrics.objects.filter(
            rules.to_q(clean, user=user, today=today, on_metrics=True)
        ).count()
    return restrict(Customer.objects.all(), user, "view").filter(to_q(clean, user=user, today=today)).count()


def segment_count(*, user: Any, segment: Segment) -> int:
    """How many members ``user`` sees in a segment (frozen list or conditions evaluated now)."""
    if segment.is_static:
        return segment_members(user=user, segment=segment).count()
    return definition_count(user=user, definition=segment.definition)


def segment_members(*, user: Any, segment: Segment) -> QuerySet[Customer]:
    """A segment's members: the frozen list, or the conditions evaluated now."""
    if segment.is_static:
        return restrict(Customer.objects.all(), user, "view").filter(
            pk__in=segment.members.values("customer_id")
        )
    return definition_members(user=user, definition=segment.definition)


def problem_text(exc: ValidationError) -> str:
    """What is wrong with a stored definition, as one sentence for the page."""
    return " ".join(str(m) for m in exc.messages)


@dataclass(frozen=True)
class EvaluatedSegment:
    """A segment as its page shows it: members, conditions in words, and what stops them working.

    ``problem`` is set when the stored conditions no longer pass the checks (written by an older
    version, say): the members of a dynamic segment are then none, and the page says why.
    """

    members: QuerySet[Customer]
    description: str
    problem: str


def segment_evaluated(*, user: Any, segment: Segment) -> EvaluatedSegment:
    try:
        description = rules.describe(definition_clean(segment.definition))
        members = segment_members(user=user, segment=segment)
    except ValidationError as exc:
        problem = _("These conditions cannot be used: %(reason)s Edit the segment to correct them.") % {
            "reason": problem_text(exc)
        }
        members = Customer.objects.none()
        if segment.is_static:  # the frozen list does not depend on the conditions
            members = restrict(Customer.objects.all(), user, "view").filter(
                pk__in=segment.members.values("customer_id")
            )
        return EvaluatedSegment(members=members, description="", problem=problem)
    return EvaluatedSegment(members=members, description=description, problem="")


@dataclass(frozen=True)
class Totals:
    customers: int
    revenue: float
    clv: float


def totals(members: QuerySet[Customer]) -> Totals:
    """Customers, revenue and predicted 12-month value of a set of customers, in one query."""
    zero = Value(0, output_field=DecimalField(max_digits=16, decimal_places=2))
    agg = members.aggregate(
        n=Count("pk"),
        revenue=Coalesce(Sum("metrics__revenue"), zero),
        clv=Coalesce(Sum("metrics__clv_12m"), zero),
    )
    return Totals(customers=agg["n"], revenue=float(agg["revenue"]), clv=float(agg["clv"]))
