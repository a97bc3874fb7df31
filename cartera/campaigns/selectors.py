"""Reads of campaigns: the list, the plan (who would receive what, who is excluded and why, the
control group), the progress of a send and the results against the control group."""

from __future__ import annotations

import datetime as dt
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import Cast, RowNumber, Substr
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from cartera.campaigns.models import (
    Campaign,
    CampaignMessage,
    CampaignStatus,
    Channel,
    Click,
    Group,
    Recipient,
    Variant,
)
from cartera.core import bulk
from cartera.core.money import base_currency, format_money
from cartera.core.scoping import ALL_RECORDS_PERMISSION, get_for_user, restrict
from cartera.customers.models import Customer
from cartera.messaging.models import OutboxMessage, OutboxState
from cartera.messaging.selectors import batch_progress
from cartera.messaging.services import recipient_refusals
from cartera.privacy.models import PrivacyProfile
from cartera.sales.models import Order
from cartera.segments.selectors.segments import segment_members
from customerbase.lift import Interval, bootstrap_mean_difference, newcombe_difference

CHUNK = 5000
# Below this many recipients in a group, a rate is mostly noise: the page says it cannot tell.
MIN_GROUP = 30


def campaign_list(*, user: Any) -> QuerySet[Campaign]:
    """Campaigns ``user`` may see (every role sees the list; results are scoped, see :func:`recipients_for`)."""
    return restrict(Campaign.objects.select_related("created_by"), user, "view").order_by(
        "-created_at", "-id"
    )


def campaign_get(*, user: Any, pk: int, action: Any = "view") -> Campaign:
    """One campaign for ``action``: 404 outside the user's scope, 403 when seen but not theirs to change."""
    return get_for_user(Campaign.objects.select_related("created_by", "sent_by"), user, action, pk=pk)


def campaign_messages(*, campaign: Campaign) -> list[CampaignMessage]:
    """The campaign's messages with their segment and variants, in order."""
    return list(
        campaign.messages.select_related("segment").prefetch_related("variants").order_by("position", "id")
    )


def recipients_for(*, user: Any, campaign: Campaign) -> QuerySet[Recipient]:
    """The recipients whose results ``user`` may see: all of them for managers, their own customers'
    for a sales rep."""
    qs = Recipient.objects.filter(campaign=campaign)
    if user.has_perm(ALL_RECORDS_PERMISSION):
        return qs
    return qs.filter(customer__owner=user)


def recipient_by_email(*, user: Any, campaign: Campaign, email: str) -> Recipient | None:
    """The recipient of ``campaign`` (one ``user`` may see) who received it at ``email``."""
    return (
        recipients_for(user=user, campaign=campaign)
        .filter(group=Group.TREATED, customer__email__iexact=email.strip())
        .select_related("campaign", "customer")
        .first()
    )


OUTBOX_ID = re.compile(r"<outbox-(\d+)@[^>]*>")


def recipient_for_reply(*, in_reply_to: str, sender: str) -> Recipient | None:
    """The campaign recipient an incoming e-mail answers: the one whose e-mail's Message-ID
    (``<outbox-N@domain>``) the reply names in ``In-Reply-To``/``References``; else the latest
    recipient of a sent campaign at the sender's address. ``None`` when neither is found."""
    for outbox_id in reversed(OUTBOX_ID.findall(in_reply_to)):
        reference = (
            OutboxMessage.objects.filter(pk=int(outbox_id), purpose="campaign")
            .values_list("reference", flat=True)
            .first()
        )
        if reference and reference.startswith("campaigns.recipient:"):
            found = (
                Recipient.objects.select_related("campaign", "customer")
                .filter(pk=int(reference.rpartition(":")[2]))
                .first()
            )
            if found is not None:
                return found
    if not sender:
        return None
    return (
        Recipient.objects.filter(group=Group.TREATED, customer__email__iexact=sender.strip())
        .exclude(campaign__sent_at=None)
        .select_related("campaign", "customer")
        .order_by("-campaign__sent_at", "-pk")
        .first()
    )


# --- the plan -------------------------------------------------------------------------------------


@dataclass(slots=True)
class Planned:
    """One customer of the audience in the plan."""

    customer_id: int
    message_id: int
    email: str
    lifecycle: str
    group: str = Group.TREATED
    reason: str = ""
    variant_id: int | None = None

    @property
    def stratum(self) -> str:
        return f"{self.message_id}:{self.lifecycle or '-'}"


@dataclass
class MessageCounts:
    """The review's counts for one message."""

    message: CampaignMessage
    audience: int = 0
    control: int = 0
    treated_by_variant: dict[str, int] = field(default_factory=dict)
    excluded: Counter[str] = field(default_factory=Counter)

    @property
    def treated(self) -> int:
        return sum(self.treated_by_variant.values())

    @property
    def excluded_total(self) -> int:
        return sum(self.excluded.values())


@dataclass
class Plan:
    """Who would receive what if the campaign were sent now."""

    rows: list[Planned]
    by_message: list[MessageCounts]

    @property
    def treated(self) -> int:
        return sum(m.treated for m in self.by_message)

    @property
    def control(self) -> int:
        return sum(m.control for m in self.by_message)

    @property
    def excluded(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for m in self.by_message:
            total.update(m.excluded)
        return total

    @property
    def audience(self) -> int:
        return len(self.rows)

    @property
    def excluded_total(self) -> int:
        return sum(self.excluded.values())


REASONS = ("no_email", "no_consent", "suppressed", "unsubscribed", "bounced", "frequency_cap", "no_owner")


def reason_text(reason: str) -> str:
    """Why a customer is left out, in words."""
    texts = {
        "no_email": _("No e-mail address"),
        "no_consent": _("No consent or lawful basis for marketing e-mail"),
        "suppressed": _("On the suppression list"),
        "unsubscribed": _("Unsubscribed"),
        "bounced": _("Address bounced"),
        "frequency_cap": _("Contacted by another campaign recently"),
        "no_owner": _("No owner to call them"),
        "control": _("Control group (receives nothing)"),
    }
    return texts.get(reason, reason)


def _audience(campaign: Campaign, messages: list[CampaignMessage], user: Any) -> list[Planned]:
    """Each customer of the segments once, under the first message (in order) whose segment has them,
    with their status (read in the same query)."""
    seen: set[int] = set()
    rows: list[Planned] = []
    for message in messages:
        members = segment_members(user=user, segment=message.segment).values_list(
            "pk", "email", "owner_id", "metrics__lifecycle"
        )
        for pk, email, owner_id, lifecycle in members.iterator(chunk_size=CHUNK):
            if pk in seen:
                continue
            seen.add(pk)
            row = Planned(customer_id=pk, message_id=message.pk, email=email or "", lifecycle=lifecycle or "")
            if message.channel == Channel.CALL and owner_id is None:
                row.group, row.reason = Group.EXCLUDED, "no_owner"
            rows.append(row)
    return rows


def _audience_ids(messages: list[CampaignMessage], user: Any) -> QuerySet[Any]:
    """The ids of every customer of the messages' segments, as a queryset (a subquery for the
    consent check, instead of the ids themselves)."""
    members = Q(pk__in=[])
    for message in messages:
        members |= Q(pk__in=segment_members(user=user, segment=message.segment).values("pk"))
    return Customer.objects.filter(members).values_list("pk", flat=True)


def _recently_contacted(campaign: Campaign, ids: list[int]) -> set[int]:
    """Customers another campaign reached in the last ``frequency_cap_days`` days."""
    if not campaign.frequency_cap_days or not ids:
        return set()
    since = timezone.now() - dt.timedelta(days=campaign.frequency_cap_days)
    found: set[int] = set()
    for start in range(0, len(ids), CHUNK):
        found.update(
            Recipient.objects.filter(
                customer_id__in=ids[start : start + CHUNK], group=Group.TREATED, campaign__sent_at__gte=since
            )
            .exclude(campaign=campaign)
            .values_list("customer_id", flat=True)
        )
    return found


def campaign_plan(*, campaign: Campaign, user: Any) -> Plan:
    """Who would receive which message and variant, who would be left out and why, and who would be
    in the control group, were the campaign sent now by ``user``.

    Order of the checks: no owner (calls) → no e-mail, suppressed, unsubscribed, bounced, no consent
    (e-mails) → frequency cap → control group. The control group is drawn among the customers who
    would otherwise receive the message, stratified by message (segment) and status, from a random
    generator seeded with the campaign's recorded seed: the same data give the same groups.
    """
    messages = campaign_messages(campaign=campaign)
    rows = _audience(campaign, messages, user)
    by_id = {m.pk: m for m in messages}
    emails = [r for r in rows if r.group != Group.EXCLUDED and by_id[r.message_id].channel == Channel.EMAIL]
    refused = recipient_refusals(
        recipients=[(r.customer_id, r.email) for r in emails],
        consent_purpose="marketing",
        customers=_audience_ids(messages, user),
    )
    for row in emails:
        reason = refused.get((row.customer_id, row.email))
        if reason:
            row.group, row.reason = Group.EXCLUDED, reason
    capped = _recently_contacted(campaign, [r.customer_id for r in rows if r.group != Group.EXCLUDED])
    for row in rows:
        if row.group != Group.EXCLUDED and row.customer_id in capped:
            row.group, row.reason = Group.EXCLUDED, "frequency_cap"
    strata: dict[str, list[Planned]] = defaultdict(list)
    for row in rows:
        if row.group != Group.EXCLUDED:
            strata[row.stratum].append(row)
    for stratum, members in strata.items():
        members.sort(key=lambda r: r.customer_id)
        rng = random.Random(f"{campaign.seed}:{stratum}")  # noqa: S311 - a fair draw, not a secret
        rng.shuffle(members)
        size = round(len(members) * campaign.control_percent / 100)
        for row in members[:size]:
            row.group, row.reason = Group.CONTROL, "control"
    _assign_variants(campaign, messages, rows)
    counts = {m.pk: MessageCounts(message=m) for m in messages}
    labels = {v.pk: v.label for m in messages for v in m.variants.all()}
    for row in rows:
        c = counts[row.message_id]
        c.audience += 1
        if row.group == Group.CONTROL:
            c.control += 1
        elif row.group == Group.EXCLUDED:
            c.excluded[row.reason] += 1
        else:
            label = labels.get(row.variant_id or 0, "·")
            c.treated_by_variant[label] = c.treated_by_variant.get(label, 0) + 1
    return Plan(rows=rows, by_message=list(counts.values()))


def _assign_variants(campaign: Campaign, messages: list[CampaignMessage], rows: list[Planned]) -> None:
    """Split each e-mail message's treated customers between its variants by their shares."""
    for message in messages:
        variants: list[Variant] = list(message.variants.all())
        treated = sorted(
            (r for r in rows if r.message_id == message.pk and r.group == Group.TREATED),
            key=lambda r: r.customer_id,
        )
        if not variants:
            continue
        rng = random.Random(f"{campaign.seed}:variants:{message.pk}")  # noqa: S311
        rng.shuffle(treated)
        start = 0
        for index, variant in enumerate(variants):
            end = (
                len(treated)
                if index == len(variants) - 1
                else start + round(len(treated) * variant.share / 100)
            )
            for row in treated[start:end]:
                row.variant_id = variant.pk
            start = end


def languages_of(customer_ids: Iterable[int] | QuerySet[Any]) -> dict[int, str]:
    """Each customer's language (their privacy profile's, else the site's). ``customer_ids`` may be
    a queryset of ids (a sent campaign's recipients): one query with it as a subquery (the plain
    twin, ``CARTERA_BULK_PLAIN``: the ids read and sent in lists)."""
    if isinstance(customer_ids, QuerySet) and bulk.fast_paths():
        found = dict(
            PrivacyProfile.objects.filter(customer_id__in=customer_ids)
            .exclude(language="")
            .values_list("customer_id", "language")
        )
        return {pk: found.get(pk, settings.LANGUAGE_CODE) for pk in customer_ids}
    ids = list(customer_ids)
    found = {}
    for start in range(0, len(ids), CHUNK):
        found.update(
            PrivacyProfile.objects.filter(customer_id__in=ids[start : start + CHUNK])
            .exclude(language="")
            .values_list("customer_id", "language")
        )
    return {pk: found.get(pk, settings.LANGUAGE_CODE) for pk in ids}


# --- progress and results -------------------------------------------------------------------------


@dataclass
class Progress:
    """Where the send stands: outbox rows per state and calls created."""

    states: dict[str, int]
    calls: int

    @property
    def total(self) -> int:
        return sum(self.states.values())

    @property
    def done(self) -> int:
        return sum(
            self.states[s]
            for s in (OutboxState.SENT, OutboxState.FAILED, OutboxState.BOUNCED, OutboxState.CANCELLED)
        )

    @property
    def percent(self) -> int:
        return 100 if not self.total else round(100 * self.done / self.total)

    @property
    def finished(self) -> bool:
        return self.done == self.total


def campaign_progress(*, campaign: Campaign) -> Progress:
    calls = Recipient.objects.filter(campaign=campaign, task_id__isnull=False).count()
    return Progress(states=batch_progress(batch=campaign.batch), calls=calls)


def shown_status(campaign: Campaign, progress: Progress | None = None) -> str:
    """The status to show: a campaign whose every message is done reads as sent."""
    if campaign.status == CampaignStatus.SENDING:
        progress = progress or campaign_progress(campaign=campaign)
        if progress.finished:
            return CampaignStatus.SENT
    return campaign.status


@dataclass
class Line:
    """One row of the results table (a message's variant, a message's control group, or a total)."""

    label: str
    group: str
    recipients: int = 0
    delivered: int = 0
    unsubscribed: int = 0
    bought: int = 0
    revenue: Decimal = Decimal("0")
    redeemed: int = 0
    clicked: int = 0
    replied: int = 0

    @property
    def rate(self) -> float | None:
        return self.bought / self.recipients if self.recipients else None


@dataclass
class Lift:
    """Treated against control: the difference of repurchase rates and of revenue per recipient."""

    label: str
    treated: int
    control: int
    rate: Interval | None
    revenue: Interval | None
    sentence: str

    @property
    def incremental_revenue(self) -> float | None:
        """Extra revenue per recipient times the recipients: what the campaign brought in."""
        return None if self.revenue is None else self.revenue.estimate * self.treated


@dataclass
class Results:
    lines: list[Line]
    lifts: list[Lift]
    chart: list[dict[str, Any]]
    window_ends: dt.date | None
    scoped: bool
    # Tracked links: (number, address, recipients who opened it), when the campaign counts clicks.
    links: list[tuple[int, str, int]] = field(default_factory=list)


def _sentence(rate: Interval | None, treated: int, control: int) -> str:
    if rate is None or treated < MIN_GROUP or control < MIN_GROUP:
        return _("Not enough recipients to tell (at least %(n)s in each group are needed).") % {
            "n": MIN_GROUP
        }
    more = round(rate.estimate * treated)
    low, high = round(rate.low * treated), round(rate.high * treated)
    if rate.low > 0:
        return ngettext(
            "The campaign brought back about %(n)s customer more than doing nothing (between %(low)s and %(high)s).",
            "The campaign brought back about %(n)s customers more than doing nothing (between %(low)s and %(high)s).",
            more,
        ) % {"n": more, "low": low, "high": high}
    if rate.high < 0:
        return _(
            "Fewer customers bought again than in the control group: about %(n)s fewer (between %(low)s and %(high)s)."
        ) % {"n": -more, "low": -high, "high": -low}
    return _(
        "We cannot tell whether the campaign made a difference: between %(low)s and %(high)s customers more "
        "than doing nothing."
    ) % {"low": low, "high": high}


def _clicks(
    campaign: Campaign, user: Any, want_clicked: bool = True
) -> tuple[set[int], list[tuple[int, str, int]]]:
    """Who opened a tracked link (recipient ids, unless ``want_clicked`` is false), and each link
    with how many recipients opened it."""
    if not campaign.track_clicks:
        return set(), []
    rows = Click.objects.filter(recipient__in=recipients_for(user=user, campaign=campaign))
    clicked = set(rows.values_list("recipient_id", flat=True).distinct()) if want_clicked else set()
    links: dict[int, tuple[str, int]] = {}
    for number, url, count in (
        rows.values("link")
        .annotate(n=Count("recipient_id", distinct=True), url=Min("url"))
        .values_list("link", "url", "n")
    ):
        links[number] = (url, count)
    return clicked, [(number, url, count) for number, (url, count) in sorted(links.items())]


def campaign_results(*, campaign: Campaign, user: Any) -> Results:
    """Per message and variant and for the control group: recipients, delivered, unsubscribes, who
    bought within the window and the revenue; the lift of treated over control with 95% intervals
    (Newcombe/Wilson for the rate, bootstrap for revenue per recipient); the cumulative repurchase
    curves for the chart. A sales rep sees only their own customers' part.

    Counted in the database (:func:`_line_counts`, :func:`_buyers`): Python sees one row per line of
    the table and one per recipient who bought in the window, never the whole audience.
    ``CARTERA_BULK_PLAIN`` counts in Python instead (:func:`_results_per_recipient`, its plain twin:
    the same figures)."""
    if not bulk.fast_paths():
        return _results_per_recipient(campaign, user)
    scoped = not user.has_perm(ALL_RECORDS_PERMISSION)
    if campaign.sent_at is None:
        return Results(lines=[], lifts=[], chart=[], window_ends=None, scoped=scoped)
    audience = recipients_for(user=user, campaign=campaign).exclude(group=Group.EXCLUDED)
    start = timezone.localdate(campaign.sent_at)
    end = start + dt.timedelta(days=campaign.window_days)
    messages = campaign_messages(campaign=campaign)
    variant_label = {v.pk: v.label for m in messages for v in m.variants.all()}
    lines = _empty_lines(messages)
    total_treated = Line(_("All who received it"), Group.TREATED)
    total_control = Line(_("Control group"), Group.CONTROL)
    # Group sizes for the lifts: (message or None for the whole campaign, group) → recipients.
    sizes: Counter[tuple[int | None, str]] = Counter()
    for counts in _line_counts(campaign, audience):
        key = _line_key(counts["message_id"], counts["group"], counts["variant_id"])
        line = lines.get(key) or lines.setdefault(
            key, Line(variant_label.get(counts["variant_id"] or 0, "?"), counts["group"])
        )
        for target in (line, total_treated if counts["group"] == Group.TREATED else total_control):
            for name in ("recipients", "delivered", "unsubscribed", "clicked", "replied"):
                setattr(target, name, getattr(target, name) + counts[name])
        sizes[(counts["message_id"], counts["group"])] += counts["recipients"]
        sizes[(None, counts["group"])] += counts["recipients"]
    buyers = _buyers(campaign, audience, start, end)
    first_day: dict[tuple[int | None, str], list[int]] = defaultdict(list)
    for b in buyers:
        line = lines[_line_key(b.message_id, b.group, b.variant_id)]
        for target in (line, total_treated if b.group == Group.TREATED else total_control):
            target.bought += 1
            target.revenue += b.revenue
            target.redeemed += b.redeemed
        first_day[(None, b.group)].append(b.first_day)
        first_day[(b.message_id, b.group)].append(b.first_day)
    links = _clicks(campaign, user, want_clicked=False)[1]

    def lift(label: str, message_id: int | None) -> Lift:
        treated, control = sizes[(message_id, Group.TREATED)], sizes[(message_id, Group.CONTROL)]
        if not treated or not control:
            return Lift(label, treated, control, None, None, _sentence(None, treated, control))
        rate = newcombe_difference(
            len(first_day[(message_id, Group.TREATED)]), treated,
            len(first_day[(message_id, Group.CONTROL)]), control,
        )  # fmt: skip
        money = revenue_lift(
            _spending(buyers, message_id, Group.TREATED, treated),
            _spending(buyers, message_id, Group.CONTROL, control),
            seed=campaign.seed,
        )
        return Lift(label, treated, control, rate, money, _sentence(rate, treated, control))

    lifts = [lift(_("Whole campaign"), None)]
    if len(messages) > 1:
        lifts.extend(lift(message.segment.name, message.pk) for message in messages)
    chart = _chart_from_days(
        campaign.window_days,
        (sizes[(None, Group.TREATED)], first_day[(None, Group.TREATED)]),
        (sizes[(None, Group.CONTROL)], first_day[(None, Group.CONTROL)]),
    )
    return Results(
        lines=[*lines.values(), total_treated, total_control],
        lifts=lifts,
        chart=chart,
        links=links,
        window_ends=end,
        scoped=scoped,
    )


def _empty_lines(messages: list[CampaignMessage]) -> dict[tuple[int, str], Line]:
    """The table's lines in order: each message's variants (or its call), then its control group."""
    lines: dict[tuple[int, str], Line] = {}
    for message in messages:
        for v in message.variants.all() if message.channel == Channel.EMAIL else []:
            lines[(message.pk, f"variant:{v.pk}")] = Line(
                f"{message.segment.name} · {v.label}", Group.TREATED
            )
        if message.channel == Channel.CALL:
            lines[(message.pk, "call")] = Line(f"{message.segment.name} · {_('call')}", Group.TREATED)
        lines[(message.pk, "control")] = Line(f"{message.segment.name} · {_('control group')}", Group.CONTROL)
    return lines


def _line_key(message_id: int, group: str, variant_id: int | None) -> tuple[int, str]:
    """The line of the table a recipient counts in."""
    if group == Group.CONTROL:
        return (message_id, "control")
    if variant_id is not None:
        return (message_id, f"variant:{variant_id}")
    return (message_id, "call")


def _line_counts(campaign: Campaign, audience: QuerySet[Recipient]) -> list[dict[str, Any]]:
    """One row per (message, group, variant) of ``audience``: recipients, delivered (their outbox row
    sent), unsubscribed through it, clicked a tracked link, replied. One grouped query. The outbox
    rows are those of the campaign's batch, each naming its recipient (``campaigns.recipient:<id>``):
    the ids read from them in a subquery the database builds once (not a lookup of the outbox per
    recipient, which SQLite may run through the batch's index: 100,000 × 90,000). Ordered as the
    recipients first appear (by id), as the plain twin meets them."""
    prefix = "campaigns.recipient:"
    outbox = (
        OutboxMessage.objects.filter(batch=campaign.batch, reference__startswith=prefix)
        .order_by()
        .annotate(recipient_id=Cast(Substr("reference", len(prefix) + 1), output_field=IntegerField()))
    )
    sent = outbox.filter(state=OutboxState.SENT).values("recipient_id")
    unsubscribed = outbox.filter(unsubscribed_at__isnull=False).values("recipient_id")
    counts: dict[str, Any] = {
        "recipients": Count("pk"),
        "delivered": Count("pk", filter=Q(pk__in=sent)),
        "unsubscribed": Count("pk", filter=Q(pk__in=unsubscribed)),
        "replied": Count("pk", filter=Q(replied_at__isnull=False)),
    }
    if campaign.track_clicks:
        counts["clicked"] = Count("pk", filter=Q(pk__in=Click.objects.order_by().values("recipient_id")))
    rows: list[dict[str, Any]] = [
        dict(row)
        for row in audience.order_by()
        .values("message_id", "group", "variant_id")
        .annotate(first=Min("pk"), **counts)
        .order_by("first")
    ]
    for row in rows:
        row.setdefault("clicked", 0)
    return rows


@dataclass(slots=True)
class Buyer:
    """A recipient who bought within the window: where they count, the day of their first purchase
    since the send, their revenue in the base currency, whether they used the campaign's code, and
    their rank by id in their group (whole campaign and message), which places their spend in the
    bootstrap's list exactly where the plain twin has it."""

    message_id: int
    group: str
    variant_id: int | None
    first_day: int
    revenue: Decimal
    redeemed: bool
    rank_all: int
    rank_message: int


def _buyers(campaign: Campaign, audience: QuerySet[Recipient], start: dt.date, end: dt.date) -> list[Buyer]:
    """The recipients of ``audience`` with an order from ``start`` to ``end`` (by recipient id): the
    orders added up per customer in the database, joined to the audience ranked by id within its
    group (a window function over the audience; only the buyers' rows come back)."""
    source = f"campaigns.campaign:{campaign.pk}"
    orders = (
        Order.objects.filter(
            customer_id__in=audience.values("customer_id"), ordered_on__gte=start, ordered_on__lte=end
        )
        .order_by()
        .values("customer_id")
        .annotate(
            first=Min("ordered_on"),
            # The base currency's amounts only, like the analysis (another currency still counts
            # as a purchase).
            spent=Sum(Case(When(currency=base_currency(), then=F("amount")), default=Value(Decimal("0")))),
            redeemed=Max(Case(When(promotion__source=source, then=Value(1)), default=Value(0))),
        )
    )
    ranked = (
        audience.order_by()
        .annotate(
            rank_all=Window(RowNumber(), partition_by=[F("group")], order_by=F("pk").asc()),
            rank_message=Window(
                RowNumber(), partition_by=[F("message_id"), F("group")], order_by=F("pk").asc()
            ),
        )
        .values_list("id", "customer_id", "message_id", "group", "variant_id", "rank_all", "rank_message")
    )
    if not orders.exists():  # nobody bought (yet): no need to rank the whole audience
        return []
    orders_sql, orders_params = orders.query.sql_with_params()
    ranked_sql, ranked_params = ranked.query.sql_with_params()
    # The two inner queries are Django's own; only the join is written here, by their columns' names.
    q = connection.ops.quote_name
    r_cols = ", ".join(f"r.{q(c)}" for c in ("message_id", "group", "variant_id", "rank_all", "rank_message"))
    o_cols = ", ".join(f"o.{q(c)}" for c in ("first", "spent", "redeemed"))
    sql = (
        f"SELECT {r_cols}, {o_cols} FROM ({ranked_sql}) r JOIN ({orders_sql}) o "  # noqa: S608
        f"ON o.{q('customer_id')} = r.{q('customer_id')} ORDER BY r.{q('id')}"
    )
    found: list[Buyer] = []
    with connection.cursor() as cursor:
        cursor.execute(sql, (*ranked_params, *orders_params))
        for (
            message_id,
            group,
            variant_id,
            rank_all,
            rank_message,
            first,
            spent,
            redeemed,
        ) in cursor.fetchall():
            first_on = first if isinstance(first, dt.date) else dt.date.fromisoformat(str(first))
            found.append(
                Buyer(
                    message_id=message_id,
                    group=group,
                    variant_id=variant_id,
                    first_day=(first_on - start).days,
                    revenue=_money(spent),
                    redeemed=bool(redeemed),
                    rank_all=rank_all,
                    rank_message=rank_message,
                )
            )
    return found


def _money(value: Any) -> Decimal:
    """A sum of amounts as the database returns it (a float on SQLite), as Django's decimal field
    reads it: 2 decimal places."""
    if value is None:
        return Decimal("0")
    if not isinstance(value, Decimal):
        value = Decimal(repr(float(value)))
    return Decimal(value).quantize(Decimal("0.01"))


def _spending(buyers: list[Buyer], message_id: int | None, group: str, size: int) -> list[float]:
    """The revenue of each of the ``size`` recipients of ``group`` (of one message, or of the whole
    campaign when ``message_id`` is None) in id order, as the bootstrap reads it: zero for all but the
    buyers, whose ranks place them. A list of ``size`` floats (8 bytes each) is all it costs."""
    values = [0.0] * size
    for b in buyers:
        if b.group != group:
            continue
        if message_id is None:
            values[b.rank_all - 1] = float(b.revenue)
        elif b.message_id == message_id:
            values[b.rank_message - 1] = float(b.revenue)
    return values


def _chart_from_days(window: int, *groups: tuple[int, list[int]]) -> list[dict[str, Any]]:
    """:func:`_chart` from each group's size and its buyers' first days (treated, then control)."""
    curves: list[list[float | None]] = []
    for size, days in groups:
        if not size:
            curves.append([None] * (window + 1))
            continue
        per_day = Counter(days)
        total = 0
        points: list[float | None] = []
        for day in range(window + 1):
            total += per_day.get(day, 0)
            points.append(round(total / size, 4))
        curves.append(points)
    t, c = curves
    return [{"day": day, "treated": t[day], "control": c[day]} for day in range(window + 1)]


def _results_per_recipient(campaign: Campaign, user: Any) -> Results:
    """The plain twin of :func:`campaign_results` (``CARTERA_BULK_PLAIN``): every recipient, order and
    outbox row read into Python and counted there. The same figures; the reference its test compares
    the grouped SQL against."""
    audience = recipients_for(user=user, campaign=campaign).exclude(group=Group.EXCLUDED)
    recipients = list(
        audience.order_by("pk").values_list(
            "pk", "customer_id", "message_id", "variant_id", "group", "replied_at"
        )
    )
    scoped = not user.has_perm(ALL_RECORDS_PERMISSION)
    if campaign.sent_at is None:
        return Results(lines=[], lifts=[], chart=[], window_ends=None, scoped=scoped)
    start = timezone.localdate(campaign.sent_at)
    end = start + dt.timedelta(days=campaign.window_days)
    first_day: dict[int, int] = {}
    revenue: dict[int, Decimal] = defaultdict(Decimal)
    redeemed: set[int] = set()
    source = f"campaigns.campaign:{campaign.pk}"
    # One query for the orders of the whole audience in the window (the audience as a subquery, not
    # its ids sent back in chunks).
    base = base_currency()
    orders = Order.objects.filter(
        customer_id__in=audience.values("customer_id"), ordered_on__gte=start, ordered_on__lte=end
    ).values_list("customer_id", "ordered_on", "amount", "currency", "promotion__source")
    for customer_id, ordered_on, amount, currency, promo_source in orders.iterator(chunk_size=CHUNK):
        day = (ordered_on - start).days
        first_day[customer_id] = min(day, first_day.get(customer_id, day))
        # Revenue adds amounts up: the base currency's only, like the analysis (a purchase in
        # another currency still counts as a purchase).
        if currency == base:
            revenue[customer_id] += amount
        if promo_source == source:
            redeemed.add(customer_id)
    # Only the outbox rows that count for something: delivered, or unsubscribed through.
    outbox: dict[int, tuple[str, Any]] = {}
    for reference, state, unsubscribed_at in (
        OutboxMessage.objects.filter(batch=campaign.batch)
        .filter(Q(state=OutboxState.SENT) | Q(unsubscribed_at__isnull=False))
        .values_list("reference", "state", "unsubscribed_at")
        .iterator(chunk_size=CHUNK)
    ):
        outbox[int(reference.rpartition(":")[2])] = (state, unsubscribed_at)
    messages = campaign_messages(campaign=campaign)
    variant_label = {v.pk: v.label for m in messages for v in m.variants.all()}
    lines = _empty_lines(messages)
    total_treated = Line(_("All who received it"), Group.TREATED)
    total_control = Line(_("Control group"), Group.CONTROL)
    per_group: dict[tuple[int | None, str], list[int]] = defaultdict(list)
    clicked, links = _clicks(campaign, user)
    for pk, customer_id, message_id, variant_id, group, replied_at in recipients:
        if group == Group.CONTROL:
            key = (message_id, "control")
        elif variant_id is not None:
            key = (message_id, f"variant:{variant_id}")
        else:
            key = (message_id, "call")
        line = lines.get(key) or lines.setdefault(key, Line(variant_label.get(variant_id or 0, "?"), group))
        for target in (line, total_treated if group == Group.TREATED else total_control):
            target.recipients += 1
            state, unsubscribed_at = outbox.get(pk, ("", None))
            target.delivered += state == OutboxState.SENT
            target.unsubscribed += unsubscribed_at is not None
            if customer_id in first_day:
                target.bought += 1
                target.revenue += revenue[customer_id]
            target.redeemed += customer_id in redeemed
            target.clicked += pk in clicked
            target.replied += replied_at is not None
        per_group[(message_id, group)].append(customer_id)
        per_group[(None, group)].append(customer_id)
    lifts = [
        _lift(
            _("Whole campaign"),
            per_group[(None, Group.TREATED)],
            per_group[(None, Group.CONTROL)],
            first_day,
            revenue,
            campaign.seed,
        )
    ]
    if len(messages) > 1:
        for message in messages:
            lifts.append(
                _lift(
                    message.segment.name,
                    per_group[(message.pk, Group.TREATED)],
                    per_group[(message.pk, Group.CONTROL)],
                    first_day,
                    revenue,
                    campaign.seed,
                )
            )
    chart = _chart(
        campaign.window_days, per_group[(None, Group.TREATED)], per_group[(None, Group.CONTROL)], first_day
    )
    return Results(
        lines=[*lines.values(), total_treated, total_control],
        lifts=lifts,
        chart=chart,
        links=links,
        window_ends=end,
        scoped=scoped,
    )


def _lift(
    label: str,
    treated: list[int],
    control: list[int],
    first_day: dict[int, int],
    revenue: dict[int, Decimal],
    seed: int,
) -> Lift:
    if not treated or not control:
        return Lift(
            label, len(treated), len(control), None, None, _sentence(None, len(treated), len(control))
        )
    bought_t = sum(1 for c in treated if c in first_day)
    bought_c = sum(1 for c in control if c in first_day)
    rate = newcombe_difference(bought_t, len(treated), bought_c, len(control))
    money = revenue_lift(
        [float(revenue.get(c, 0)) for c in treated], [float(revenue.get(c, 0)) for c in control], seed=seed
    )
    return Lift(label, len(treated), len(control), rate, money, _sentence(rate, len(treated), len(control)))


def revenue_lift(
    treated: list[float], control: list[float], confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> Interval:
    """Revenue per recipient, treated minus control, with its percentile bootstrap interval.

    Most recipients spend nothing in the window, and a resample's mean only depends on the draws
    that land on someone who spent: their number is binomial, and they fall evenly among the
    spenders. Drawing just those (:func:`_resampled_means`) gives the same bootstrap distribution as
    resampling every recipient (``customerbase.lift.bootstrap_mean_difference``, its plain twin,
    used with ``CARTERA_BULK_PLAIN``) at a fraction of the cost when spenders are few: a few
    thousand draws per resample instead of one per recipient. Seeded: the same data give the same
    interval (not the same digits as the plain twin: another way of drawing)."""
    if not bulk.fast_paths():
        return bootstrap_mean_difference(treated, control, confidence, resamples, seed)
    one, two = np.asarray(treated, dtype=float), np.asarray(control, dtype=float)
    if one.size == 0 or two.size == 0:
        raise ValueError("both groups need at least one value")
    rng = np.random.default_rng(seed)
    diffs = _resampled_means(one, resamples, rng) - _resampled_means(two, resamples, rng)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(diffs, [alpha, 1 - alpha])
    return Interval(float(one.mean() - two.mean()), float(low), float(high))


def _resampled_means(values: Any, resamples: int, rng: Any, block: int = 2_000_000) -> Any:
    """The means of ``resamples`` resamples (with replacement, the size of ``values``)."""
    n = values.size
    spent = values[values != 0]
    if spent.size == 0:
        return np.zeros(resamples)
    means = np.empty(resamples)
    if spent.size * 4 > n:  # most spent something: resample everyone, in blocks
        rows = max(1, block // n)
        for start in range(0, resamples, rows):
            stop = min(resamples, start + rows)
            means[start:stop] = values[rng.integers(0, n, size=(stop - start, n))].mean(axis=1)
        return means
    hits = rng.binomial(n, spent.size / n, size=resamples)  # draws landing on a spender, per resample
    start = 0
    while start < resamples:
        stop, drawn = start + 1, int(hits[start])
        while stop < resamples and drawn + hits[stop] <= block:
            drawn += int(hits[stop])
            stop += 1
        picks = spent[rng.integers(0, spent.size, size=drawn)]
        which = np.repeat(np.arange(stop - start), hits[start:stop])
        means[start:stop] = np.bincount(which, weights=picks, minlength=stop - start) / n
        start = stop
    return means


def _chart(
    window: int, treated: list[int], control: list[int], first_day: dict[int, int]
) -> list[dict[str, Any]]:
    """Cumulative share who bought again by day since the send (0 to 1), treated and control, one
    row per day, as the project's line chart reads it."""

    return _chart_from_days(
        window,
        (len(treated), [first_day[c] for c in treated if c in first_day]),
        (len(control), [first_day[c] for c in control if c in first_day]),
    )


def money_text(amount: Decimal | float) -> str:
    return format_money(amount)


# --- segment conditions ---------------------------------------------------------------------------


def _campaign_choices() -> list[tuple[str, str]]:
    """The sent campaigns a segment can name (newest first; a draft has no recipients yet)."""
    return [
        (str(pk), name)
        for pk, name in Campaign.objects.exclude(sent_at=None)
        .order_by("-sent_at")
        .values_list("pk", "name")[:200]
    ]


def campaign_response_q(op: str, campaign_ids: list[str], today: dt.date | None = None) -> Q:
    """Customers by their response to any of the campaigns: received it (or not), were in its control
    group, clicked a tracked link, replied, redeemed its code, or bought within its window after it
    was sent. One ``EXISTS`` per condition, so it combines with any other rule."""
    ids = [int(v) for v in campaign_ids]
    recipients = Recipient.objects.filter(customer=OuterRef("pk"), campaign_id__in=ids)
    treated = recipients.filter(group=Group.TREATED)
    if op in ("received", "not_received"):
        found = Exists(treated)
        return ~Q(found) if op == "not_received" else Q(found)
    if op == "control":
        return Q(Exists(recipients.filter(group=Group.CONTROL)))
    if op == "clicked":
        return Q(Exists(treated.filter(clicks__isnull=False)))
    if op == "replied":
        return Q(Exists(treated.filter(replied_at__isnull=False)))
    if op == "redeemed":
        sources = [f"campaigns.campaign:{pk}" for pk in ids]
        return Q(Exists(Order.objects.filter(customer=OuterRef("pk"), promotion__source__in=sources)))
    if op == "bought_after":
        # An order from the day of the send to the end of the campaign's window (as the results count).
        q = Q(pk__in=[])
        for pk, sent_at, window in (
            Campaign.objects.filter(pk__in=ids)
            .exclude(sent_at=None)
            .values_list("pk", "sent_at", "window_days")
        ):
            start = timezone.localdate(sent_at)
            bought = Order.objects.filter(
                customer=OuterRef("customer_id"),
                ordered_on__gte=start,
                ordered_on__lte=start + dt.timedelta(days=window),
            )
            q |= Q(Exists(treated.filter(campaign_id=pk).filter(Exists(bought))))
        return q
    raise ValueError(f"unknown campaign condition {op!r}")


def register_segment_field() -> None:
    """Add the ``campaign`` condition to the segment rules (segments never imports campaigns)."""
    from cartera.segments.rules import Field, register_field

    global _SEGMENT_FIELD
    if _SEGMENT_FIELD is None:  # built once: a second ready() (tests) registers the same object
        _SEGMENT_FIELD = Field(
            gettext_lazy("campaign"),
            "campaign",
            "",
            _campaign_choices,
            gettext_lazy("Campaigns"),
            q=campaign_response_q,
        )
    register_field("campaign", _SEGMENT_FIELD)


_SEGMENT_FIELD: Any = None
