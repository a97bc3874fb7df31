"""Writes of personas: define, change, delete, and put customers in one by hand."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction

from cartera.accounts.models import User
from cartera.core.concurrency import check_version
from cartera.customers.models import Customer
from cartera.segments.models import Persona
from cartera.segments.rules import definition_clean
from cartera.segments.services.common import check_name, require_row

PERSONA_FIELDS = (
    "name", "initials", "description", "age_min", "age_max", "region", "income_range", "needs",
    "looks_for", "solutions", "message", "company_type", "buyer_position", "definition",
)  # fmt: skip


def _persona_apply(persona: Persona, fields: Mapping[str, Any]) -> None:
    unknown = set(fields) - set(PERSONA_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        if name == "definition":
            value = definition_clean(value) if value else {}
        setattr(persona, name, value.strip() if isinstance(value, str) else value)
    persona.name = check_name(persona.name)[:100]
    persona.full_clean()


def persona_create(*, actor: User, fields: Mapping[str, Any]) -> Persona:
    """Define a persona; its rule (a segment definition) and hand-picked members say who belongs."""
    persona = Persona(owner=actor)
    _persona_apply(persona, fields)
    persona.save()
    return persona


@transaction.atomic
def persona_update(
    *, actor: User, persona: Persona, fields: Mapping[str, Any], expected_version: str | None = None
) -> Persona:
    """Change a persona's profile and rule; refused (``StaleEditError``) when ``expected_version``, the
    version the editor read, is older than the stored one."""
    require_row(actor, persona)
    check_version(persona, expected_version)
    _persona_apply(persona, fields)
    persona.save()
    return persona


def persona_delete(*, actor: User, persona: Persona) -> None:
    """Delete a persona (its author, a manager or an admin). Its customers stay; only their link to
    it goes, and a segment condition naming it then matches nobody."""
    require_row(actor, persona, "delete")
    persona.delete()


def persona_assign(
    *, actor: User, persona: Persona, customers: Iterable[Customer], remove: bool = False
) -> None:
    """Put customers in a persona by hand (or take them out)."""
    require_row(actor, persona)
    if remove:
        persona.members.remove(*customers)
    else:
        persona.members.add(*customers)
