"""Reads of personas: the list and one persona through the scoping helper, their members (by rule or
by hand) through :func:`restrict` on the customers, and their reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from cartera.core.scoping import Action, get_for_user, restrict
from cartera.customers.models import Customer
from cartera.insights.models import Lifecycle
from cartera.segments import rules
from cartera.segments.models import Persona, PersonaSuggestionRun
from cartera.segments.rules import definition_clean, persona_q
from cartera.segments.selectors.segments import problem_text, totals


def persona_list(*, user: Any) -> QuerySet[Persona]:
    """Personas are shared with everyone who may view them (every role)."""
    return restrict(Persona.objects.all(), user, "view").order_by("name", "id")


def persona_get(*, user: Any, pk: int, action: Action = "view") -> Persona:
    """One persona for ``action``: 404 when the user cannot see it, 403 when they see it but may not act."""
    return get_for_user(Persona.objects.all(), user, action, pk=pk)


def persona_members(*, user: Any, persona: Persona) -> QuerySet[Customer]:
    return restrict(Customer.objects.all(), user, "view").filter(
        persona_q(persona.pk, user=user, today=timezone.localdate())
    )


@dataclass(frozen=True)
class PersonaReport:
    customers: int
    revenue: float
    clv: float
    at_risk_or_inactive: int

    @property
    def share_at_risk(self) -> float | None:
        return self.at_risk_or_inactive / self.customers if self.customers else None


def persona_report(*, user: Any, persona: Persona) -> PersonaReport:
    members = persona_members(user=user, persona=persona)
    t = totals(members)
    risky = members.filter(
        Q(metrics__lifecycle__in=[Lifecycle.AT_RISK, Lifecycle.INACTIVE, Lifecycle.LOST])
    ).count()
    return PersonaReport(customers=t.customers, revenue=t.revenue, clv=t.clv, at_risk_or_inactive=risky)


def _own_rule(persona: Persona) -> None:
    """Check the persona's own rule first, so that its problem reads as its own (the rules of other
    personas it names are reported with their names, by :func:`rules.persona_q`)."""
    if persona.definition:
        definition_clean(persona.definition)


def _problem(exc: ValidationError) -> str:
    return _("This rule cannot be used: %(reason)s Edit the persona to correct it.") % {
        "reason": problem_text(exc)
    }


def persona_rows(*, user: Any) -> list[tuple[Persona, PersonaReport | None, str]]:
    """Every persona with its report, or, when its stored rule no longer passes the checks, no
    report and the reason (the other personas are still counted)."""
    rows: list[tuple[Persona, PersonaReport | None, str]] = []
    for persona in persona_list(user=user):
        try:
            _own_rule(persona)
            rows.append((persona, persona_report(user=user, persona=persona), ""))
        except ValidationError as exc:
            rows.append((persona, None, _problem(exc)))
    return rows


def persona_rule_problem(*, user: Any, persona: Persona) -> str:
    """Why the persona's stored rule cannot be used, or "" (without counting anyone)."""
    try:
        _own_rule(persona)
        persona_members(user=user, persona=persona)  # compiles the rule, and those it names
    except ValidationError as exc:
        return _problem(exc)
    return ""


@dataclass(frozen=True)
class EvaluatedPersona:
    """A persona as its page shows it (see :class:`EvaluatedSegment`)."""

    members: QuerySet[Customer]
    report: PersonaReport | None
    rule: str
    problem: str


def persona_evaluated(*, user: Any, persona: Persona) -> EvaluatedPersona:
    try:
        rule = rules.describe(definition_clean(persona.definition)) if persona.definition else ""
        members = persona_members(user=user, persona=persona)
        report = persona_report(user=user, persona=persona)
    except ValidationError as exc:
        # Those put in the persona by hand still belong to it.
        by_hand = restrict(Customer.objects.all(), user, "view").filter(
            pk__in=persona.members.through.objects.filter(persona_id=persona.pk).values("customer_id")
        )
        return EvaluatedPersona(members=by_hand, report=None, rule="", problem=_problem(exc))
    return EvaluatedPersona(members=members, report=report, rule=rule, problem="")


def suggestion_run(*, user: Any, pk: int | None = None) -> PersonaSuggestionRun | None:
    """The latest suggestions (or run ``pk``); shared like the personas they lead to."""
    qs = restrict(PersonaSuggestionRun.objects.all(), user, "view").order_by("-created_at")
    return qs.filter(pk=pk).first() if pk else qs.first()
