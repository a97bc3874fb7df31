"""Reads of the customer file, always scoped to what the user may see."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.http import Http404
from django.utils.translation import gettext_lazy as _

from cartera.core.contact import normalize_phone
from cartera.core.pagination import note_count
from cartera.core.scoping import can, restrict, sees_every_row
from cartera.core.search import (
    fts5_prefix_query,
    fts5_typo_query,
    prefix_q,
    search_words,
    tsquery_prefix_query,
    tsquery_typo_query,
    tsquery_words,
    typo_queries,
)
from cartera.core.text import fold
from cartera.customers.fields import custom_field_specs, custom_filter_q
from cartera.customers.models import Company, Customer, CustomerMerge, CustomField, DuplicateCandidate, Tag

# Sort options offered to users: each ends with a unique column so keyset pagination is exact,
# and each has an index behind it.
CUSTOMER_SORTS: dict[str, tuple[str, ...]] = {
    "newest": ("-id",),
    "oldest": ("id",),
    "name": ("last_name_key", "first_name_key", "id"),
    "-name": ("-last_name_key", "-first_name_key", "-id"),
    "revenue": ("-metrics__revenue", "-id"),
    "clv": ("-metrics__clv_12m", "-id"),
    "last_purchase": ("-metrics__last_order_on", "-id"),
}

# Searches matching up to this many customers are resolved to a list of ids before sorting.
SEARCH_RESOLVE_LIMIT = 2_000
# A search counts its matches up to this many (the list says "more than 10,000" beyond).
SEARCH_COUNT_LIMIT = 10_001
_PHONE_CHARS = re.compile(r"^[\d\s+().-]{3,}$")
_TAX_ID = re.compile(r"^[A-Z0-9]{8,12}$")
_TAX_ID_JUNK = re.compile(r"[\s.\-/]")


@dataclass(frozen=True)
class CustomerFilters:
    """What a customer list can be narrowed by."""

    query: str = ""
    stage: str = ""
    owner_id: int | None = None
    tag_id: int | None = None
    sector: str = ""
    source: str = ""
    company_id: int | None = None
    lifecycle: str = ""
    rfm_segment: str = ""
    abc_class: str = ""
    declining: bool = False
    # Left the active base (became inactive or lost) between these days, both included.
    left_from: dt.date | None = None
    left_to: dt.date | None = None
    # (custom field key, value as typed): see customers.fields.custom_filter_q.
    custom: tuple[tuple[str, str], ...] = ()


def search_branches(query: str) -> list[Q]:
    """The alternatives a search matches, each answered by one index (their OR is the search).

    An e-mail address (with "@") and a phone number keep their own prefix paths on a B-tree index;
    anything else is an any-word search: every word of the query must start a word of the name or
    the e-mail, in any order ("dolores bermejo", "molina", "aprietop"), or the query must start the
    company's name.
    """
    query = query.strip()
    if not query:
        return []
    if "@" in query:
        return [prefix_q("email", query.lower())]
    if _PHONE_CHARS.match(query) and sum(ch.isdigit() for ch in query) >= 3:
        digits = re.sub(r"[^\d+]", "", query)
        try:
            return [Q(phone=normalize_phone(query))]
        except ValidationError:
            # A partial number: match the start of the national or international form.
            if digits.startswith("+"):
                return [prefix_q("phone", digits)]
            country = phonenumbers.country_code_for_region(settings.CARTERA_DEFAULT_PHONE_REGION)
            return [prefix_q("phone", digits), prefix_q("phone", f"+{country}{digits}")]
    words = search_words(query)
    if not words:
        # Nothing but punctuation: nothing a name or an e-mail holds.
        return [Q(pk__in=[])]
    branches = [_any_word_q(words)]
    tax_id = _TAX_ID_JUNK.sub("", query).upper()
    if _TAX_ID.match(tax_id) and any(ch.isdigit() for ch in tax_id) and any(ch.isalpha() for ch in tax_id):
        # A CIF/NIF ("B-12345678", "b12345678"): the contacts of that company (unique, indexed).
        by_tax = list(
            Company.objects.filter(tax_id__in={tax_id, query.strip()}).values_list("id", flat=True)[:20]
        )
        if by_tax:
            branches.append(Q(company_id__in=by_tax))
    key = fold(query)
    # Resolved up front (one small indexed query) so that every branch is an index lookup; a
    # subquery inside the OR makes SQLite scan the whole customer table.
    company_ids = list(Company.objects.filter(prefix_q("name_key", key)).values_list("id", flat=True)[:200])
    if company_ids:
        branches.append(Q(company_id__in=company_ids))
    return branches


# The full-text index of the customers' names and e-mails (migration customers 0006): an FTS5 table
# on SQLite; on PostgreSQL a generated tsvector column with a GIN index (not declared on the model).
_PG_DOCUMENT = '"customers_customer"."search_document"'


def typo_branch(query: str) -> Q | None:
    """The search again with one word mistyped by one letter ("molna" finds Molina), for when the
    search finds nothing; ``None`` when the query is an e-mail, a phone or has no word of 4 letters.

    Of the few hundred words one edit away, only those the index holds are searched (usually one
    or two: "molina" of "molna"'s 285): looking each one up costs 3–20 ms at 1,000,000 customers,
    where matching all of them against every candidate row cost 40–180 ms (docs/benchmarks.md).
    """
    query = query.strip()
    if "@" in query or _PHONE_CHARS.match(query):
        return None
    words = search_words(query)
    if connection.vendor == "postgresql":
        words = tsquery_words(words)
    candidates = typo_queries(words)
    if not candidates:
        return None
    known = indexed_words(sorted({v for _others, _i, variants in candidates for v in variants}))
    if not known:
        return Q(pk__in=[])
    if connection.vendor == "sqlite":
        sql = "SELECT rowid FROM customers_customer_search WHERE customers_customer_search MATCH %s"
        return Q(pk__in=RawSQL(sql, [fts5_typo_query(words, known)]))  # noqa: S611  # fixed SQL, words as a parameter
    if connection.vendor == "postgresql":
        return Q(
            RawSQL(  # noqa: S611  # fixed SQL, words as a parameter
                f"{_PG_DOCUMENT} @@ to_tsquery('simple'::regconfig, %s)",
                [tsquery_typo_query(words, known)],
                output_field=BooleanField(),
            )
        )
    return None


def indexed_words(candidates: list[str]) -> set[str]:
    """The ``candidates`` (lower-case words of letters, as ``search_words`` gives them) that are
    words of some customer's name or e-mail in the full-text index, in one query.

    SQLite: each one matched as an exact word against the FTS5 table. PostgreSQL: each one looked up
    in the GIN index, with sequential scans off for the query (``_index_only``): asked whether one
    row exists, the planner would otherwise read the table hoping to find it early.
    """
    if not candidates:
        return set()
    if connection.vendor == "sqlite":
        sql = (
            "SELECT value FROM json_each(%s) WHERE EXISTS (SELECT 1 FROM customers_customer_search "
            "WHERE customers_customer_search MATCH '\"' || value || '\"')"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [json.dumps(candidates)])
            return {row[0] for row in cursor.fetchall()}
    if connection.vendor == "postgresql":
        sql = (
            "SELECT word FROM unnest(%s::text[]) AS word WHERE EXISTS (SELECT 1 FROM customers_customer "
            "WHERE search_document @@ to_tsquery('simple'::regconfig, quote_literal(word)))"
        )
        with _index_only() as cursor:
            cursor.execute(sql, [candidates])
            return {row[0] for row in cursor.fetchall()}
    return set(candidates)


def _any_word_q(words: list[str]) -> Q:
    """Every word starts a word of the customer's first name, surnames or e-mail, in any order.

    The words come from ``search_words`` (letters and digits only) and are passed as a parameter of
    a query written by ``fts5_prefix_query`` / ``tsquery_prefix_query``, so nothing a user types
    becomes full-text syntax.
    """
    if connection.vendor == "sqlite":
        sql = "SELECT rowid FROM customers_customer_search WHERE customers_customer_search MATCH %s"
        return Q(pk__in=RawSQL(sql, [fts5_prefix_query(words)]))  # noqa: S611  # fixed SQL, words as a parameter
    if connection.vendor == "postgresql":
        matches = RawSQL(  # noqa: S611  # fixed SQL, words as a parameter
            f"{_PG_DOCUMENT} @@ to_tsquery('simple'::regconfig, %s)",
            [tsquery_prefix_query(words)],
            output_field=BooleanField(),
        )
        return Q(matches)
    # Another database: every word appears in the first name or the surname key (no index behind it).
    condition = Q()
    for word in words:
        condition &= Q(first_name_key__contains=word) | Q(last_name_key__contains=word)
    return condition


def customer_list(*, user: Any, filters: CustomerFilters) -> QuerySet[Customer]:
    """The customers ``user`` may see that match ``filters``, with what a list row shows."""
    qs = restrict(Customer.objects.all(), user, "view").select_related("owner", "company", "metrics")
    if filters.stage:
        qs = qs.filter(stage=filters.stage)
    if filters.owner_id:
        qs = qs.filter(owner_id=filters.owner_id)
    if filters.tag_id:
        # A subquery, not a join: the database reads the tag's members from the (tag, customer)
        # index already in customer order, where a join makes it sort every member of a big tag.
        tagged = Customer.tags.through.objects.filter(tag_id=filters.tag_id).values("customer_id")
        qs = qs.filter(pk__in=tagged)
    if filters.sector:
        qs = qs.filter(sector=filters.sector)
    if filters.source:
        qs = qs.filter(source=filters.source)
    if filters.company_id:
        qs = qs.filter(company_id=filters.company_id)
    if filters.lifecycle:
        qs = qs.filter(metrics__lifecycle=filters.lifecycle)
    if filters.rfm_segment:
        qs = qs.filter(metrics__rfm_segment=filters.rfm_segment)
    if filters.abc_class:
        qs = qs.filter(metrics__abc_class=filters.abc_class)
    if filters.declining:
        qs = qs.filter(metrics__declining=True)
    if filters.left_from:
        qs = qs.filter(metrics__left_active_on__gte=filters.left_from)
    if filters.left_to:
        qs = qs.filter(metrics__left_active_on__lte=filters.left_to)
    if filters.custom:
        specs = {spec.key: spec for spec in custom_field_specs()}
        for key, raw in filters.custom:
            if key in specs:
                try:
                    qs = qs.filter(custom_filter_q(specs[key], raw))
                except ValueError:
                    # Callers check values first (form, API); a value that does not fit matches nobody.
                    qs = qs.none()
    branches = search_branches(filters.query)
    if branches:
        qs = _search(qs, branches, user, fallback=lambda: typo_branch(filters.query))
    return qs


def _search(
    qs: QuerySet[Customer], branches: list[Q], user: Any, fallback: Callable[[], Q | None] | None = None
) -> QuerySet[Customer]:
    """``qs`` narrowed to a search: a list of ids when the search matches few customers.

    A search is an OR of indexed prefix ranges, and both databases misjudge it. Asked for the
    matches in a sort order, SQLite (no histograms) often walks the whole table in that order;
    asked for "the first 2,000", PostgreSQL walks an index in order hoping to find them early, while
    the matches of "garcia" all sit in one place. So the ids are collected first, each alternative
    from its own index (a ``UNION``, no order, no plan to misjudge), and the page then sorts at most
    ``SEARCH_RESOLVE_LIMIT`` rows. A broad search (more matches) filters by the OR as it is: its
    matches are dense enough that walking in sort order finds a page soon.
    """
    arms = [qs.filter(branch).order_by().values_list("pk", flat=True) for branch in branches]
    if len(arms) == 1:
        # One alternative (the usual any-word search): count its matches first, up to the most the
        # list shows ("more than 10,000"). A broad search then needs no ids, and the list's count is
        # this one: its matches are read once, not twice (15-30 ms each on PostgreSQL at 1,000,000
        # customers for a common surname).
        counted = arms[0][:SEARCH_COUNT_LIMIT].count()
        found = list(arms[0][: SEARCH_RESOLVE_LIMIT + 1]) if 0 < counted <= SEARCH_RESOLVE_LIMIT else []
    else:
        # UNION ALL streams and stops at the limit; a customer matching two alternatives comes twice,
        # which can only make a search look broad, never drop a match (so it is not a count).
        union = arms[0].union(*arms[1:], all=True)
        found = list(union.order_by()[: SEARCH_RESOLVE_LIMIT + 1])
        counted = len(found)
    typo = fallback() if not counted and fallback is not None else None
    if typo is not None:
        # Nothing matches as typed: the words one letter away (``fallback``, see typo_branch, asked
        # for only now: it looks its words up). Only the variants the index holds are left in it,
        # so it is searched like any other search: resolved to ids when it matches few people.
        return _search(qs, [typo], user)
    if counted > SEARCH_RESOLVE_LIMIT:
        condition = Q()
        for branch in branches:
            condition |= branch
        broad = qs.filter(condition)
        if len(arms) == 1:
            note_count(broad, counted, complete=counted < SEARCH_COUNT_LIMIT)
        return broad
    matches = sorted(set(found))
    resolved = (
        restrict(Customer.objects.all(), user, "view")
        .select_related("owner", "company", "metrics")
        .filter(pk__any_of=matches)
    )
    return note_count(resolved, len(matches), complete=True)


@contextmanager
def _index_only() -> Iterator[Any]:
    """A cursor in a transaction with PostgreSQL's sequential scans off, set back on leaving.

    ``set_config(..., true)`` lasts until the end of the transaction, so it is set back right after,
    whatever it was.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('enable_seqscan'), set_config('enable_seqscan', 'off', true)")
        before = cursor.fetchone()[0]
        try:
            yield cursor
        finally:
            cursor.execute("SELECT set_config('enable_seqscan', %s, true)", [before])


def customer_detail(*, user: Any, pk: int) -> Customer:
    """One customer with company, owner and tags, or 404 outside the user's scope."""
    from cartera.core.scoping import get_for_user

    qs = Customer.objects.select_related("owner", "company", "metrics").prefetch_related("tags")
    return get_for_user(qs, user, "view", pk=pk)


def company_list(*, user: Any, query: str = "") -> QuerySet[Company]:
    """Companies, optionally by name prefix."""
    qs = restrict(Company.objects.all(), user, "view")
    if query.strip():
        qs = qs.filter(prefix_q("name_key", fold(query)))
    return qs


def tag_list(*, user: Any) -> QuerySet[Tag]:
    return restrict(Tag.objects.all(), user, "view")


def sector_choices() -> list[str]:
    """Sectors already used, for filters and suggestions (distinct over an indexed column)."""
    return list(
        Customer.objects.exclude(sector="")
        .order_by("sector")
        .values_list("sector", flat=True)
        .distinct()[:200]
    )


def custom_field_values(*, customer: Customer) -> list[tuple[str, str]]:
    """(label, value as a person reads it) of the customer's custom fields, in the admin's order."""
    values = customer.custom_fields or {}
    return [
        (spec.label, spec.shown(values[spec.key]))
        for spec in custom_field_specs()
        if values.get(spec.key) not in (None, "")
    ]


def custom_field_list(*, user: Any) -> QuerySet[CustomField]:
    """The custom fields an admin manages, in the order forms show them."""
    return restrict(CustomField.objects.all(), user, "change")


@dataclass(frozen=True)
class DuplicatePair:
    """Two customers that may be the same person, how alike they are (0-100) and why (reason codes:
    see :data:`REASON_LABELS`)."""

    first: Customer
    second: Customer
    score: int
    reasons: tuple[str, ...]

    @property
    def level(self) -> str:
        """``high``, ``medium`` or ``low``: how strongly the page suggests merging."""
        return "high" if self.score >= 80 else "medium" if self.score >= 60 else "low"

    @property
    def people(self) -> tuple[Customer, Customer]:
        return (self.first, self.second)

    def reason_labels(self) -> list[str]:
        return [str(REASON_LABELS.get(code, code)) for code in self.reasons]


REASON_LABELS: dict[str, Any] = {
    "same_name": _("same name"),
    "similar_name": _("similar name"),
    "different_name": _("different name"),
    "same_email": _("same e-mail"),
    "email_differs": _("different e-mail"),
    "same_phone": _("same phone"),
    "phone_differs": _("different phone"),
    "same_tax_id": _("same tax id"),
    "tax_id_differs": _("different tax id"),
    "same_company": _("same company"),
    "company_differs": _("different company"),
    "same_city": _("same city"),
    "city_differs": _("different city"),
    "everything_else_matches": _("e-mail and phone differ, everything else matches"),
}


# --- who merges what: the one rule of the duplicates page, its API and the merge services -----------


def may_merge(user: Any) -> bool:
    """Whether ``user`` works with duplicates at all: whoever may change customers (managers and admins
    every record, sales reps their own); an outsider or an auditor does not (403)."""
    return can(user, Customer, "change")


def merge_scope(user: Any) -> QuerySet[Customer]:
    """The customers ``user`` may merge: both records of a merge must be in it.

    Managers and admins, who may delete customers, merge any two. A sales rep deletes nothing, but
    two records of one person that are both theirs are their own mess to tidy: they merge (and undo)
    duplicates among the customers they own, never one of a colleague's.
    """
    customers = Customer.objects.all()
    if can(user, Customer, "delete"):
        return restrict(restrict(customers, user, "change"), user, "delete")
    return restrict(customers, user, "change").filter(owner=user)


def duplicate_candidate_list(*, user: Any) -> QuerySet[DuplicateCandidate]:
    """The stored possible duplicates ``user`` may merge, both records in :func:`merge_scope`
    (order by ``-score, id``): every pair for managers, the pairs of their own customers for a rep."""
    pairs = DuplicateCandidate.objects.all()
    if not may_merge(user):
        pairs = pairs.none()
    elif not (sees_every_row(user, Customer, "change") and sees_every_row(user, Customer, "delete")):
        if can(user, Customer, "delete"):
            scope = merge_scope(user)
            pairs = pairs.filter(first__in=scope, second__in=scope)
        else:  # the rep's own: two joins on the owner, cheaper than two IN lists of their customers
            pairs = pairs.filter(first__owner=user, second__owner=user)
    return pairs.select_related("first", "second", "first__company", "second__company")


def customer_duplicate_candidates(*, user: Any, limit: int = 100) -> list[DuplicatePair]:
    """The stored possible duplicates whose two customers ``user`` may see, most likely first.

    The pairs are found by :func:`~cartera.customers.services.duplicate_candidates_refresh` (in the
    worker on a big file); this only reads the top of that table, so the page is fast at any size."""
    rows = list(duplicate_candidate_list(user=user).order_by("-score", "id")[:limit])
    return [duplicate_pair(row) for row in rows]


def duplicate_pair(candidate: DuplicateCandidate) -> DuplicatePair:
    """A stored candidate row as the pair the page and the API describe (level, reasons in words)."""
    return DuplicatePair(candidate.first, candidate.second, candidate.score, tuple(candidate.reasons))


def duplicates_found_at() -> Any:
    """When the stored possible duplicates were looked for (``None``: never)."""
    # Every pair of one search carries the same time, so any row says it (an aggregate would read
    # every pair: seconds on a million customers).
    return DuplicateCandidate.objects.order_by("pk").values_list("found_at", flat=True).first()


def recent_merges(*, user: Any, limit: int = 10) -> list[CustomerMerge]:
    """The latest merges whose kept customer ``user`` may change (newest first), for the undo links."""
    merges = CustomerMerge.objects.select_related("keep", "actor")
    if not sees_every_row(user, Customer, "change"):  # an IN over every customer costs seconds
        merges = merges.filter(keep__in=restrict(Customer.objects.all(), user, "change"))
    return list(merges[:limit])


def customer_merge_detail(*, user: Any, pk: int) -> CustomerMerge:
    """One merge, if ``user`` may change its kept customer (else 404)."""
    merge = CustomerMerge.objects.filter(
        pk=pk, keep__in=restrict(Customer.objects.all(), user, "change")
    ).first()
    if merge is None:
        raise Http404
    return merge


@dataclass(frozen=True)
class MergeRow:
    """One field on the merge screen: its label, both values as shown, and which survives by default."""

    name: str
    label: str
    keep: str
    remove: str
    default: str

    @property
    def differs(self) -> bool:
        return self.keep != self.remove


def _shown(customer: Customer, name: str) -> str:
    from django.utils.formats import localize

    value = getattr(customer, name)
    field = Customer._meta.get_field(name)
    if value in (None, ""):
        return ""
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    if getattr(field, "choices", None):
        return str(getattr(customer, f"get_{name}_display")())
    if name == "owner":
        return str(value.get_full_name() or value.get_username())
    return str(localize(value))


def merge_preview(*, keep: Customer, remove: Customer) -> list[MergeRow]:
    """Each field the merge screen offers, both values and the default choice (fields equal on both
    records included, so the page can say they are the same)."""
    from cartera.customers.services import MERGE_FIELDS, merge_defaults

    defaults = merge_defaults(keep, remove)
    return [
        MergeRow(
            name=name,
            label=str(getattr(Customer._meta.get_field(name), "verbose_name", name)),
            keep=_shown(keep, name),
            remove=_shown(remove, name),
            default=defaults[name],
        )
        for name in MERGE_FIELDS
    ]


def merge_moving_counts(*, customer: Customer) -> list[tuple[str, int]]:
    """What goes with ``customer`` into the kept record: each kind of linked row and how many."""
    counts: list[tuple[str, int]] = []
    for relation in Customer._meta.related_objects:
        if not relation.field.concrete or relation.many_to_many:
            continue
        model = relation.related_model
        count = model._default_manager.filter(**{relation.field.name: customer}).count()
        if count:
            counts.append((str(model._meta.verbose_name_plural), count))
    return counts


def customers_with_phone(*, user: Any, phone: str, limit: int = 3) -> list[Customer]:
    """Customers ``user`` may see whose phone is ``phone`` (any spelling; warned about on creation)."""
    try:
        number = normalize_phone(phone)
    except ValidationError:
        return []
    if not number:
        return []
    return list(restrict(Customer.objects.filter(phone=number), user, "view").order_by("id")[:limit])
