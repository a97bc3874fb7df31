"""Reads of the pipeline: the board, the opportunity list and the bottleneck report.

Everything a user reaches goes through :func:`cartera.core.scoping.restrict`: a sales rep reads their
own opportunities, managers and admins everybody's.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import (
    Aggregate,
    Count,
    DateField,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    Max,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.functions import TruncDate, TruncMonth
from django.utils import timezone

from cartera.core.money import base_currency
from cartera.core.scoping import get_for_user, restrict, sees_every_row
from cartera.pipeline.models import (
    CallList,
    CallListEntry,
    LeadForm,
    LeadSubmission,
    LostReason,
    Opportunity,
    OpportunityStageChange,
    OpportunityStatus,
    Pipeline,
    PipelineStage,
    ProspectFit,
)

COLUMN_SIZE = 20


@dataclass
class OpportunityFilters:
    """What the board, the list and the report's links filter by (empty = any)."""

    pipeline_id: int | None = None
    stage_id: int | None = None
    status: str = ""
    owner_id: int | None = None
    source: str = ""
    close_month: dt.date | None = None  # first day of the month
    lost_reason_id: int | None = None
    lost_from_id: int | None = None  # lost while in this stage
    passed_id: int | None = None  # ever entered this stage
    advanced_from_id: int | None = None  # left this stage forwards (or won from it)
    rotting: bool = False
    query: str = ""


def pipelines_for_menu() -> QuerySet[Pipeline]:
    """Active pipelines, in order (the board's menu)."""
    return Pipeline.objects.filter(active=True).order_by("position", "id")


def pipeline_get(pk: int | None) -> Pipeline | None:
    """The pipeline ``pk`` or, without one, the first active; ``None`` when there is none."""
    qs = Pipeline.objects.all() if pk else pipelines_for_menu()
    return qs.filter(pk=pk).first() if pk else qs.first()


def stages_of(pipeline: Pipeline) -> list[PipelineStage]:
    return list(pipeline.stages.order_by("position", "id"))


def _rotting_q(stages: list[PipelineStage], now: dt.datetime) -> Q:
    rotting = Q(pk__in=[])
    for stage in stages:
        if stage.rotting_days is not None:
            cutoff = now - dt.timedelta(days=stage.rotting_days)
            rotting |= Q(stage=stage, last_activity_at__lt=cutoff)
    return Q(status=OpportunityStatus.OPEN) & rotting


def opportunity_list(*, user: Any, filters: OpportunityFilters) -> QuerySet[Opportunity]:
    """The opportunities ``user`` may see that match ``filters``."""
    qs = restrict(Opportunity.objects.all(), user, "view")
    f = filters
    if f.pipeline_id:
        qs = qs.filter(pipeline_id=f.pipeline_id)
    if f.stage_id:
        qs = qs.filter(stage_id=f.stage_id)
    if f.status:
        qs = qs.filter(status=f.status)
    if f.owner_id:
        qs = qs.filter(owner_id=f.owner_id)
    if f.source:
        qs = qs.filter(source=f.source)
    if f.close_month:
        qs = qs.filter(
            expected_close_on__year=f.close_month.year, expected_close_on__month=f.close_month.month
        )
    if f.lost_reason_id:
        qs = qs.filter(status=OpportunityStatus.LOST, lost_reason_id=f.lost_reason_id)
    if f.lost_from_id:
        qs = qs.filter(
            stage_changes__from_stage_id=f.lost_from_id, stage_changes__outcome=OpportunityStatus.LOST
        )
    if f.passed_id:
        qs = qs.filter(
            pk__in=OpportunityStageChange.objects.filter(to_stage_id=f.passed_id).values("opportunity")
        )
    if f.advanced_from_id:
        qs = qs.filter(pk__in=_advanced_from(f.advanced_from_id).values("opportunity"))
    if f.rotting:
        stages = list(PipelineStage.objects.filter(rotting_days__isnull=False))
        qs = qs.filter(_rotting_q(stages, timezone.now()))
    if f.query:
        qs = qs.filter(Q(title__icontains=f.query) | Q(customer__last_name_key__startswith=f.query.lower()))
    return qs


def _advanced_from(stage_id: int) -> QuerySet[OpportunityStageChange]:
    """Moves out of ``stage_id`` forwards: to a later stage of its pipeline, or won."""
    stage = PipelineStage.objects.filter(pk=stage_id).first()
    if stage is None:
        return OpportunityStageChange.objects.none()
    return OpportunityStageChange.objects.filter(from_stage_id=stage_id).filter(
        Q(outcome=OpportunityStatus.WON)
        | Q(to_stage__pipeline_id=stage.pipeline_id, to_stage__position__gt=stage.position)
    )


def opportunities_of_customer(*, user: Any, customer_id: int, limit: int = 10) -> list[Opportunity]:
    """The customer's opportunities that ``user`` may see, open ones first (the customer page's card)."""
    qs = restrict(Opportunity.objects.filter(customer_id=customer_id), user, "view").select_related("stage")
    return list(qs.order_by("closed_at", "-id")[:limit])


def opportunity_get(*, user: Any, pk: int, action: Any = "view") -> Opportunity:
    """One opportunity (404 outside the user's scope, 403 when seen but not theirs to act on)."""
    qs = Opportunity.objects.select_related(
        "stage", "pipeline", "customer", "company", "owner", "lost_reason", "order"
    )
    return get_for_user(qs, user, action, pk=pk)


def opportunity_history(*, user: Any, opportunity: Opportunity) -> list[OpportunityStageChange]:
    qs = restrict(OpportunityStageChange.objects.filter(opportunity=opportunity), user, "view")
    return list(qs.select_related("from_stage", "to_stage", "changed_by").order_by("-changed_at", "-id"))


@dataclass
class Column:
    """One stage of the board: its totals over every matching opportunity and one page of cards."""

    stage: PipelineStage
    count: int = 0
    value: Decimal = Decimal("0")
    weighted: Decimal = Decimal("0")
    rotting: int = 0
    cards: list[Opportunity] = field(default_factory=list)
    next_offset: int | None = None


def board(
    *, user: Any, pipeline: Pipeline, filters: OpportunityFilters, size: int = COLUMN_SIZE
) -> list[Column]:
    """The open opportunities of ``pipeline`` by stage: totals from one grouped query, then the first
    ``size`` cards of each column (largest value first); further cards come with :func:`column_page`."""
    stages = stages_of(pipeline)
    base = opportunity_list(user=user, filters=_open_in(filters, pipeline))
    now = timezone.now()
    in_base = Q(currency=base_currency())  # values add up the base currency only (left_out_currencies)
    totals = {
        row["stage_id"]: row
        for row in base.order_by().values("stage_id").annotate(
            n=Count("id"), v=Sum("value", filter=in_base), w=Sum(F("value") * F("probability"), filter=in_base),
            r=Count("id", filter=_rotting_q(stages, now)),
        )
    }  # fmt: skip
    columns = []
    for stage in stages:
        t: dict[str, Any] = dict(totals.get(stage.pk) or {})
        column = Column(
            stage=stage, count=t.get("n", 0), value=t.get("v") or Decimal("0"),
            weighted=Decimal(t.get("w") or 0) / 100, rotting=t.get("r", 0),
        )  # fmt: skip
        if column.count:
            column.cards, column.next_offset = column_page(base=base, stage=stage, offset=0, size=size)
        columns.append(column)
    return columns


def board_left_out_currencies(
    *, user: Any, pipeline: Pipeline, filters: OpportunityFilters
) -> list[dict[str, Any]]:
    """The board's open opportunities whose value its column totals leave out (other currencies)."""
    return left_out_currencies(opportunity_list(user=user, filters=_open_in(filters, pipeline)))


def _open_in(filters: OpportunityFilters, pipeline: Pipeline) -> OpportunityFilters:
    return OpportunityFilters(
        **{**filters.__dict__, "pipeline_id": pipeline.pk, "status": OpportunityStatus.OPEN}
    )


def column_page(
    *, base: QuerySet[Opportunity], stage: PipelineStage, offset: int, size: int = COLUMN_SIZE
) -> tuple[list[Opportunity], int | None]:
    """One page of a column's cards and the offset of the next page (``None`` at the end)."""
    rows = list(
        base.filter(stage=stage)
        .select_related("customer", "company", "owner", "stage")
        .order_by("-value", "id")[offset : offset + size + 1]
    )
    more = len(rows) > size
    return rows[:size], (offset + size if more else None)


def column_cards(
    *, user: Any, pipeline: Pipeline, stage: PipelineStage, filters: OpportunityFilters, offset: int
) -> tuple[list[Opportunity], int | None]:
    """A further page of one column (the board's "more" button)."""
    base = opportunity_list(user=user, filters=_open_in(filters, pipeline))
    return column_page(base=base, stage=stage, offset=offset)


def lost_reasons() -> QuerySet[LostReason]:
    return LostReason.objects.filter(active=True).order_by("position", "name")


# --- the bottleneck report -------------------------------------------------------------------------


def _percentile(values: list[float], fraction: float) -> float | None:
    """Nearest rank: the smallest value with at least ``fraction`` of them at or below it (PostgreSQL's
    ``percentile_disc``, so that both databases give the same figure)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


class _PercentileCont(Aggregate):
    """PostgreSQL's interpolated percentile (the median of 1 and 10 is 5.5, as ``statistics.median``)."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)%(filter)s"
    output_field = FloatField()

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        super().__init__(expression, fraction=float(fraction), **extra)


class _PercentileDisc(_PercentileCont):
    """PostgreSQL's nearest-rank percentile (:func:`_percentile`)."""

    function = "PERCENTILE_DISC"


class _EpochSeconds(Func):
    template = "EXTRACT(EPOCH FROM %(expressions)s)"
    output_field = FloatField()


def _count_by(qs: QuerySet[Any], key: str, count: Any) -> dict[Any, int]:
    """``count`` per value of ``key`` (one grouped query)."""
    return dict(qs.order_by().values(key).annotate(n=count).values_list(key, "n"))


def _in_database() -> bool:
    """Medians and percentiles computed by the database (PostgreSQL); SQLite has no such aggregate, so
    there the values are read and ranked here."""
    return connection.vendor == "postgresql"


@dataclass
class StageFigures:
    stage: PipelineStage
    entered: int = 0
    advanced: int = 0
    lost: int = 0
    open_now: int = 0
    rotting: int = 0
    rotting_value: Decimal = Decimal("0")
    median_days: float | None = None
    p90_days: float | None = None
    lost_reasons: list[dict[str, Any]] = field(default_factory=list)

    @property
    def conversion(self) -> float | None:
        """Share of those who entered the stage that went on (to a later stage or won)."""
        return self.advanced / self.entered if self.entered else None


@dataclass
class GroupFigures:
    key: Any
    label: str
    won: int = 0
    lost: int = 0
    won_value: Decimal = Decimal("0")
    cycle_days: float | None = None

    @property
    def win_rate(self) -> float | None:
        closed = self.won + self.lost
        return self.won / closed if closed else None


@dataclass
class Report:
    pipeline: Pipeline
    stages: list[StageFigures]
    by_owner: list[GroupFigures]
    by_source: list[GroupFigures]
    forecast: list[dict[str, Any]]
    won: int = 0
    lost: int = 0
    open_count: int = 0
    #: The won opportunities whose value ``won_value`` leaves out (:func:`left_out_currencies`).
    won_other_currencies: list[dict[str, Any]] = field(default_factory=list)
    #: The open opportunities whose value the rotting values and the forecast leave out.
    open_other_currencies: list[dict[str, Any]] = field(default_factory=list)

    @property
    def win_rate(self) -> float | None:
        closed = self.won + self.lost
        return self.won / closed if closed else None

    def funnel(self) -> list[dict[str, Any]]:
        """The chart's data: how many entered each stage (JSON-ready)."""
        return [{"label": s.stage.name, "value": s.entered} for s in self.stages]


def _seen(queryset: QuerySet[Any], user: Any) -> QuerySet[Any]:
    """The rows ``user`` may see; every row for ``None``, the worker counting figures for those who
    see every row (``services.report_history_current``)."""
    return queryset if user is None else restrict(queryset, user, "view")


def _sees_every(user: Any, *models: type[Any]) -> bool:
    return user is None or all(sees_every_row(user, model) for model in models)


def _opportunities_seen(user: Any, pipeline: Pipeline, owner_id: int | None) -> QuerySet[Opportunity]:
    opportunities = _seen(Opportunity.objects.filter(pipeline=pipeline), user)
    return opportunities.filter(owner_id=owner_id) if owner_id else opportunities


def report_history(*, user: Any, pipeline: Pipeline, owner_id: int | None = None) -> dict[str, Any]:
    """The costly half of the bottleneck report, JSON-ready: what every move and every closed
    opportunity ``user`` may see in ``pipeline`` say. Per stage, who entered, who went on, how many were
    lost and why, the median and 90th percentile of the time spent in it; won, lost, won value and
    median cycle by owner and by source; the won opportunities in other currencies.

    Every figure is a grouped query (on PostgreSQL the percentiles too), a handful of queries whatever
    the size; still, with hundreds of thousands of moves it takes most of a second, so for big
    pipelines the worker counts it and the page reads it back (``services.report_history_current``)."""
    opportunities = _opportunities_seen(user, pipeline, owner_id)
    stages = stages_of(pipeline)
    ids = [s.pk for s in stages]
    if _sees_every(user, Opportunity, OpportunityStageChange) and not owner_id:
        # The moves into or out of the pipeline's stages are its opportunities' moves: no need to
        # name every opportunity (an IN list of 200,000 read once per figure).
        changes = OpportunityStageChange.objects.all()
    else:
        changes = _seen(OpportunityStageChange.objects.all(), user).filter(
            opportunity__in=opportunities.values("pk")
        )
    changes = changes.filter(Q(to_stage_id__in=ids) | Q(from_stage_id__in=ids))
    # One pass over the moves: per stage, who entered, who went on (won from it, or moved to a later
    # stage), how many were lost from it and, on PostgreSQL, the median and 90th percentile of the time
    # spent in it.
    figures_sql: dict[str, Any] = {}
    for stage in stages:
        later = [s.pk for s in stages if s.position > stage.position]
        forwards = Q(from_stage_id=stage.pk) & (Q(outcome=OpportunityStatus.WON) | Q(to_stage_id__in=later))
        figures_sql[f"entered_{stage.pk}"] = Count(
            "opportunity_id", distinct=True, filter=Q(to_stage_id=stage.pk)
        )
        figures_sql[f"advanced_{stage.pk}"] = Count("opportunity_id", distinct=True, filter=forwards)
        figures_sql[f"lost_{stage.pk}"] = Count(
            "id", filter=Q(from_stage_id=stage.pk, outcome=OpportunityStatus.LOST)
        )
        if _in_database():
            out_of = Q(from_stage_id=stage.pk)
            figures_sql[f"p50_{stage.pk}"] = _PercentileCont("seconds_in_stage", 0.5, filter=out_of)
            figures_sql[f"p90_{stage.pk}"] = _PercentileDisc("seconds_in_stage", 0.9, filter=out_of)
    found = changes.order_by().aggregate(**figures_sql)
    per_stage: dict[str, dict[str, Any]] = {}
    for stage_id in ids:
        median = found.get(f"p50_{stage_id}")
        per_stage[str(stage_id)] = {
            "entered": found[f"entered_{stage_id}"] or 0,
            "advanced": found[f"advanced_{stage_id}"] or 0,
            "lost": found[f"lost_{stage_id}"] or 0,
            "median_days": None if median is None else median / 86_400,
            "p90_days": None if median is None else found[f"p90_{stage_id}"] / 86_400,
            "lost_reasons": [],
        }
    if not _in_database():  # SQLite has no percentile aggregate: the times are ranked here
        timed = changes.filter(from_stage_id__in=ids, seconds_in_stage__isnull=False).order_by()
        durations: dict[int, list[float]] = defaultdict(list)
        for from_id, seconds in timed.values_list("from_stage_id", "seconds_in_stage").iterator(
            chunk_size=5_000
        ):
            durations[from_id].append((seconds or 0) / 86_400)
        for stage_id, days in durations.items():
            per_stage[str(stage_id)]["median_days"] = statistics.median(days)
            per_stage[str(stage_id)]["p90_days"] = _percentile(days, 0.9)
    for lost_row in (
        changes.filter(outcome=OpportunityStatus.LOST)
        .order_by()
        .values("from_stage_id", "opportunity__lost_reason_id", "opportunity__lost_reason__name")
        .annotate(n=Count("id"))
        .order_by("-n")
    ):
        if str(lost_row["from_stage_id"]) in per_stage:
            per_stage[str(lost_row["from_stage_id"])]["lost_reasons"].append(
                {"id": lost_row["opportunity__lost_reason_id"],
                 "name": lost_row["opportunity__lost_reason__name"] or "—", "count": lost_row["n"]}
            )  # fmt: skip
    closed = opportunities.exclude(status=OpportunityStatus.OPEN)
    base = base_currency()
    return {
        "stages": per_stage,
        "by_owner": _group_rows(closed, "owner_id", base),
        "by_source": _group_rows(closed, "source", base),
        "won_other_currencies": [
            {**row, "value": str(row["value"])}
            for row in left_out_currencies(closed.filter(status=OpportunityStatus.WON))
        ],
    }


def report_history_stamp(pipeline: Pipeline) -> list[Any]:
    """What :func:`report_history` depends on, in three cheap queries' worth: the last move (any
    pipeline's: an index's last entry), and the pipeline's number of opportunities and last edit. A
    move, a close, a new, deleted or edited opportunity changes it."""
    last_move = OpportunityStageChange.objects.aggregate(last=Max("id"))["last"] or 0
    found = Opportunity.objects.filter(pipeline=pipeline).aggregate(n=Count("pk"), edited=Max("updated_at"))
    edited = found["edited"].isoformat() if found["edited"] else None
    return [last_move, found["n"], edited]


def bottleneck_report(
    *, user: Any, pipeline: Pipeline, owner_id: int | None = None, history: dict[str, Any] | None = None
) -> Report:
    """Conversion from stage to stage, time in stage (median, 90th percentile), where opportunities stall
    or are lost and why, win rate and cycle length by owner and by source, and the weighted forecast by
    month of expected close, over the opportunities ``user`` may see in ``pipeline``.

    ``history`` is :func:`report_history`'s half when the worker counted it (else it is counted here);
    the open opportunities (per stage, rotting, the forecast) are always read now: a few thousand rows."""
    if history is None:
        history = report_history(user=user, pipeline=pipeline, owner_id=owner_id)
    stages = stages_of(pipeline)
    figures: dict[int, StageFigures] = {}
    for stage in stages:
        counted = history["stages"].get(str(stage.pk), {})
        figures[stage.pk] = StageFigures(
            stage=stage, entered=counted.get("entered", 0), advanced=counted.get("advanced", 0),
            lost=counted.get("lost", 0), median_days=counted.get("median_days"),
            p90_days=counted.get("p90_days"), lost_reasons=list(counted.get("lost_reasons", [])),
        )  # fmt: skip
    now = timezone.now()
    open_qs = _opportunities_seen(user, pipeline, owner_id).filter(status=OpportunityStatus.OPEN)
    for stage_id, n, r, rv in (
        open_qs.order_by()
        .values("stage_id")
        .annotate(
            n=Count("id"), r=Count("id", filter=_rotting_q(stages, now)),
            rv=Sum("value", filter=_rotting_q(stages, now) & Q(currency=base_currency())),
        )
        .values_list("stage_id", "n", "r", "rv")
    ):  # fmt: skip
        if stage_id in figures:
            fig = figures[stage_id]
            fig.open_now, fig.rotting, fig.rotting_value = n, r, rv or Decimal("0")
    by_owner = _groups_of(history["by_owner"], _owner_labels())
    by_source = _groups_of(history["by_source"], _source_labels())
    return Report(
        pipeline=pipeline,
        stages=[figures[s.pk] for s in stages],
        by_owner=by_owner,
        by_source=by_source,
        forecast=_forecast(open_qs),
        open_other_currencies=left_out_currencies(open_qs),
        won=sum(g.won for g in by_source),
        lost=sum(g.lost for g in by_source),
        open_count=sum(f.open_now for f in figures.values()),
        won_other_currencies=[
            {**row, "value": Decimal(row["value"])} for row in history["won_other_currencies"]
        ],
    )


def _owner_labels() -> dict[Any, str]:
    from cartera.accounts.models import User

    return {u.pk: str(u.get_full_name() or u.username) for u in User.objects.all()}


def _source_labels() -> dict[Any, str]:
    from cartera.customers.models import Source

    return {k: str(v) for k, v in Source.choices}


def _group_rows(closed: QuerySet[Opportunity], key: str, base: str) -> list[dict[str, Any]]:
    """Won, lost, won value (``base`` currency only, as text) and median cycle (days from opening to
    winning) per ``key``, JSON-ready: one grouped query (the median too on PostgreSQL)."""
    won = Q(status=OpportunityStatus.WON)
    figures: dict[str, Any] = {
        "won": Count("id", filter=won), "lost": Count("id", filter=~won), "won_value": Sum("value", filter=won & Q(currency=base)),
    }  # fmt: skip
    if _in_database():
        cycle = _EpochSeconds(F("closed_at") - F("created_at"))
        figures["cycle"] = _PercentileCont(cycle, 0.5, filter=won & Q(closed_at__isnull=False))
    groups: dict[Any, dict[str, Any]] = {}
    for row in closed.order_by().values(key).annotate(**figures):
        groups[row[key]] = {
            "key": row[key], "won": row["won"], "lost": row["lost"], "won_value": str(row["won_value"] or 0),
            "cycle_days": None if row.get("cycle") is None else row["cycle"] / 86_400,
        }  # fmt: skip
    if not _in_database():
        cycles: dict[Any, list[float]] = defaultdict(list)
        cycled = closed.filter(won, closed_at__isnull=False).order_by()
        for value, created, closed_at in cycled.values_list(key, "created_at", "closed_at").iterator(
            chunk_size=5_000
        ):
            cycles[value].append((closed_at - created).total_seconds() / 86_400)
        for value, days in cycles.items():
            groups[value]["cycle_days"] = statistics.median(days)
    return list(groups.values())


def _groups_of(rows: list[dict[str, Any]], labels: dict[Any, str]) -> list[GroupFigures]:
    """:func:`_group_rows`' rows as figures named in today's words (owners renamed, the user's
    language), the biggest won value first."""
    groups = [
        GroupFigures(
            key=row["key"],
            label=labels.get(row["key"], "") or "—",
            won=row["won"],
            lost=row["lost"],
            won_value=Decimal(row["won_value"]),
            cycle_days=row["cycle_days"],
        )  # fmt: skip
        for row in rows
    ]
    return sorted(groups, key=lambda g: (-g.won_value, g.label))


def left_out_currencies(opportunities: QuerySet[Opportunity]) -> list[dict[str, Any]]:
    """The opportunities whose value the sums leave out, because it is in another currency than the
    base one: ``[{"currency", "count", "value"}]`` per currency, most first.

    Values add up the base currency only, like the rest of the analysis (docs/analytics.md,
    "Currencies"): adding dollars to euros would be wrong, and no exchange rate is guessed. Won ones
    still count as won (the win rate, the number won), open ones still count on the board and in the
    forecast, without their value."""
    rows = (
        opportunities.exclude(currency=base_currency())
        .order_by()
        .values("currency")
        .annotate(count=Count("pk"), value=Sum("value"))
        .order_by("-count", "currency")
    )
    return [
        {"currency": r["currency"], "count": r["count"], "value": r["value"] or Decimal("0")} for r in rows
    ]


def _forecast(open_qs: QuerySet[Opportunity]) -> list[dict[str, Any]]:
    """Open value and probability-weighted value by month of expected close (no date: its own line);
    every open opportunity is counted, values add up the base currency only."""
    rows = (
        open_qs.order_by()
        .annotate(month=TruncMonth("expected_close_on"))
        .values("month")
        .annotate(
            n=Count("id"),
            v=Sum("value", filter=Q(currency=base_currency())),
            w=Sum(F("value") * F("probability"), filter=Q(currency=base_currency())),
        )
        .order_by(F("month").asc(nulls_last=True))
    )
    return [
        {"month": r["month"], "count": r["n"], "value": r["v"] or Decimal("0"),
         "weighted": (Decimal(r["w"] or 0) / 100).quantize(Decimal("0.01"))}
        for r in rows
    ]  # fmt: skip


# --- call lists ------------------------------------------------------------------------------------

CALL_ROWS = 60
NEW_LEAD_DAYS = 14
HOT_PROBABILITY = 50
HOT_CLOSE_DAYS = 14


@dataclass
class CallRow:
    """One person to call today and why: ``kind`` is "assigned", "at_risk", "hot", "overdue" or "new"."""

    customer: Any
    kind: str
    stake: Decimal
    detail: str = ""
    call_list: CallList | None = None
    fit: int | None = None  # the prospect fit score of a new lead (0-100), when there is one


KIND_ORDER = {"assigned": 0, "at_risk": 1, "hot": 2, "overdue": 3, "new": 4}


def calls_today(*, user: Any, limit: int = CALL_ROWS, min_fit: int | None = None) -> list[CallRow]:
    """``user``'s calls for today, most at stake first: the lists a manager assigned for today (or
    before, still unanswered), then the customers they look after who are at risk (by value at risk),
    their hot opportunities (weighted value), overdue follow-up tasks, and new leads. Each person once,
    under the first reason; nobody already called today. New leads come best fit first; ``min_fit``
    keeps only those scoring at least that."""
    from cartera.activity.models import Interaction, InteractionKind, Task
    from cartera.customers.classification import Lifecycle
    from cartera.customers.models import Customer, Stage

    today = timezone.localdate()
    start = timezone.make_aware(dt.datetime.combine(today, dt.time.min))
    called = set(
        Interaction.objects.filter(
            author=user, kind=InteractionKind.CALL, occurred_at__gte=start
        ).values_list("customer_id", flat=True)
    )
    customers = restrict(Customer.objects.all(), user, "view")
    rows: list[CallRow] = []
    entries = (
        restrict(CallListEntry.objects.all(), user, "change")
        .filter(call_list__assignee=user, call_list__for_date__lte=today, outcome="")
        .select_related("customer", "call_list")
        .order_by("call_list__for_date", "call_list_id", "position")[:limit]
    )
    rows += [CallRow(e.customer, "assigned", Decimal("0"), e.call_list.name, e.call_list) for e in entries]
    at_risk = (
        customers.filter(owner=user, metrics__lifecycle=Lifecycle.AT_RISK)
        .select_related("metrics")
        .order_by("-metrics__clv_12m", "pk")[:limit]
    )
    for c in at_risk:
        m = c.metrics
        rows.append(
            CallRow(
                c,
                "at_risk",
                (Decimal(m.clv_12m or 0) * Decimal(1 - (m.p_alive or 0))).quantize(Decimal("0.01")),
            )
        )
    hot = (
        restrict(Opportunity.objects.all(), user, "change")
        .filter(owner=user, status=OpportunityStatus.OPEN, customer__isnull=False)
        .filter(
            Q(probability__gte=HOT_PROBABILITY)
            | Q(expected_close_on__lte=today + dt.timedelta(days=HOT_CLOSE_DAYS))
        )
        .select_related("customer")
        .order_by("-value", "pk")[:limit]
    )
    rows += [CallRow(o.customer, "hot", o.weighted_value, o.title) for o in hot]
    overdue = (
        restrict(Task.objects.all(), user, "change")
        .filter(assignee=user, done=False, due_at__lt=start, customer__isnull=False)
        .select_related("customer")
        .order_by("due_at")[:limit]
    )
    rows += [CallRow(t.customer, "overdue", Decimal("0"), t.title) for t in overdue]
    new = customers.filter(
        owner=user, stage__in=[Stage.SUSPECT, Stage.PROSPECT],
        created_at__gte=timezone.now() - dt.timedelta(days=NEW_LEAD_DAYS),
    ).exclude(interactions__author__isnull=False).select_related("prospect_fit").order_by("-created_at")[:limit]  # fmt: skip
    # Nobody has talked to them yet (the lead form's own note on the timeline has no author).
    for c in new:
        fit = getattr(c, "prospect_fit", None)
        score = fit.score if fit is not None else None
        if min_fit is None or (score is not None and score >= min_fit):
            rows.append(CallRow(c, "new", Decimal("0"), fit=score))
    seen: set[int] = set()
    result: list[CallRow] = []
    for row in sorted(rows, key=lambda r: (KIND_ORDER[r.kind], -r.stake, -(r.fit or 0))):
        if row.customer.pk in seen or row.customer.pk in called:
            continue
        seen.add(row.customer.pk)
        result.append(row)
    return result[:limit]


def call_lists_for(*, user: Any) -> QuerySet[CallList]:
    """Call lists ``user`` may see (their own; managers: everybody's), newest first, with progress."""
    return (
        restrict(CallList.objects.all(), user, "view")
        .select_related("assignee")
        .annotate(total=Count("entries"), done=Count("entries", filter=~Q(entries__outcome="")))
        .order_by("-for_date", "-id")
    )


def call_list_get(*, user: Any, pk: int) -> CallList:
    """One call list the user may see (their own; managers: anybody's), with its progress; else 404."""
    return get_for_user(call_lists_for(user=user), user, "view", pk=pk)


def call_list_entries(*, call_list: CallList) -> QuerySet[CallListEntry]:
    """The people on a list in its order, each with the next call planned for them: the earliest open
    task about the customer assigned to the list's person (what "call back on..." schedules)."""
    from django.db.models import OuterRef, Subquery

    from cartera.activity.models import Task

    next_call = (
        Task.objects.filter(customer=OuterRef("customer_id"), assignee=call_list.assignee_id, done=False)
        .order_by("due_at")
        .values("due_at")[:1]
    )
    return (
        call_list.entries.select_related("customer", "call_list")
        .annotate(next_call_at=Subquery(next_call))
        .order_by("position", "id")
    )


def call_list_entry_get(*, call_list: CallList, pk: int) -> CallListEntry:
    """One line of a list the user already reached (404 when it is not on that list)."""
    from django.http import Http404

    entry = call_list_entries(call_list=call_list).filter(pk=pk).first()
    if entry is None:
        raise Http404
    return entry


@dataclass
class RepActivity:
    user: Any
    calls: int = 0
    reached: int = 0
    meetings: int = 0
    moved: int = 0
    won: int = 0
    lost: int = 0


def team_activity(*, user: Any, since: dt.date) -> list[RepActivity]:
    """Managers: per member of the team since ``since``, the calls (and how many reached someone), the
    meetings and visits, and the opportunities moved, won and lost."""
    from cartera.accounts.models import User
    from cartera.activity.models import Interaction, InteractionKind
    from cartera.activity.models import Outcome as InteractionOutcome

    start = timezone.make_aware(dt.datetime.combine(since, dt.time.min))
    people = {
        u.pk: RepActivity(u)
        for u in User.objects.filter(is_active=True, groups__isnull=False).distinct().order_by("username")
    }
    interactions = restrict(Interaction.objects.all(), user, "view").filter(
        occurred_at__gte=start, author__in=list(people)
    )
    for row in interactions.order_by().values("author_id").annotate(
        calls=Count("id", filter=Q(kind=InteractionKind.CALL)),
        reached=Count("id", filter=Q(kind=InteractionKind.CALL, outcome=InteractionOutcome.POSITIVE)),
        meetings=Count("id", filter=Q(kind__in=[InteractionKind.MEETING, InteractionKind.VISIT])),
    ):  # fmt: skip
        person = people[row["author_id"]]
        person.calls, person.reached, person.meetings = row["calls"], row["reached"], row["meetings"]
    changes = restrict(OpportunityStageChange.objects.all(), user, "view").filter(
        changed_at__gte=start, changed_by__in=list(people), from_stage__isnull=False
    )
    for moves in changes.order_by().values("changed_by_id").annotate(
        moved=Count("id", filter=Q(outcome=OpportunityStatus.OPEN)),
        won=Count("id", filter=Q(outcome=OpportunityStatus.WON)),
        lost=Count("id", filter=Q(outcome=OpportunityStatus.LOST)),
    ):  # fmt: skip
        person = people[moves["changed_by_id"]]
        person.moved, person.won, person.lost = moves["moved"], moves["won"], moves["lost"]
    return list(people.values())


# --- lead capture ---------------------------------------------------------------------------------


def lead_forms(*, user: Any) -> QuerySet[LeadForm]:
    """The lead forms the user may see, with how many answers, new leads and confirmed consents."""
    return restrict(LeadForm.objects.all(), user).annotate(
        answer_count=Count("submissions"),
        new_count=Count("submissions", filter=Q(submissions__created_new=True)),
        confirmed_count=Count("submissions", filter=Q(submissions__confirmed_at__isnull=False)),
    )


def lead_form_get(*, user: Any, pk: int, action: Any = "view") -> LeadForm:
    """One lead form (404 outside the user's scope), with its counts as :func:`lead_forms` gives them."""
    return get_for_user(lead_forms(user=user), user, action, pk=pk)


def lead_public_form(slug: str) -> LeadForm | None:
    """The form a public address shows; ``None`` when there is none or it no longer takes answers."""
    return LeadForm.objects.select_related("created_by").filter(slug=slug, active=True).first()


def lead_submission_list(*, user: Any, lead_form: LeadForm) -> QuerySet[LeadSubmission]:
    """Every answer to a form whose customer the user may see (page it newest first)."""
    return restrict(LeadSubmission.objects.filter(form=lead_form), user)


def lead_submissions(*, user: Any, lead_form: LeadForm, limit: int = 50) -> list[LeadSubmission]:
    """The latest answers to a form whose customers the user may see."""
    rows = restrict(LeadSubmission.objects.filter(form=lead_form), user).select_related("customer", "owner")
    return list(rows.order_by("-created_at", "-id")[:limit])


# --- prospect fit score ---------------------------------------------------------------------------


def fit_reasons(reasons: list[list[Any]]) -> list[str]:
    """The stored reasons of a fit score in words: "Sector: industria", "Age: 35-44"..."""
    from django.utils.text import capfirst
    from django.utils.translation import gettext as _

    from cartera.customers.models import CompanySize, Source

    names = {"sector": _("Sector"), "region": _("Province / region"), "size": _("Company size"),
             "source": _("Source"), "age": _("Age")}  # fmt: skip
    shown = {"size": dict(CompanySize.choices), "source": dict(Source.choices)}
    return [
        f"{names.get(feature, feature)}: {shown.get(feature, {}).get(value, capfirst(value))}"
        for feature, value, _weight in reasons
    ]


def prospect_fit_of(*, user: Any, customer_id: int) -> Any:
    """The fit score of one customer the user may see (``None`` when not scored)."""
    return (
        restrict(ProspectFit.objects.select_related("persona"), user).filter(customer_id=customer_id).first()
    )


PROSPECT_SORTS = {"fit": ("-prospect_fit__score", "-pk"), "new": ("-created_at", "-pk"),
                  "name": ("last_name_key", "first_name_key", "pk")}  # fmt: skip


def prospects(
    *, user: Any, min_fit: int | None = None, sort: str = "fit", owner_id: int | None = None
) -> Any:
    """Suspects and prospects the user may see, with their fit score, best fit first by default."""
    from cartera.customers.models import Customer, Stage

    qs = restrict(Customer.objects.all(), user).filter(stage__in=[Stage.SUSPECT, Stage.PROSPECT])
    if min_fit is not None:
        qs = qs.filter(prospect_fit__score__gte=min_fit)
    if owner_id:
        qs = qs.filter(owner_id=owner_id)
    order = PROSPECT_SORTS.get(sort, PROSPECT_SORTS["fit"])
    if sort == "fit" or sort not in PROSPECT_SORTS:
        order = (F("prospect_fit__score").desc(nulls_last=True), "-pk")  # type: ignore[assignment]
    return qs.select_related("prospect_fit", "prospect_fit__persona", "owner").order_by(*order)


# --- source attribution ---------------------------------------------------------------------------


@dataclass
class AttributionRow:
    """One source (or lead form, or UTM campaign): how many people it brought, how many bought,
    the revenue of those people, and the opportunities won with them."""

    label: str
    leads: int = 0
    converted: int = 0
    revenue: Decimal = Decimal("0")
    won: int = 0
    won_value: Decimal = Decimal("0")
    #: Median days from coming in (the record's creation) to the first order, among those who bought
    #: after they came in (a customer imported with years of history is not a conversion).
    days_to_first_order: float | None = None
    #: Revenue of their orders in the 12 months after they came in (base currency).
    revenue_12m: Decimal = Decimal("0")

    @property
    def conversion(self) -> float | None:
        """Share of the people brought who became (or were) customers, 0-1."""
        return self.converted / self.leads if self.leads else None


@dataclass
class Attribution:
    by_source: list[AttributionRow]
    by_form: list[AttributionRow]
    #: UTM campaigns by each person's first touch (their first lead form answer with a campaign) and by
    #: their last touch (their latest one): someone who came from two campaigns counts once in each.
    by_first_campaign: list[AttributionRow]
    by_last_campaign: list[AttributionRow]
    #: The won opportunities the won values leave out (:func:`left_out_currencies`).
    won_other_currencies: list[dict[str, Any]] = field(default_factory=list)


ATTRIBUTION_GROUPS = 50


#: The window of "revenue in their first 12 months".
FIRST_YEAR = dt.timedelta(days=365)


def _came_in_figures(
    customers: QuerySet[Any], key: str, *, every_customer: bool = False
) -> dict[Any, tuple[float | None, Decimal]]:
    """Per value of ``key`` (a lookup from the customer, ``"pk"`` for each person): the median days
    from coming in to the first order, and the revenue (base currency) of the orders dated in the 12
    months after coming in. "Coming in" is the record's creation day (local time); the first order is
    the analysis' (``CustomerMetrics.first_order_on``, as of the last refresh). ``every_customer``:
    ``customers`` is the whole file, so the orders need not be matched against it (a semi-join of ten
    million orders with a million customers)."""
    from cartera.sales.models import Order

    days: dict[Any, list[int]] = defaultdict(list)
    bought = customers.filter(metrics__first_order_on__isnull=False).order_by()
    # The day each came in, in local time, worked out by the database (a million conversions in
    # Python took seconds).
    rows = bought.annotate(came_in=TruncDate("created_at")).values_list(
        key, "came_in", "metrics__first_order_on"
    )
    for group, came_in_on, first in rows.iterator(chunk_size=10_000):
        waited = (first - came_in_on).days
        if waited >= 0:
            days[group].append(waited)
    came_in = TruncDate("customer__created_at")
    orders = Order.objects.filter(currency=base_currency())
    first_year = (
        (orders if every_customer else orders.filter(customer__in=customers.values("pk")))
        .filter(ordered_on__gte=came_in, ordered_on__lt=ExpressionWrapper(came_in + FIRST_YEAR, DateField()))
        .order_by()
        .values(group=F(f"customer__{key}"))
        .annotate(total=Sum("amount"))
    )
    revenue = {row["group"]: row["total"] or Decimal("0") for row in first_year}
    return {
        group: (statistics.median(days[group]) if days.get(group) else None, revenue.get(group, Decimal("0")))
        for group in set(days) | set(revenue)
    }


def _attribution_rows(
    customers: QuerySet[Any], key: str, won: QuerySet[Opportunity], *, every_customer: bool = False
) -> list[dict[str, Any]]:
    """Group ``customers`` by ``key`` (a lookup from the customer): people, buyers, revenue, won deals,
    JSON-ready (amounts as text), the ``ATTRIBUTION_GROUPS`` with most people.

    Revenue is each person's revenue as of the last refresh (``CustomerMetrics.revenue``: the orders
    in the base currency), one row per person: summing ten million orders by the source of their
    customer on every view would take seconds."""
    from cartera.customers.models import Stage

    bought = [Stage.CUSTOMER, Stage.FORMER]
    people = (
        customers.values(group=F(key))
        # One row per person here (the metrics are one per person), so a plain count: DISTINCT
        # would sort the whole file.
        .annotate(
            leads=Count("pk"),
            converted=Count("pk", filter=Q(stage__in=bought)),
            revenue=Sum("metrics__revenue"),
        )
        .order_by("-leads")[:ATTRIBUTION_GROUPS]
    )
    came_in = _came_in_figures(customers, key, every_customer=every_customer)
    rows = {p["group"]: {"key": p["group"], "leads": p["leads"], "converted": p["converted"],
                         "revenue": str(p["revenue"] or 0), "won": 0, "won_value": "0",
                         "days_to_first_order": came_in.get(p["group"], (None, 0))[0],
                         "revenue_12m": str(came_in.get(p["group"], (None, 0))[1])}
            for p in people}  # fmt: skip
    for r in won.values(group=F(f"customer__{key}")).annotate(
        n=Count("pk", distinct=True), total=Sum("value", filter=Q(currency=base_currency()))
    ):
        if r["group"] in rows:
            rows[r["group"]].update(won=r["n"], won_value=str(r["total"] or 0))
    return list(rows.values())


def _attribution_by_pairs(
    pairs: list[tuple[int, Any]], customers: QuerySet[Any], won: QuerySet[Opportunity]
) -> list[dict[str, Any]]:
    """The same figures for groups a person may belong to several of (the forms they answered, the
    campaigns they came from): each person counts once per group, their revenue too."""
    from cartera.customers.models import Stage

    ids = {pk for pk, _group in pairs}
    bought = set(
        customers.filter(pk__in=ids, stage__in=[Stage.CUSTOMER, Stage.FORMER]).values_list("pk", flat=True)
    )
    revenue = dict(customers.filter(pk__in=ids, metrics__revenue__gt=0).values_list("pk", "metrics__revenue"))
    in_base = Q(currency=base_currency())
    deals = {r["customer"]: (r["n"], r["t"]) for r in won.filter(customer_id__in=ids).values("customer").annotate(n=Count("pk"), t=Sum("value", filter=in_base))}  # fmt: skip
    came_in = _came_in_figures(customers.filter(pk__in=ids), "pk")
    rows: dict[Any, AttributionRow] = {}
    waited: dict[Any, list[float]] = defaultdict(list)
    for pk, group in pairs:
        row = rows.setdefault(group, AttributionRow(str(group)))
        row.leads += 1
        row.converted += pk in bought
        row.revenue += revenue.get(pk) or Decimal("0")
        n, total = deals.get(pk, (0, None))
        row.won += n
        row.won_value += total or Decimal("0")
        days, first_year = came_in.get(pk, (None, Decimal("0")))
        row.revenue_12m += first_year
        if days is not None:
            waited[group].append(days)
    biggest = sorted(rows.items(), key=lambda item: (-item[1].revenue, -item[1].leads, item[1].label))
    return [
        {"key": group, "leads": row.leads, "converted": row.converted, "revenue": str(row.revenue),
         "won": row.won, "won_value": str(row.won_value), "revenue_12m": str(row.revenue_12m),
         "days_to_first_order": statistics.median(waited[group]) if waited.get(group) else None}
        for group, row in biggest[:ATTRIBUTION_GROUPS]
    ]  # fmt: skip


def attribution_figures(*, user: Any) -> dict[str, Any]:
    """The counting behind :func:`source_attribution`, JSON-ready: by source, by lead form (its id) and
    by UTM campaign, over the people ``user`` may see. The costly part with a big file (it groups every
    customer), so for a big file the worker counts it (``services.attribution_current``)."""
    from cartera.customers.models import Customer

    customers = _seen(Customer.objects.all(), user)
    won = _seen(Opportunity.objects.filter(status=OpportunityStatus.WON, customer__isnull=False), user)
    # No ordering: the model's own (by date) would make every answer distinct.
    submissions = _seen(LeadSubmission.objects.all(), user).filter(customer__in=customers).order_by()
    by_form = list(submissions.values_list("customer_id", "form_id").distinct())
    first_touch: dict[int, str] = {}
    last_touch: dict[int, str] = {}
    touches = submissions.exclude(utm_campaign="").order_by("created_at", "pk")
    for person, campaign in touches.values_list("customer_id", "utm_campaign"):
        first_touch.setdefault(person, campaign)
        last_touch[person] = campaign
    return {
        "by_source": _attribution_rows(customers, "source", won, every_customer=_sees_every(user, Customer)),
        "by_form": _attribution_by_pairs(by_form, customers, won),
        "by_first_campaign": _attribution_by_pairs(list(first_touch.items()), customers, won),
        "by_last_campaign": _attribution_by_pairs(list(last_touch.items()), customers, won),
        "won_other_currencies": [{**row, "value": str(row["value"])} for row in left_out_currencies(won)],
    }


def attribution_stamp() -> list[Any]:
    """What :func:`attribution_figures` depends on, cheaply: the last refresh of the analysis (the
    revenue), the newest customer and the last move of an opportunity (a win is one). Edits of older
    customers (their stage, their source) are not in it: stored figures are counted again at least
    every hour (``REPORT_FIGURES_MAX_AGE``)."""
    from cartera.customers.models import Customer
    from cartera.insights.models import RefreshRun

    refreshed = RefreshRun.objects.filter(status=RefreshRun.Status.DONE).aggregate(last=Max("id"))["last"]
    newest = Customer.objects.aggregate(last=Max("id"))["last"]
    last_move = OpportunityStageChange.objects.aggregate(last=Max("id"))["last"]
    return [refreshed or 0, newest or 0, last_move or 0]


def source_attribution(*, user: Any, figures: dict[str, Any] | None = None) -> Attribution:
    """Revenue, won opportunities and conversion by the source people came from, by the lead form
    they answered and by its UTM campaign. Amounts add up the base currency only: the orders and won
    opportunities in other currencies are left out of the sums (the won ones still count as won, and
    ``won_other_currencies`` says how many and how much). Revenue is as of the last refresh of the
    analysis (each person's ``CustomerMetrics.revenue``). ``figures`` is what the worker counted
    (:func:`attribution_figures`), else they are counted here."""
    from cartera.customers.models import Source

    if figures is None:
        figures = attribution_figures(user=user)
    source_labels: dict[Any, str] = {value: str(label) for value, label in Source.choices}
    forms = {f.pk: f.name for f in restrict(LeadForm.objects.all(), user)}

    def rows(counted: list[dict[str, Any]], labels: dict[Any, str]) -> list[AttributionRow]:
        made = [
            AttributionRow(
                labels.get(row["key"], str(row["key"] or "—")),
                leads=row["leads"],
                converted=row["converted"],
                revenue=Decimal(row["revenue"]),
                won=row["won"],
                won_value=Decimal(row["won_value"]),
                days_to_first_order=row.get("days_to_first_order"),
                revenue_12m=Decimal(row.get("revenue_12m", "0")),
            )
            for row in counted
        ]
        return sorted(made, key=lambda row: (-row.revenue, -row.leads, row.label))

    return Attribution(
        by_source=rows(figures.get("by_source", []), source_labels),
        by_form=rows(figures.get("by_form", []), forms),
        by_first_campaign=rows(figures.get("by_first_campaign", []), {}),
        by_last_campaign=rows(figures.get("by_last_campaign", []), {}),
        won_other_currencies=[
            {**row, "value": Decimal(row["value"])} for row in figures.get("won_other_currencies", [])
        ],
    )


# --- field sheets ---------------------------------------------------------------------------------

#: The most people a printed sheet is pre-filled with (a day's visits or calls, not a mailing).
SHEET_MAX_PEOPLE = 200


def sheet_people(*, user: Any, call_list: CallList | None = None, members: Any = None) -> list[Any]:
    """The people a prospecting sheet is pre-filled with: a call list's entries in their order, or a
    segment's members (``members``, already scoped) by name; at most :data:`SHEET_MAX_PEOPLE`."""
    from cartera.customers.models import Customer

    if call_list is not None:
        ids = list(call_list.entries.order_by("position", "id").values_list("customer_id", flat=True))
        ids = ids[:SHEET_MAX_PEOPLE]
        found = restrict(Customer.objects.select_related("company"), user).in_bulk(ids)
        return [found[pk] for pk in ids if pk in found]
    if members is not None:
        return list(
            members.select_related("company").order_by("last_name", "first_name", "pk")[:SHEET_MAX_PEOPLE]
        )
    return []


def sectors_in_use(*, user: Any, limit: int = 60) -> list[str]:
    """The sectors most used among the customers the user sees (the template's non-binding list)."""
    from cartera.customers.models import Customer

    rows = (
        restrict(Customer.objects.all(), user)
        .exclude(sector="")
        .values("sector")
        .annotate(n=Count("id"))
        .order_by("-n", "sector")[:limit]
    )
    return [row["sector"] for row in rows]


def report_is_shared(user: Any) -> bool:
    """Whether ``user`` sees every opportunity and every move: then the bottleneck report they read is
    everyone's, and the worker may count it once for all of them."""
    return _sees_every(user, Opportunity, OpportunityStageChange)


def attribution_is_shared(user: Any) -> bool:
    """Whether ``user`` sees every customer, won opportunity and lead form answer (see
    :func:`report_is_shared`)."""
    from cartera.customers.models import Customer

    return _sees_every(user, Customer, Opportunity, LeadSubmission, LeadForm)
