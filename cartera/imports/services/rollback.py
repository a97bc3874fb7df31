"""Rollback: undo a job as far as the person rolling back may, now, and never over someone's later work."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from cartera.accounts.models import User
from cartera.activity.models import Interaction, Task
from cartera.core.scoping import can, restrict
from cartera.customers.models import Company, Customer, StageVia
from cartera.customers.services import stage_changes_record
from cartera.imports.models import ImportJob, ImportRecord, JobStatus
from cartera.imports.services.jobs import (
    import_job_discard_file,
    import_job_failed_dry_run,
    import_job_is_alive,
    import_job_require,
)
from cartera.sales.models import Order

ROLLBACK_CHUNK = 500


@dataclass
class _Undo:
    """What a rollback did: the records it undid and, for each one it kept, why."""

    undone: list[int] = field(default_factory=list)
    conflicts: dict[int, str] = field(default_factory=dict)
    owners: dict[int, str] = field(default_factory=dict)  # "now owned by ..." by owner id


def _rollbackable(job: ImportJob) -> bool:
    """Finished, failed or interrupted (silent) after writing, or queued for a rollback."""
    if job.status == JobStatus.ROLLING_BACK:
        return True
    if job.status not in (JobStatus.DONE, JobStatus.FAILED, JobStatus.RUNNING):
        return False
    return not import_job_failed_dry_run(job=job) and not import_job_is_alive(job=job)


def import_job_rollback_enqueue(*, actor: User, job: ImportJob) -> ImportJob:
    """Queue the rollback in the background worker; the job page shows it until it is done.

    The job goes to "rolling back" with its row locked and its status checked in one transaction, so
    a second click is refused and queues nothing. Who asked, from which status and in which language
    is kept for the worker (``report["rollback"]``)."""
    from cartera.imports.tasks import run_rollback

    import_job_require(actor=actor, job=job)
    with transaction.atomic():
        ImportJob.objects.select_for_update().filter(pk=job.pk).values_list("pk").get()
        job.refresh_from_db()
        if job.status == JobStatus.ROLLING_BACK or not _rollbackable(job):
            raise ValidationError(_("This import cannot be rolled back now."))
        job.report = {
            **job.report,
            "rollback": {
                "by": actor.pk,
                "from": job.status,
                "records": job.records.filter(conflict="").count(),
                "language": translation.get_language() or "",
            },
        }
        job.status = JobStatus.ROLLING_BACK
        job.save(update_fields=["status", "report", "updated_at"])
        job_id = job.pk
        transaction.on_commit(lambda: run_rollback.enqueue(job_id))
    job.refresh_from_db()  # a backend that runs tasks at once has finished it already
    return job


def import_job_rollback_fail(*, job: ImportJob, message: str) -> None:
    """A queued rollback that stopped: it ran in one transaction, so nothing was undone; the job goes
    back to where it was, with the reason (only while it is still "rolling back")."""
    before = (job.report.get("rollback") or {}).get("from") or JobStatus.DONE
    ImportJob.objects.filter(pk=job.pk, status=JobStatus.ROLLING_BACK).update(
        status=before,
        message=(_("The rollback stopped: %(reason)s") % {"reason": message})[:2000],
        updated_at=timezone.now(),
    )


def import_job_rollback(*, actor: User, job: ImportJob) -> ImportJob:
    """Undo an import as far as ``actor`` may, now: delete what it created, restore what it changed.

    Each record is checked when the rollback runs, through the scoping helper: a record the actor may
    no longer delete or change (reassigned to a colleague, say), a record edited after the import, and
    a customer with orders, interactions or tasks the import did not bring are kept, and listed on the
    job with the reason. Everything else is undone, in one transaction with the job's new status.
    """
    import_job_require(actor=actor, job=job)
    with transaction.atomic():
        # Locked, then read again: a second click waits here and then finds the job rolled back.
        ImportJob.objects.select_for_update().filter(pk=job.pk).values_list("pk").get()
        job.refresh_from_db()
        if not _rollbackable(job):
            raise ValidationError(_("This import cannot be rolled back now."))
        undo = _Undo()
        records = list(
            job.records.filter(conflict="")
            .order_by("id")
            .values_list("id", "model", "object_id", "action", "previous", "written_at")
        )
        fallback = job.finished_at or job.updated_at
        # A record the import wrote twice (created in one batch, updated by a later row of the same
        # file) counts as written when the import last wrote it.
        latest: dict[tuple[str, int], Any] = {}
        for _id, model, object_id, _action, _previous, written_at in records:
            key = (model, object_id)
            written_at = written_at or fallback
            if key not in latest or (written_at and latest[key] and written_at > latest[key]):
                latest[key] = written_at
        by_model: dict[tuple[str, str], list[tuple[int, int, Any, Any]]] = {}
        for record_id, model, object_id, action, previous, _written in records:
            by_model.setdefault((model, action), []).append(
                (record_id, object_id, previous, latest[(model, object_id)])
            )
        created_here = {
            model: {object_id for _r, object_id, _p, _w in items}
            for (model, action), items in by_model.items()
            if action == ImportRecord.Action.CREATED
        }
        own_undo = actor.pk == job.created_by_id
        for model_name in ("activity.interaction", "sales.order"):
            for part in _parts(by_model.get((model_name, ImportRecord.Action.CREATED), [])):
                _undo_linked(actor, own_undo, model_name, part, undo)
        # Changes to customers this import created go with their creation (undone or kept with it).
        new_customers = created_here.get("customers.customer", set())
        updates = by_model.get(("customers.customer", ImportRecord.Action.UPDATED), [])
        tied = [item for item in updates if item[1] in new_customers]
        for part in _parts([item for item in updates if item[1] not in new_customers]):
            _undo_customer_updates(actor, part, undo)
        creations = by_model.get(("customers.customer", ImportRecord.Action.CREATED), [])
        for part in _parts(creations):
            _undo_customer_creations(actor, own_undo, part, created_here, undo)
        creation_of = {object_id: record_id for record_id, object_id, _p, _w in creations}
        for record_id, object_id, _previous, _written in tied:
            reason = undo.conflicts.get(creation_of[object_id])
            if reason:
                undo.conflicts[record_id] = reason
            else:
                undo.undone.append(record_id)
        for part in _parts(by_model.get(("customers.company", ImportRecord.Action.CREATED), [])):
            _undo_companies(actor, own_undo, part, undo)
        by_reason: dict[str, list[int]] = {}
        for record_id, reason in undo.conflicts.items():
            by_reason.setdefault(reason[:300], []).append(record_id)
        for reason, record_ids in by_reason.items():
            for start in range(0, len(record_ids), ROLLBACK_CHUNK):
                ImportRecord.objects.filter(pk__in=record_ids[start : start + ROLLBACK_CHUNK]).update(
                    conflict=reason
                )
        # Every record still without a reason was undone (or its row was already gone).
        ImportRecord.objects.filter(job=job, conflict="").delete()
        import_job_discard_file(job=job)
        job.status = JobStatus.ROLLED_BACK
        kept = job.records.exclude(conflict="").count()
        job.report = {**job.report, "rollback": {"undone": len(undo.undone), "kept": kept}}
        if kept:
            job.message = _(
                "Rolled back by %(user)s: %(undone)s records undone, %(kept)s kept (see the list below)."
            ) % {"user": actor, "undone": len(undo.undone), "kept": kept}
        else:
            job.message = _("Rolled back by %(user)s.") % {"user": actor}
        job.save(update_fields=["status", "message", "report", "updated_at"])
    return job


def _parts(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), ROLLBACK_CHUNK):
        yield items[start : start + ROLLBACK_CHUNK]


def _undoable(actor: User, own_undo: bool, queryset: Any) -> set[int]:
    """The rows of ``queryset`` the actor may remove now: those they may delete, and, undoing their
    own import, those they may still change (a sales rep may not delete customers in general, but
    may take back the ones her own import added while they are still hers)."""
    allowed = set(restrict(queryset, actor, "delete").values_list("pk", flat=True))
    if own_undo:
        allowed |= set(restrict(queryset, actor, "change").values_list("pk", flat=True))
    return allowed


def _owned_elsewhere(actor: User, owner_id: int | None, undo: _Undo) -> str:
    """Why a row the actor may not undo is kept: whose it is now (one query per owner)."""
    if not owner_id or owner_id == actor.pk:
        return _("you may not undo it")
    if owner_id not in undo.owners:
        owner = User.objects.filter(pk=owner_id).first()
        undo.owners[owner_id] = (
            _("now owned by %(user)s") % {"user": owner} if owner else _("you may not undo it")
        )
    return undo.owners[owner_id]


def _edited(updated_at: Any, written_at: Any) -> bool:
    return bool(written_at is not None and updated_at is not None and updated_at > written_at)


Part = list[tuple[int, int, Any, Any]]  # (record id, object id, previous values, written at)


def _delete_unless(model: Any, part: Part, rows: Mapping[int, Any], why_not: Any, undo: _Undo) -> None:
    """Delete the created rows of ``part`` for which ``why_not(row, written_at)`` gives no reason to
    keep them; the others stay, with that reason. A row already gone has nothing left to undo."""
    delete: list[int] = []
    for record_id, object_id, _previous, written_at in part:
        row = rows.get(object_id)
        reason = "" if row is None else why_not(row, written_at)
        if reason:
            undo.conflicts[record_id] = reason
            continue
        undo.undone.append(record_id)
        if row is not None:
            delete.append(object_id)
    model.objects.filter(pk__in=delete).delete()


def _undo_linked(actor: User, own_undo: bool, model_name: str, part: Part, undo: _Undo) -> None:
    """Orders or interactions the import created."""
    model: type[Order] | type[Interaction] = Order if model_name == "sales.order" else Interaction
    ids = [object_id for _r, object_id, _p, _w in part]
    # Plain values, not model instances: a rollback may look at tens of thousands of rows.
    rows = {
        r["id"]: r for r in model.objects.filter(pk__in=ids).values("id", "updated_at", "customer__owner_id")
    }
    allowed = _undoable(actor, own_undo, model.objects.filter(pk__in=ids))

    def why_not(row: dict[str, Any], written_at: Any) -> str:
        if row["id"] not in allowed:
            return _owned_elsewhere(actor, row["customer__owner_id"], undo)
        if _edited(row["updated_at"], written_at):
            return _("edited after the import")
        return ""

    _delete_unless(model, part, rows, why_not, undo)


def _undo_customer_updates(actor: User, part: Part, undo: _Undo) -> None:
    """Customers the import changed get their earlier values back, unless changed again since."""
    ids = [object_id for _r, object_id, _p, _w in part]
    customers = Customer.objects.in_bulk(ids)
    allowed = set(restrict(Customer.objects.filter(pk__in=ids), actor, "change").values_list("pk", flat=True))
    now = timezone.now()
    for record_id, object_id, previous, written_at in part:
        customer = customers.get(object_id)
        if customer is None or not previous:
            undo.undone.append(record_id)
        elif object_id not in allowed:
            undo.conflicts[record_id] = _owned_elsewhere(actor, customer.owner_id, undo)
        elif _edited(customer.updated_at, written_at):
            undo.conflicts[record_id] = _("edited after the import")
        else:
            values = dict(previous)
            first = values.get("first_name", customer.first_name)
            last = values.get("last_name", customer.last_name)
            first_key, last_key = Customer.name_keys(first, last)
            values.update(first_name_key=first_key, last_name_key=last_key, updated_at=now)
            Customer.objects.filter(pk=object_id).update(**values)
            if "stage" in previous and previous["stage"] != customer.stage:
                stage_changes_record(
                    actor=actor,
                    changes=[(object_id, customer.stage, previous["stage"])],
                    via=StageVia.IMPORT,
                    reason=_("Import undone"),
                )
            undo.undone.append(record_id)


def _undo_customer_creations(
    actor: User, own_undo: bool, part: Part, created_here: Mapping[str, set[int]], undo: _Undo
) -> None:
    """Customers the import created are deleted, unless they now belong to someone the actor may not
    act for, were edited since, or have orders, interactions or tasks the import did not bring."""
    ids = [object_id for _r, object_id, _p, _w in part]
    customers = {
        c["id"]: c for c in Customer.objects.filter(pk__in=ids).values("id", "owner_id", "updated_at")
    }
    allowed = _undoable(actor, own_undo, Customer.objects.filter(pk__in=ids))
    busy: set[int] = set()
    for model, name in (
        (Order, "sales.order"),
        (Interaction, "activity.interaction"),
        (Task, "activity.task"),
    ):
        ours = created_here.get(name, set())
        for pk, customer_id in model.objects.filter(customer_id__in=ids).values_list("pk", "customer_id"):
            if pk not in ours:
                busy.add(customer_id)

    def why_not(customer: dict[str, Any], written_at: Any) -> str:
        if customer["id"] not in allowed:
            return _owned_elsewhere(actor, customer["owner_id"], undo)
        if _edited(customer["updated_at"], written_at):
            return _("edited after the import")
        if customer["id"] in busy:
            return _("has orders, interactions or tasks added after the import")
        return ""

    _delete_unless(Customer, part, customers, why_not, undo)


def _undo_companies(actor: User, own_undo: bool, part: Part, undo: _Undo) -> None:
    """Companies the import created go once no customer names them, unless edited since. A company
    has no owner: whoever may roll the job back may remove the ones it created, unused."""
    ids = [object_id for _r, object_id, _p, _w in part]
    used = set(Customer.objects.filter(company_id__in=ids).values_list("company_id", flat=True))
    may = own_undo or can(actor, Company, "delete")

    def why_not(company: dict[str, Any], written_at: Any) -> str:
        if not may:
            return _("you may not undo it")
        if company["id"] in used:
            return _("customers kept by this rollback or added since belong to it")
        if _edited(company["updated_at"], written_at):
            return _("edited after the import")
        return ""

    companies = {c["id"]: c for c in Company.objects.filter(pk__in=ids).values("id", "updated_at")}
    _delete_unless(Company, part, companies, why_not, undo)
