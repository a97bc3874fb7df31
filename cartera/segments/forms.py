"""The segment builder's form state (groups of rules posted as flat fields) and the persona form."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from cartera.core.concurrency import VersionedFormMixin
from cartera.customers.models import Stage
from cartera.segments.models import Persona
from cartera.segments.rules import NO_VALUE, OPERATORS, all_fields, definition_clean, describe

MAX_UI_GROUPS = 6
MAX_UI_RULES = 10
DEFAULT_RULE = {"field": "lifecycle", "op": "in", "value": [], "value2": ""}


def _int(value: Any, default: int, high: int) -> int:
    try:
        return max(0, min(high, int(value)))
    except (TypeError, ValueError):
        return default


def builder_state(data: QueryDict | None, *, first_rule: bool = True) -> dict[str, Any]:
    """The builder as posted (or, new, one group with a first empty rule, or none: a persona needs no
    rule), with the add/remove buttons applied."""
    if data is None:
        return {
            "match": "all",
            "groups": [{"match": "all", "rules": [dict(DEFAULT_RULE)] if first_rule else []}],
        }
    groups: list[dict[str, Any]] = []
    fields = all_fields()
    for i in range(_int(data.get("groups"), 1, MAX_UI_GROUPS)):
        rules = []
        for j in range(_int(data.get(f"g{i}-rules"), 0, MAX_UI_RULES)):
            prefix = f"g{i}-r{j}-"
            field = data.get(prefix + "field", "")
            if field not in fields:
                continue
            ops = OPERATORS[fields[field].type]
            op = data.get(prefix + "op", "")
            if op not in ops:
                op = next(iter(ops))
            values = [v for v in data.getlist(prefix + "value") if v != ""]
            rules.append(
                {"field": field, "op": op, "value": values, "value2": data.get(prefix + "value2", "")}
            )
        groups.append({"match": "any" if data.get(f"g{i}-match") == "any" else "all", "rules": rules})
    state: dict[str, Any] = {"match": "any" if data.get("match") == "any" else "all", "groups": groups}
    action = data.get("action", "")
    parts = action.split(":")
    try:
        if parts[0] == "add_group" and len(groups) < MAX_UI_GROUPS:
            groups.append({"match": "all", "rules": [dict(DEFAULT_RULE)]})
        elif parts[0] == "add_rule" and len(groups[int(parts[1])]["rules"]) < MAX_UI_RULES:
            groups[int(parts[1])]["rules"].append(dict(DEFAULT_RULE))
        elif parts[0] == "remove_rule":
            groups[int(parts[1])]["rules"].pop(int(parts[2]))
        elif parts[0] == "remove_group":
            groups.pop(int(parts[1]))
    except (IndexError, ValueError):
        pass
    if not groups:
        groups.append({"match": "all", "rules": []})
    return state


def state_from_definition(definition: Any) -> dict[str, Any]:
    """The builder state of a saved definition.

    A definition stored broken (by an older version, say) still opens: what has a known field is
    shown as it is, for the user to correct; the rest is left out.
    """
    groups = []
    fields = all_fields()
    saved = definition.get("groups", []) if isinstance(definition, dict) else []
    for group in saved if isinstance(saved, list) else []:
        if not isinstance(group, dict) or not isinstance(group.get("rules"), list):
            continue
        rules = []
        for rule in group["rules"]:
            if not isinstance(rule, dict) or rule.get("field") not in fields:
                continue
            ops = OPERATORS[fields[rule["field"]].type]
            op = rule.get("op") if rule.get("op") in ops else next(iter(ops))
            value = rule.get("value")
            value2: Any = ""
            if op == "between" and isinstance(value, list) and len(value) == 2:
                value, value2 = [value[0]], value[1]
            elif value is None:
                value = []
            elif not isinstance(value, list):
                value = [value]
            elif fields[rule["field"]].type == "text":
                value = [", ".join(map(str, value))]
            rules.append(
                {"field": rule["field"], "op": op, "value": [str(v) for v in value], "value2": str(value2)}
            )
        groups.append({"match": "any" if group.get("match") == "any" else "all", "rules": rules})
    match = "any" if isinstance(definition, dict) and definition.get("match") == "any" else "all"
    return {"match": match, "groups": groups or [{"match": "all", "rules": []}]}


def rule_saved_meanwhile(current_definition: Any, typed_definition: Any) -> str:
    """ "Conditions saved meanwhile: …" when the stored rule differs from the editor's ("" when equal)."""
    stored, typed = _cleaned(current_definition), _cleaned(typed_definition)
    if stored == typed and stored is not None:
        return ""
    words: Any
    if stored is None:
        words = _("conditions that no longer pass the checks")
    else:
        words = describe(stored) if stored["groups"] else _("(none)")
    return str(_("Conditions saved meanwhile: %(rule)s") % {"rule": words})


def segment_saved_meanwhile(
    current: Any, *, name: str, description: str, definition: dict[str, Any]
) -> list[str]:
    """What a colleague saved in a segment after the editor opened it, one line per part that differs."""
    lines = []
    if current.name != name.strip():
        lines.append(str(_("Name saved meanwhile: %(value)s") % {"value": current.name}))
    if current.description != description.strip():
        stored = current.description or _("(empty)")
        lines.append(str(_("Description saved meanwhile: %(value)s") % {"value": stored}))
    rule = rule_saved_meanwhile(current.definition, definition)
    return [*lines, rule] if rule else lines


def _cleaned(definition: Any) -> dict[str, Any] | None:
    """A definition in its stored form (``None`` when it does not pass the checks), for comparing."""
    try:
        return definition_clean(definition or None)
    except ValidationError:
        return None


def state_definition(state: dict[str, Any]) -> dict[str, Any]:
    """The JSON definition of a builder state (checked afterwards by ``definition_clean``)."""
    groups = []
    fields = all_fields()
    for group in state["groups"]:
        rules = []
        for rule in group["rules"]:
            kind = fields[rule["field"]].type
            op = rule["op"]
            values = rule["value"]
            value: Any
            if op in NO_VALUE:
                value = None
            elif op == "between":
                value = [values[0] if values else "", rule["value2"]]
            elif kind in ("choice", "tags", "owner", "persona") or op == "in":
                value = values
            else:
                value = values[0] if values else ""
            rules.append({"field": rule["field"], "op": op, "value": value})
        if rules:
            groups.append({"match": group["match"], "rules": rules})
    return {"match": state["match"], "groups": groups}


def builder_rows(state: dict[str, Any]) -> list[dict[str, Any]]:
    """What the template needs per group and rule: operators and choices of each rule's field."""
    out = []
    fields = all_fields()
    for group in state["groups"]:
        rules = []
        for rule in group["rules"]:
            field = fields[rule["field"]]
            rules.append(
                {
                    **rule,
                    "type": field.type,
                    "ops": list(OPERATORS[field.type].items()),
                    "choices": field.choices() if field.choices is not None else None,
                    "needs_value": rule["op"] not in NO_VALUE,
                }
            )
        out.append({"match": group["match"], "rules": rules})
    return out


def field_options() -> list[tuple[str, list[tuple[str, str]]]]:
    grouped: dict[str, list[tuple[str, str]]] = {}
    for name, field in all_fields().items():
        grouped.setdefault(str(field.group), []).append((name, str(field.label).capitalize()))
    return list(grouped.items())


class PersonaForm(VersionedFormMixin, forms.ModelForm):  # type: ignore[type-arg]
    """A persona's profile; its rule comes from the condition editor. It carries the version it was
    read at, so that a save based on an older one is refused (lost update)."""

    class Meta:
        model = Persona
        fields = [
            "name", "initials", "description", "age_min", "age_max", "region", "income_range",
            "needs", "looks_for", "solutions", "message", "company_type", "buyer_position",
        ]  # fmt: skip
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "needs": forms.Textarea(attrs={"rows": 2}),
            "looks_for": forms.Textarea(attrs={"rows": 2}),
            "solutions": forms.Textarea(attrs={"rows": 2}),
            "message": forms.Textarea(attrs={"rows": 2}),
        }


class BulkForm(forms.Form):
    ACTIONS = [
        ("add_tag", _("Add a tag")),
        ("remove_tag", _("Remove a tag")),
        ("create_task", _("Create a task for each member")),
        ("assign_owner", _("Assign owner")),
        ("set_stage", _("Change the stage")),
    ]
    action = forms.ChoiceField(label=_("Action"), choices=ACTIONS)
    tag = forms.CharField(label=_("Tag"), max_length=60, required=False)
    title = forms.CharField(label=_("Task title"), max_length=200, required=False)
    due_at = forms.DateTimeField(
        label=_("Due"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    owner = forms.IntegerField(label=_("New owner"), required=False)
    # "owner": each customer's owner; or a user id.
    assign_to = forms.CharField(label=_("Tasks for"), required=False, max_length=20)
    stage = forms.ChoiceField(label=_("Move to stage"), required=False, choices=[("", "—"), *Stage.choices])
    reason = forms.CharField(label=_("Why (optional)"), required=False, max_length=300)
