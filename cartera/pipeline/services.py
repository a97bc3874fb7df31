"""Writes of the pipeline: opportunities and their moves, pipelines, stages and lost reasons.

Every write checks the actor's rights on the row as it is at that moment (locked), so a stale page or
a colleague's id gets a refusal and leaves the database unchanged.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.text import capfirst, slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from numpy.typing import NDArray

from cartera.accounts.models import User
from cartera.activity.models import Direction, Interaction, InteractionKind
from cartera.activity.models import Outcome as InteractionOutcome
from cartera.activity.services import interaction_create, interaction_record_system, task_create
from cartera.core.bulk import write_rows
from cartera.core.concurrency import check_version
from cartera.core.contact import normalize_email, normalize_phone
from cartera.core.database import lock_until_commit
from cartera.core.dates import ORDER_DATES, DateRange, check_dates
from cartera.core.money import checked_currency
from cartera.core.scoping import can, restrict
from cartera.customers.fields import BY_NAME, custom_field_specs
from cartera.customers.models import Company, Customer, Source, Stage, StageVia
from cartera.customers.services import customer_create, customer_stage_change, customer_update
from cartera.messaging.services import MessageRefused, message_queue
from cartera.pipeline import selectors
from cartera.pipeline.models import (
    CallList,
    CallListEntry,
    CallOutcome,
    LeadAssignment,
    LeadForm,
    LeadSubmission,
    LostReason,
    Opportunity,
    OpportunityStageChange,
    OpportunityStatus,
    Pipeline,
    PipelineStage,
    ProspectFit,
    ReportFigures,
)
from cartera.privacy.models import ConsentChannel, ConsentPurpose, ConsentSource
from cartera.privacy.selectors import is_suppressed
from cartera.privacy.services import consent_record
from cartera.sales.models import Order, SalesChannel
from cartera.sales.services import order_create
from customerbase.errors import NotEnoughDataError
from customerbase.fit import ProspectFit as FitModel
from customerbase.fit import closest_group, top_share_labels

OPPORTUNITY_FIELDS = (
    "customer", "company", "title", "value", "currency", "expected_close_on", "probability", "owner",
    "source", "next_step", "next_step_on", "pipeline", "stage", "has_need", "has_budget",
    "has_decision_maker", "has_timing", "qualification_notes",
)  # fmt: skip
QUALIFICATION_FIELDS = ("has_need", "has_budget", "has_decision_maker", "has_timing", "qualification_notes")
CLOSE_DATES = DateRange(years_ahead=10)
MANAGE_PERMISSION = "pipeline.manage_pipeline"
STALE_OPPORTUNITY = gettext_noop(
    "Someone else saved this opportunity after you opened it, so your changes were not saved. Their "
    "values are shown next to yours; check them and save again."
)
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
    opportunity.currency = checked_currency(opportunity.currency)  # the same rule as an order's
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
def opportunity_update(
    *, actor: User, opportunity: Opportunity, fields: Mapping[str, Any], expected_version: str | None = None
) -> Opportunity:
    """Change an opportunity's fields; a new stage is a move (kept in its history).

    With ``expected_version`` (the :attr:`Opportunity.version` the editor read: the edit page's hidden
    field, an API client's ``If-Match``), the save is refused with :class:`StaleEditError` when the row
    has been saved since (a colleague's edit, a move on the board): the row is locked and compared in
    this transaction, so of two editors of the same version exactly one wins.
    """
    row = _locked(actor, opportunity)
    check_version(row, expected_version, _(STALE_OPPORTUNITY))
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
    # "Went on" counts moves to a later stage: a new order of the stages changes the stored history.
    report_figures_wanted()
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
    entry: CallListEntry | None = None,
) -> Interaction:
    """One tap after a call: the call goes on the customer's timeline with its outcome; "call back on"
    schedules the next call as a task for the caller; the caller's list entries for the customer are
    ticked and their open opportunities with the customer stop rotting (they were worked on).

    With ``entry`` (the API logs a call from one line of a list), that line is ticked too, whatever
    its list's date; only the person the list is for may log it (checked here, on the locked row)."""
    if entry is not None:
        locked = (
            restrict(CallListEntry.objects.select_for_update(of=("self",)), actor, "change")
            .select_related("call_list")
            .filter(pk=entry.pk)
            .first()
        )
        if locked is None or locked.call_list.assignee_id != actor.pk or locked.customer_id != customer.pk:
            raise PermissionDenied(_("Only the person the call list is for logs its calls."))
        entry = locked
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
    if entry is not None:
        CallListEntry.objects.filter(pk=entry.pk).update(outcome=outcome, called_at=now)
    restrict(
        Opportunity.objects.filter(customer=customer, status=OpportunityStatus.OPEN), actor, "change"
    ).update(last_activity_at=now)
    return interaction


_INTERACTION_OUTCOME: dict[str, str] = {
    CallOutcome.REACHED: InteractionOutcome.POSITIVE,
    CallOutcome.NO_ANSWER: InteractionOutcome.NO_ANSWER,
    CallOutcome.CALL_BACK: InteractionOutcome.FOLLOW_UP,
}


# --- lead capture ---------------------------------------------------------------------------------

LEAD_CONFIRM_SALT = "cartera.pipeline.lead-confirm"
LEAD_CONFIRM_MAX_AGE = 30 * 86_400
LEAD_PAGE_SALT = "cartera.pipeline.lead-page"
LEAD_FORM_SETTINGS = (
    "name", "active", "title", "intro", "thank_you", "language", "stage", "consent_text",
    "allowed_origins", "assignment", "assign_to",
)  # fmt: skip
# Customer fields a public form may ask (the rest are the team's business: owner, stage, consent...).
LEAD_CUSTOMER_FIELDS = (
    "title", "first_name", "last_name", "email", "phone", "company", "sector", "job_title", "profession",
    "birth_date", "address", "city", "region", "postal_code", "country", "notes",
)  # fmt: skip
# Always asked: a name for the record and an address to confirm consent and answer.
LEAD_ALWAYS = ("first_name", "email")
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
_ORIGIN = re.compile(r"^https?://[a-z0-9.-]+(:\d{1,5})?$", re.IGNORECASE)


def lead_field_choices() -> list[tuple[str, str]]:
    """What a lead form may ask: the customer fields above, then every custom field (``cf:<key>``)."""
    labels = {name: str(capfirst(BY_NAME[name].label)) for name in LEAD_CUSTOMER_FIELDS}
    return [(name, labels[name]) for name in LEAD_CUSTOMER_FIELDS] + [
        (spec.name, spec.label) for spec in custom_field_specs()
    ]


def _clean_lead_fields(chosen: list[str], required: list[str]) -> tuple[list[str], list[str]]:
    known = dict(lead_field_choices())
    unknown = [name for name in [*chosen, *required] if name not in known]
    if unknown:
        raise ValidationError({"fields": _("Unknown field: %(names)s.") % {"names": ", ".join(unknown)}})
    fields = [*LEAD_ALWAYS, *[name for name in known if name in chosen and name not in LEAD_ALWAYS]]
    needed = [*LEAD_ALWAYS, *[name for name in fields if name in required and name not in LEAD_ALWAYS]]
    specs = {spec.name: spec for spec in custom_field_specs()}
    if any(name in specs for name in fields):
        # The customer service refuses custom values without the required ones.
        missing = [spec.label for spec in specs.values() if spec.required and spec.name not in fields]
        if missing:
            raise ValidationError(
                {
                    "fields": _("Add the required custom fields too: %(names)s.")
                    % {"names": ", ".join(missing)}
                }
            )
        needed += [name for name in fields if name in specs and specs[name].required and name not in needed]
    return fields, needed


def _check_lead_owner(user: User | None) -> None:
    if user is None or not (user.is_active and user.has_perm("activity.change_task")):
        raise ValidationError({"assign_to": _("Choose an active member of the team who works on tasks.")})


@transaction.atomic
def lead_form_save(
    *,
    actor: User,
    lead_form: LeadForm | None,
    settings_values: Mapping[str, Any],
    fields: list[str],
    required: list[str],
    round_robin_users: list[User],
    expected_version: str | None = None,
) -> LeadForm:
    """Create (``lead_form=None``) or change a lead form. Managers only. A new consent text gets a new
    version, so the ledger tells which wording each person agreed to.

    Refused (``StaleEditError``) when ``expected_version``, the version the editor read, is older than
    the stored one (an API client's ``If-Match``)."""
    if not actor.has_perm(MANAGE_PERMISSION):
        raise PermissionDenied(_("Only managers build lead forms."))
    if lead_form is None:
        row = LeadForm(created_by=actor)
    else:
        found = (
            restrict(LeadForm.objects.select_for_update(), actor, "change").filter(pk=lead_form.pk).first()
        )
        if found is None:
            raise PermissionDenied(_("You cannot change this lead form."))
        check_version(found, expected_version)
        row = found
    unknown = set(settings_values) - set(LEAD_FORM_SETTINGS)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    old_text = row.consent_text
    for name, value in settings_values.items():
        setattr(row, name, value.strip() if isinstance(value, str) else value)
    if row.pk and row.consent_text != old_text:
        row.consent_version += 1
    row.fields, row.required_fields = _clean_lead_fields(fields, required)
    if row.stage not in (Stage.SUSPECT, Stage.PROSPECT):
        raise ValidationError({"stage": _("New leads enter as suspects or prospects.")})
    bad = [origin for origin in row.origin_list() if not _ORIGIN.match(origin)]
    if bad:
        raise ValidationError(
            {"allowed_origins": _("Write each website as https://name.example (no path): %(bad)s")
             % {"bad": ", ".join(bad)}}
        )  # fmt: skip
    people = [user for user in round_robin_users if user.is_active]
    if row.assignment == LeadAssignment.FIXED:
        _check_lead_owner(row.assign_to)
    else:
        if not people:
            raise ValidationError({"round_robin_users": _("Choose the people who take turns.")})
        for user in people:
            _check_lead_owner(user)
    if not row.slug:
        base = slugify(row.name)[:40] or "form"
        row.slug = f"{base}-{secrets.token_hex(3)}"
    row.full_clean(exclude=["round_robin_users"])
    row.save()
    row.round_robin_users.set(people)
    return row


def _next_owner(lead_form: LeadForm) -> User:
    """Who gets the next new lead: the fixed person, or the next in turn (the form row is locked, so
    two answers at once go to two people)."""
    row = LeadForm.objects.select_for_update().get(pk=lead_form.pk)
    if row.assignment == LeadAssignment.FIXED:
        owner = row.assign_to
    else:
        people = list(row.round_robin_users.filter(is_active=True).order_by("id"))
        owner = next((u for u in people if row.last_assigned_id and u.pk > row.last_assigned_id), None)
        owner = owner or (people[0] if people else None)
        if owner is not None:
            LeadForm.objects.filter(pk=row.pk).update(last_assigned=owner)
    if owner is None or not owner.is_active:
        owner = row.created_by
    if owner is None:
        raise ValidationError(_("This form is not accepting answers."))
    return owner


def _existing_customer(email: str | None, phone: str) -> Customer | None:
    """The customer this answer is about, matched by e-mail, else by phone (both normalised)."""
    if email:
        found = Customer.objects.select_for_update().filter(email=email).first()
        if found is not None:
            return found
    if phone:
        return Customer.objects.select_for_update().filter(phone=phone).order_by("id").first()
    return None


def _fill_blanks(customer: Customer, answers: Mapping[str, Any]) -> dict[str, Any]:
    """What the answer adds to an existing customer: only what is empty there. A stranger typing
    someone's e-mail address never overwrites what the team knows about them."""
    fields: dict[str, Any] = {}
    for name, value in answers.items():
        if name == "custom_fields":
            stored = dict(customer.custom_fields or {})
            added = {key: v for key, v in value.items() if v not in (None, "") and key not in stored}
            if added:
                fields["custom_fields"] = {**stored, **added}
        elif name == "company_name":
            if value and customer.company_id is None:
                fields["company_name"] = value
        elif value not in (None, "") and getattr(customer, name) in (None, ""):
            fields[name] = value
    return fields


def lead_page_token(lead_form: LeadForm) -> str:
    """The signed stamp a served form carries back: an answer without one (or one older than six
    hours) was not sent from the page. It stands in for the CSRF cookie an iframe does not get."""
    return signing.TimestampSigner(salt=LEAD_PAGE_SALT).sign(str(lead_form.pk))


def lead_page_token_ok(lead_form: LeadForm, token: str) -> bool:
    """Whether ``token`` was made by :func:`lead_page_token` for this form in the last six hours."""
    try:
        return signing.TimestampSigner(salt=LEAD_PAGE_SALT).unsign(token, max_age=6 * 3600) == str(
            lead_form.pk
        )
    except signing.BadSignature:
        return False


def lead_confirm_token(submission: LeadSubmission) -> str:
    """The signed token of the double opt-in link (HMAC with the secret key; it expires)."""
    return signing.TimestampSigner(salt=LEAD_CONFIRM_SALT, algorithm="sha256").sign_object(submission.pk)


def lead_for_token(token: str) -> LeadSubmission | None:
    """The answer a confirmation link was sent for; ``None`` for a forged or expired link."""
    try:
        pk = signing.TimestampSigner(salt=LEAD_CONFIRM_SALT, algorithm="sha256").unsign_object(
            token, max_age=LEAD_CONFIRM_MAX_AGE
        )
    except signing.BadSignature:
        return None
    return LeadSubmission.objects.select_related("form", "customer").filter(pk=pk).first()


def _queue_confirmation(submission: LeadSubmission, email: str) -> None:
    link = settings.CARTERA_PUBLIC_URL.rstrip("/") + reverse(
        "pipeline:lead_confirm", args=[lead_confirm_token(submission)]
    )
    with translation.override(submission.language):
        subject = _("Confirm that you want our e-mails")
        text = "\n\n".join(
            [
                _("You asked to receive e-mails from us on “%(form)s”, agreeing to:") % {
                    "form": submission.form.title},
                f"“{submission.consent_text}”",
                _("Confirm it here (the link works for 30 days): %(link)s") % {"link": link},
                _("If it was not you, ignore this message: we will not send you any marketing."),
            ]
        )  # fmt: skip
    try:
        message_queue(
            purpose="opt_in",
            subject=subject,
            text=text,
            language=submission.language,
            to_customer=submission.customer,
            to_address=email,
            reference=f"pipeline.leadsubmission:{submission.pk}",
        )
    except MessageRefused:
        # A suppressed address (erased, bounced, objected) gets nothing; the page says the same anyway.
        return
    LeadSubmission.objects.filter(pk=submission.pk).update(confirmation_sent_at=timezone.now())


@transaction.atomic
def lead_submit(
    *,
    lead_form: LeadForm,
    answers: Mapping[str, Any],
    consent: bool,
    language: str,
    page_url: str = "",
    utm: Mapping[str, str] | None = None,
) -> LeadSubmission:
    """Take one answer to a public lead form.

    A person already in the file (same e-mail, else same phone) is updated (only their empty fields)
    and keeps their owner: never a second record. Someone new becomes a suspect or prospect from the
    web, owned by the form's rule. Either way the answer is kept with its page and UTM parameters, the
    owner gets a task (and the e-mail of the ``tasks_assigned`` hook), and a ticked consent box sends
    the double opt-in e-mail: the ledger records the grant only when the person confirms. The writes
    are made in the name of the manager who built the form.
    """
    actor = lead_form.created_by
    if not lead_form.active or actor is None or not actor.is_active:
        raise ValidationError(_("This form is not accepting answers."))
    values = dict(answers)
    email = normalize_email(values.get("email"))
    phone = normalize_phone(values.get("phone")) if values.get("phone") else ""
    values["email"], values["phone"] = email, phone
    values = {k: v for k, v in values.items() if not (k == "phone" and not v)}
    # The same person sending the form twice at once (a double click, two tabs): the second answer
    # waits for the first to commit, then finds the lead it created, instead of creating a second one
    # (same phone) or failing on the unique e-mail (an error page for the visitor).
    lock_until_commit(
        *(f"pipeline.lead:{kind}:{value}" for kind, value in (("email", email), ("phone", phone)) if value)
    )
    existing = _existing_customer(email, phone)
    now = timezone.now()
    with translation.override(settings.LANGUAGE_CODE):
        if existing is not None:
            customer = existing
            blanks = _fill_blanks(customer, values)
            if blanks:
                customer = customer_update(actor=actor, customer=customer, fields=blanks, via=StageVia.LEAD)
            owner = customer.owner
            if owner is None or not owner.is_active:
                owner = _next_owner(lead_form)
                customer = customer_update(actor=actor, customer=customer, fields={"owner": owner})
            title = _("%(name)s answered the form “%(form)s” again")
        else:
            owner = _next_owner(lead_form)
            fields = {k: v for k, v in values.items() if v not in (None, "", {})}
            customer = customer_create(
                actor=actor,
                fields={**fields, "stage": lead_form.stage, "source": Source.WEB, "owner": owner},
            )
            title = _("New lead %(name)s from the form “%(form)s”")
        title = title % {"name": customer.full_name, "form": lead_form.name}
        utm_values = {key: str((utm or {}).get(key, ""))[:100] for key in UTM_KEYS}
        submission = LeadSubmission.objects.create(
            form=lead_form,
            customer=customer,
            created_new=existing is None,
            owner=owner,
            answers=_jsonable_answers(answers),
            language=language if language in ("es", "en") else lead_form.language,
            page_url=page_url[:500],
            consent_asked=bool(lead_form.consent_text),
            consent_ticked=consent and bool(lead_form.consent_text),
            consent_text=lead_form.consent_text if lead_form.consent_text else "",
            consent_version=lead_form.consent_version_label if lead_form.consent_text else "",
            created_at=now,
            **utm_values,
        )
        where = " · ".join(part for part in [page_url[:200], utm_values["utm_campaign"]] if part)
        interaction_record_system(
            customer=customer,
            kind=InteractionKind.NOTE,
            direction=Direction.INBOUND,
            subject=_("Answered the lead form “%(form)s”") % {"form": lead_form.name},
            body=where,
            occurred_at=now,
        )
        task_create(
            actor=actor,
            fields={"title": title[:200], "customer": customer, "assignee": owner, "due_at": now,
                    "notes": where},
        )  # fmt: skip
    if submission.consent_ticked and email:
        _queue_confirmation(submission, email)
    return submission


def _jsonable_answers(answers: Mapping[str, Any]) -> dict[str, Any]:
    """The answer as sent, JSON-ready (dates ISO, decimals as text), for the record."""
    out: dict[str, Any] = {}
    for key, value in answers.items():
        if isinstance(value, dict):
            out[key] = _jsonable_answers(value)
        elif isinstance(value, (dt.date, Decimal)):
            out[key] = str(value)
        else:
            out[key] = value
    return out


@transaction.atomic
def lead_consent_confirm(*, submission: LeadSubmission) -> bool:
    """The person clicked the link: record the marketing e-mail consent in the ledger, with the exact
    text and version they ticked. Once only; refused (``False``) for a person erased or suppressed."""
    row = LeadSubmission.objects.select_for_update().select_related("customer").get(pk=submission.pk)
    if row.confirmed_at is not None:
        return True
    customer = row.customer
    if not row.consent_ticked or not customer.email or is_suppressed(customer.email):
        return False
    consent_record(
        actor=None,
        customer=customer,
        channel=ConsentChannel.EMAIL,
        purpose=ConsentPurpose.MARKETING,
        granted=True,
        source=ConsentSource.FORM,
        wording=row.consent_text,
        version=row.consent_version,
        reference=f"pipeline.leadsubmission:{row.pk}",
    )
    row.confirmed_at = timezone.now()
    row.save(update_fields=["confirmed_at"])
    submission.confirmed_at = row.confirmed_at
    return True


# --- prospect fit score ---------------------------------------------------------------------------

#: The attributes the fit score compares, in this order (see :func:`fit_attributes`).
FIT_ATTRIBUTES = ("sector", "region", "size", "source", "age")
FIT_TOP_SHARE = 0.2
AGE_BANDS = ((25, "<25"), (35, "25-34"), (45, "35-44"), (55, "45-54"), (65, "55-64"), (200, "65+"))
_FIT_VALUES = ("sector", "region", "company__size", "source", "birth_date")


def _age_band(birth: dt.date | None, today: dt.date) -> str:
    if birth is None:
        return ""
    age = today.year - birth.year - int((today.month, today.day) < (birth.month, birth.day))
    return next(label for limit, label in AGE_BANDS if age < limit)


def fit_attributes(row: Mapping[str, Any], today: dt.date) -> list[str]:
    """One customer's attributes as the model reads them (lower-case, blank when unknown): the
    definition, row by row, that :func:`fit_table` applies to whole columns (a test compares them)."""
    return [
        _fit_text(row["sector"]),
        _fit_text(row["region"]),
        str(row["company__size"] or ""),
        str(row["source"] or ""),
        _age_band(row["birth_date"], today),
    ]


def _fit_text(value: Any) -> str:
    return " ".join(str(value or "").split()).lower()


def _each_distinct_once(values: Sequence[Any], clean: Callable[[Any], str]) -> NDArray[np.str_]:
    """``clean`` of every value, worked out once per distinct value and spread back over the column
    (a million customers have a few dozen sectors and some thousands of birth dates)."""
    codes: dict[Any, int] = {}
    index = np.fromiter((codes.setdefault(v, len(codes)) for v in values), dtype=np.intp, count=len(values))
    cleaned = np.array([clean(v) for v in codes] or [""], dtype=str)
    return cleaned[index]


def fit_table(columns: Mapping[str, Sequence[Any]], today: dt.date) -> NDArray[np.str_]:
    """Many customers' attributes as the model reads them, one row each, the columns of
    :data:`FIT_ATTRIBUTES`, from the raw columns ``sector``, ``region``, ``size`` (the company's),
    ``source`` and ``birth_date``; row for row what :func:`fit_attributes` gives."""
    return np.column_stack(
        [
            _each_distinct_once(columns["sector"], _fit_text),
            _each_distinct_once(columns["region"], _fit_text),
            _each_distinct_once(columns["size"], lambda size: str(size or "")),
            _each_distinct_once(columns["source"], lambda source: str(source or "")),
            _each_distinct_once(columns["birth_date"], lambda birth: _age_band(birth, today)),
        ]
    )


def _fit_columns(rows: Sequence[Sequence[Any]]) -> dict[str, Sequence[Any]]:
    """The raw columns of ``_FIT_VALUES`` rows (as read by ``values_list``), for :func:`fit_table`."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(_FIT_VALUES)
    return dict(zip(("sector", "region", "size", "source", "birth_date"), columns, strict=True))


def _paying_customers(
    today: dt.date,
) -> tuple[NDArray[np.int64], NDArray[np.str_], NDArray[np.float64]] | None:
    """Every paying customer's id, attributes (:func:`fit_table`) and revenue; ``None`` when there are
    none. Read as columns and encoded once per distinct value: a million paying customers cost a few
    seconds, not a Python list per customer (docs/benchmarks.md)."""
    buyers = list(
        Customer.objects.filter(metrics__revenue__gt=0).values_list("pk", *_FIT_VALUES, "metrics__revenue")
    )
    if not buyers:
        return None
    ids = np.fromiter((b[0] for b in buyers), dtype=np.int64, count=len(buyers))
    table = fit_table(_fit_columns([b[1:-1] for b in buyers]), today)
    revenue = np.fromiter((b[-1] for b in buyers), dtype=float, count=len(buyers))
    return ids, table, revenue


def _fit_on(table: NDArray[np.str_], revenue: NDArray[np.float64]) -> FitModel | None:
    labels = top_share_labels(revenue, share=FIT_TOP_SHARE)
    try:
        return FitModel().fit(table, labels, FIT_ATTRIBUTES)
    except NotEnoughDataError:
        return None


def fit_model(today: dt.date) -> FitModel | None:
    """The fit model learnt from the whole portfolio now: the paying customers, the top 20 % of
    revenue against the rest. ``None`` with too few paying customers to learn from (fewer than 5 in
    the top or in the rest). Used by the prospect scoring and by the dry run of a customer file."""
    paying = _paying_customers(today)
    return None if paying is None else _fit_on(paying[1], paying[2])


#: The most personas a prospect is compared with (a team defines 3 to 5; the first by name).
FIT_PERSONAS = 20


def persona_models(ids: NDArray[np.int64], table: NDArray[np.str_]) -> list[tuple[int, FitModel]]:
    """One model per persona, learnt as "its paying members against the other paying customers"
    (``ids`` and ``table``: :func:`_paying_customers`), each persona's members as its owner sees them
    (a rule "my customers" means the owner's). A persona with fewer than 5 paying members, or with
    every paying customer in it, teaches nothing and is left out."""
    from cartera.segments.models import Persona
    from cartera.segments.selectors import persona_members

    found = []
    personas = Persona.objects.filter(owner__isnull=False, owner__is_active=True).select_related("owner")
    for persona in personas.order_by("name", "pk")[:FIT_PERSONAS]:
        members = persona_members(user=persona.owner, persona=persona).filter(metrics__revenue__gt=0)
        member_ids = np.fromiter(
            members.values_list("pk", flat=True).iterator(chunk_size=10_000), dtype=np.int64
        )
        try:
            model = FitModel().fit(table, np.isin(ids, member_ids), FIT_ATTRIBUTES)
        except NotEnoughDataError:
            continue
        found.append((persona.pk, model))
    return found


#: Prospects scored and written per round: bounds the memory of a purchased list of millions.
FIT_BATCH = 50_000


@transaction.atomic
def prospect_fit_refresh(**_kwargs: Any) -> int:
    """Score every suspect and prospect against the customers who make the top 20 % of revenue, and
    name the persona whose paying members each looks most like (:func:`persona_models`).

    Run by the worker after each analysis refresh (``pipeline.tasks.score_prospects``). Too few
    paying customers to learn from (fewer than 5 in the top or in the rest) leaves no scores. Returns
    how many were scored. The scores are replaced in one transaction, written with the fastest bulk
    insert the database has (``core.bulk.write_rows``: ``COPY`` on PostgreSQL).
    """
    today = timezone.localdate()
    ProspectFit.objects.all().delete()
    paying = _paying_customers(today)
    model = None if paying is None else _fit_on(paying[1], paying[2])
    if paying is None or model is None:
        return 0
    personas = persona_models(paying[0], paying[1])
    persona_ids = [pk for pk, _model in personas]
    computed_at = connection.ops.adapt_datetimefield_value(timezone.now())
    prospects = Customer.objects.filter(stage__in=[Stage.SUSPECT, Stage.PROSPECT]).order_by("pk")
    rows = prospects.values_list("pk", *_FIT_VALUES).iterator(chunk_size=FIT_BATCH)
    written = 0
    with connection.cursor() as cursor:
        while batch := list(itertools.islice(rows, FIT_BATCH)):
            table = fit_table(_fit_columns([row[1:] for row in batch]), today)
            scores = np.rint(model.score(table)).astype(int).tolist()
            reasons = model.explain(table, top=3)
            closest = closest_group([m for _pk, m in personas], table).tolist()
            write_rows(
                cursor,
                ProspectFit._meta.db_table,
                ("customer_id", "score", "reasons", "persona_id", "computed_at"),
                [
                    (
                        row[0],
                        score,
                        json.dumps([[c.feature, c.value, round(c.weight, 3)] for c in why]),
                        persona_ids[near] if near >= 0 else None,
                        computed_at,
                    )
                    for row, score, why, near in zip(batch, scores, reasons, closest, strict=True)
                ],  # fmt: skip
            )
            written += len(batch)
    return written


# --- the report's figures, counted by the worker for big pipelines and big files -------------------

#: How old stored figures may be before a page asks for a new count even when nothing seems to have
#: changed: the bottleneck figures' stamp sees every change; the attribution's does not see edits of
#: older customers (their stage, their source).
REPORT_FIGURES_MAX_AGE = {"bottlenecks": dt.timedelta(days=1), "attribution": dt.timedelta(hours=1)}


@dataclass
class Counted:
    """Figures for a page: ``figures`` as :mod:`cartera.pipeline.selectors` counts them; ``as_of`` when
    the worker counted them (``None``: counted now, for this page), ``pending`` when newer changes are
    being counted."""

    figures: dict[str, Any]
    as_of: dt.datetime | None = None
    pending: bool = False


def _bottlenecks_key(pipeline_id: int, owner_id: int | None) -> str:
    return f"bottlenecks:{pipeline_id}:{owner_id or 'all'}"


def _count(key: str) -> tuple[dict[str, Any], list[Any]]:
    """Count the figures ``key`` names, for everyone who sees every row; with the stamp taken first (a
    change during the count leaves the figures stale, so they are counted once more)."""
    if key == "attribution":
        stamp = selectors.attribution_stamp()
        return selectors.attribution_figures(user=None), stamp
    _kind, pipeline_id, owner = key.split(":")
    pipeline = Pipeline.objects.get(pk=int(pipeline_id))
    stamp = selectors.report_history_stamp(pipeline)
    owner_id = None if owner == "all" else int(owner)
    return selectors.report_history(user=None, pipeline=pipeline, owner_id=owner_id), stamp


def _as_stored(stamp: list[Any]) -> list[Any]:
    """``stamp`` as the JSON column gives it back (dates as text), to compare with a stored one."""
    stored: list[Any] = json.loads(json.dumps(stamp))
    return stored


def _stored_or_counted(key: str, stamp: list[Any], *, first_count_here: bool = True) -> Counted:
    """The stored figures of ``key`` with their time, asking the worker for a new count when the data
    changed since (``stamp``). When there are none yet: counted now and stored (once, the first view),
    or, without ``first_count_here`` (too long for a page), asked of the worker, the page saying so."""
    row = ReportFigures.objects.filter(key=key).first()
    if not first_count_here and (row is None or row.counted_at is None):
        ReportFigures.objects.get_or_create(key=key)
        report_figures_schedule()
        return Counted({}, pending=True)
    if row is None or row.counted_at is None:
        started = timezone.now()
        figures, counted_stamp = _count(key)
        counted = {"figures": figures, "stamp": counted_stamp, "counted_at": started}
        ReportFigures.objects.update_or_create(
            key=key, defaults=counted, create_defaults={**counted, "wanted_at": started}
        )
        return Counted(figures)
    max_age = REPORT_FIGURES_MAX_AGE[key.split(":")[0]]
    pending = row.stale(_as_stored(stamp), max_age=max_age)
    if pending:
        report_figures_schedule()
    return Counted(row.figures, as_of=row.counted_at, pending=pending)


def report_history_current(*, user: Any, pipeline: Pipeline, owner_id: int | None = None) -> Counted:
    """The costly half of the bottleneck report (:func:`selectors.report_history`) for a page: counted
    here for a small pipeline (up to ``CARTERA_REPORT_INLINE_OPPORTUNITIES`` opportunities) or for a
    user who does not see every row; else what the worker counted, for everyone."""
    if not selectors.report_is_shared(user):
        return Counted(selectors.report_history(user=user, pipeline=pipeline, owner_id=owner_id))
    stamp = selectors.report_history_stamp(pipeline)
    if stamp[1] <= settings.CARTERA_REPORT_INLINE_OPPORTUNITIES:
        return Counted(selectors.report_history(user=user, pipeline=pipeline, owner_id=owner_id))
    return _stored_or_counted(_bottlenecks_key(pipeline.pk, owner_id), stamp)


def attribution_current(*, user: Any) -> Counted:
    """Where the revenue comes from (:func:`selectors.attribution_figures`) for a page: counted here
    for a file of up to ``CARTERA_REPORT_INLINE_CUSTOMERS`` people or for a user who does not see
    every row; else what the worker counted, for everyone."""
    if not selectors.attribution_is_shared(user):
        return Counted(selectors.attribution_figures(user=user))
    limit = settings.CARTERA_REPORT_INLINE_CUSTOMERS
    if Customer.objects.values("pk")[: limit + 1].count() <= limit:
        return Counted(selectors.attribution_figures(user=user))
    # The first count of a big file takes seconds (every customer, every order of their first year):
    # the worker's, never a page's.
    return _stored_or_counted("attribution", selectors.attribution_stamp(), first_count_here=False)


def report_figures_count_stale() -> list[str]:
    """Count again every stored figure whose data changed or that is too old; the keys counted. A
    pipeline deleted since is forgotten."""
    counted = []
    for row in ReportFigures.objects.order_by("pk"):
        kind = row.key.split(":")[0]
        if kind == "bottlenecks":
            pipeline = Pipeline.objects.filter(pk=int(row.key.split(":")[1])).first()
            if pipeline is None:
                row.delete()
                continue
            stamp = selectors.report_history_stamp(pipeline)
        else:
            stamp = selectors.attribution_stamp()
        if not row.stale(_as_stored(stamp), max_age=REPORT_FIGURES_MAX_AGE[kind]):
            continue
        started = timezone.now()
        figures, counted_stamp = _count(row.key)
        ReportFigures.objects.filter(pk=row.pk).update(
            figures=figures, stamp=counted_stamp, counted_at=started
        )
        counted.append(row.key)
    return counted


def report_figures_wanted(**_kwargs: Any) -> int:
    """Ask for every stored figure to be counted again (after a refresh, say); how many were marked."""
    marked = ReportFigures.objects.update(wanted_at=timezone.now())
    if marked:
        report_figures_schedule()
    return marked


def report_figures_schedule() -> None:
    """Queue :func:`cartera.pipeline.tasks.count_report_figures` once (every page view may ask)."""
    from cartera.pipeline.tasks import report_figures_schedule as schedule

    schedule()
