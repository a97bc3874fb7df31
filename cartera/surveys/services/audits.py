"""Writes for service-quality audits: versioned checklists, assignments, step-by-step answers, photos,
submission with its score, and findings turned into corrective tasks."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cartera.accounts.models import User
from cartera.activity.services import task_create
from cartera.core.dates import TASK_DUE_DATES, check_dates
from cartera.core.scoping import restrict
from cartera.surveys.models import (
    STEP_ORDER,
    Audit,
    AuditAnswer,
    AuditCriterion,
    AuditFinding,
    AuditPhoto,
    AuditStatus,
    AuditTemplate,
    JourneyStep,
)
from cartera.surveys.selectors.audits import audit_score

# The checklist a new template starts from: what the seed article asks to look at, step by step.
STANDARD_CRITERIA: list[tuple[str, Any, int, int]] = [
    (JourneyStep.FIRST_CONTACT, gettext_lazy("Greeted within one minute"), 2, 1),
    (JourneyStep.FIRST_CONTACT, gettext_lazy("Friendly and attentive welcome"), 2, 5),
    (JourneyStep.ADVICE, gettext_lazy("Asked about my needs before offering"), 3, 5),
    (JourneyStep.ADVICE, gettext_lazy("Knows the products and explains them clearly"), 3, 5),
    (JourneyStep.SALE, gettext_lazy("Price and conditions explained without pressure"), 2, 5),
    (JourneyStep.SALE, gettext_lazy("Payment quick and receipt offered"), 1, 1),
    (JourneyStep.AFTER_SALE, gettext_lazy("Explained returns, warranty and how to get help"), 2, 5),
    (JourneyStep.COMPLAINT, gettext_lazy("Listened to the complaint and offered a solution"), 3, 5),
]


def _require_manager(actor: User, model: type[Any], action: str = "add") -> None:
    if not actor.has_perm(f"surveys.{action}_{model._meta.model_name}"):
        raise PermissionDenied(_("You do not have permission to do this."))


@transaction.atomic
def audit_template_create(*, actor: User, name: str, standard: bool = True) -> AuditTemplate:
    """A new checklist (version 1), starting from the standard criteria unless ``standard`` is false."""
    _require_manager(actor, AuditTemplate)
    name = name.strip()
    if not name:
        raise ValidationError({"name": _("Give the checklist a name.")})
    template = AuditTemplate.objects.create(name=name[:120], created_by=actor)
    template.family = template.pk
    template.save(update_fields=["family"])
    if standard:
        AuditCriterion.objects.bulk_create(
            AuditCriterion(
                template=template, step=step, text=str(text), weight=weight, scale_max=scale, position=i
            )
            for i, (step, text, weight, scale) in enumerate(STANDARD_CRITERIA)
        )
    return template


def _editable_version(actor: User, template: AuditTemplate) -> AuditTemplate:
    """The template itself while no audit uses it; otherwise a copy as the next version (old audits
    keep the version they were filled against)."""
    _require_manager(actor, AuditTemplate, "change")
    template = AuditTemplate.objects.select_for_update().get(pk=template.pk)
    if not template.current:
        raise ValidationError(_("This is an old version of the checklist; edit the current one."))
    if not template.audits.exists():
        return template
    latest = AuditTemplate.objects.filter(family=template.family).aggregate(v=Max("version"))["v"] or 0
    copy = AuditTemplate.objects.create(
        name=template.name, family=template.family, version=latest + 1, created_by=actor
    )
    AuditCriterion.objects.bulk_create(
        AuditCriterion(
            template=copy,
            step=c.step,
            text=c.text,
            weight=c.weight,
            scale_max=c.scale_max,
            position=c.position,
        )
        for c in template.criteria.all()
    )
    template.current = False
    template.save(update_fields=["current", "updated_at"])
    return copy


@transaction.atomic
def audit_criterion_add(*, actor: User, template: AuditTemplate, fields: Mapping[str, Any]) -> AuditTemplate:
    """Add a criterion; returns the version that holds it (a new one when audits used the old)."""
    version = _editable_version(actor, template)
    position = (version.criteria.aggregate(p=Max("position"))["p"] or 0) + 1
    criterion = AuditCriterion(template=version, position=position)
    for name in ("step", "text", "weight", "scale_max"):
        setattr(criterion, name, fields[name])
    criterion.text = criterion.text.strip()
    criterion.full_clean()
    criterion.save()
    return version


@transaction.atomic
def audit_criterion_remove(*, actor: User, template: AuditTemplate, criterion_id: int) -> AuditTemplate:
    """Take a criterion out of the checklist (in a new version when audits used this one)."""
    original = AuditCriterion.objects.filter(template=template, pk=criterion_id).first()
    if original is None:
        raise ValidationError(_("This criterion is not in the checklist."))
    version = _editable_version(actor, template)
    version.criteria.filter(
        step=original.step, text=original.text, position=original.position
    ).first().delete()  # type: ignore[union-attr]
    return version


AUDIT_FIELDS = ("template", "auditor", "location", "channel", "employee", "scheduled_on")


@transaction.atomic
def audit_create(*, actor: User, fields: Mapping[str, Any]) -> Audit:
    """Assign an audit of a location / channel / employee on a date to an auditor."""
    _require_manager(actor, Audit)
    audit = Audit(created_by=actor)
    for name in AUDIT_FIELDS:
        value = fields.get(name)
        setattr(audit, name, (value or "").strip() if name in ("employee", "location") else value)
    if audit.template_id and not audit.template.current:
        raise ValidationError({"template": _("Choose the current version of the checklist.")})
    if audit.auditor_id and not audit.auditor.has_perm("surveys.change_auditanswer"):
        raise ValidationError({"auditor": _("%(user)s cannot fill in audits.") % {"user": audit.auditor}})
    audit.full_clean()
    check_dates(audit, {"scheduled_on": TASK_DUE_DATES})
    audit.save()
    return audit


@dataclass
class StepResult:
    """What a step save kept and what it refused (by criterion id), to re-render the form."""

    saved: int = 0
    errors: dict[int, str] = field(default_factory=dict)


def _check_open(actor: User, audit: Audit) -> None:
    if not restrict(Audit.objects.filter(pk=audit.pk), actor, "change").exists():
        raise PermissionDenied(_("This audit is not assigned to you."))
    if audit.submitted:
        raise ValidationError(_("This audit was submitted; it can no longer be changed."))


@transaction.atomic
def audit_step_save(
    *,
    actor: User,
    audit: Audit,
    step: str,
    answers: Mapping[int, Mapping[str, Any]],
    notes: str | None = None,
) -> StepResult:
    """Keep every valid answer of one journey step at once (a phone may lose the next request).

    ``answers`` maps a criterion id to ``{"value": str, "na": bool, "comment": str}``. Answers that
    are out of range are refused one by one (reported in the result); the others are saved anyway.
    """
    _check_open(actor, audit)
    if step not in STEP_ORDER:
        raise ValidationError(_("Unknown journey step."))
    criteria = {c.pk: c for c in audit.template.criteria.filter(step=step)}
    result = StepResult()
    existing = {a.criterion_id: a for a in AuditAnswer.objects.filter(audit=audit, criterion__in=criteria)}
    for criterion_id, given in answers.items():
        criterion = criteria.get(criterion_id)
        if criterion is None:
            continue
        raw = str(given.get("value") or "").strip()
        not_applicable = bool(given.get("na"))
        comment = str(given.get("comment") or "").strip()[:500]
        value: int | None = None
        if raw and not not_applicable:
            try:
                value = int(raw)
            except ValueError:
                value = None
            if value is None or not criterion.scale_min <= value <= criterion.scale_max:
                result.errors[criterion_id] = _("Choose a mark from %(low)s to %(high)s.") % {
                    "low": criterion.scale_min,
                    "high": criterion.scale_max,
                }
                continue
        if value is None and not not_applicable and not comment and criterion_id not in existing:
            continue
        answer = existing.get(criterion_id) or AuditAnswer(audit=audit, criterion=criterion)
        answer.value, answer.not_applicable, answer.comment = value, not_applicable, comment
        answer.save()
        result.saved += 1
    changed = ["status", "updated_at"]
    if notes is not None:
        audit.notes = notes.strip()[:5000]
        changed.append("notes")
    audit.status = AuditStatus.IN_PROGRESS
    audit.save(update_fields=changed)
    return result


def _reencode(upload: IO[bytes]) -> tuple[bytes, int, int]:
    """The upload as a fresh JPEG (no metadata, at most MAX_SIDE pixels a side), or a clear refusal.

    Only what Pillow decodes as a raster photo goes through; SVG, HTML or anything pretending to be an
    image is refused, and the original bytes are never stored or served.
    """
    from PIL import Image, UnidentifiedImageError

    data = upload.read(AuditPhoto.MAX_UPLOAD_BYTES + 1)
    if len(data) > AuditPhoto.MAX_UPLOAD_BYTES:
        raise ValidationError({"photo": _("The photo is larger than 8 MB.")})
    try:
        with Image.open(io.BytesIO(data), formats=["JPEG", "PNG", "WEBP", "GIF"]) as image:
            if image.width * image.height > 40_000_000:
                raise ValidationError({"photo": _("The photo has too many pixels.")})
            image.load()
            picture = image.convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, ValueError) as exc:
        raise ValidationError({"photo": _("This file is not a photo (JPEG, PNG, WebP or GIF).")}) from exc
    picture.thumbnail((AuditPhoto.MAX_SIDE, AuditPhoto.MAX_SIDE))
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=82, optimize=True)
    return out.getvalue(), picture.width, picture.height


@transaction.atomic
def audit_photo_add(
    *, actor: User, audit: Audit, step: str, upload: IO[bytes], caption: str = ""
) -> AuditPhoto:
    """Attach a photo to one step of an audit (re-encoded; the original is dropped)."""
    _check_open(actor, audit)
    if step not in STEP_ORDER:
        raise ValidationError(_("Unknown journey step."))
    if audit.photos.count() >= 30:
        raise ValidationError({"photo": _("An audit holds at most 30 photos.")})
    data, width, height = _reencode(upload)
    return AuditPhoto.objects.create(
        audit=audit, step=step, caption=caption.strip()[:200], image=data, width=width, height=height
    )


def audit_photo_delete(*, actor: User, photo: AuditPhoto) -> None:
    """Remove a photo from an audit that is still open."""
    _check_open(actor, photo.audit)
    photo.delete()


@transaction.atomic
def audit_submit(*, actor: User, audit: Audit) -> Audit:
    """Close the audit and store its score; every criterion must be marked or "does not apply"."""
    _check_open(actor, audit)
    answered = set(
        AuditAnswer.objects.filter(audit=audit)
        .filter(value__isnull=False)
        .values_list("criterion_id", flat=True)
    ) | set(
        AuditAnswer.objects.filter(audit=audit, not_applicable=True).values_list("criterion_id", flat=True)
    )
    missing = [c for c in audit.template.criteria.all() if c.pk not in answered]
    if missing:
        steps = sorted({c.get_step_display() for c in missing}, key=str)
        raise ValidationError(
            _("%(count)d criteria still have no mark (%(steps)s).")
            % {"count": len(missing), "steps": ", ".join(str(s) for s in steps)}
        )
    score = audit_score(audit)
    audit.score = None if score is None else Decimal(str(round(score, 1)))
    audit.status = AuditStatus.SUBMITTED
    audit.submitted_at = timezone.now()
    audit.save(update_fields=["score", "status", "submitted_at", "updated_at"])
    return audit


@transaction.atomic
def audit_finding_create(
    *,
    actor: User,
    audit: Audit,
    title: str,
    assignee: User,
    due_at: dt.datetime,
    criterion: AuditCriterion | None = None,
    notes: str = "",
) -> AuditFinding:
    """Turn a weak point of an audit into a corrective task for ``assignee``, due at ``due_at``."""
    _require_manager(actor, AuditFinding)
    if criterion is not None and criterion.template_id != audit.template_id:
        raise ValidationError({"criterion": _("This criterion is not in the audit's checklist.")})
    context = _("Service audit: %(audit)s") % {"audit": audit}
    task = task_create(
        actor=actor,
        fields={
            "title": title,
            "assignee": assignee,
            "due_at": due_at,
            "notes": f"{context}\n{notes}".strip(),
        },
    )
    return AuditFinding.objects.create(audit=audit, criterion=criterion, task=task)
