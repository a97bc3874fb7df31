"""Segment definitions: an allowlist of fields and operators, validation, and compilation to ``Q``.

A definition is JSON::

    {"match": "all" | "any",
     "groups": [{"match": "all" | "any",
                 "rules": [{"field": "lifecycle", "op": "in", "value": ["active", "new"]}, ...]}]}

Only the fields of :data:`FIELDS` and the operators of their type exist; values are parsed to the
field's type before they reach the ORM. Nothing from the user becomes SQL text or an ORM lookup name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, Value
from django.db.models.functions import Upper
from django.db.models.lookups import Exact
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from cartera.customers.models import Channel, IncomeRange, Source, Stage, Title
from cartera.insights.models import ABCClass, Lifecycle, RFMSegment
from cartera.segments.models import MAX_AGE

MAX_RULES = 40
MAX_GROUPS = 10
MAX_LIST = 200
MAX_ID = 2**63 - 1  # a 64-bit primary key (BigAutoField), the largest id any row can have
MAX_DAYS = 100_000

_INT = (Decimal(-(2**31)), Decimal(2**31 - 1))  # IntegerField
_POSITIVE_INT = (Decimal(0), Decimal(2**31 - 1))  # PositiveIntegerField
_SCORE = (Decimal(0), Decimal(32_767))  # PositiveSmallIntegerField
_MONEY = (Decimal("-999999999999.99"), Decimal("999999999999.99"))  # DecimalField(14, 2)
_PROBABILITY = (Decimal(0), Decimal(1))


@dataclass(frozen=True)
class Field:
    """One field a segment may test: its label, type, ORM path (ours, never the user's) and choices."""

    label: Promise | str
    type: str  # text | choice | number | date | bool | tags | owner | persona | age | campaign
    path: str
    choices: Callable[[], list[tuple[str, str]]] | None = None
    group: Promise | None = None
    # The values a number may take: the column's own range (or a probability's), so that nothing
    # the database cannot compare reaches it.
    bounds: tuple[Decimal, Decimal] | None = None
    # An admin-defined field (customers/fields.py): its key in ``Customer.custom_fields``.
    custom_key: str = ""
    # A field registered by a higher app (:func:`register_field`) builds its own condition from the
    # cleaned operator and value, and the day: ``q(op, value, today)`` over ``Customer``.
    q: Callable[[str, Any, dt.date], Q] | None = None


def _static(choices: Any) -> Callable[[], list[tuple[str, str]]]:
    return lambda: [(str(v), str(label)) for v, label in choices]


def _owner_choices() -> list[tuple[str, str]]:
    from cartera.accounts.models import User

    return [(str(u.pk), str(u)) for u in User.objects.filter(is_active=True).order_by("username")[:500]]


def _tag_choices() -> list[tuple[str, str]]:
    from cartera.customers.models import Tag

    return [(str(t.pk), t.name) for t in Tag.objects.order_by("name")[:500]]


def _persona_choices() -> list[tuple[str, str]]:
    from cartera.segments.models import Persona

    return [(str(p.pk), p.name) for p in Persona.objects.order_by("name")[:100]]


PROFILE = _("Profile")
ANALYSIS = _("Analysis")

FIELDS: dict[str, Field] = {
    "first_name": Field(_("first name"), "text", "first_name", group=PROFILE),
    "last_name": Field(_("last name"), "text", "last_name", group=PROFILE),
    "email": Field(_("email"), "text", "email", group=PROFILE),
    "phone": Field(_("phone"), "text", "phone", group=PROFILE),
    "address": Field(_("address"), "text", "address", group=PROFILE),
    "city": Field(_("city"), "text", "city", group=PROFILE),
    "region": Field(_("province / region"), "text", "region", group=PROFILE),
    "postal_code": Field(_("postal code"), "text", "postal_code", group=PROFILE),
    "country": Field(_("country"), "text", "country", group=PROFILE),
    "sector": Field(_("sector"), "text", "sector", group=PROFILE),
    "profession": Field(_("profession"), "text", "profession", group=PROFILE),
    "job_title": Field(_("job title"), "text", "job_title", group=PROFILE),
    "company": Field(_("company"), "text", "company__name", group=PROFILE),
    "title": Field(_("title"), "choice", "title", _static(Title.choices), PROFILE),
    "income_range": Field(_("income range"), "choice", "income_range", _static(IncomeRange.choices), PROFILE),
    "preferred_channel": Field(
        _("preferred channel"), "choice", "preferred_channel", _static(Channel.choices), PROFILE
    ),
    "age": Field(_("age"), "age", "birth_date", group=PROFILE),
    "birth_date": Field(_("birth date"), "date", "birth_date", group=PROFILE),
    "stage": Field(_("stage"), "choice", "stage", _static(Stage.choices), PROFILE),
    "source": Field(_("source"), "choice", "source", _static(Source.choices), PROFILE),
    "owner": Field(_("owner"), "owner", "owner", _owner_choices, PROFILE),
    "tags": Field(_("tags"), "tags", "tags", _tag_choices, PROFILE),
    "persona": Field(_("persona"), "persona", "personas", _persona_choices, PROFILE),
    "opt_in_email": Field(_("accepts email"), "bool", "opt_in_email", group=PROFILE),
    "opt_in_phone": Field(_("accepts calls"), "bool", "opt_in_phone", group=PROFILE),
    "created_at": Field(_("added on"), "date", "created_at__date", group=PROFILE),
    "lifecycle": Field(_("status"), "choice", "metrics__lifecycle", _static(Lifecycle.choices), ANALYSIS),
    "rfm_segment": Field(
        _("RFM segment"), "choice", "metrics__rfm_segment", _static(RFMSegment.choices), ANALYSIS
    ),
    "abc_class": Field(_("ABC class"), "choice", "metrics__abc_class", _static(ABCClass.choices), ANALYSIS),
    "r_score": Field(_("R score"), "number", "metrics__r_score", group=ANALYSIS, bounds=_SCORE),
    "f_score": Field(_("F score"), "number", "metrics__f_score", group=ANALYSIS, bounds=_SCORE),
    "m_score": Field(_("M score"), "number", "metrics__m_score", group=ANALYSIS, bounds=_SCORE),
    "p_alive": Field(
        _("probability still active"), "number", "metrics__p_alive", group=ANALYSIS, bounds=_PROBABILITY
    ),
    "clv_12m": Field(_("12-month value (CLV)"), "number", "metrics__clv_12m", group=ANALYSIS, bounds=_MONEY),
    "revenue": Field(_("revenue"), "number", "metrics__revenue", group=ANALYSIS, bounds=_MONEY),
    "orders_count": Field(
        _("orders"), "number", "metrics__orders_count", group=ANALYSIS, bounds=_POSITIVE_INT
    ),
    "recency_days": Field(
        _("days since last purchase"), "number", "metrics__recency_days", group=ANALYSIS, bounds=_INT
    ),
    "last_order_on": Field(_("last purchase"), "date", "metrics__last_order_on", group=ANALYSIS),
    "first_order_on": Field(_("first purchase"), "date", "metrics__first_order_on", group=ANALYSIS),
    "declining": Field(_("orders declining"), "bool", "metrics__declining", group=ANALYSIS),
}

CUSTOM = _("Custom fields")
_CUSTOM_BOUNDS = (Decimal("-1e15"), Decimal("1e15"))


def _custom_fields() -> dict[str, Field]:
    """The admin-defined fields as segment fields, named ``cf:<key>`` (one small query)."""
    from cartera.customers.fields import SEGMENT_KINDS, custom_field_specs

    fields = {}
    for spec in custom_field_specs():
        choices = _static([(c, c) for c in spec.choices]) if spec.kind == "choice" else None
        fields[spec.name] = Field(
            spec.label, SEGMENT_KINDS[spec.kind], f"custom_fields__{spec.key}", choices, CUSTOM,
            bounds=_CUSTOM_BOUNDS, custom_key=spec.key,
        )  # fmt: skip
    return fields


# Conditions that apps above segments add (surveys, campaigns), one :func:`register_field` call each
# from their ``AppConfig.ready()``: segments never imports them.
REGISTERED: dict[str, Field] = {}


def register_field(name: str, field: Field) -> None:
    """Add a condition owned by a higher app. Its ``field.q`` compiles it; types, operators, bounds
    and choices are checked here like those of any other field."""
    if field.q is None:
        raise ValueError(f"segment field {name!r} needs its own q()")
    if name in FIELDS or name.startswith("cf:") or REGISTERED.get(name, field) is not field:
        raise RuntimeError(f"segment field {name!r} is already defined")
    REGISTERED[name] = field


def all_fields() -> dict[str, Field]:
    """Every field a segment may test: the built-in ones, those of higher apps, the admin-defined ones."""
    return {**FIELDS, **REGISTERED, **_custom_fields()}


def field_named(name: Any) -> Field | None:
    """The field a rule names, or ``None`` when there is none (a deleted custom field, a typo)."""
    if not isinstance(name, str):
        return None
    if name in FIELDS:
        return FIELDS[name]
    if name in REGISTERED:
        return REGISTERED[name]
    if name.startswith("cf:"):
        return _custom_fields().get(name)
    return None


OPERATORS: dict[str, dict[str, Promise]] = {
    "text": {
        "eq": _("is"),
        "neq": _("is not"),
        "contains": _("contains"),
        "startswith": _("starts with"),
        "in": _("is one of (comma-separated)"),
        "empty": _("is empty"),
        "not_empty": _("is not empty"),
    },
    "choice": {
        "in": _("is one of"),
        "not_in": _("is none of"),
        "empty": _("is empty"),
        "not_empty": _("is not empty"),
    },
    "number": {
        "eq": _("="),
        "neq": _("≠"),
        "gt": _(">"),
        "gte": _("≥"),
        "lt": _("<"),
        "lte": _("≤"),
        "between": _("between"),
        "empty": _("is empty"),
        "not_empty": _("is not empty"),
    },
    "age": {
        "gte": _("≥"),
        "lte": _("≤"),
        "between": _("between"),
        "empty": _("is unknown"),
    },
    "date": {
        "eq": _("on"),
        "before": _("before"),
        "after": _("after"),
        "between": _("between"),
        "last_days": _("in the last N days"),
        "older_days": _("more than N days ago"),
        "empty": _("is empty"),
        "not_empty": _("is not empty"),
    },
    "bool": {"true": _("yes"), "false": _("no")},
    "tags": {"any": _("has any of"), "all": _("has all of"), "none": _("has none of")},
    "owner": {"in": _("is one of"), "not_in": _("is none of"), "me": _("is me"), "empty": _("has no owner")},
    "persona": {"in": _("is one of"), "not_in": _("is none of")},
    # Campaign responses (the ``campaign`` field of the campaigns app): each takes campaigns.
    "campaign": {
        "received": _("received any of"),
        "not_received": _("received none of"),
        "control": _("was in the control group of"),
        "clicked": _("clicked a link of"),
        "replied": _("replied to"),
        "redeemed": _("redeemed the code of"),
        "bought_after": _("bought again after"),
    },
}

NO_VALUE = {"empty", "not_empty", "true", "false", "me"}
LIST_OPS = {"in", "not_in", "any", "all", "none"}


def _error(message: Any) -> ValidationError:
    return ValidationError(message, code="invalid_definition")


def _shown(value: Any) -> str:
    """A value as it may be quoted back in a message: short, and only characters that can be shown."""
    text = str(value)
    text = text if len(text) <= 40 else text[:39] + "…"
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "?")


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",")]
    if not isinstance(value, list):
        raise _error(_("A list of values is expected."))
    items = [v for v in value if v not in ("", None)]
    if not items:
        raise _error(_("Choose at least one value."))
    if len(items) > MAX_LIST:
        raise _error(_("Too many values."))
    return items


def _number(value: Any, bounds: tuple[Decimal, Decimal] | None = None) -> Decimal:
    try:
        number = Decimal(str(value).strip().replace(",", "."))
    except (InvalidOperation, ValueError) as exc:
        raise _error(_("“%(value)s” is not a number.") % {"value": _shown(value)}) from exc
    if not number.is_finite():
        raise _error(_("“%(value)s” is not a number.") % {"value": _shown(value)})
    if bounds is not None and not bounds[0] <= number <= bounds[1]:
        raise _error(
            _("“%(value)s” is not between %(low)s and %(high)s.")
            % {"value": _shown(value), "low": bounds[0], "high": bounds[1]}
        )
    return number


def _date(value: Any) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise _error(_("“%(value)s” is not a date (YYYY-MM-DD).") % {"value": _shown(value)}) from exc


def _whole(value: Any, high: int, message: Any) -> int:
    try:
        number = Decimal(str(value).strip().replace(",", "."))
    except (InvalidOperation, ValueError):
        number = Decimal("NaN")
    if not number.is_finite() or number != number.to_integral_value() or not 0 <= number <= high:
        raise _error(message % {"value": _shown(value), "max": high})
    return int(number)


def _int(value: Any) -> int:
    """A number of days (the "in the last N days" operators)."""
    return _whole(value, MAX_DAYS, _("“%(value)s” is not a whole number of days (0 to %(max)d)."))


def _age(value: Any) -> int:
    return _whole(value, MAX_AGE, _("“%(value)s” is not an age in years (0 to %(max)d)."))


def _id(value: Any) -> str:
    """The id of a row (a user, a tag, a persona): digits only, within a 64-bit key."""
    text = str(value).strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 19 and 0 < int(text) <= MAX_ID):
        raise _error(_("“%(value)s” is not a valid identifier.") % {"value": _shown(value)})
    return str(int(text))


def _text(value: Any) -> str:
    """Free text as the database can store it: no NUL, no broken Unicode (a lone surrogate)."""
    text = str(value if value is not None else "").strip()[:200]
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _error(_("The text holds a character that cannot be stored.")) from exc
    if "\x00" in text:
        raise _error(_("The text holds a character that cannot be stored."))
    return text


def _pair(value: Any, parse: Callable[[Any], Any]) -> list[Any]:
    if not isinstance(value, list) or len(value) != 2:
        raise _error(_("“between” needs two values."))
    low, high = parse(value[0]), parse(value[1])
    if low > high:
        low, high = high, low
    return [low, high]


def _clean_value(field: Field, op: str, value: Any, choices: set[str] | None) -> Any:
    """The value parsed to the field's type and range, or a ValidationError."""
    kind = field.type
    if op in NO_VALUE:
        return None
    if kind in ("tags", "owner", "persona"):
        return [_id(v) for v in _as_list(value)]
    if kind in ("choice", "campaign"):
        # A campaign is named by its id (digits only); a choice by its value.
        items = [_id(v) if kind == "campaign" else str(v) for v in _as_list(value)]
        if choices is not None and not set(items) <= choices:
            unknown = ", ".join(sorted(_shown(v) for v in set(items) - choices))
            message = (
                _("Unknown campaign: %(values)s.") if kind == "campaign" else _("Unknown value: %(values)s.")
            )
            raise _error(message % {"values": unknown})
        return items
    if kind == "text":
        if op == "in":
            return [_text(v) for v in _as_list(value)]
        text = _text(value)
        if not text:
            raise _error(_("Enter a value."))
        return text
    if kind == "number":

        def parse(v: Any) -> Decimal:
            return _number(v, field.bounds)

        if op == "between":
            return [str(v) for v in _pair(value, parse)]
        return str(parse(value))
    if kind == "age":
        if op == "between":
            return [str(v) for v in _pair(value, _age)]
        return str(_age(value))
    if kind == "date":
        if op in ("last_days", "older_days"):
            return _int(value)
        if op == "between":
            return [d.isoformat() for d in _pair(value, _date)]
        return _date(value).isoformat()
    raise _error(_("Unknown field type."))  # pragma: no cover - FIELDS only holds the types above


def rule_clean(rule: Any, *, check_choices: bool = True) -> dict[str, Any]:
    """One ``{"field", "op", "value"}`` rule, checked and normalised.

    A value that does not fit is refused with a message that names the condition ("Age: “5000” is
    not an age in years (0 to 150)."), in the user's language.
    """
    if not isinstance(rule, dict):
        raise _error(_("A condition must be an object."))
    name = rule.get("field")
    field = field_named(name)
    if field is None:
        raise _error(_("Unknown field: %(field)s.") % {"field": _shown(name)})
    op = rule.get("op")
    if not isinstance(op, str) or op not in OPERATORS[field.type]:
        raise _error(_("“%(op)s” cannot be used with %(field)s.") % {"op": _shown(op), "field": field.label})
    choices = None
    if check_choices and field.choices is not None and field.type in ("choice", "campaign"):
        choices = {v for v, _label in field.choices()}
    try:
        value = _clean_value(field, op, rule.get("value"), choices)
    except ValidationError as exc:
        reason = " ".join(exc.messages)
        # Translators: a segment condition's field, then what is wrong with its value.
        raise _error(
            _("%(field)s: %(reason)s") % {"field": capfirst(str(field.label)), "reason": reason}
        ) from exc
    return {"field": name, "op": op, "value": value}


def definition_clean(definition: Any) -> dict[str, Any]:
    """A whole definition, checked and normalised; raises ``ValidationError`` with a plain message."""
    if definition in (None, {}):
        return {"match": "all", "groups": []}
    if not isinstance(definition, dict):
        raise _error(_("The conditions must be an object."))
    unknown = set(definition) - {"match", "groups"}
    if unknown:
        raise _error(_("Unknown keys: %(keys)s.") % {"keys": ", ".join(sorted(map(str, unknown)))})
    match = definition.get("match", "all")
    groups = definition.get("groups", [])
    if match not in ("all", "any") or not isinstance(groups, list) or len(groups) > MAX_GROUPS:
        raise _error(_("Invalid grouping."))
    clean_groups = []
    total = 0
    for group in groups:
        if not isinstance(group, dict) or set(group) - {"match", "rules"}:
            raise _error(_("Invalid group."))
        g_match = group.get("match", "all")
        rules = group.get("rules", [])
        if g_match not in ("all", "any") or not isinstance(rules, list):
            raise _error(_("Invalid group."))
        total += len(rules)
        if total > MAX_RULES:
            raise _error(_("Too many conditions (at most %(n)d).") % {"n": MAX_RULES})
        clean_rules = [rule_clean(r) for r in rules]
        if clean_rules:
            clean_groups.append({"match": g_match, "rules": clean_rules})
    return {"match": match, "groups": clean_groups}


def _years_ago(today: dt.date, years: int) -> dt.date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


# Operators that only a customer with analysis metrics can satisfy (no "is none of", "is empty"...):
# a definition made only of these, on analysis fields, selects rows of the metrics table alone.
_NEEDS_METRICS_OPS = {"in", "eq", "gt", "gte", "lt", "lte", "between", "before", "after", "last_days",
                      "older_days", "true", "false"}  # fmt: skip
_METRICS_PREFIX = "metrics__"


# Profile fields the metrics table keeps a copy of (kept current by a trigger, see
# insights.CustomerMetrics.stage); their name there is the same.
_COPIED_ON_METRICS = {"stage"}


def _needs_metrics(rule: dict[str, Any]) -> bool:
    """Only a customer with a metrics row can satisfy the rule."""
    field = field_named(rule["field"])
    return field is not None and field.path.startswith(_METRICS_PREFIX) and rule["op"] in _NEEDS_METRICS_OPS


def _answered_on_metrics(rule: dict[str, Any]) -> bool:
    return _needs_metrics(rule) or rule["field"] in _COPIED_ON_METRICS


def _requires_metrics(parts: list[bool], match: str) -> bool:
    """Whether a group of conditions (each requiring a metrics row or not) requires one."""
    return any(parts) if match == "all" else all(parts)


def on_metrics_alone(definition: dict[str, Any]) -> bool:
    """Whether a *cleaned* definition can be evaluated on the metrics table without the customers.

    True when every condition can be read there (an analysis metric, or the stage the table keeps
    a copy of) and the definition as a whole can only match a customer who has a metrics row (an
    "all" group with one analysis condition; every alternative of an "any"): the customers matching
    it are then exactly the metrics rows matching it (one row per customer), and counting them needs
    no join with the customer file.
    """
    groups = definition.get("groups", [])
    rules = [rule for group in groups for rule in group["rules"]]
    if not rules or not all(_answered_on_metrics(rule) for rule in rules):
        return False
    needed = [_requires_metrics([_needs_metrics(r) for r in g["rules"]], g["match"]) for g in groups]
    return _requires_metrics(needed, definition.get("match", "all"))


def number_q(path: str, op: str, value: Any) -> Q:
    """A cleaned number condition (``=, ≠, >, ≥, <, ≤, between, empty``) on the customer's ``path``;
    also for the number fields higher apps register (their ``q``)."""
    if op == "between":
        return Q(**{f"{path}__gte": Decimal(value[0]), f"{path}__lte": Decimal(value[1])})
    if op in ("empty", "not_empty"):
        return Q(**{f"{path}__isnull": op == "empty"})
    if op == "eq":
        return Q(**{path: Decimal(value)})
    if op == "neq":
        return ~Q(**{path: Decimal(value)})
    return Q(**{f"{path}__{op}": Decimal(value)})


def _rule_q(rule: dict[str, Any], user: Any, today: dt.date, depth: int, on_metrics: bool = False) -> Q:
    field = field_named(rule["field"])
    if field is None:
        raise _error(_("Unknown field: %(field)s.") % {"field": _shown(rule["field"])})
    path, op, value, kind = field.path, rule["op"], rule["value"], field.type
    if field.q is not None:
        return field.q(op, value, today)
    if field.custom_key:
        from cartera.customers.fields import custom_field_q

        return custom_field_q(field.custom_key, kind, op, value, today)
    if on_metrics:
        path = path.removeprefix(_METRICS_PREFIX)
    if kind == "text":
        empty = Q(**{f"{path}__isnull": True}) | Q(**{path: ""})
        table = {
            # UPPER() on both sides is iexact's meaning, written so the region index can answer it.
            "eq": lambda: Q(Exact(Upper(path), Upper(Value(value)))),
            "neq": lambda: ~Q(**{f"{path}__iexact": value}),
            "contains": lambda: Q(**{f"{path}__icontains": value}),
            "startswith": lambda: Q(**{f"{path}__istartswith": value}),
            "in": lambda: Q(**{f"{path}__in": value}),
            "empty": lambda: empty,
            "not_empty": lambda: ~empty,
        }
        return table[op]()
    if kind == "choice":
        empty = Q(**{f"{path}__isnull": True}) | Q(**{path: ""})
        return {
            "in": lambda: Q(**{f"{path}__in": value}),
            "not_in": lambda: ~Q(**{f"{path}__in": value}),
            "empty": lambda: empty,
            "not_empty": lambda: ~empty,
        }[op]()
    if kind == "number":
        return number_q(path, op, value)
    if kind == "age":
        if op == "empty":
            return Q(**{f"{path}__isnull": True})
        if op == "gte":  # born on or before today minus N years
            return Q(**{f"{path}__lte": _years_ago(today, int(value))})
        if op == "lte":  # younger than N+1
            return Q(**{f"{path}__gt": _years_ago(today, int(value) + 1)})
        low, high = int(value[0]), int(value[1])
        return Q(**{f"{path}__lte": _years_ago(today, low), f"{path}__gt": _years_ago(today, high + 1)})
    if kind == "date":
        if op in ("empty", "not_empty"):
            return Q(**{f"{path}__isnull": op == "empty"})
        if op == "last_days":
            return Q(**{f"{path}__gte": today - dt.timedelta(days=int(value))})
        if op == "older_days":
            return Q(**{f"{path}__lt": today - dt.timedelta(days=int(value))})
        if op == "between":
            return Q(**{f"{path}__gte": _date(value[0]), f"{path}__lte": _date(value[1])})
        lookup = {"eq": "", "before": "__lt", "after": "__gt"}[op]
        return Q(**{f"{path}{lookup}": _date(value)})
    if kind == "bool":
        return Q(**{path: op == "true"})
    if kind == "tags":
        from cartera.customers.models import Customer

        ids = [int(v) for v in value]
        tagged = Customer.tags.through.objects.filter(tag_id__in=ids).values("customer_id")
        if op == "any":
            return Q(pk__in=tagged)
        if op == "none":
            return ~Q(pk__in=tagged)
        q = Q()
        for tag_id in ids:
            q &= Q(pk__in=Customer.tags.through.objects.filter(tag_id=tag_id).values("customer_id"))
        return q
    if kind == "owner":
        if op == "me":
            return Q(owner_id=getattr(user, "pk", None))
        if op == "empty":
            return Q(owner__isnull=True)
        owner_q = Q(owner_id__in=[int(v) for v in value])
        return owner_q if op == "in" else ~owner_q
    if kind == "persona":
        q = Q(pk__in=[])
        for persona_id in value:
            q |= persona_q(int(persona_id), user=user, today=today, depth=depth + 1)
        return q if op == "in" else ~q
    raise _error(_("Unknown field type."))  # pragma: no cover


def persona_q(persona_id: int, *, user: Any, today: dt.date, depth: int = 0) -> Q:
    """Customers of a persona: assigned by hand, or matching its rule."""
    from cartera.segments.models import Persona

    by_hand = Q(pk__in=Persona.members.through.objects.filter(persona_id=persona_id).values("customer_id"))
    if depth > 1:  # a persona's rule naming a persona naming a persona...: stop at hand-assigned
        return by_hand
    persona = Persona.objects.filter(pk=persona_id).only("name", "definition").first()
    if persona is None:
        return Q(pk__in=[])
    try:
        rule = definition_clean(persona.definition) if persona.definition else {"groups": []}
    except ValidationError as exc:
        # A rule stored by an older version that no longer passes: say which persona it is.
        raise _error(
            _("The rule of persona “%(name)s” cannot be used: %(reason)s")
            % {"name": persona.name, "reason": " ".join(exc.messages)}
        ) from exc
    if not rule["groups"]:
        return by_hand
    return by_hand | to_q(rule, user=user, today=today, depth=depth)


def to_q(
    definition: dict[str, Any],
    *,
    user: Any = None,
    today: dt.date | None = None,
    depth: int = 0,
    on_metrics: bool = False,
) -> Q:
    """Compile a *cleaned* definition to a ``Q`` over ``Customer``. No condition means everyone.

    With ``on_metrics`` the ``Q`` is over ``CustomerMetrics`` instead; only for definitions that
    :func:`on_metrics_alone` accepts.
    """
    today = today or timezone.localdate()
    parts = []
    for group in definition.get("groups", []):
        q = Q()
        for i, rule in enumerate(group["rules"]):
            rq = _rule_q(rule, user, today, depth, on_metrics)
            q = rq if i == 0 else (q & rq if group["match"] == "all" else q | rq)
        parts.append(q)
    if not parts:
        return Q()
    result = parts[0]
    for q in parts[1:]:
        result = result & q if definition.get("match", "all") == "all" else result | q
    return result


_NAMED = ("owner", "tags", "persona")


def _names_of(kind: str, ids: list[str]) -> dict[str, str]:
    """The names of the users, tags or personas a rule names by id (a deleted one keeps its id)."""
    from cartera.accounts.models import User
    from cartera.customers.models import Tag
    from cartera.segments.models import Persona

    wanted = [int(v) for v in ids]
    if kind == "owner":
        return {str(u.pk): str(u) for u in User.objects.filter(pk__in=wanted)}
    model = Tag if kind == "tags" else Persona
    return {str(pk): name for pk, name in model.objects.filter(pk__in=wanted).values_list("pk", "name")}


def describe(definition: dict[str, Any]) -> str:
    """The definition in words, e.g. "status is one of (At risk, Inactive) and revenue > 100"."""
    labels: dict[str, dict[str, str]] = {}
    out = []
    for group in definition.get("groups", []):
        words = []
        for rule in group["rules"]:
            found = field_named(rule["field"])
            if found is None:
                continue
            field = found
            if (
                field.choices is not None
                and field.type in ("choice", "campaign")
                and rule["field"] not in labels
            ):
                labels[rule["field"]] = dict(field.choices())
            elif field.type in _NAMED and isinstance(rule["value"], list):
                # Users, tags and personas by name rather than by id.
                labels.setdefault(rule["field"], {}).update(_names_of(field.type, rule["value"]))
            value = rule["value"]
            if isinstance(value, list):
                names = labels.get(rule["field"], {})
                value = ", ".join(names.get(str(v), str(v)) for v in value)
                # Brackets keep the list apart from the "and" that joins conditions.
                value = f"({value})" if len(rule["value"]) > 1 else value
            op_label = OPERATORS[field.type][rule["op"]]
            words.append(f"{field.label} {op_label}" + (f" {value}" if value is not None else ""))
        out.append(_join(words, any_of=group["match"] != "all", top=False))
    parts = [f"({p})" if len(definition.get("groups", [])) > 1 else p for p in out]
    return _join(parts, any_of=definition.get("match", "all") != "all", top=True)


def _join(parts: list[str], *, any_of: bool, top: bool) -> str:
    """Join rule descriptions with a translated sentence per pair, so that translators see the
    whole phrase ("%(left)s and %(right)s") instead of a lone conjunction."""
    if not parts:
        return ""
    result = str(parts[0])
    for part in parts[1:]:
        values = {"left": result, "right": str(part)}
        if top:
            # Translators: joins two groups of segment conditions; all groups must hold.
            text = gettext("%(left)s AND %(right)s") if not any_of else gettext("%(left)s OR %(right)s")
        else:
            # Translators: joins two segment conditions inside a group.
            text = gettext("%(left)s and %(right)s") if not any_of else gettext("%(left)s or %(right)s")
        result = text % values
    return result
