"""Writes of saved segments: create, change, freeze, delete, and the bulk actions on their members."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from cartera.accounts.models import User
from cartera.activity.services import task_create, tasks_assigned_notify
from cartera.core.concurrency import check_version
from cartera.core.scoping import restrict
from cartera.customers.models import Customer, Tag
from cartera.segments.models import Segment, SegmentMember
from cartera.segments.rules import definition_clean
from cartera.segments.selectors.segments import definition_members
from cartera.segments.services.common import check_name, require_row

SEGMENT_FIELDS = ("name", "description", "definition", "kind")
BULK_TASK_LIMIT = 2_000


def segment_create(*, actor: User, fields: Mapping[str, Any]) -> Segment:
    """Save a segment (dynamic; freeze it with :func:`segment_freeze`)."""
    unknown = set(fields) - set(SEGMENT_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    segment = Segment(
        owner=actor,
        name=check_name(fields.get("name")),
        description=str(fields.get("description") or "").strip(),
        definition=definition_clean(fields.get("definition")),
    )
    with transaction.atomic():
        segment.save()
        if fields.get("kind") == Segment.Kind.STATIC:
            segment_freeze(actor=actor, segment=segment)
    return segment


@transaction.atomic
def segment_update(
    *, actor: User, segment: Segment, fields: Mapping[str, Any], expected_version: str | None = None
) -> Segment:
    """Rename a segment or change its conditions (a frozen list keeps its members).

    Refused (``StaleEditError``) when ``expected_version``, the version the editor read, is older than
    the stored one: a colleague's newer conditions are never overwritten unseen.
    """
    require_row(actor, segment)
    check_version(segment, expected_version)
    if "name" in fields:
        segment.name = check_name(fields["name"])
    if "description" in fields:
        segment.description = str(fields["description"] or "").strip()
    if "definition" in fields:
        segment.definition = definition_clean(fields["definition"])
    segment.save()
    return segment


@transaction.atomic
def segment_freeze(*, actor: User, segment: Segment) -> int:
    """Turn the segment into a static list of the customers it matches now; returns their number."""
    require_row(actor, segment)
    SegmentMember.objects.filter(segment=segment).delete()
    members = definition_members(user=actor, definition=segment.definition)
    ids = list(members.values_list("pk", flat=True))
    SegmentMember.objects.bulk_create(
        [SegmentMember(segment=segment, customer_id=pk) for pk in ids], batch_size=5_000
    )
    segment.kind = Segment.Kind.STATIC
    segment.frozen_at = timezone.now()
    segment.save(update_fields=["kind", "frozen_at", "updated_at"])
    return len(ids)


def segment_delete(*, actor: User, segment: Segment) -> None:
    """Delete a segment (its author, a manager or an admin); its customers are not touched."""
    require_row(actor, segment, "delete")
    segment.delete()


def _changeable(actor: User, members: QuerySet[Customer]) -> QuerySet[Customer]:
    return restrict(Customer.objects.all(), actor, "change").filter(pk__in=members.values("pk"))


@transaction.atomic
def segment_assign_owner(*, actor: User, members: QuerySet[Customer], owner: User) -> int:
    """Give every member to ``owner`` (roles that may reassign customers only)."""
    if not actor.has_perm("customers.reassign_customer"):
        raise PermissionDenied(_("You cannot give customers to another member of the team."))
    return _changeable(actor, members).update(owner=owner, updated_at=timezone.now())


def segment_stage_change(*, actor: User, members: QuerySet[Customer], stage: str, reason: str = "") -> int:
    """Move every member the actor may change to ``stage``, each with its stage-history line."""
    from cartera.customers.services import customers_stage_change_bulk

    return customers_stage_change_bulk(actor=actor, customers=members, stage=stage, reason=reason)


@transaction.atomic
def segment_tag(*, actor: User, members: QuerySet[Customer], tag_name: str, remove: bool = False) -> int:
    """Add (or remove) a tag on every member the actor may change; returns how many were touched."""
    from cartera.customers.services import tags_get_or_create

    name = tag_name.strip()
    if not name:
        raise ValidationError({"tag": _("Name the tag.")})
    through = Customer.tags.through
    targets = _changeable(actor, members)
    if remove:
        tag = Tag.objects.filter(name__iexact=name).first()
        if tag is None:
            return 0
        deleted, _rows = through.objects.filter(tag=tag, customer_id__in=targets.values("pk")).delete()
        return deleted
    (tag,) = tags_get_or_create(names=[name])
    ids = list(targets.exclude(tags=tag).values_list("pk", flat=True))
    through.objects.bulk_create([through(customer_id=pk, tag_id=tag.pk) for pk in ids], batch_size=5_000)
    Customer.objects.filter(pk__in=ids).update(updated_at=timezone.now())
    return len(ids)


@transaction.atomic
def segment_tasks_create(
    *,
    actor: User,
    members: QuerySet[Customer],
    title: str,
    due_at: dt.datetime,
    notes: str = "",
    assignee: User | None = None,
) -> tuple[int, int]:
    """One task per member (a call list), at most :data:`BULK_TASK_LIMIT`: for ``assignee`` when
    given, else for each customer's owner. A member with no (active) owner gets a task for the
    actor, and the second number says how many did, so the caller can say so: nothing goes to the
    person who clicked without them being told. Returns (tasks created, of them for the actor
    because the customer had no owner)."""
    title = title.strip()
    if not title:
        raise ValidationError({"title": _("Give the tasks a title.")})
    count = members.count()
    if count > BULK_TASK_LIMIT:
        raise ValidationError(
            _("A segment of %(n)d customers is too large for one task each (at most %(max)d).")
            % {"n": count, "max": BULK_TASK_LIMIT}
        )
    # One User per owner (its permission cache is then filled once, not once per customer).
    owners: dict[int, User] = {}
    tasks = []
    unowned = 0
    for customer in members.order_by("pk"):
        to = assignee
        if to is None and customer.owner_id is not None:
            if customer.owner_id not in owners:
                owners[customer.owner_id] = User.objects.get(pk=customer.owner_id)
            to = owners[customer.owner_id] if owners[customer.owner_id].is_active else None
        if to is None:
            unowned += 1
            to = actor
        fields = {"title": title, "customer": customer, "due_at": due_at, "notes": notes, "assignee": to}
        tasks.append(task_create(actor=actor, fields=fields, notify=False))
    tasks_assigned_notify(actor=actor, tasks=tasks)
    return count, unowned
