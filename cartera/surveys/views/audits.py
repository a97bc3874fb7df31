"""Audit pages: the list, assigning, checklists, filling in step by step on a phone, the printable
report with its corrective tasks, and the scores over time. Each view parses, calls one service or
selector, renders."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cartera.core.scoping import get_for_user, require, restrict
from cartera.surveys.forms import (
    AuditForm,
    CriterionForm,
    FindingForm,
    PhotoForm,
    TemplateForm,
    step_answers_from_post,
)
from cartera.surveys.models import STEP_ORDER, Audit, AuditFinding, AuditPhoto, AuditStatus, AuditTemplate
from cartera.surveys.selectors import audits as selectors
from cartera.surveys.services import audits as services


def _messages(exc: ValidationError) -> str:
    return " ".join(exc.messages)


def audit_list(request: HttpRequest) -> HttpResponse:
    """The audits the user may see: an auditor's own assignments, everything for a manager."""
    require(request.user, Audit, "view")
    status = request.GET.get("status", "")
    if status not in AuditStatus.values:
        status = ""
    rows = selectors.audits_for(user=request.user, status=status, location=request.GET.get("q", "")[:120])
    return render(
        request,
        "surveys/audit_list.html",
        {
            "audits": rows[:200],
            "status": status,
            "statuses": AuditStatus.choices,
            "q": request.GET.get("q", ""),
        },
    )


def audit_new(request: HttpRequest) -> HttpResponse:
    require(request.user, Audit, "add")
    form = AuditForm(request.POST or None, initial={"scheduled_on": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        try:
            audit = services.audit_create(actor=request.user, fields=form.cleaned_data)  # type: ignore[arg-type]
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Audit assigned to %(user)s.") % {"user": audit.auditor})
            return redirect("surveys:audit_detail", pk=audit.pk)
    return render(request, "surveys/audit_form.html", {"form": form}, status=400 if form.errors else 200)


def template_list(request: HttpRequest) -> HttpResponse:
    require(request.user, AuditTemplate, "view")
    form = TemplateForm(request.POST or None)
    if request.method == "POST":
        require(request.user, AuditTemplate, "add")
        if form.is_valid():
            try:
                template = services.audit_template_create(actor=request.user, **form.cleaned_data)  # type: ignore[arg-type]
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                return redirect("surveys:template_detail", pk=template.pk)
    templates = selectors.templates_for(user=request.user)
    return render(request, "surveys/template_list.html", {"templates": templates, "form": form})


def template_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A checklist version: its criteria by step; managers add or remove criteria (a new version when
    audits already used this one)."""
    template = get_for_user(AuditTemplate.objects.all(), request.user, "view", pk=pk)
    form = CriterionForm(request.POST or None)
    if request.method == "POST":
        template = get_for_user(AuditTemplate.objects.all(), request.user, "change", pk=pk)
        try:
            if "remove" in request.POST:
                version = services.audit_criterion_remove(
                    actor=request.user,  # type: ignore[arg-type]
                    template=template,
                    criterion_id=int(request.POST["remove"]) if request.POST["remove"].isdigit() else 0,
                )
                return redirect("surveys:template_detail", pk=version.pk)
            if form.is_valid():
                version = services.audit_criterion_add(
                    actor=request.user,  # type: ignore[arg-type]
                    template=template,
                    fields=form.cleaned_data,
                )
                if version.pk != template.pk:
                    messages.info(
                        request,
                        _("Audits used the old version: this is version %(v)s.") % {"v": version.version},
                    )
                return redirect("surveys:template_detail", pk=version.pk)
        except ValidationError as exc:
            messages.error(request, _messages(exc))
    versions = AuditTemplate.objects.filter(family=template.family).order_by("-version")
    return render(
        request,
        "surveys/template_detail.html",
        {"template": template, "criteria": template.criteria.all(), "form": form, "versions": versions},
        status=400 if form.errors else 200,
    )


def audit_fill(request: HttpRequest, pk: int, step: str) -> HttpResponse:
    """One journey step of an audit on a phone: every answer is kept on each save; a refused answer
    comes back with what was typed, never lost."""
    audit = get_for_user(Audit.objects.select_related("template"), request.user, "view", pk=pk)
    if step not in STEP_ORDER:
        raise Http404
    steps = selectors.audit_steps(audit)
    names = [s.step for s in steps]
    if step not in names:
        raise Http404
    current = steps[names.index(step)]
    posted: dict[int, dict[str, object]] = {}
    errors: dict[int, str] = {}
    if request.method == "POST":
        audit = get_for_user(Audit.objects.select_related("template"), request.user, "change", pk=pk)
        posted = step_answers_from_post(request.POST, [r["criterion"] for r in current.rows])
        try:
            result = services.audit_step_save(
                actor=request.user,  # type: ignore[arg-type]
                audit=audit,
                step=step,
                answers=posted,
                notes=request.POST.get("notes"),
            )
        except ValidationError as exc:
            messages.error(request, _messages(exc))
            return redirect("surveys:audit_detail", pk=audit.pk)
        errors = result.errors
        if not errors:
            messages.success(request, _("Saved."))
            position = names.index(step)
            if request.POST.get("go") == "next" and position + 1 < len(names):
                return redirect("surveys:audit_fill", pk=audit.pk, step=names[position + 1])
            if request.POST.get("go") == "prev" and position > 0:
                return redirect("surveys:audit_fill", pk=audit.pk, step=names[position - 1])
            if request.POST.get("go") == "review":
                return redirect("surveys:audit_detail", pk=audit.pk)
            return redirect("surveys:audit_fill", pk=audit.pk, step=step)
        steps = selectors.audit_steps(audit)
        current = steps[names.index(step)]
    rows = []
    for row in current.rows:
        criterion, answer = row["criterion"], row["answer"]
        given = posted.get(criterion.pk)
        rows.append(
            {
                "criterion": criterion,
                "marks": list(range(criterion.scale_min, criterion.scale_max + 1)),
                "value": str(given["value"])
                if given
                else ("" if answer is None or answer.value is None else str(answer.value)),
                "na": bool(given["na"]) if given else bool(answer and answer.not_applicable),
                "comment": str(given["comment"]) if given else (answer.comment if answer else ""),
                "error": errors.get(criterion.pk, ""),
            }
        )
    position = names.index(step)
    context = {
        "audit": audit,
        "step": current,
        "rows": rows,
        "steps": steps,
        "position": position + 1,
        "count": len(names),
        "has_prev": position > 0,
        "has_next": position + 1 < len(names),
        "photo_form": PhotoForm(),
        "notes": request.POST.get("notes", audit.notes) if request.method == "POST" else audit.notes,
    }
    return render(request, "surveys/audit_fill.html", context, status=400 if errors else 200)


@require_POST
def audit_photo_add(request: HttpRequest, pk: int, step: str) -> HttpResponse:
    audit = get_for_user(Audit.objects.all(), request.user, "change", pk=pk)
    require(request.user, AuditPhoto, "add")
    form = PhotoForm(request.POST, request.FILES)
    if step not in STEP_ORDER:
        raise Http404
    if form.is_valid():
        try:
            services.audit_photo_add(
                actor=request.user,  # type: ignore[arg-type]
                audit=audit,
                step=step,
                upload=form.cleaned_data["photo"],
                caption=form.cleaned_data["caption"],
            )
        except ValidationError as exc:
            messages.error(request, _messages(exc))
        else:
            messages.success(request, _("Photo added."))
    else:
        messages.error(request, _("Choose a photo to upload."))
    return redirect("surveys:audit_fill", pk=audit.pk, step=step)


def audit_photo(request: HttpRequest, pk: int) -> HttpResponse:
    """A photo of an audit the user may see, served as the JPEG it was re-encoded to."""
    photo = get_for_user(AuditPhoto.objects.all(), request.user, "view", pk=pk)
    response = HttpResponse(bytes(photo.image), content_type="image/jpeg")
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = f'inline; filename="audit-{photo.audit_id}-{photo.pk}.jpg"'
    response["Cache-Control"] = "private, max-age=3600"
    return response


@require_POST
def audit_photo_delete(request: HttpRequest, pk: int) -> HttpResponse:
    photo = get_for_user(AuditPhoto.objects.select_related("audit"), request.user, "delete", pk=pk)
    try:
        services.audit_photo_delete(actor=request.user, photo=photo)  # type: ignore[arg-type]
    except ValidationError as exc:
        messages.error(request, _messages(exc))
    return redirect("surveys:audit_fill", pk=photo.audit_id, step=photo.step)


@require_POST
def audit_submit(request: HttpRequest, pk: int) -> HttpResponse:
    audit = get_for_user(Audit.objects.select_related("template"), request.user, "change", pk=pk)
    try:
        services.audit_submit(actor=request.user, audit=audit)  # type: ignore[arg-type]
    except ValidationError as exc:
        messages.error(request, _messages(exc))
    else:
        messages.success(request, _("Audit submitted. Score: %(score)s") % {"score": audit.score})
    return redirect("surveys:audit_detail", pk=audit.pk)


def audit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The audit's report (printable): score, each step with its marks and photos, notes, findings."""
    audit = get_for_user(Audit.objects.select_related("template", "auditor"), request.user, "view", pk=pk)
    findings = (
        restrict(AuditFinding.objects.all(), request.user, "view")
        .filter(audit=audit)
        .select_related("task__assignee", "criterion")
    )
    form = None
    if request.user.has_perm("surveys.add_auditfinding"):
        form = FindingForm(
            audit=audit,
            initial={"due_at": (timezone.now() + dt.timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")},
        )
    return render(
        request,
        "surveys/audit_detail.html",
        {"audit": audit, "steps": selectors.audit_steps(audit), "findings": findings, "finding_form": form},
    )


@require_POST
def finding_create(request: HttpRequest, pk: int) -> HttpResponse:
    audit = get_for_user(Audit.objects.select_related("template"), request.user, "view", pk=pk)
    require(request.user, AuditFinding, "add")
    form = FindingForm(request.POST, audit=audit)
    if form.is_valid():
        try:
            services.audit_finding_create(actor=request.user, audit=audit, **form.cleaned_data)  # type: ignore[arg-type]
        except ValidationError as exc:
            messages.error(request, _messages(exc))
        else:
            messages.success(request, _("Corrective task created."))
            return redirect("surveys:audit_detail", pk=audit.pk)
    else:
        messages.error(request, " ".join(str(m) for errs in form.errors.values() for m in errs))
    return redirect("surveys:audit_detail", pk=audit.pk)


def audit_results(request: HttpRequest) -> HttpResponse:
    """Scores over time per location / channel / employee, per step, and the weakest criteria
    (printable as the period report)."""
    require(request.user, Audit, "view")
    dimension = request.GET.get("by", "location")
    if dimension not in selectors.DIMENSIONS:
        dimension = "location"
    try:
        months = max(1, min(60, int(request.GET.get("months", "12"))))
    except ValueError:
        months = 12
    since = timezone.localdate() - dt.timedelta(days=31 * months)
    context = {
        "dimension": dimension,
        "months": months,
        "since": since,
        "trends": selectors.score_trends(user=request.user, dimension=dimension, since=since),
        "steps": selectors.step_means(user=request.user, since=since),
        "weak": selectors.weak_criteria(user=request.user, since=since),
        "dimensions": [("location", _("Location")), ("channel", _("Channel")), ("employee", _("Employee"))],
    }
    return render(request, "surveys/audit_results.html", context)
