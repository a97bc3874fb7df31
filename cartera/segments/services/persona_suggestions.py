""" "Suggest personas from my data": the buyers clustered (``customerbase.personas``), each group
described in words, and a suggestion adopted as a persona with its customers."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from django.db import connections, transaction
from django.db.models import Count, FloatField, Q, QuerySet
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.utils.translation import ngettext

from cartera.accounts.models import User
from cartera.customers.models import IncomeRange
from cartera.insights.models import CustomerMetrics
from cartera.sales.models import Order
from cartera.segments.models import Persona, PersonaSuggestionRun
from cartera.segments.services.personas import persona_create
from customerbase.personas import PersonaClustering

TOP_REGIONS = 8
AGE_BANDS = ((18, 24), (25, 34), (35, 44), (45, 54), (55, 64), (65, 120))


def _income_index() -> dict[str, int]:
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


# Who a group is, by how they buy (kind) and where (channel): whole phrases, so that translators
# can put the words in their language's order ("Compradores online frecuentes").
_WHO = {
    ("big", "online"): _lazy("Big online spenders"),
    ("big", "store"): _lazy("Big in-store spenders"),
    ("big", ""): _lazy("Big spenders"),
    ("frequent", "online"): _lazy("Frequent online buyers"),
    ("frequent", "store"): _lazy("Frequent in-store buyers"),
    ("frequent", ""): _lazy("Frequent buyers"),
    ("regular", "online"): _lazy("Regular online buyers"),
    ("regular", "store"): _lazy("Regular in-store buyers"),
    ("regular", ""): _lazy("Regular buyers"),
    ("once", "online"): _lazy("One-time online buyers"),
    ("once", "store"): _lazy("One-time in-store buyers"),
    ("once", ""): _lazy("One-time buyers"),
}
ONLINE_SHARE = 0.6  # at least this share of orders on the web: "online"
STORE_SHARE = 0.35  # at most this share: "in-store"
BIG_SPEND = 1.5  # at least this many times the typical group's average spend: "big spenders"


def _kinds(described: list[dict[str, Any]]) -> list[str]:
    """How each group buys, compared with the other groups: once, big, frequent or regular."""
    spends = [d["spend"] for d in described]
    typical_spend = float(np.median(spends)) if spends else 0.0
    repeat = [d["interval_days"] for d in described if d["orders"] > 1 and d["interval_days"] is not None]
    kinds = []
    for d in described:
        if d["orders"] <= 1:
            kinds.append("once")
        elif len(described) > 1 and d["spend"] == max(spends) and d["spend"] >= BIG_SPEND * typical_spend:
            kinds.append("big")
        elif d["interval_days"] is not None and repeat and d["interval_days"] == min(repeat):
            kinds.append("frequent")
        else:
            kinds.append("regular")
    return kinds


def _channel(web_share: float | None) -> str:
    if web_share is None:
        return ""
    if web_share >= ONLINE_SHARE:
        return "online"
    return "store" if web_share <= STORE_SHARE else ""


def _names(described: list[dict[str, Any]]) -> list[str]:
    """Each group named by what sets it apart ("Frequent online buyers, 35–44"): how it buys compared
    with the other groups, where, and its age band; when two names still match, the region, then the
    average spend, tell them apart (a number only as the last resort)."""
    names = []
    # The age band says something only when it differs between the groups.
    ages_differ = len({(d.get("age_min"), d.get("age_max")) for d in described}) > 1
    for d, kind in zip(described, _kinds(described), strict=True):
        who = str(_WHO[(kind, _channel(d["web_share"]))])
        band = d.get("age_min"), d.get("age_max")
        if band[0] is not None and ages_differ:
            who = _("%(who)s, %(age)s") % {
                "who": who,
                "age": f"{band[0]}–{band[1]}" if band[1] else f"{band[0]}+",
            }
        names.append(who)

    def region(d: dict[str, Any]) -> str:
        return ", ".join(d.get("regions") or [])

    def spend(d: dict[str, Any]) -> str:
        return _("%(amount)s € per order") % {"amount": f"{d['spend']:.0f}"}

    for extra in (region, spend):
        if len(set(names)) == len(names):
            break
        clashes = {n for n in names if names.count(n) > 1}
        names = [
            f"{n}, {extra(d)}" if n in clashes and extra(d) else n
            for n, d in zip(names, described, strict=True)
        ]
    seen: dict[str, int] = {}
    unique = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        unique.append(n if names.count(n) == 1 else f"{n} ({seen[n]})")
    return unique


def persona_suggest(*, actor: User, seed: int = 0) -> Any:
    """Cluster the buyers into 3-5 groups (chosen by silhouette), describe each in plain words and
    keep the result so that a suggestion can be adopted as a persona. ``None`` with too few buyers."""
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
