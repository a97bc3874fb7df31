"""Writes of the segments app: portfolio figures, segments, bulk actions and personas."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connections, transaction
from django.db.models import Count, ExpressionWrapper, F, FloatField, Q, QuerySet, Sum, Value
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from cartera.accounts.models import User
from cartera.activity.services import task_create
from cartera.core.scoping import ALL_RECORDS_PERMISSION, restrict
from cartera.customers.models import Customer, Tag
from cartera.insights import selectors as insights_selectors
from cartera.insights.analysis import OrderArrays, PortfolioMetrics
from cartera.insights.models import CustomerMetrics, PortfolioSnapshot
from cartera.segments import figures
from cartera.segments.models import Persona, PortfolioFigures, Segment, SegmentMember
from cartera.segments.rules import definition_clean

AT_RISK_KEPT = 200


# --------------------------------------------------------------------------------------------------
# Portfolio figures (computed once per snapshot; the pages only read them)


def _grouped(field: str) -> dict[str, dict[str, float]]:
    rows = (
        CustomerMetrics.objects.values(field)
        .annotate(n=Count("customer_id"), revenue=Sum("revenue"), clv=Sum("clv_12m"))
        .order_by(field)
    )
    return {
        str(r[field] or ""): {
            "customers": int(r["n"]),
            "revenue": float(r["revenue"] or 0),
            "clv": float(r["clv"] or 0),
        }
        for r in rows
    }


def _at_risk_ids() -> list[int]:
    value_at_risk = ExpressionWrapper(
        F("clv_12m") * (Value(1.0) - Coalesce(F("p_alive"), Value(0.0))), output_field=FloatField()
    )
    return list(
        CustomerMetrics.objects.filter(Q(lifecycle="at_risk") | Q(declining=True), clv_12m__isnull=False)
        .annotate(var=value_at_risk)
        .order_by("-var", "customer_id")
        .values_list("customer_id", flat=True)[:AT_RISK_KEPT]
    )


def figures_refresh(
    *,
    snapshot: PortfolioSnapshot | None = None,
    orders: OrderArrays | None = None,
    metrics: PortfolioMetrics | None = None,
) -> PortfolioFigures | None:
    """Compute the cohort table, RFM grid and moves, ABC and Pareto figures for the latest snapshot.

    Reads every order once (as numpy arrays, like the refresh) and a few GROUP BY queries over the
    metrics; about what one refresh of the snapshot costs, never per page view. The refresh passes
    the ``orders`` it has read and the ``metrics`` it has just stored (as of the snapshot's day), so
    that nothing is read or computed twice.
    """
    snapshot = snapshot or PortfolioSnapshot.objects.order_by("-taken_on").first()
    if snapshot is None:
        return None
    as_of = snapshot.taken_on
    if metrics is not None and metrics.as_of != as_of:
        raise ValueError("the metrics are not of the snapshot's day")
    if orders is None:
        orders = insights_selectors.order_arrays()
    if metrics is not None:
        ids = metrics.customer_ids
        buyers = metrics.orders_count > 0
        # Today's segments are the ones just computed for the metrics, by the same scoring.
        current = (metrics.customer_ids[buyers], metrics.rfm_segment[buyers])
    else:
        ids = insights_selectors.customer_ids()
        current = None
    revenue = figures.revenue_per_customer(orders, ids, as_of=as_of)
    rfm = _grouped("rfm_segment")
    rfm.pop("", None)
    abc = _grouped("abc_class")
    abc.pop("", None)
    with transaction.atomic():
        result, _created = PortfolioFigures.objects.update_or_create(
            taken_on=as_of,
            defaults={
                "snapshot_computed_at": snapshot.computed_at,
                "computed_at": timezone.now(),
                "cohorts": figures.cohort_table(orders, as_of=as_of),
                "rfm": rfm,
                "rfm_moves": figures.rfm_moves(orders, as_of=as_of, current=current),
                "abc": abc,
                "pareto": figures.pareto_curve(revenue),
                "at_risk_ids": _at_risk_ids(),
                "stages": stage_counts(),
            },
        )
        PortfolioFigures.objects.exclude(pk=result.pk).delete()
    return result


def figures_current() -> PortfolioFigures | None:
    """The figures of the latest snapshot, computed first when the snapshot is newer than them.

    Normally ``cartera refresh`` has already computed them; this only catches the first page view
    after a refresh that did not.
    """
    snapshot = PortfolioSnapshot.objects.order_by("-taken_on").only("taken_on", "computed_at").first()
    if snapshot is None:
        return None
    current = PortfolioFigures.objects.filter(
        taken_on=snapshot.taken_on, snapshot_computed_at=snapshot.computed_at
    ).first()
    if current is not None and not current.stages:
        # Figures computed before they held the stage counts: add them once, without the rest.
        current.stages = stage_counts()
        current.save(update_fields=["stages"])
    return current or figures_refresh(snapshot=PortfolioSnapshot.objects.get(pk=snapshot.pk))


def stage_counts() -> dict[str, int]:
    """Customers per stage (every customer: seeing customers means seeing all of them)."""
    rows = Customer.objects.values_list("stage").annotate(n=Count("id")).values_list("stage", "n").order_by()
    return {str(stage): int(n) for stage, n in rows}


# --------------------------------------------------------------------------------------------------
# Follow-up from the dashboard


def follow_up_create(*, actor: User, customer: Customer, note: str = "") -> Any:
    """A task for ``actor`` to contact ``customer`` tomorrow morning (one click from "Anticipate")."""
    tomorrow = timezone.localtime() + dt.timedelta(days=1)
    due = tomorrow.replace(hour=10, minute=0, second=0, microsecond=0)
    return task_create(
        actor=actor,
        fields={
            "title": (_("Follow up with %(name)s") % {"name": customer.full_name})[:200],
            "customer": customer,
            "due_at": due,
            "notes": note,
        },
    )


# --------------------------------------------------------------------------------------------------
# Segments

SEGMENT_FIELDS = ("name", "description", "definition", "kind")
BULK_TASK_LIMIT = 2_000


def _may_edit(actor: User, obj: Segment | Persona) -> None:
    if obj.owner_id != actor.pk and not actor.has_perm(ALL_RECORDS_PERMISSION):
        raise PermissionDenied(_("Only its owner or a manager can change this."))


def _check_name(name: Any) -> str:
    text = str(name or "").strip()
    if not text:
        raise ValidationError({"name": _("Give it a name.")})
    return text[:120]


def segment_create(*, actor: User, fields: Mapping[str, Any]) -> Segment:
    """Save a segment (dynamic; freeze it with :func:`segment_freeze`)."""
    unknown = set(fields) - set(SEGMENT_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    segment = Segment(
        owner=actor,
        name=_check_name(fields.get("name")),
        description=str(fields.get("description") or "").strip(),
        definition=definition_clean(fields.get("definition")),
    )
    with transaction.atomic():
        segment.save()
        if fields.get("kind") == Segment.Kind.STATIC:
            segment_freeze(actor=actor, segment=segment)
    return segment


def segment_update(*, actor: User, segment: Segment, fields: Mapping[str, Any]) -> Segment:
    """Rename a segment or change its conditions (a frozen list keeps its members)."""
    _may_edit(actor, segment)
    if "name" in fields:
        segment.name = _check_name(fields["name"])
    if "description" in fields:
        segment.description = str(fields["description"] or "").strip()
    if "definition" in fields:
        segment.definition = definition_clean(fields["definition"])
    segment.save()
    return segment


@transaction.atomic
def segment_freeze(*, actor: User, segment: Segment) -> int:
    """Turn the segment into a static list of the customers it matches now; returns their number."""
    from cartera.segments.selectors import definition_members

    _may_edit(actor, segment)
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
    _may_edit(actor, segment)
    segment.delete()


def _changeable(actor: User, members: QuerySet[Customer]) -> QuerySet[Customer]:
    return restrict(Customer.objects.all(), actor, "change").filter(pk__in=members.values("pk"))


@transaction.atomic
def segment_assign_owner(*, actor: User, members: QuerySet[Customer], owner: User) -> int:
    """Give every member to ``owner`` (roles that may reassign customers only)."""
    if not actor.has_perm("customers.reassign_customer"):
        raise PermissionDenied(_("You cannot give customers to another member of the team."))
    return _changeable(actor, members).update(owner=owner, updated_at=timezone.now())


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
    *, actor: User, members: QuerySet[Customer], title: str, due_at: dt.datetime, notes: str = ""
) -> int:
    """One task per member for the actor (a call list), at most :data:`BULK_TASK_LIMIT`."""
    title = title.strip()
    if not title:
        raise ValidationError({"title": _("Give the tasks a title.")})
    count = members.count()
    if count > BULK_TASK_LIMIT:
        raise ValidationError(
            _("A segment of %(n)d customers is too large for one task each (at most %(max)d).")
            % {"n": count, "max": BULK_TASK_LIMIT}
        )
    for customer in members.order_by("pk"):
        task_create(
            actor=actor, fields={"title": title, "customer": customer, "due_at": due_at, "notes": notes}
        )
    return count


# --------------------------------------------------------------------------------------------------
# Personas

PERSONA_FIELDS = (
    "name", "initials", "description", "age_min", "age_max", "region", "income_range", "needs",
    "looks_for", "solutions", "company_type", "buyer_position", "definition",
)  # fmt: skip
TOP_REGIONS = 8
AGE_BANDS = ((18, 24), (25, 34), (35, 44), (45, 54), (55, 64), (65, 120))


def _persona_apply(persona: Persona, fields: Mapping[str, Any]) -> None:
    unknown = set(fields) - set(PERSONA_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        if name == "definition":
            value = definition_clean(value) if value else {}
        setattr(persona, name, value.strip() if isinstance(value, str) else value)
    persona.name = _check_name(persona.name)[:100]
    persona.full_clean()


def persona_create(*, actor: User, fields: Mapping[str, Any]) -> Persona:
    """Define a persona; its rule (a segment definition) and hand-picked members say who belongs."""
    persona = Persona(owner=actor)
    _persona_apply(persona, fields)
    persona.save()
    return persona


def persona_update(*, actor: User, persona: Persona, fields: Mapping[str, Any]) -> Persona:
    _may_edit(actor, persona)
    _persona_apply(persona, fields)
    persona.save()
    return persona


def persona_delete(*, actor: User, persona: Persona) -> None:
    """Delete a persona (its author, a manager or an admin). Its customers stay; only their link to
    it goes, and a segment condition naming it then matches nobody."""
    _may_edit(actor, persona)
    persona.delete()


def persona_assign(
    *, actor: User, persona: Persona, customers: Iterable[Customer], remove: bool = False
) -> None:
    """Put customers in a persona by hand (or take them out)."""
    _may_edit(actor, persona)
    if remove:
        persona.members.remove(*customers)
    else:
        persona.members.add(*customers)


def _income_index() -> dict[str, int]:
    from cartera.customers.models import IncomeRange

    return {value: i for i, (value, _label) in enumerate(IncomeRange.choices)}


def _raw_rows(queryset: QuerySet[Any]) -> list[tuple[Any, ...]]:
    """The rows of a ``values_list`` query as the database driver returns them, without Django's
    per-value converters (Decimal, dates): on a million rows those cost tens of seconds."""
    sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def persona_features(regions: list[str] | None = None) -> tuple[np.ndarray[Any, Any], dict[str, Any]]:
    """One row per buyer: age, income rank, log orders, log mean spend, log interval, web share and
    one column per frequent region. Returns the table and what describes it (ids, raw columns)."""
    from cartera.sales.models import Order

    buyers = (
        CustomerMetrics.objects.filter(orders_count__gt=0)
        .order_by("customer_id")
        .annotate(revenue_float=Cast("revenue", FloatField()))
        .values_list(
            "customer_id",
            "orders_count",
            "revenue_float",
            "usual_interval_days",
            "customer__birth_date",
            "customer__region",
            "customer__income_range",
        )  # fmt: skip
    )
    rows = _raw_rows(buyers)
    n = len(rows)
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    orders = np.array([r[1] for r in rows], dtype=np.float64)
    revenue = np.array([r[2] for r in rows], dtype=np.float64)
    interval = np.array([r[3] for r in rows], dtype=np.float64)  # None becomes NaN
    # Birth dates as the driver gives them (ISO text on SQLite, dates on PostgreSQL); None is NaT.
    born = np.array([r[4] for r in rows], dtype="datetime64[D]")
    age = (np.datetime64(timezone.localdate(), "D") - born).astype(np.float64) / 365.25
    age[np.isnat(born)] = np.nan
    ranks = _income_index()
    income = np.array([ranks.get(r[6], np.nan) for r in rows], dtype=np.float64)
    region = np.array([r[5] or "" for r in rows], dtype=object)
    del rows
    if regions is None:
        names, counts = np.unique(region[region != ""].astype(str), return_counts=True)
        regions = [str(x) for x in names[np.argsort(-counts, kind="stable")][:TOP_REGIONS]]
    web = np.full(n, np.nan)
    channel_rows = (
        Order.objects.exclude(channel="")
        .values_list("customer_id")
        .annotate(n=Count("pk"), web=Count("pk", filter=Q(channel="web")))
        .order_by()
    )
    channels = np.array(_raw_rows(channel_rows), dtype=np.float64).reshape(-1, 3)
    if n and channels.shape[0]:
        cid = channels[:, 0].astype(np.int64)
        pos = np.minimum(np.searchsorted(ids, cid), n - 1)
        match = (ids[pos] == cid) & (channels[:, 1] > 0)
        web[pos[match]] = channels[match, 2] / channels[match, 1]
    mean_spend = revenue / np.maximum(orders, 1)
    columns = [age, income, np.log1p(orders), np.log1p(mean_spend), np.log1p(interval), web]
    columns += [(region == name).astype(np.float64) for name in regions]
    table = np.column_stack(columns) if n else np.empty((0, 6 + len(regions)))
    # A column with no value at all (no birth dates known) carries no information.
    table = np.where(np.isnan(table).all(axis=0), 0.0, table)
    raw = {"ids": ids, "age": age, "income": income, "orders": orders, "spend": mean_spend,
           "interval": interval, "web": web, "region": region, "revenue": revenue}  # fmt: skip
    return table, {"regions": regions, "raw": raw}


def _age_band(ages: np.ndarray[Any, Any]) -> tuple[int, int] | None:
    known = ages[np.isfinite(ages)]
    if known.shape[0] == 0 or known.shape[0] < 0.3 * ages.shape[0]:
        return None
    median = float(np.median(known))
    for low, high in AGE_BANDS:
        if median <= high + 0.999:
            return low, high
    return AGE_BANDS[-1]


def _interval_words(days: float) -> str:
    if days < 14:
        n = max(1, round(days))
        return ngettext("buys every day", "buys every %(n)d days", n) % {"n": n}
    if days < 120:
        n = max(1, round(days / 7))
        return ngettext("buys every week", "buys every %(n)d weeks", n) % {"n": n}
    n = round(days / 30.4)
    return ngettext("buys every month", "buys every %(n)d months", n) % {"n": n}


def _describe_cluster(raw: dict[str, Any], members: np.ndarray[Any, Any]) -> dict[str, Any]:
    from cartera.customers.models import IncomeRange

    words: list[str] = []
    band = _age_band(raw["age"][members])
    if band:
        words.append(f"{band[0]}–{band[1]}" if band[1] < 120 else f"{band[0]}+")
    region = raw["region"][members]
    named = region[region != ""].astype(str)
    top_regions: list[str] = []
    if named.shape[0] >= 0.3 * max(members.sum(), 1):
        names, counts = np.unique(named, return_counts=True)
        top_regions = [str(x) for x in names[np.argsort(-counts, kind="stable")][:2]]
        if len(top_regions) == 2:
            # Translators: the two regions where most customers of a suggested persona live.
            words.append(_("%(first)s and %(second)s") % {"first": top_regions[0], "second": top_regions[1]})
        else:
            words.append(top_regions[0])
    orders = raw["orders"][members]
    interval = raw["interval"][members]
    if float(np.median(orders)) <= 1:
        words.append(_("bought once"))
    elif np.isfinite(interval).any():
        words.append(_interval_words(float(np.nanmedian(interval))))
    spend = float(np.median(raw["spend"][members]))
    words.append(_("spends %(amount)s € on average") % {"amount": f"{spend:.0f}"})
    web = raw["web"][members]
    web_share = float(np.nanmean(web)) if np.isfinite(web).any() else None
    if web_share is not None:
        words.append(_("%(pct)d%% via the web shop") % {"pct": round(web_share * 100)})
    income = raw["income"][members]
    income_value = ""
    if np.isfinite(income).sum() >= 0.3 * income.shape[0]:
        idx = int(np.bincount(income[np.isfinite(income)].astype(np.int64)).argmax())
        income_value = IncomeRange.choices[idx][0]
    return {
        "description": ", ".join(words),
        "age_min": band[0] if band else None,
        "age_max": band[1] if band and band[1] < 120 else None,
        "regions": top_regions,
        "income_range": income_value,
        "orders": float(np.median(orders)),
        "interval_days": float(np.nanmedian(interval)) if np.isfinite(interval).any() else None,
        "spend": round(spend, 2),
        "web_share": web_share,
        "revenue": round(float(raw["revenue"][members].sum()), 2),
    }


def _names(described: list[dict[str, Any]]) -> list[str]:
    spends = [d["spend"] for d in described]
    intervals = [d["interval_days"] if d["interval_days"] is not None else 1e9 for d in described]
    names = []
    for i, d in enumerate(described):
        if d["orders"] <= 1:
            name = _("Occasional buyers")
        elif spends[i] == max(spends):
            name = _("Big spenders")
        elif intervals[i] == min(intervals):
            name = _("Frequent buyers")
        else:
            name = _("Regular customers")
        names.append(f"{name} ({i + 1})")
    return names


def persona_suggest(*, actor: User, seed: int = 0) -> Any:
    """Cluster the buyers into 3-5 groups (chosen by silhouette), describe each in plain words and
    keep the result so that a suggestion can be adopted as a persona. ``None`` with too few buyers."""
    from cartera.segments.models import PersonaSuggestionRun
    from customerbase.personas import PersonaClustering

    started = time.perf_counter()
    table, info = persona_features()
    try:
        # The frequent regions are one-hot columns: weighted so that, together, they count as one
        # feature; unweighted, eight region columns outvote the six behavioural ones and the
        # suggestions become "the Madrid customers", "the Valencia customers"...
        regions = len(info["regions"])
        weights = [1.0] * (table.shape[1] - regions) + ([regions**-0.5] * regions if regions else [])
        model = PersonaClustering(seed=seed, weights=weights).fit(table)
    except ValueError:
        return None
    raw = info["raw"]
    described = []
    total = table.shape[0]
    for label in range(model.k_):
        members = model.labels_ == label
        if not members.any():
            continue
        entry = _describe_cluster(raw, members)
        entry.update(
            {"label": label, "size": int(members.sum()), "share": round(float(members.sum()) / total, 4)}
        )
        described.append(entry)
    described.sort(key=lambda d: -d["size"])
    for d, name in zip(described, _names(described), strict=True):
        d["name"] = name
    return PersonaSuggestionRun.objects.create(
        created_by=actor,
        k=model.k_,
        silhouette=round(model.silhouette_, 4),
        model={**model.to_dict(), "regions": info["regions"], "seed": seed},
        suggestions=described,
        customers=total,
        seconds=round(time.perf_counter() - started, 3),
    )


@transaction.atomic
def persona_adopt(*, actor: User, run: Any, index: int, name: str) -> Persona:
    """Create a persona from suggestion ``index`` of ``run``; its cluster's customers are assigned."""
    from customerbase.personas import PersonaClustering

    s = run.suggestions[index]
    persona = persona_create(
        actor=actor,
        fields={
            "name": name,
            "description": s["description"],
            "age_min": s.get("age_min"),
            "age_max": s.get("age_max"),
            "region": ", ".join(s.get("regions") or []),
            "income_range": s.get("income_range") or "",
        },
    )
    table, info = persona_features(regions=run.model.get("regions", []))
    if table.shape[0]:
        labels = PersonaClustering.from_dict(run.model).predict(table)
        ids = info["raw"]["ids"][labels == s["label"]]
        through = Persona.members.through
        through.objects.bulk_create(
            [through(persona_id=persona.pk, customer_id=int(pk)) for pk in ids], batch_size=5_000
        )
    return persona
