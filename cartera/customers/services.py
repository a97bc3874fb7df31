"""Writes to the customer file. Views, the API, imports and the CLI all come through here."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Mapping
from itertools import chain, islice
from typing import Any

from django.apps import apps
from django.core import serializers
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, models, transaction
from django.db.models import CharField, Count, F, Func, QuerySet
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _

from cartera.accounts.models import User
from cartera.core import hooks
from cartera.core.bulk import fast_paths, lean_reads, write_rows
from cartera.core.concurrency import check_version
from cartera.core.contact import normalize_email, normalize_phone
from cartera.core.scoping import can, restrict
from cartera.customers.fields import custom_field_specs, field_names
from cartera.customers.matching import (
    pairs_by_name,
    pairs_by_name_fast,
    pairs_by_phone,
    pairs_by_phone_fast,
    people,
)
from cartera.customers.models import (
    Company,
    Customer,
    CustomerMerge,
    CustomField,
    CustomFieldType,
    DuplicateCandidate,
    Stage,
    StageChange,
    StageVia,
    Tag,
)
from cartera.customers.selectors import merge_scope

# What a person may set on a customer: from the one field table (customers/fields.py).
CUSTOMER_EDITABLE_FIELDS = tuple(name for name in field_names(editable=True) if name != "tags")


class DuplicateCustomerError(ValidationError):
    """The email belongs to another customer; carries that customer so the UI can link to it."""

    def __init__(self, existing: Customer) -> None:
        self.existing = existing
        link = format_html(
            '<a href="{}">{}</a>', reverse("customers:detail", args=[existing.pk]), existing.full_name
        )
        super().__init__(
            {
                "email": ValidationError(
                    format_html(_("This email already belongs to {}."), link), code="duplicate_email"
                )
            }
        )


def custom_fields_clean(
    values: Mapping[str, Any], *, actor: User | None = None, previous: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Check custom field values against their admin-defined types; returns JSON-ready values.

    ``values`` is the customer's whole set of custom values. With ``actor``, a value the actor may not
    edit (the field's "who may edit") must be the one in ``previous``, and its "required" rule is the
    editors' business, not theirs.
    """
    specs = {spec.key: spec for spec in custom_field_specs()}
    previous = previous or {}
    cleaned: dict[str, Any] = {}
    errors: list[str] = []
    for key, raw in values.items():
        spec = specs.get(key)
        if spec is None:
            errors.append(_("Unknown custom field “%(key)s”.") % {"key": key})
            continue
        try:
            value = spec.parse(raw)
        except (ValueError, TypeError, ArithmeticError):
            errors.append(_("“%(value)s” is not valid for %(label)s.") % {"value": raw, "label": spec.label})
            continue
        if value is not None:
            cleaned[key] = value
    for spec in specs.values():
        editable = actor is None or spec.definition.editable_for(actor)
        if not editable:
            if cleaned.get(spec.key) != previous.get(spec.key):
                errors.append(_("You may not change %(label)s.") % {"label": spec.label})
            continue
        if spec.required and spec.key not in cleaned:
            errors.append(_("%(label)s is required.") % {"label": spec.label})
    if errors:
        raise ValidationError({"custom_fields": errors})
    return cleaned


def _apply(customer: Customer, fields: Mapping[str, Any], actor: User | None = None) -> None:
    unknown = set(fields) - set(CUSTOMER_EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    errors: dict[str, Any] = {}
    for name, value in fields.items():
        try:
            if name == "email":
                value = normalize_email(value)
            elif name == "phone":
                value = normalize_phone(value)
            elif name == "custom_fields":
                value = custom_fields_clean(value or {}, actor=actor, previous=customer.custom_fields or {})
            elif isinstance(value, str):
                value = value.strip()
        except ValidationError as exc:
            errors[name] = exc.messages if name != "custom_fields" else exc.message_dict["custom_fields"]
            continue
        setattr(customer, name, value)
    if errors:
        raise ValidationError(errors)
    customer.set_search_keys()
    customer.full_clean(exclude=["tags", "email"], validate_unique=False, validate_constraints=False)
    if customer.email:
        # Services store emails lower-cased, so an exact match is the case-insensitive one.
        existing = (
            Customer.objects.filter(email=customer.email)
            .exclude(pk=customer.pk)
            .only("pk", "first_name", "last_name")
            .first()
        )
        if existing is not None:
            raise DuplicateCustomerError(existing)


def _resolve_company_name(actor: User, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Turn a typed ``company_name`` into the ``company`` it names (created when new)."""
    resolved = dict(fields)
    if "company_name" in resolved:
        resolved["company"] = company_get_or_create_by_name(
            actor=actor, name=resolved.pop("company_name") or ""
        )
    return resolved


def _check_owner_change(actor: User, customer: Customer, fields: Mapping[str, Any]) -> None:
    """Only roles that may reassign choose a customer's owner (or leave it without one).

    Everybody else keeps the owner as it is, and a customer they create is theirs: the same rule
    as the web form, where the owner field is read-only for them.
    """
    if "owner" not in fields or actor.has_perm("customers.reassign_customer"):
        return
    new_owner = fields["owner"]
    kept = customer.owner if customer.pk else actor
    if new_owner == kept:
        return
    if new_owner is None:
        raise PermissionDenied(_("You cannot leave a customer without an owner."))
    raise PermissionDenied(_("You cannot give a customer to another member of the team."))


def customer_snapshot(customer: Customer, names: Iterable[str] = CUSTOMER_EDITABLE_FIELDS) -> dict[str, Any]:
    """The customer's editable fields as JSON-ready values (ids for rows, ISO dates), for the audit log."""
    values: dict[str, Any] = {}
    for name in names:
        value = getattr(customer, f"{name}_id") if name in ("company", "owner") else getattr(customer, name)
        if isinstance(value, datetime.date):
            value = value.isoformat()
        values[name] = value
    return values


def _fire_changed(actor: User, customer: Customer, before: Mapping[str, Any]) -> None:
    """Tell the apps above (privacy: audit log, consent ledger) which fields changed, old and new."""
    after = customer_snapshot(customer)
    changed = [name for name in after if before.get(name) != after[name]]
    if changed:
        hooks.fire(
            "customer_changed",
            actor=actor,
            customer=customer,
            before={name: before[name] for name in changed if name in before},
            after={name: after[name] for name in changed},
        )


@transaction.atomic
def customer_create(*, actor: User, fields: Mapping[str, Any], tags: Iterable[Tag] = ()) -> Customer:
    """Create a customer; the actor owns it unless another owner is given (and allowed).

    ``fields`` may name the company by ``company_name`` instead of ``company``; a new name creates
    the company, in the same transaction.
    """
    fields = _resolve_company_name(actor, fields)
    fields.setdefault("owner", actor)
    customer = Customer()
    _check_owner_change(actor, customer, fields)
    _apply(customer, fields, actor)
    customer.save()
    tag_list = list(tags)
    if tag_list:
        customer.tags.set(tag_list)
    _fire_changed(actor, customer, {})
    return customer


@transaction.atomic
def customer_update(
    *,
    actor: User,
    customer: Customer,
    fields: Mapping[str, Any],
    tags: Iterable[Tag] | None = None,
    expected_version: str | None = None,
    via: StageVia = StageVia.FORM,
    stage_reason: str = "",
) -> Customer:
    """Change a customer's fields (and tags when given); ``company_name`` works as in creation.

    With ``expected_version`` (the :attr:`Customer.version` the editor read), the save is refused with
    :class:`StaleEditError` when the row has been saved since: the row is locked and compared in the
    same transaction, so of two editors of the same version exactly one wins. A change of stage is
    written to the stage history with ``via`` (the edit form, the API) and ``stage_reason``.
    """
    check_version(
        customer,
        expected_version,
        _(
            "Someone else saved this customer after you opened it, so your changes were not "
            "saved. Their values are shown next to yours; check them and save again."
        ),
    )
    fields = _resolve_company_name(actor, fields)
    _check_owner_change(actor, customer, fields)
    before = customer_snapshot(customer)
    _apply(customer, fields, actor)
    customer.save()
    if before["stage"] != customer.stage:
        _stage_history(actor, customer.pk, before["stage"], customer.stage, stage_reason, via)
    if tags is not None:
        customer.tags.set(list(tags))
    _fire_changed(actor, customer, before)
    return customer


def customer_viewed(*, actor: User, customer: Customer, where: str) -> None:
    """Write in the audit log that ``actor`` looked at the customer's personal data (``where``: which
    page or API operation). One line per view, written by the privacy app through the hook."""
    _fire_audited(actor, "viewed", customer, {"where": where})


def _fire_audited(actor: User, action: str, customer: Customer, detail: dict[str, Any]) -> None:
    """One audit-log line about ``customer`` (the privacy app answers the hook)."""
    hooks.fire(
        "audited",
        actor=actor,
        action=action,
        target_type="customers.customer",
        target_id=customer.pk,
        label=customer.full_name,
        detail=detail,
    )


@transaction.atomic
def customer_delete(*, actor: User, customer: Customer) -> None:
    """Delete a customer with their interactions, orders and tasks."""
    _fire_audited(actor, "deleted", customer, {})
    customer.delete()


def customer_mark_buyer(*, actor: User | None, customer: Customer) -> None:
    """A first purchase makes a suspect, prospect or former customer a customer (with its history line)."""
    if customer.stage != Stage.CUSTOMER:
        previous = customer.stage
        Customer.objects.filter(pk=customer.pk).update(stage=Stage.CUSTOMER)
        customer.stage = Stage.CUSTOMER
        _stage_history(actor, customer.pk, previous, Stage.CUSTOMER, "", StageVia.FIRST_ORDER)


def customers_mark_buyers(*, actor: User | None, customer_ids: Iterable[int], via: StageVia) -> int:
    """Make every customer in ``customer_ids`` who is not one yet a customer (orders brought in by an
    import), each with its stage-history line; returns how many moved. The caller has checked the rights
    (the import checks each row it writes)."""
    moving = list(
        Customer.objects.filter(id__any_of=list(customer_ids))
        .exclude(stage=Stage.CUSTOMER)
        .values_list("id", "stage")
    )
    if not moving:
        return 0
    Customer.objects.filter(id__any_of=[pk for pk, _stage in moving]).update(stage=Stage.CUSTOMER)
    stage_changes_record(actor=actor, changes=[(pk, old, Stage.CUSTOMER) for pk, old in moving], via=via)
    return len(moving)


def _stage_history(
    actor: User | None, customer_id: int, from_stage: str, to_stage: str, reason: str, via: str
) -> StageChange:
    return StageChange.objects.create(
        customer_id=customer_id,
        from_stage=from_stage or "",
        to_stage=to_stage,
        changed_by=actor,
        reason=reason.strip()[:300],
        via=via,
    )


def stage_changes_record(
    *,
    actor: User | None,
    changes: Iterable[tuple[int, str, str]],
    via: StageVia,
    reason: str = "",
) -> int:
    """Write the history of stage moves already made in bulk: ``(customer_id, from, to)`` each.

    For the paths that move many customers in one statement (imports, bulk changes); a single move
    goes through :func:`customer_stage_change`.
    """
    now = timezone.now()
    reason = reason.strip()[:300]
    actor_id = actor.pk if actor is not None else None
    moves = [(pk, old or "", new) for pk, old, new in changes if old != new]
    if not fast_paths():
        StageChange.objects.bulk_create(
            [
                StageChange(
                    customer_id=pk,
                    from_stage=old,
                    to_stage=new,
                    changed_by_id=actor_id,
                    changed_at=now,
                    reason=reason,
                    via=via,
                )  # fmt: skip
                for pk, old, new in moves
            ],
            batch_size=2_000,
        )
        return len(moves)
    # Through the bulk toolkit (COPY on PostgreSQL): an import of 100,000 orders records some 25,000
    # moves, and building and preparing a model instance for each cost more than writing them.
    stamp = connection.ops.adapt_datetimefield_value(now)
    fields: list[Any] = [StageChange._meta.get_field(name) for name in STAGE_CHANGE_COLUMNS]
    columns = [str(f.column) for f in fields]
    with connection.cursor() as cursor:
        write_rows(
            cursor,
            StageChange._meta.db_table,
            columns,
            [(pk, old, new, actor_id, stamp, reason, str(via)) for pk, old, new in moves],
        )
    return len(moves)


STAGE_CHANGE_COLUMNS = ("customer", "from_stage", "to_stage", "changed_by", "changed_at", "reason", "via")


def _check_stage(stage: str) -> None:
    if stage not in Stage.values:
        raise ValidationError({"stage": _("Choose one of the stages.")})


@transaction.atomic
def customer_stage_change(
    *,
    actor: User,
    customer: Customer,
    stage: str,
    reason: str = "",
    via: StageVia = StageVia.PAGE,
) -> StageChange | None:
    """Move one customer to ``stage`` and write who, when, from, to and why; ``None`` when it is already
    there. The actor must be allowed to change this customer, checked on the row as it is now."""
    _check_stage(stage)
    locked = restrict(Customer.objects.select_for_update(), actor, "change").filter(pk=customer.pk).first()
    if locked is None:
        raise PermissionDenied(_("You cannot change this customer."))
    if locked.stage == stage:
        return None
    before = customer_snapshot(locked)
    locked.stage = stage
    locked.save(update_fields=["stage", "updated_at"])
    customer.stage, customer.updated_at = locked.stage, locked.updated_at
    change = _stage_history(actor, locked.pk, before["stage"], stage, reason, via)
    _fire_changed(actor, locked, before)
    return change


BULK_STAGE_BATCH = 2_000


@transaction.atomic
def customers_stage_change_bulk(
    *,
    actor: User,
    customers: QuerySet[Customer],
    stage: str,
    reason: str = "",
    via: StageVia = StageVia.BULK,
) -> int:
    """Move every customer of ``customers`` that the actor may change to ``stage``, with one history line
    each; the ones outside the actor's rights are left as they are. Returns how many moved."""
    _check_stage(stage)
    targets = restrict(customers, actor, "change").exclude(stage=stage)
    moved = 0
    while True:
        batch = list(targets.order_by("pk").values_list("pk", "stage")[:BULK_STAGE_BATCH])
        if not batch:
            return moved
        Customer.objects.filter(pk__in=[pk for pk, _old in batch]).update(
            stage=stage, updated_at=timezone.now()
        )
        moved += stage_changes_record(
            actor=actor, changes=[(pk, old, stage) for pk, old in batch], via=via, reason=reason
        )


def tags_get_or_create(*, names: Iterable[str]) -> list[Tag]:
    """Tags by name, case-insensitively, creating the missing ones."""
    result: list[Tag] = []
    for raw in names:
        name = raw.strip()[:60]
        if not name:
            continue
        tag = Tag.objects.annotate(name_lower=Lower("name")).filter(name_lower=name.lower()).first()
        result.append(tag or Tag.objects.create(name=name))
    return result


COMPANY_EDITABLE_FIELDS = ("name", "tax_id", "sector", "size", "region", "website")


def _apply_company(company: Company, fields: Mapping[str, Any]) -> None:
    unknown = set(fields) - set(COMPANY_EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        setattr(company, name, value.strip() if isinstance(value, str) else value)
    company.tax_id = company.tax_id.upper().replace(" ", "").replace("-", "")
    company.set_search_keys()
    company.full_clean(validate_unique=False, validate_constraints=False)
    if company.tax_id and Company.objects.filter(tax_id=company.tax_id).exclude(pk=company.pk).exists():
        raise ValidationError({"tax_id": _("Another company already has this tax id.")})


@transaction.atomic
def company_create(*, actor: User, fields: Mapping[str, Any]) -> Company:
    """Create a company."""
    company = Company()
    _apply_company(company, fields)
    company.save()
    return company


@transaction.atomic
def company_update(
    *, actor: User, company: Company, fields: Mapping[str, Any], expected_version: str | None = None
) -> Company:
    """Change a company's fields; refused with :class:`StaleEditError` when ``expected_version`` (the
    version the editor read) is older than the stored one."""
    check_version(company, expected_version)
    _apply_company(company, fields)
    company.save()
    return company


def company_get_or_create_by_name(*, actor: User, name: str) -> Company | None:
    """The company called ``name`` (accents and case ignored), created when new; ``None`` for blank."""
    name = name.strip()
    if not name:
        return None
    existing = Company.objects.filter(name_key=Company.key_for(name)).order_by("id").first()
    return existing or company_create(actor=actor, fields={"name": name})


def company_delete(*, actor: User, company: Company) -> None:
    """Delete a company; its contacts stay, without a company."""
    company.delete()


# --- duplicates and merges: see the end of this module ------------------------------------------


# --- admin-defined custom fields ------------------------------------------------------------------

CUSTOM_FIELD_SETTINGS = ("label", "choices", "required", "editable_by", "position")


def _custom_field_check(actor: User, action: str) -> None:
    if not actor.has_perm(f"customers.{action}_customfield"):
        raise PermissionDenied(_("Only administrators manage custom fields."))


def _custom_field_apply(field: CustomField, fields: Mapping[str, Any]) -> None:
    for name, value in fields.items():
        setattr(field, name, value.strip() if isinstance(value, str) else value)
    if field.field_type == CustomFieldType.CHOICE and not field.choice_list():
        raise ValidationError({"choices": _("A choice field needs at least one choice, one per line.")})
    if field.field_type != CustomFieldType.CHOICE:
        field.choices = ""
    field.full_clean()


@transaction.atomic
def custom_field_create(*, actor: User, key: str, field_type: str, fields: Mapping[str, Any]) -> CustomField:
    """Add a custom field to every customer (admins). ``key`` and ``field_type`` never change afterwards,
    so stored values keep their meaning; ``fields`` are the settings of :data:`CUSTOM_FIELD_SETTINGS`."""
    _custom_field_check(actor, "add")
    unknown = set(fields) - set(CUSTOM_FIELD_SETTINGS)
    if unknown:
        raise ValueError(f"not a custom field setting: {', '.join(sorted(unknown))}")
    field = CustomField(key=key.strip(), field_type=field_type)
    _custom_field_apply(field, fields)
    field.save()
    hooks.fire(
        "audited", actor=actor, action="created", target_type="customers.customfield",
        target_id=field.pk, label=field.label, detail={"key": field.key, "type": field.field_type},
    )  # fmt: skip
    return field


@transaction.atomic
def custom_field_update(*, actor: User, field: CustomField, fields: Mapping[str, Any]) -> CustomField:
    """Change a custom field's label, choices, "required", "who may edit" or position (admins).

    A choice removed from the list stays on the customers that have it (shown as it is) until edited.
    """
    _custom_field_check(actor, "change")
    unknown = set(fields) - set(CUSTOM_FIELD_SETTINGS)
    if unknown:
        raise ValueError(f"not a custom field setting: {', '.join(sorted(unknown))}")
    _custom_field_apply(field, fields)
    field.save()
    return field


@transaction.atomic
def custom_field_delete(*, actor: User, field: CustomField) -> None:
    """Remove a custom field (admins). Values stored on customers are left (they stop being shown,
    filtered or exported) so that re-creating the field with the same key brings them back."""
    _custom_field_check(actor, "delete")
    hooks.fire(
        "audited", actor=actor, action="deleted", target_type="customers.customfield",
        target_id=field.pk, label=field.label, detail={"key": field.key},
    )  # fmt: skip
    field.delete()


# --- duplicates and merges -------------------------------------------------------------------------------

# The fields the merge screen lets the user choose, one record's value or the other's. Custom fields
# are joined (the kept record's values win), tags are joined, the creation date is the earliest.
MERGE_FIELDS = tuple(name for name in CUSTOMER_EDITABLE_FIELDS if name != "custom_fields")
MERGE_SIDES = ("keep", "remove")
# How many customers are read per round trip by the duplicate finder, and pairs written per insert.
FINDER_CHUNK = 5000
FINDER_WRITE_BATCH = 10_000


def _is_empty(value: Any) -> bool:
    return value in (None, "", False)


def customer_fullness(customer: Customer) -> int:
    """How many of the customer's data fields hold something (the merge keeps the fuller record); the
    stage, the country (always set) and the opt-ins (consents, not data) do not count."""
    return sum(
        1
        for name in MERGE_FIELDS
        if name not in ("stage", "country")
        and not name.startswith("opt_in")
        and not _is_empty(getattr(customer, name))
    )


def merge_order(a: Customer, b: Customer) -> tuple[Customer, Customer]:
    """Which of two records a merge keeps by default: the fuller one, then the older one."""

    def rank(c: Customer) -> tuple[int, datetime.datetime, int]:
        return (-customer_fullness(c), c.created_at, c.pk)

    return (a, b) if rank(a) <= rank(b) else (b, a)


def merge_defaults(keep: Customer, remove: Customer) -> dict[str, str]:
    """For each choosable field, which record's value survives unless the user says otherwise.

    The kept record's value, unless it is empty and the other one is not; an opt-in given on either
    record survives; a paying customer stays a customer."""
    choices: dict[str, str] = {}
    for name in MERGE_FIELDS:
        mine, theirs = getattr(keep, name), getattr(remove, name)
        if name == "stage":
            take = remove.stage == Stage.CUSTOMER and keep.stage != Stage.CUSTOMER
        else:
            take = _is_empty(mine) and not _is_empty(theirs)
        choices[name] = "remove" if take else "keep"
    return choices


def _serialise(objects: Iterable[models.Model]) -> list[dict[str, Any]]:
    return list(json.loads(serializers.serialize("json", list(objects))))


def _unique_partners(model: type[models.Model], field: str) -> list[tuple[str, ...]]:
    """The other fields of each unique constraint of ``model`` that includes ``field`` (a customer
    link): moving a row there may clash with a row the kept customer already has."""
    groups: list[tuple[str, ...]] = []
    for constraint in model._meta.constraints:
        fields = tuple(getattr(constraint, "fields", ()) or ())
        if field in fields and getattr(constraint, "condition", None) is None:
            groups.append(tuple(name for name in fields if name != field))
    return groups


def _check_merge_rights(actor: User, keep: Customer, remove: Customer) -> None:
    """Both records in the actor's :func:`~cartera.customers.selectors.merge_scope`, checked now."""
    scope = merge_scope(actor)
    if not scope.filter(pk=keep.pk).exists():
        raise PermissionDenied(_("You may not change the record that is kept."))
    if not scope.filter(pk=remove.pk).exists():
        raise PermissionDenied(_("You may not delete the record that is merged into the other."))


@transaction.atomic
def customer_merge(
    *, actor: User, keep: Customer, remove: Customer, choices: Mapping[str, str] | None = None
) -> CustomerMerge:
    """Fold ``remove`` into ``keep`` and return the merge record, which can be undone.

    Every interaction, order, task, consent record and other linked row moves to ``keep``; tags and
    custom fields are joined; each field in :data:`MERGE_FIELDS` takes the value of the record named in
    ``choices`` (``"keep"`` or ``"remove"``; :func:`merge_defaults` for the fields left out); the kept
    record gets the earlier creation date. Rows that cannot move (the same segment or campaign twice,
    a second privacy profile) are kept in the merge record with ``remove`` itself, so that
    :func:`customer_merge_undo` can put everything back. The actor's rights on both rows are checked
    here, at the moment the merge runs.
    """
    if keep.pk == remove.pk:
        raise ValidationError(_("A customer cannot be merged with itself."))
    _check_merge_rights(actor, keep, remove)
    locked = Customer.objects.select_for_update().in_bulk([keep.pk, remove.pk])
    if len(locked) != 2:
        raise ValidationError(_("One of the two records no longer exists."))
    keep, remove = locked[keep.pk], locked[remove.pk]
    picked = merge_defaults(keep, remove)
    for name, side in (choices or {}).items():
        if name not in MERGE_FIELDS or side not in MERGE_SIDES:
            raise ValidationError(_("Unknown merge choice: %(name)s.") % {"name": name})
        picked[name] = side
    values = {name: getattr(remove if side == "remove" else keep, name) for name, side in picked.items()}
    if values["owner"] != keep.owner:
        _check_owner_change(actor, keep, {"owner": values["owner"]})
    keep_before = _serialise([keep])[0]
    snapshot_before = customer_snapshot(keep)
    removed_rows: list[models.Model] = [remove]
    moved: dict[str, dict[str, Any]] = {}
    for relation in Customer._meta.related_objects:
        model, field = relation.related_model, relation.field.name
        if not relation.field.concrete or relation.many_to_many:
            continue
        theirs = model._default_manager.filter(**{field: remove})
        if relation.one_to_one:
            row = theirs.first()
            if row is None:
                continue
            if model._default_manager.filter(**{field: keep}).exists():
                removed_rows.append(row)  # deleted with ``remove``, restored by an undo
                continue
            ids = [row.pk]
        else:
            clashing: set[Any] = set()
            for partners in _unique_partners(model, field):
                taken = set(model._default_manager.filter(**{field: keep}).values_list(*partners))
                clashing |= {pk for pk, *rest in theirs.values_list("pk", *partners) if tuple(rest) in taken}
            if clashing:
                removed_rows.extend(model._default_manager.filter(pk__in=clashing))
            ids = list(theirs.exclude(pk__in=clashing).values_list("pk", flat=True))
        if ids:
            model._default_manager.filter(pk__in=ids).update(**{field: keep})
            moved[model._meta.label_lower] = {"field": field, "ids": ids}
    tags_added = list(remove.tags.exclude(pk__in=keep.tags.values("pk")).values_list("pk", flat=True))
    keep.tags.add(*tags_added)
    memberships = {
        relation.related_model._meta.label_lower: {
            "field": relation.field.name,
            "ids": list(getattr(remove, relation.get_accessor_name() or "").values_list("pk", flat=True)),
        }
        for relation in Customer._meta.related_objects
        if relation.many_to_many
    }
    snapshot: dict[str, Any] = {
        "removed": _serialise(removed_rows),
        "moved": moved,
        "tags_added": tags_added,
        "memberships": memberships,
        "keep_before": keep_before,
        # The serialiser keeps milliseconds only; the exact creation dates come back from these.
        "created_at": {"keep": keep.created_at.isoformat(), "removed": remove.created_at.isoformat()},
    }
    summary = f"{remove.full_name} <{remove.email or '-'}> #{remove.pk}"
    removed_pk, created_at = remove.pk, min(keep.created_at, remove.created_at)
    custom = {**(remove.custom_fields or {}), **(keep.custom_fields or {})}
    remove.delete()
    stage_before = keep.stage
    for name, value in values.items():
        setattr(keep, name, value)
    keep.custom_fields = custom
    keep.set_search_keys()
    keep.save()
    # ``created_at`` is set by the database layer on insert only: the earliest date goes in directly.
    Customer.objects.filter(pk=keep.pk).update(created_at=created_at)
    keep.refresh_from_db()
    snapshot["keep_after"] = _serialise([keep])[0]
    changed = sorted(
        name for name, value in customer_snapshot(keep).items() if snapshot_before[name] != value
    )
    record = CustomerMerge.objects.create(
        keep=keep, removed_id=removed_pk, removed_label=summary[:300], actor=actor, snapshot=snapshot
    )
    if keep.stage != stage_before:
        _stage_history(actor, keep.pk, stage_before, keep.stage, summary, StageVia.MERGE)
    _fire_changed(actor, keep, snapshot_before)
    hooks.fire("customers_merged", actor=actor, keep=keep, summary=summary)
    hooks.fire(
        "audited",
        actor=actor,
        action="merged",
        target_type="customers.customer",
        target_id=keep.pk,
        label=keep.full_name,
        detail={"removed_id": removed_pk, "merge_id": record.pk, "changed": changed, "choices": picked},
    )
    hooks.fire("portfolio_changed", trigger="merge")
    return record


def _customer_field(name: str) -> models.Field[Any, Any]:
    field = Customer._meta.get_field(name)
    assert isinstance(field, models.Field)
    return field


def _field_value(data: Mapping[str, Any], name: str) -> Any:
    return data["fields"].get(name)


@transaction.atomic
def customer_merge_undo(*, actor: User, merge: CustomerMerge) -> Customer:
    """Undo a merge: the removed customer comes back with its own rows, the kept one gets its values back.

    Checked at the moment it runs: the kept customer is still in the actor's
    :func:`~cartera.customers.selectors.merge_scope` (the rights a merge needs), a sales rep undoes
    only a merge they made, and they may create customers;
    the merge was not undone already; and no field the merge set on the kept customer was changed
    since (that change would be lost: refused, naming the fields). Rows added to the kept customer
    after the merge stay with it. Returns the restored customer.
    """
    keep = merge_scope(actor).select_for_update().filter(pk=merge.keep_id).first()
    # A sales rep undoes only their own merges (two of their records): another one could bring back a
    # colleague's record that a manager folded into theirs.
    own_merge = merge.actor_id == actor.pk or can(actor, Customer, "delete")
    if keep is None or not own_merge or not actor.has_perm("customers.add_customer"):
        raise PermissionDenied(_("You may not undo this merge."))
    merge = CustomerMerge.objects.select_for_update().get(pk=merge.pk)
    if merge.undone_at is not None:
        raise ValidationError(_("This merge was already undone."))
    snapshot = merge.snapshot
    if not snapshot:  # the person was erased (privacy): what the undo needs is gone with their data
        raise ValidationError(_("This merge can no longer be undone: the person's data was erased."))
    before, after = snapshot["keep_before"], snapshot["keep_after"]
    current = _serialise([keep])[0]
    restorable = [name for name in after["fields"] if name not in ("updated_at", "tags")]
    touched = [name for name in restorable if _field_value(before, name) != _field_value(after, name)]
    lost = [name for name in touched if _field_value(current, name) != _field_value(after, name)]
    if lost:
        labels = ", ".join(str(_customer_field(name).verbose_name) for name in lost)
        raise ValidationError(
            _("The kept record was changed since the merge (%(fields)s): undoing it would lose that change.")
            % {"fields": labels}
        )
    original = next(serializers.deserialize("json", json.dumps([before]))).object
    stage_before, snapshot_before = keep.stage, customer_snapshot(keep)
    for name in touched:
        attname = _customer_field(name).attname
        setattr(keep, attname, getattr(original, attname))
    keep.set_search_keys()
    keep.save()
    exact = {side: datetime.datetime.fromisoformat(value) for side, value in snapshot["created_at"].items()}
    if "created_at" in touched:
        Customer.objects.filter(pk=keep.pk).update(created_at=exact["keep"])
    try:
        with transaction.atomic():
            for item in serializers.deserialize("json", json.dumps(snapshot["removed"])):
                item.save()
    except IntegrityError as exc:
        raise ValidationError(
            _("The removed record cannot come back: another customer now has its e-mail address.")
        ) from exc
    Customer.objects.filter(pk=merge.removed_id).update(created_at=exact["removed"])
    restored = Customer.objects.get(pk=merge.removed_id)
    models_by_label = {m._meta.label_lower: m for m in apps.get_models()}
    for label, moved in snapshot["moved"].items():
        model = models_by_label[label]
        model._default_manager.filter(pk__in=moved["ids"], **{moved["field"]: keep}).update(
            **{moved["field"]: restored}
        )
    keep.tags.remove(*snapshot["tags_added"])
    for label, membership in snapshot["memberships"].items():
        model = models_by_label[label]
        for row in model._default_manager.filter(pk__in=membership["ids"]):
            getattr(row, membership["field"]).add(restored)
    if keep.stage != stage_before:
        _stage_history(actor, keep.pk, stage_before, keep.stage, merge.removed_label, StageVia.MERGE)
    _fire_changed(actor, keep, snapshot_before)
    merge.undone_at, merge.undone_by = timezone.now(), actor
    merge.save(update_fields=["undone_at", "undone_by"])
    hooks.fire(
        "audited",
        actor=actor,
        action="unmerged",
        target_type="customers.customer",
        target_id=keep.pk,
        label=keep.full_name,
        detail={"restored_id": restored.pk, "merge_id": merge.pk, "fields": touched},
    )
    hooks.fire("portfolio_changed", trigger="merge")
    return restored


def duplicate_candidates_refresh(*, customers: QuerySet[Customer] | None = None) -> int:
    """Look for possible duplicates over the whole file and store them; returns how many pairs.

    Reads the customers as a stream in name order (then company and city, so that namesakes of one
    company or town are neighbours) and, of those whose phone is shared, in phone order; scores the
    neighbours with :mod:`cartera.customers.matching` (its fast passes, or the plain ones when
    ``CARTERA_BULK_PLAIN`` forces the plain twins) and holds only the pairs it accepts. Then, in one
    short transaction, the stored pairs are replaced with :func:`~cartera.core.bulk.write_rows`, so
    that the page never shows a half-written list. The page reads the stored pairs, each user seeing
    those whose two customers they may see. ``customers`` narrows the search (the benchmark uses it to
    show that memory does not grow with the size of the file).
    """
    base = Customer.objects.all() if customers is None else customers
    columns = (
        "pk",
        "first_name_key",
        "last_name_key",
        "email",
        "phone",
        "city",
        "company__name_key",
        "company__tax_id",
    )
    found_at = timezone.now()
    # A full sort of the table read in its own order beats following the name index row by row (twice
    # as fast on SQLite at a million): ``|| ''`` keeps SQLite from choosing the index.
    surname = Func(F("last_name_key"), template="(%(expressions)s || '')", output_field=CharField())
    by_name = base.order_by(surname, "first_name_key", "company__name_key", "city", "id")
    # Only numbers that two customers share can give a pair: the others are not read at all.
    shared = base.exclude(phone="").order_by().values("phone").annotate(n=Count("id")).filter(n__gt=1)
    by_phone = base.filter(phone__in=shared.values("phone")).order_by("phone", "id")
    name_rows = by_name.values_list(*columns).iterator(chunk_size=FINDER_CHUNK)
    phone_rows = by_phone.values_list(*columns).iterator(chunk_size=FINDER_CHUNK)
    if fast_paths():
        found = chain(pairs_by_name_fast(name_rows), pairs_by_phone_fast(phone_rows))
    else:
        found = chain(pairs_by_name(people(name_rows)), pairs_by_phone(people(phone_rows)))
    pairs: dict[tuple[int, int], tuple[int, str]] = {}
    when = DuplicateCandidate._meta.get_field("found_at").get_db_prep_save(found_at, connection)
    table = DuplicateCandidate._meta.db_table
    names = ("first_id", "second_id", "score", "reasons", "found_at")
    with lean_reads():  # the writes too: each pair's two customers are looked up (foreign keys)
        for match in found:
            pairs.setdefault((match.first, match.second), (match.score, json.dumps(list(match.reasons))))
        rows = ((first, second, score, reasons, when) for (first, second), (score, reasons) in pairs.items())
        with transaction.atomic(), connection.cursor() as cursor:
            DuplicateCandidate.objects.all().delete()
            while batch := list(islice(rows, FINDER_WRITE_BATCH)):
                write_rows(cursor, table, names, batch)
    return len(pairs)


# Up to this many customers the duplicates page looks for them while the user waits (a few seconds);
# above it the search goes to the worker and the page reads the pairs when they are stored.
DUPLICATE_SEARCH_INLINE_MAX = 50_000


def duplicate_search_start() -> str:
    """Look for duplicates again: at once on a small file (``"done"``), in the worker otherwise
    (``"queued"``)."""
    if Customer.objects.count() <= DUPLICATE_SEARCH_INLINE_MAX:
        duplicate_candidates_refresh()
        return "done"
    from cartera.customers.tasks import find_duplicates

    transaction.on_commit(find_duplicates.enqueue)
    return "queued"
