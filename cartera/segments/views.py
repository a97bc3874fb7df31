"""Segment, Pareto, RFM and persona pages. Each view parses input, calls a service or selector, renders."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from cartera.accounts.models import User
from cartera.activity.models import Task
from cartera.activity.selectors import task_assignees
from cartera.core.concurrency import StaleEditError
from cartera.core.http import HtmxHttpRequest
from cartera.core.pagination import paginate
from cartera.core.scoping import can, get_for_user, require
from cartera.customers.models import Customer, Stage
from cartera.segments import forms, selectors, services
from cartera.segments.models import Persona, PersonaSuggestionRun, Segment

PAGE_SIZE = 50
MEMBER_ORDER = ["-id"]


def _require_view(request: HttpRequest) -> None:
    """The pages that read the customer file (counts, Pareto, RFM) need the right to view it."""
    require(request.user, Customer, "view")


def _messages(exc: ValidationError) -> str:
    return " ".join(str(m) for m in exc.messages)


def segment_list(request: HttpRequest) -> HttpResponse:
    require(request.user, Segment, "view")
    return render(request, "segments/list.html", {"segments": selectors.segment_list(user=request.user)})


def _builder_context(
    request: HttpRequest, state: dict[str, Any], *, for_persona: bool = False
) -> dict[str, Any]:
    """What the condition editor (``segments/_conditions.html``) shows, with its live count.

    A persona without a rule has only the customers put in it by hand: its editor says so instead
    of counting everyone.
    """
    definition = forms.state_definition(state)
    count, error = None, ""
    no_rule = for_persona and not definition["groups"]
    if not no_rule:
        try:
            count = selectors.definition_count(user=request.user, definition=definition)
        except ValidationError as exc:
            error = _messages(exc)
    return {
        "state": state,
        "groups": forms.builder_rows(state),
        "field_options": forms.field_options(),
        "count": count,
        "count_error": error,
        "for_persona": for_persona,
        "no_rule": no_rule,
    }


def _builder(request: HtmxHttpRequest, segment: Segment | None) -> HttpResponse:
    """The segment builder; ``segment`` comes already checked for "change" (see :func:`segment_edit`)."""
    if segment is None:
        require(request.user, Segment, "add")
    if request.method == "POST":
        state = forms.builder_state(request.POST)
    elif segment is not None:
        state = forms.state_from_definition(segment.definition)
    else:
        state = forms.builder_state(None)
    name = request.POST.get("name", segment.name if segment else "")
    description = request.POST.get("description", segment.description if segment else "")
    # The saved state the editor started from: a save based on an older one is refused (lost update).
    version = request.POST.get("version", segment.version if segment else "")
    saved_meanwhile: list[str] = []
    error = ""
    if request.method != "POST" and segment is not None:
        # Stored conditions that no longer pass the checks: say so while the user corrects them.
        error = selectors.segment_evaluated(user=request.user, segment=segment).problem
    if request.method == "POST" and request.POST.get("action") == "save":
        definition = forms.state_definition(state)
        try:
            if segment is None:
                kind = Segment.Kind.STATIC if request.POST.get("kind") == "static" else Segment.Kind.DYNAMIC
                segment = services.segment_create(
                    actor=request.user,  # type: ignore[arg-type]
                    fields={"name": name, "description": description, "definition": definition, "kind": kind},
                )
            else:
                services.segment_update(
                    actor=request.user,  # type: ignore[arg-type]
                    segment=segment,
                    fields={"name": name, "description": description, "definition": definition},
                    expected_version=version or None,
                )
            messages.success(request, _("Segment saved."))
            return redirect("segments:detail", segment.pk)
        except StaleEditError as exc:
            error = _messages(exc)
            saved_meanwhile = forms.segment_saved_meanwhile(
                exc.current, name=name, description=description, definition=definition
            )
            version = exc.current.version  # type: ignore[attr-defined]
        except ValidationError as exc:
            error = _messages(exc)
    context = {
        **_builder_context(request, state),
        "rebuild_url": reverse("segments:edit", args=[segment.pk]) if segment else reverse("segments:new"),
        "segment": segment,
        "name": name,
        "description": description,
        "version": version,
        "saved_meanwhile": saved_meanwhile,
        "save_error": error,
    }
    template = "segments/builder.html#builder" if request.htmx else "segments/builder.html"
    return render(request, template, context)


def segment_new(request: HtmxHttpRequest) -> HttpResponse:
    return _builder(request, None)


def segment_edit(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    segment = selectors.segment_get(user=request.user, pk=pk, action="change")
    return _builder(request, segment)


@require_POST
def segment_count(request: HttpRequest) -> HttpResponse:
    """The live member count of the builder (htmx)."""
    _require_view(request)
    state = forms.builder_state(request.POST)
    context = _builder_context(request, state, for_persona=request.POST.get("for") == "persona")
    return render(request, "segments/_conditions.html#count", context)


def segment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    segment = selectors.segment_get(user=request.user, pk=pk)
    evaluated = selectors.segment_evaluated(user=request.user, segment=segment)
    members = evaluated.members
    page = paginate(
        members.select_related("metrics", "owner"),
        ordering=MEMBER_ORDER,
        cursor=request.GET.get("cursor"),
        size=PAGE_SIZE,
        backwards=request.GET.get("dir") == "prev",
    )
    user: Any = request.user
    return render(
        request,
        "segments/detail.html",
        {
            "segment": segment,
            "description": evaluated.description,
            "problem": evaluated.problem,
            "page": page,
            "totals": None if evaluated.problem and not segment.is_static else selectors.totals(members),
            "bulk_form": forms.BulkForm(),
            "can_reassign": user.has_perm("customers.reassign_customer"),
            "can_edit": selectors.may(user, segment, "change"),
            "can_task": can(user, Task, "add"),
            "can_change_customers": can(user, Customer, "change"),
            "owners": User.objects.filter(is_active=True).order_by("username")
            if user.has_perm("customers.reassign_customer")
            else [],
            # Who may get the tasks of "create a task for each": people whose role works on tasks.
            "assignees": task_assignees(user=user),
        },
    )


@require_POST
def segment_bulk(request: HttpRequest, pk: int) -> HttpResponse:
    segment = selectors.segment_get(user=request.user, pk=pk)
    evaluated = selectors.segment_evaluated(user=request.user, segment=segment)
    if evaluated.problem and not segment.is_static:
        messages.error(request, evaluated.problem)
        return redirect("segments:detail", pk)
    members = evaluated.members
    form = forms.BulkForm(request.POST)
    actor: Any = request.user
    if not form.is_valid():
        messages.error(request, _("Choose an action."))
        return redirect("segments:detail", pk)
    data = form.cleaned_data
    try:
        if data["action"] == "assign_owner":
            owner = User.objects.filter(pk=data["owner"], is_active=True).first()
            if owner is None:
                raise ValidationError(_("Choose the new owner."))
            n = services.segment_assign_owner(actor=actor, members=members, owner=owner)
            messages.success(request, _("%(n)d customers given to %(owner)s.") % {"n": n, "owner": owner})
        elif data["action"] == "set_stage":
            if not data["stage"]:
                raise ValidationError(_("Choose the stage to move these customers to."))
            n = services.segment_stage_change(
                actor=actor, members=members, stage=data["stage"], reason=data["reason"] or ""
            )
            messages.success(
                request,
                _("%(n)d customers moved to “%(stage)s”.")
                % {"n": n, "stage": dict(Stage.choices)[data["stage"]]},
            )
        elif data["action"] in ("add_tag", "remove_tag"):
            n = services.segment_tag(
                actor=actor,
                members=members,
                tag_name=data["tag"] or "",
                remove=data["action"] == "remove_tag",
            )
            messages.success(request, _("Tag changed on %(n)d customers.") % {"n": n})
        else:
            require(actor, Task, "add")
            if data["due_at"] is None:
                raise ValidationError(_("Say when the tasks are due."))
            assignee = None
            if data.get("assign_to") not in (None, "", "owner"):
                assignee = User.objects.filter(pk=data["assign_to"], is_active=True).first()
                if assignee is None:
                    raise ValidationError(_("Choose who gets the tasks."))
            n, unowned = services.segment_tasks_create(
                actor=actor,
                members=members,
                title=data["title"] or "",
                due_at=data["due_at"],
                assignee=assignee,
            )
            if assignee is not None:
                messages.success(request, _("%(n)d tasks created for %(user)s.") % {"n": n, "user": assignee})
            else:
                messages.success(request, _("%(n)d tasks created, each for the customer's owner.") % {"n": n})
            if unowned:
                messages.warning(
                    request,
                    ngettext(
                        "%(n)d customer has no owner: that task is yours.",
                        "%(n)d customers have no owner: those tasks are yours.",
                        unowned,
                    )
                    % {"n": unowned},
                )
    except ValidationError as exc:
        messages.error(request, _messages(exc))
    return redirect("segments:detail", pk)


@require_POST
def segment_freeze(request: HttpRequest, pk: int) -> HttpResponse:
    segment = selectors.segment_get(user=request.user, pk=pk, action="change")
    try:
        n = services.segment_freeze(actor=request.user, segment=segment)  # type: ignore[arg-type]
    except ValidationError as exc:
        messages.error(request, _messages(exc))
        return redirect("segments:detail", pk)
    messages.success(request, _("Segment frozen with %(n)d customers.") % {"n": n})
    return redirect("segments:detail", pk)


@require_POST
def segment_delete(request: HttpRequest, pk: int) -> HttpResponse:
    segment = selectors.segment_get(user=request.user, pk=pk, action="delete")
    services.segment_delete(actor=request.user, segment=segment)  # type: ignore[arg-type]
    messages.success(request, _("Segment deleted."))
    return redirect("segments:list")


def pareto(request: HttpRequest) -> HttpResponse:
    _require_view(request)
    figures = services.figures_current()
    abc = selectors.figures_rows(figures, "abc")
    total_revenue = sum(v["revenue"] for v in abc.values()) or 1.0
    abc_rows = [{"class": k, **v, "share": v["revenue"] / total_revenue} for k, v in sorted(abc.items())]
    curve = selectors.figures_rows(figures, "pareto")
    return render(
        request,
        "segments/pareto.html",
        {
            "figures": figures,
            "curve": [{"customers": f"{round(x * 100)}%", "revenue": y} for x, y in curve.get("points", [])],
            "top20": curve.get("top20_share"),
            "prospects": curve.get("prospects", 0),
            "abc": abc_rows,
            "growth": selectors.growth_potential(user=request.user),
        },
    )


def rfm(request: HttpRequest) -> HttpResponse:
    _require_view(request)
    figures = services.figures_current()
    grid = selectors.rfm_grid(figures)
    moves = selectors.figures_rows(figures, "rfm_moves")
    since = moves.get("since")
    if isinstance(since, str):
        # Stored as ISO text in the figures' JSON: a date, so that the template shows it localised.
        since = dt.date.fromisoformat(since)
    return render(
        request,
        "segments/rfm.html",
        {
            "figures": figures,
            "grid": grid,
            "moves": selectors.rfm_top_moves(figures),
            "since": since,
            "moved": moves.get("moved", 0),
        },
    )


@require_POST
def follow_up(request: HtmxHttpRequest, customer_pk: int) -> HttpResponse:
    """One click on the dashboard: a follow-up task for tomorrow."""
    require(request.user, Task, "add")
    customer = get_for_user(Customer.objects.select_related("metrics"), request.user, "view", pk=customer_pk)
    task = services.follow_up_create(actor=request.user, customer=customer)  # type: ignore[arg-type]
    if request.htmx:
        return render(request, "segments/follow_up_done.html", {"task": task})
    messages.success(request, _("Task created: %(title)s") % {"title": task.title})
    return redirect("web:home")


# --------------------------------------------------------------------------------------------------
# Personas


def persona_list(request: HttpRequest) -> HttpResponse:
    require(request.user, Persona, "view")
    rows = selectors.persona_rows(user=request.user)
    return render(
        request,
        "segments/persona_list.html",
        {"rows": rows, "too_many": len(rows) > 5, "run": selectors.suggestion_run(user=request.user)},
    )


def _persona_form(request: HtmxHttpRequest, persona: Any) -> HttpResponse:
    """The persona form with the segment condition editor for its rule (no JSON to type).

    ``persona`` comes already checked for "change" (see :func:`persona_edit`). A POST whose
    ``action`` is a builder button (add or remove a condition or a group) re-renders the editor;
    only "save" (or no action at all) saves.
    """
    if persona is None:
        require(request.user, Persona, "add")
    posted = request.method == "POST"
    form = forms.PersonaForm(request.POST if posted else None, instance=persona)
    if posted:
        state = forms.builder_state(request.POST)
    elif persona is not None and persona.definition:
        state = forms.state_from_definition(persona.definition)
    else:
        state = forms.builder_state(None, first_rule=False)
    problem = ""
    if not posted and persona is not None:
        problem = selectors.persona_rule_problem(user=request.user, persona=persona)
    if posted and request.POST.get("action", "save") == "save" and form.is_valid():
        definition = forms.state_definition(state)
        profile = {k: v for k, v in form.cleaned_data.items() if k != "version"}
        fields = {**profile, "definition": definition if definition["groups"] else {}}
        actor: Any = request.user
        try:
            if persona is None:
                persona = services.persona_create(actor=actor, fields=fields)
            else:
                services.persona_update(
                    actor=actor, persona=persona, fields=fields, expected_version=form.expected_version()
                )
            messages.success(request, _("Persona saved."))
            return redirect("segments:persona_detail", persona.pk)
        except StaleEditError as exc:
            form.add_error(None, exc)
            rule = forms.rule_saved_meanwhile(exc.current.definition, fields["definition"])  # type: ignore[attr-defined]
            if rule:
                form.add_error(None, rule)
            form.show_stale_edit(exc.current)
            persona = exc.current  # the page's title names the persona as stored (the form has the typed)
        except ValidationError as exc:
            form.add_error(None, _messages(exc))
    count = selectors.persona_list(user=request.user).count()
    context = {
        **_builder_context(request, state, for_persona=True),
        "rebuild_url": reverse("segments:persona_edit", args=[persona.pk])
        if persona is not None
        else reverse("segments:persona_new"),
        "form": form,
        "persona": persona,
        "problem": problem,
        "too_many": count >= 5 and persona is None,
    }
    template = "segments/persona_form.html#builder" if request.htmx else "segments/persona_form.html"
    return render(request, template, context)


def persona_new(request: HtmxHttpRequest) -> HttpResponse:
    return _persona_form(request, None)


def persona_edit(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    persona = selectors.persona_get(user=request.user, pk=pk, action="change")
    return _persona_form(request, persona)


@require_POST
def persona_delete(request: HttpRequest, pk: int) -> HttpResponse:
    persona = selectors.persona_get(user=request.user, pk=pk, action="delete")
    services.persona_delete(actor=request.user, persona=persona)  # type: ignore[arg-type]
    messages.success(request, _("Persona “%(name)s” deleted.") % {"name": persona.name})
    return redirect("segments:persona_list")


def persona_detail(request: HttpRequest, pk: int) -> HttpResponse:
    persona = selectors.persona_get(user=request.user, pk=pk)
    evaluated = selectors.persona_evaluated(user=request.user, persona=persona)
    user: Any = request.user
    page = paginate(
        evaluated.members.select_related("metrics"),
        ordering=MEMBER_ORDER,
        cursor=request.GET.get("cursor"),
        size=PAGE_SIZE,
        backwards=request.GET.get("dir") == "prev",
    )
    return render(
        request,
        "segments/persona_detail.html",
        {
            "persona": persona,
            "can_edit": selectors.may(user, persona, "change"),
            "report": evaluated.report,
            "problem": evaluated.problem,
            "page": page,
            "rule": evaluated.rule,
        },
    )


def persona_suggest(request: HttpRequest) -> HttpResponse:
    """GET shows the last suggestions; POST clusters the customers again."""
    require(request.user, PersonaSuggestionRun, "add" if request.method == "POST" else "view")
    if request.method == "POST":
        run = services.persona_suggest(actor=request.user)  # type: ignore[arg-type]
        if run is None:
            messages.error(request, _("Not enough customers with purchases to suggest personas."))
            return redirect("segments:persona_suggest")
        return redirect("segments:persona_suggest")
    return render(
        request, "segments/persona_suggest.html", {"run": selectors.suggestion_run(user=request.user)}
    )


@require_POST
def persona_adopt(request: HttpRequest, run: int, index: int) -> HttpResponse:
    require(request.user, Persona, "add")
    found = selectors.suggestion_run(user=request.user, pk=run)
    if found is None or not 0 <= index < len(found.suggestions):
        return render(request, "segments/persona_suggest.html", {"run": None}, status=404)
    name = request.POST.get("name", "").strip() or found.suggestions[index]["name"]
    persona = services.persona_adopt(actor=request.user, run=found, index=index, name=name)  # type: ignore[arg-type]
    messages.success(request, _("Persona “%(name)s” created.") % {"name": persona.name})
    return redirect("segments:persona_detail", persona.pk)
