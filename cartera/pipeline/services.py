"""Writes of the pipeline: opportunities and their moves, pipelines, stages and lost reasons.

Every write checks the actor's rights on the row as it is at that moment (locked), so a stale page or
a colleague's id gets a refusal and leaves the database unchanged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cartera.accounts.models import User
from cartera.activity.models import Direction, Interaction, InteractionKind
from cartera.activity.models import Outcome as InteractionOutcome
from cartera.activity.services import interaction_create, task_create
from cartera.core.dates import ORDER_DATES, DateRange, check_dates
from cartera.core.scoping import can, restrict
from cartera.customers.models import Company, Customer, Stage, StageVia
from cartera.customers.services import customer_stage_change
from cartera.pipeline.models import (
    CallList,
    CallListEntry,
    CallOutcome,
    LostReason,
    Opportunity,
    OpportunityStageChange,
    OpportunityStatus,
    Pipeline,
    PipelineStage,
)
from cartera.sales.models import Order, SalesChannel
from cartera.sales.services import order_create

OPPORTUNITY_FIELDS = (
    "customer", "company", "title", "value", "currency", "expected_close_on", "probability", "owner",
    "source", "next_step", "next_step_on", "pipeline", "stage", "has_need", "has_budget",
    "has_decision_maker", "has_timing", "qualification_notes",
)  # fmt: skip
QUALIFICATION_FIELDS = ("has_need", "has_budget", "has_decision_maker", "has_timing", "qualification_notes")
CLOSE_DATES = DateRange(years_ahead=10)
MANAGE_PERMISSION = "pipeline.manage_pipeline"
REASSIGN_PERMISSION = "pipeline.reassign_opportunity"


def _require_manager(actor: User) -> None:
    if not actor.has_perm(MANAGE_PERMISSION):
        raise PermissionDenied(_("Only managers change pipelines, stages and lost reasons."))


def _locked(actor: User, opportunity: Opportunity) -> Opportunity:
    """The row as stored now, locked, if the actor may change it; otherwise a refusal."""
    row = (
        restrict(Opportunity.objects.select_for_update(of=("self",)), actor, "change")
        .select_related("stage", "pipeline")
        .filter(pk=opportunity.pk)
        .first()
    )
    if row is None:
        raise PermissionDenied(_("You cannot change this opportunity."))
    return row


def _check_owner(actor: User, current: User | None, new: User | None) -> None:
    """A sales rep's opportunities stay theirs; managers give them to anyone active."""
    if new == current or actor.has_perm(REASSIGN_PERMISSION):
        if new is not None and not new.is_active:
            raise ValidationError({"owner": _("Choose an active member of the team.")})
        return
    raise PermissionDenied(_("You cannot give an opportunity to another member of the team."))


def _check_links(actor: User, fields: Mapping[str, Any]) -> None:
    """The customer and company must be ones the actor can see."""
    customer = fields.get("customer")
    if customer is not None and not restrict(Customer.objects.filter(pk=customer.pk), actor).exists():
        raise ValidationError({"customer": _("Choose a customer you can see.")})
    company = fields.get("company")
    if company is not None and not restrict(Company.objects.filter(pk=company.pk), actor).exists():
        raise ValidationError({"company": _("Choose a company you can see.")})


def _apply(opportunity: Opportunity, fields: Mapping[str, Any]) -> None:
    unknown = set(fields) - set(OPPORTUNITY_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        setattr(opportunity, name, value.strip() if isinstance(value, str) else value)
    opportunity.currency = (opportunity.currency or "EUR").upper()
    if opportunity.customer_id is None and opportunity.company_id is None:
        raise ValidationError({"customer": _("Say who the opportunity is with: a customer or a company.")})
    if opportunity.stage.pipeline_id != opportunity.pipeline_id:
        raise ValidationError({"stage": _("That stage belongs to another pipeline.")})
    opportunity.full_clean(validate_unique=False, validate_constraints=False)
    check_dates(opportunity, {"expected_close_on": CLOSE_DATES, "next_step_on": CLOSE_DATES})


def default_pipeline() -> Pipeline:
    """The first active pipeline (the demo and a fresh install have one: "Ventas")."""
    pipeline = Pipeline.objects.filter(active=True).order_by("position", "id").first()
    if pipeline is None:
        raise ValidationError(_("There is no pipeline yet: a manager must create one first."))
    return pipeline


def _first_stage(pipeline: Pipeline) -> PipelineStage:
    stage = pipeline.stages.order_by("position", "id").first()
    if stage is None:
        raise ValidationError({"pipeline": _("This pipeline has no stages yet.")})
    return stage


def _record(
    opportunity: Opportunity,
    actor: User | None,
    from_stage: PipelineStage | None,
    to_stage: PipelineStage | None,
    outcome: str,
    since: dt.datetime | None,
    now: dt.datetime,
) -> OpportunityStageChange:
    seconds = int((now - since).total_seconds()) if since is not None and from_stage is not None else None
    return OpportunityStageChange.objects.create(
        opportunity=opportunity, from_stage=from_stage, to_stage=to_stage, outcome=outcome,
        changed_by=actor, changed_at=now, seconds_in_stage=seconds,
    )  # fmt: skip


@transaction.atomic
def opportunity_create(*, actor: User, fields: Mapping[str, Any]) -> Opportunity:
    """Open an opportunity; the actor owns it unless a manager names another owner. Without a stage it
    starts in the pipeline's first; without a probability it takes the stage's. A suspect it is opened
    for becomes a prospect (when the actor may change them), with its stage-history line."""
    if not can(actor, Opportunity, "add"):
        raise PermissionDenied(_("You cannot open opportunities."))
    values = dict(fields)
    pipeline = values.get("pipeline") or default_pipeline()
    values["pipeline"] = pipeline
    stage = values.get("stage") or _first_stage(pipeline)
    values["stage"] = stage
    if values.get("probability") is None:
        values["probability"] = stage.probability
    values.setdefault("owner", actor)
    _check_owner(actor, actor, values["owner"])
    _check_links(actor, values)
    now = timezone.now()
    opportunity = Opportunity(stage_entered_at=now, last_activity_at=now)
    _apply(opportunity, values)
    opportunity.save()
    _record(opportunity, actor, None, stage, OpportunityStatus.OPEN, None, now)
    if opportunity.customer is not None:
        _promote_suspect(actor, opportunity.customer, opportunity.title)
    return opportunity


def _promote_suspect(actor: User, customer: Customer, title: str) -> None:
    """Suspect → prospect once there is an opportunity (qualification), when the actor may change them."""
    if customer.stage != Stage.SUSPECT:
        return
    if restrict(Customer.objects.filter(pk=customer.pk), actor, "change").exists():
        customer_stage_change(
            actor=actor, customer=customer, stage=Stage.PROSPECT,
            reason=_("Opportunity opened: %(title)s") % {"title": title}, via=StageVia.PIPELINE,
        )  # fmt: skip


@transaction.atomic
def opportunity_update(*, actor: User, opportunity: Opportunity, fields: Mapping[str, Any]) -> Opportunity:
    """Change an opportunity's fields; a new stage is a move (kept in its history)."""
    row = _locked(actor, opportunity)
    values = dict(fields)
    new_stage = values.pop("stage", None)
    if "owner" in values:
        _check_owner(actor, row.owner, values["owner"])
    _check_links(actor, values)
    if "pipeline" in values and values["pipeline"] != row.pipeline and new_stage is None:
        new_stage = _first_stage(values["pipeline"])
    if new_stage is not None and new_stage.pk != row.stage_id:
        values["stage"] = new_stage
    moved_from = row.stage if "stage" in values else None
    _apply(row, values)
    now = timezone.now()
    row.last_activity_at = now
    if moved_from is not None:
        if row.status != OpportunityStatus.OPEN:
            raise ValidationError({"stage": _("A closed opportunity does not move; reopen it first.")})
        _record(row, actor, moved_from, row.stage, OpportunityStatus.OPEN, row.stage_entered_at, now)
        row.stage_entered_at = now
    row.save()
    return row


@transaction.atomic
def opportunity_move(*, actor: User, opportunity: Opportunity, stage: PipelineStage) -> Opportunity:
    """Move an open opportunity to another stage of its pipeline (the board's drag and "move to").

    Its probability becomes the new stage's default and the move is kept in its history; moving to
    the stage it is in changes nothing.
    """
    row = _locked(actor, opportunity)
    if row.status != OpportunityStatus.OPEN:
        raise ValidationError({"stage": _("A closed opportunity does not move; reopen it first.")})
    if stage.pipeline_id != row.pipeline_id:
        raise ValidationError({"stage": _("That stage belongs to another pipeline.")})
    if stage.pk == row.stage_id:
        return row
    now = timezone.now()
    _record(row, actor, row.stage, stage, OpportunityStatus.OPEN, row.stage_entered_at, now)
    row.stage, row.probability = stage, stage.probability
    row.stage_entered_at = row.last_activity_at = now
    row.save(update_fields=["stage", "probability", "stage_entered_at", "last_activity_at", "updated_at"])
    return row


@transaction.atomic
def opportunity_win(
    *,
    actor: User,
    opportunity: Opportunity,
    create_order: bool = False,
    ordered_on: dt.date | None = None,
    amount: Decimal | None = None,
) -> Opportunity:
    """Close an opportunity as won; with ``create_order`` its order is recorded in ``sales`` for the
    customer (their first order makes them a customer, with its stage-history line)."""
    row = _locked(actor, opportunity)
    if row.status != OpportunityStatus.OPEN:
        raise ValidationError(_("This opportunity is already closed."))
    now = timezone.now()
    if create_order:
        row.order = _order_for(actor, row, ordered_on or timezone.localdate(), amount)
    _record(row, actor, row.stage, None, OpportunityStatus.WON, row.stage_entered_at, now)
    row.status, row.probability, row.closed_at, row.last_activity_at = OpportunityStatus.WON, 100, now, now
    row.save(update_fields=["status", "probability", "closed_at", "last_activity_at", "order", "updated_at"])
    return row


def _order_for(actor: User, row: Opportunity, ordered_on: dt.date, amount: Decimal | None) -> Order:
    if row.customer is None:
        raise ValidationError(_("An order needs a customer: this opportunity is only with a company."))
    customer = restrict(Customer.objects.filter(pk=row.customer.pk), actor, "change").first()
    if customer is None or not can(actor, Order, "add"):
        raise PermissionDenied(_("You cannot record orders for this customer."))
    check_dates(Order(ordered_on=ordered_on), {"ordered_on": ORDER_DATES})
    return order_create(
        actor=actor, customer=customer,
        fields={"ordered_on": ordered_on, "amount": row.value if amount is None else amount,
                "currency": row.currency, "channel": SalesChannel.SALES_REP, "category": row.title[:100]},
    )  # fmt: skip


@transaction.atomic
def opportunity_lose(
    *, actor: User, opportunity: Opportunity, reason: LostReason, note: str = ""
) -> Opportunity:
    """Close an opportunity as lost, with a reason from the managed list (and an optional note)."""
    row = _locked(actor, opportunity)
    if row.status != OpportunityStatus.OPEN:
        raise ValidationError(_("This opportunity is already closed."))
    if not reason.active:
        raise ValidationError({"lost_reason": _("Choose one of the reasons in the list.")})
    now = timezone.now()
    _record(row, actor, row.stage, None, OpportunityStatus.LOST, row.stage_entered_at, now)
    row.status, row.closed_at, row.last_activity_at = OpportunityStatus.LOST, now, now
    row.lost_reason, row.lost_note, row.probability = reason, note.strip()[:300], 0
    row.save(update_fields=["status", "closed_at", "last_activity_at", "lost_reason", "lost_note",
                            "probability", "updated_at"])  # fmt: skip
    return row


@transaction.atomic
def opportunity_reopen(*, actor: User, opportunity: Opportunity) -> Opportunity:
    """Open a closed opportunity again, in the stage it was closed from (a mistaken click)."""
    row = _locked(actor, opportunity)
    if row.status == OpportunityStatus.OPEN:
        return row
    now = timezone.now()
    _record(row, actor, None, row.stage, OpportunityStatus.OPEN, None, now)
    row.status, row.closed_at, row.lost_reason, row.lost_note = OpportunityStatus.OPEN, None, None, ""
    row.probability, row.stage_entered_at, row.last_activity_at = row.stage.probability, now, now
    row.save()
    return row


@transaction.atomic
def opportunity_delete(*, actor: User, opportunity: Opportunity) -> None:
    """Delete an opportunity opened by mistake (its history goes with it)."""
    row = (
        restrict(Opportunity.objects.select_for_update(of=("self",)), actor, "delete")
        .filter(pk=opportunity.pk)
        .first()
    )
    if row is None:
        raise PermissionDenied(_("You cannot delete this opportunity."))
    row.delete()


# --- pipelines, stages, lost reasons (managers) -------------------------------------------------------


def _parse_stage_lines(text: str) -> list[tuple[str, int, int | None]]:
    """ "Name | probability | rotting days" per line (the last two optional)."""
    stages: list[tuple[str, int, int | None]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")]
        try:
            probability = int(parts[1].rstrip("%")) if len(parts) > 1 and parts[1] else 10
            rotting = int(parts[2]) if len(parts) > 2 and parts[2] else None
        except ValueError as exc:
            raise ValidationError(
                {"stages": _("Line %(n)d: write “Name | probability | days”, with numbers.") % {"n": number}}
            ) from exc
        if not parts[0] or not 0 <= probability <= 100 or (rotting is not None and not 0 < rotting < 3650):
            raise ValidationError(
                {
                    "stages": _("Line %(n)d: a name, a probability from 0 to 100 and days from 1.")
                    % {"n": number}
                }
            )
        stages.append((parts[0][:80], probability, rotting))
    names = [name.lower() for name, _p, _r in stages]
    if len(set(names)) != len(names):
        raise ValidationError({"stages": _("Two stages have the same name.")})
    if not stages:
        raise ValidationError({"stages": _("Give the pipeline at least one stage.")})
    return stages


@transaction.atomic
def pipeline_create(*, actor: User, name: str, stages: str) -> Pipeline:
    """Create a pipeline with its stages, one per line: "Name | probability | rotting days"."""
    _require_manager(actor)
    name = name.strip()
    if not name:
        raise ValidationError({"name": _("Name the pipeline.")})
    if Pipeline.objects.filter(name__iexact=name).exists():
        raise ValidationError({"name": _("Another pipeline has this name.")})
    parsed = _parse_stage_lines(stages)
    pipeline = Pipeline.objects.create(name=name[:100], position=Pipeline.objects.count())
    PipelineStage.objects.bulk_create(
        PipelineStage(pipeline=pipeline, name=n, probability=p, rotting_days=r, position=i)
        for i, (n, p, r) in enumerate(parsed)
    )
    return pipeline


@transaction.atomic
def pipeline_stages_update(*, actor: User, pipeline: Pipeline, stages: str) -> Pipeline:
    """Rewrite a pipeline's stages from lines: stages are matched by name (kept, reordered, renamed
    never), new names are added, and a missing name is removed only when no opportunity is in it."""
    _require_manager(actor)
    parsed = _parse_stage_lines(stages)
    existing = {s.name.lower(): s for s in pipeline.stages.all()}
    kept: set[int] = set()
    for position, (name, probability, rotting) in enumerate(parsed):
        stage = existing.get(name.lower()) or PipelineStage(pipeline=pipeline, name=name)
        stage.position, stage.probability, stage.rotting_days = position, probability, rotting
        stage.save()
        kept.add(stage.pk)
    for stage in existing.values():
        if stage.pk in kept:
            continue
        if Opportunity.objects.filter(stage=stage).exists():
            raise ValidationError(
                {"stages": _("“%(name)s” still has opportunities: move them before removing it.")
                 % {"name": stage.name}}
            )  # fmt: skip
        stage.delete()
    return pipeline


def pipeline_rename(*, actor: User, pipeline: Pipeline, name: str, active: bool) -> Pipeline:
    """Rename a pipeline or set it aside (inactive pipelines leave the board's menu)."""
    _require_manager(actor)
    name = name.strip()
    if not name:
        raise ValidationError({"name": _("Name the pipeline.")})
    if Pipeline.objects.filter(name__iexact=name).exclude(pk=pipeline.pk).exists():
        raise ValidationError({"name": _("Another pipeline has this name.")})
    pipeline.name, pipeline.active = name[:100], active
    pipeline.save()
    return pipeline


@transaction.atomic
def lost_reasons_update(*, actor: User, names: str) -> list[LostReason]:
    """The list of lost reasons, one per line; a reason left out is kept for history but retired."""
    _require_manager(actor)
    wanted = [line.strip()[:100] for line in names.splitlines() if line.strip()]
    if not wanted:
        raise ValidationError({"names": _("Keep at least one reason.")})
    by_name = {r.name.lower(): r for r in LostReason.objects.all()}
    result: list[LostReason] = []
    for position, name in enumerate(wanted):
        reason = by_name.pop(name.lower(), None) or LostReason(name=name)
        reason.position, reason.active = position, True
        reason.save()
        result.append(reason)
    LostReason.objects.filter(pk__in=[r.pk for r in by_name.values()]).update(active=False)
    return result


# The same as migration 0002 (a migration keeps its own frozen copy).
DEFAULT_STAGES = (
    ("Contacto inicial", 10, 14), ("Necesidad confirmada", 25, 14), ("Propuesta enviada", 50, 10),
    ("Negociación", 75, 7),
)  # fmt: skip
DEFAULT_LOST_REASONS = (
    "Precio",
    "Eligió a la competencia",
    "Sin presupuesto",
    "No es el momento",
    "Sin respuesta",
)


@transaction.atomic
def pipeline_defaults_ensure() -> Pipeline:
    """A first pipeline ("Ventas") and lost reasons when there are none (the demo and tests call it;
    a fresh database gets the same from migration 0002)."""
    pipeline = Pipeline.objects.order_by("position", "id").first()
    if pipeline is None:
        pipeline = Pipeline.objects.create(name="Ventas")
        PipelineStage.objects.bulk_create(
            PipelineStage(pipeline=pipeline, name=n, probability=p, rotting_days=r, position=i)
            for i, (n, p, r) in enumerate(DEFAULT_STAGES)
        )
    if not LostReason.objects.exists():
        LostReason.objects.bulk_create(
            LostReason(name=n, position=i) for i, n in enumerate(DEFAULT_LOST_REASONS)
        )
    return pipeline


# --- call lists ------------------------------------------------------------------------------------

CALL_LIST_LIMIT = 200


@transaction.atomic
def call_lists_from_segment(
    *,
    actor: User,
    members: Any,
    name: str,
    for_date: dt.date,
    assignee: User | None,
) -> list[CallList]:
    """Managers: a call list for ``for_date`` from a segment's members, either for one person
    (``assignee``) or, with ``assignee=None``, one list per owner with the customers they look after.
    At most :data:`CALL_LIST_LIMIT` people per list; members without an owner go to nobody."""
    if not actor.has_perm("pipeline.add_calllist"):
        raise PermissionDenied(_("Only managers build call lists for the team."))
    name = name.strip()
    if not name:
        raise ValidationError({"name": _("Name the list.")})
    if assignee is not None and not assignee.is_active:
        raise ValidationError({"assignee": _("Choose an active member of the team.")})
    rows = list(members.order_by("pk").values_list("pk", "owner_id"))
    by_person: dict[int, list[int]] = {}
    for pk, owner_id in rows:
        person = assignee.pk if assignee is not None else owner_id
        if person is not None:
            by_person.setdefault(person, []).append(pk)
    too_big = [ids for ids in by_person.values() if len(ids) > CALL_LIST_LIMIT]
    if too_big:
        raise ValidationError(
            _("A list of %(n)d people is too long for one day (at most %(max)d): narrow the segment.")
            % {"n": max(len(ids) for ids in too_big), "max": CALL_LIST_LIMIT}
        )
    people = {u.pk: u for u in User.objects.filter(pk__in=by_person, is_active=True)}
    lists: list[CallList] = []
    for person_id, ids in by_person.items():
        if person_id not in people:
            continue
        call_list = CallList.objects.create(
            name=name[:120], assignee=people[person_id], for_date=for_date, created_by=actor
        )
        CallListEntry.objects.bulk_create(
            CallListEntry(call_list=call_list, customer_id=pk, position=i) for i, pk in enumerate(ids)
        )
        lists.append(call_list)
    if not lists:
        raise ValidationError(_("Nobody to call: the segment is empty or its customers have no owner."))
    return lists


@transaction.atomic
def call_outcome_log(
    *,
    actor: User,
    customer: Customer,
    outcome: str,
    call_back_on: dt.date | None = None,
    note: str = "",
) -> Interaction:
    """One tap after a call: the call goes on the customer's timeline with its outcome; "call back on"
    schedules the next call as a task for the caller; the caller's list entries for the customer are
    ticked and their open opportunities with the customer stop rotting (they were worked on)."""
    if outcome not in CallOutcome.values:
        raise ValidationError({"outcome": _("Choose how the call went.")})
    if outcome == CallOutcome.CALL_BACK:
        if call_back_on is None:
            raise ValidationError({"call_back_on": _("Say when to call back.")})
        if call_back_on < timezone.localdate():
            raise ValidationError({"call_back_on": _("The next call cannot be in the past.")})
    labels = dict(CallOutcome.choices)
    interaction = interaction_create(
        actor=actor, customer=customer,
        fields={"kind": InteractionKind.CALL, "direction": Direction.OUTBOUND,
                "outcome": _INTERACTION_OUTCOME[outcome], "subject": str(labels[outcome]), "body": note.strip()},
    )  # fmt: skip
    if outcome == CallOutcome.CALL_BACK and call_back_on is not None:
        due = timezone.make_aware(dt.datetime.combine(call_back_on, dt.time(10, 0)))
        task_create(
            actor=actor,
            fields={"title": _("Call %(name)s back") % {"name": customer.full_name}, "customer": customer,
                    "due_at": due, "assignee": actor},
        )  # fmt: skip
    now = timezone.now()
    CallListEntry.objects.filter(
        call_list__assignee=actor,
        customer=customer,
        call_list__for_date__lte=timezone.localdate(),
        outcome="",
    ).update(outcome=outcome, called_at=now)
    restrict(
        Opportunity.objects.filter(customer=customer, status=OpportunityStatus.OPEN), actor, "change"
    ).update(last_activity_at=now)
    return interaction


_INTERACTION_OUTCOME: dict[str, str] = {
    CallOutcome.REACHED: InteractionOutcome.POSITIVE,
    CallOutcome.NO_ANSWER: InteractionOutcome.NO_ANSWER,
    CallOutcome.CALL_BACK: InteractionOutcome.FOLLOW_UP,
}
