"""Matching: which customer of the database, or which earlier row of the file, a row is the same as;
which customer an order or interaction belongs to; and so what each row will do (create, update, skip).

Candidates are fetched per batch, one query per key (email, then phone for the rows still unmatched,
then tax id and folded last name for the rest); fuzzy matching (rapidfuzz) only compares a row with
the customers of the same folded last name (or tax id) that do not contradict it by email or phone."""

from __future__ import annotations

import datetime
import hashlib
import operator
import re
from dataclasses import dataclass, field
from typing import Any

from django.db import connections, router
from django.db.models import Q
from django.utils.translation import gettext as _
from rapidfuzz import fuzz

from cartera.activity.models import Interaction
from cartera.core.scoping import restrict, sees_every_row
from cartera.core.text import fold
from cartera.customers.models import Company, Customer
from cartera.imports.models import (
    DuplicatePolicy,
    ImportKind,
    ImportRecord,
    RowOutcome,
)
from cartera.imports.rows import CleanRow
from cartera.imports.services.common import ORDER_SOURCE, Pending, RowNote, RunState
from cartera.sales.models import Order
from cartera.sales.services import PromotionUse, promotions_check_many

# The number the export gives an order that has none of its own (imports/exporting.py::order_number).
_EXPORTED_ORDER = re.compile(r"^cartera-(\d{1,18})$")


def _minute(moment: datetime.datetime) -> tuple[int, ...]:
    """A moment to the minute, in UTC: a CSV export writes hours and minutes only."""
    utc = moment.astimezone(datetime.UTC)
    return (utc.year, utc.month, utc.day, utc.hour, utc.minute)


@dataclass
class FileIndex:
    """Rows already seen in the file, by the keys that make two rows the same customer."""

    emails: dict[str, int] = field(default_factory=dict)
    phones: dict[str, int] = field(default_factory=dict)
    names: dict[str, list[tuple[str, str, str, str, int]]] = field(default_factory=dict)

    def add(self, row: CleanRow) -> None:
        data = row.data
        if data.get("email"):
            self.emails.setdefault(data["email"], row.number)
        if data.get("phone"):
            self.phones.setdefault(data["phone"], row.number)
        block = self.names.setdefault(row.last_key, [])
        if len(block) < 50:
            block.append(
                (row.name_key, row.context_key, data.get("email") or "", data.get("phone") or "", row.number)
            )

    def find(self, row: CleanRow, threshold: int) -> int | None:
        data = row.data
        if data.get("email") and data["email"] in self.emails:
            return self.emails[data["email"]]
        if data.get("phone") and data["phone"] in self.phones:
            return self.phones[data["phone"]]
        for name, context, email, phone, number in self.names.get(row.last_key, ()):
            if fuzzy_same(row, name, context, email, phone, threshold):
                return number
        return None


def row_quality(row: CleanRow) -> tuple[int, int, int]:
    """How good a row is as the one to keep among duplicates: how many values it has, then how many
    of its names are written in mixed case (not "PABLO", not "jimenez"), then how many accented
    letters they keep (a file that lost its accents wrote "Jimenez" for "Jiménez")."""
    data = row.data
    filled = sum(1 for value in data.values() if value not in (None, "", []))
    names = [str(data.get("first_name") or ""), str(data.get("last_name") or "")]
    cased = sum(1 for name in names if name and not name.isupper() and not name.islower())
    accents = sum(1 for name in names for ch in name if not ch.isascii() and ch.isalpha())
    return filled, cased, accents


def fuzzy_same(row: CleanRow, name: str, context: str, email: str, phone: str, threshold: int) -> bool:
    """Same folded name (within ``threshold``) and same company or city; different emails or phones
    on both sides mean different people."""
    data = row.data
    if data.get("email") and email and data["email"] != email:
        return False
    if data.get("phone") and phone and data["phone"] != phone:
        return False
    if fuzz.token_sort_ratio(row.name_key, name) < threshold:
        return False
    mine = row.context_key
    if mine and context:
        return bool(fuzz.ratio(mine, context) >= 85)
    return not mine and not context and row.name_key == name


class Matching(RunState):
    """Planning a batch: the matching half of a run."""

    def _plan_customers(self, rows: list[CleanRow]) -> list[Pending]:
        found = self._existing_customers(rows)
        batch_index = FileIndex() if not self.dry_run else self.file_index
        pending_by_row: dict[int, Pending] = {}
        result: list[Pending] = []
        for row in rows:
            match, exact_email = found.get(row.number), False
            if match is not None:
                exact_email = bool(row.data.get("email")) and match.get("email") == row.data["email"]
            if match is not None:
                self.counts["duplicate"] += 1
                item = self._on_existing(row, match, exact_email)
            else:
                earlier = batch_index.find(row, self.threshold)
                if earlier is not None:
                    self.counts["duplicate"] += 1
                    item = self._on_file_duplicate(row, earlier, pending_by_row.get(earlier))
                else:
                    item = Pending(row, "create")
                    self.counts["create"] += 1
                batch_index.add(row)
            if item is not None:
                pending_by_row[row.number] = item
                result.append(item)
        return result

    def _on_existing(self, row: CleanRow, match: dict[str, Any], exact_email: bool) -> Pending | None:
        policy = self.policy
        how = self.how.get(row.number, "")
        if policy == DuplicatePolicy.SKIP:
            self.counts["skip"] += 1
            self._matched(row, match["id"], how, _("skipped, as chosen for existing records"))
            return None
        if policy == DuplicatePolicy.CREATE:
            if exact_email:
                self._reject(row, _("this email already belongs to another customer"))
                return None
            self.counts["create"] += 1
            self._matched(row, match["id"], how, _("created as a new customer anyway, as chosen"))
            return Pending(row, "create")
        if not match.get("changeable"):
            self.counts["skip"] += 1
            self._matched(row, match["id"], how, _("skipped: you may not change this customer"))
            return None
        self.counts["update"] += 1
        # The writing step says whether anything changed (``_changes``), and completes this note.
        note = self._matched(row, match["id"], how, "")
        return Pending(row, "update", target_id=match["id"], note=note)

    def _matched(self, row: CleanRow, customer_id: int, how: str, what: str) -> RowNote:
        """Note which existing customer the row is (and by what); ``what`` it did, when known."""
        self._note(row, RowOutcome.MATCHED, f"{how}: {what}" if what else how, customer_id=customer_id)
        return self.errors[-1]

    def _on_file_duplicate(
        self, row: CleanRow, earlier_number: int, earlier: Pending | None
    ) -> Pending | None:
        """A row that is the same person as an earlier row of the file. The better of the two (the
        fuller, then the better written: "Pablo Jiménez" over "PABLO jimenez") is the one written;
        the other is merged into it (fill-in and overwrite policies) or skipped, and noted either way."""
        policy = self.policy
        if policy == DuplicatePolicy.CREATE and not (
            row.data.get("email") and earlier and earlier.row.data.get("email") == row.data["email"]
        ):
            self.counts["create"] += 1
            return Pending(row, "create")
        loser = row
        if earlier is not None and row_quality(row) > row_quality(earlier.row):
            loser, earlier.row = earlier.row, row
        kept = earlier.row.number if earlier is not None else earlier_number
        if earlier is not None and policy in (DuplicatePolicy.UPDATE_EMPTY, DuplicatePolicy.OVERWRITE):
            earlier.merged.append(loser)
            self._note(
                loser,
                RowOutcome.MERGED,
                _("same person as row %(n)s: its values fill that row's empty cells") % {"n": kept},
            )
        else:
            self.counts["skip"] += 1
            self._note(loser, RowOutcome.SKIPPED, _("same person as row %(n)s, which was kept") % {"n": kept})
        return None

    def _existing_customers(self, rows: list[CleanRow]) -> dict[int, dict[str, Any]]:
        """The customer of the database each row of the batch duplicates, by row number: same email,
        else same phone, else same tax id or folded last name with a fuzzy match on the full name and
        company or city (see ``fuzzy_same``).

        One query per key for the whole batch, each only for the rows the previous keys left unmatched
        (an email match makes the phone and name irrelevant)."""
        matched: dict[int, dict[str, Any]] = {}
        emails = {r.data["email"] for r in rows if r.data.get("email")}
        by_email = self._customers_where("c.email", emails, keys_only=True)
        self.how = {}
        for row in rows:
            email = row.data.get("email")
            if email and email in by_email:
                matched[row.number] = by_email[email][0]
                self.how[row.number] = _("same email")
        left = [r for r in rows if r.number not in matched]
        phones = {r.data["phone"] for r in left if r.data.get("phone")}
        by_phone = self._customers_where("c.phone", phones, keys_only=True)
        for row in left:
            phone = row.data.get("phone")
            if phone and phone in by_phone:
                matched[row.number] = by_phone[phone][0]
                self.how[row.number] = _("same phone")
        left = [r for r in left if r.number not in matched]
        if not left:
            return self._with_rights(matched)
        by_tax = self._customers_where("co.tax_id", {r.data["tax_id"] for r in left if r.data.get("tax_id")})
        # A candidate whose email (or phone) differs from the row's is another person, so the
        # name query only asks for customers that have none where the row has one.
        groups: dict[tuple[bool, bool], set[str]] = {}
        for r in left:
            groups.setdefault((bool(r.data.get("email")), bool(r.data.get("phone"))), set()).add(r.last_key)
        by_last_id: dict[str, dict[int, dict[str, Any]]] = {}
        for (has_email, has_phone), lasts in groups.items():
            extra = (" AND c.email IS NULL" if has_email else "") + (" AND c.phone = ''" if has_phone else "")
            for key, customers in self._customers_where("c.last_name_key", lasts, extra).items():
                known = by_last_id.setdefault(key, {})
                for c in customers:
                    known.setdefault(c["id"], c)
        by_last = {key: [known[i] for i in sorted(known)] for key, known in by_last_id.items()}
        for row in left:
            same_tax = by_tax.get(row.data.get("tax_id") or "", [])
            candidates = same_tax + by_last.get(row.last_key, [])
            for c in candidates:
                if "name" not in c:  # folded once per candidate, only for those compared
                    c["name"] = f"{c['first_name_key']} {c['last_name_key']}".strip()
                    c["context"] = fold(c["company__name"] or c["city"] or "")
                if fuzzy_same(
                    row, c["name"], c["context"], c["email"] or "", c["phone"] or "", self.threshold
                ):
                    matched[row.number] = c
                    score = round(fuzz.token_sort_ratio(row.name_key, c["name"]))
                    if c in same_tax:
                        self.how[row.number] = _("same tax id, name %(score)s%% alike") % {"score": score}
                    else:
                        self.how[row.number] = _("name %(score)s%% alike, same company or city") % {
                            "score": score
                        }
                    break
        return self._with_rights(matched)

    def _with_rights(self, matched: dict[int, dict[str, Any]]) -> dict[int, dict[str, Any]]:
        """Only an update needs to know whether the actor may change the matched customer, now."""
        if matched and self.policy in (DuplicatePolicy.UPDATE_EMPTY, DuplicatePolicy.OVERWRITE):
            may = self._changeable({c["id"] for c in matched.values()})
            for c in matched.values():
                c["changeable"] = c["id"] in may
        return matched

    def _changeable(self, ids: set[int]) -> set[int]:
        """Which of these customers the actor may change now, by the scoping helper (one query per
        batch, none for roles that change every customer)."""
        if not ids or sees_every_row(self.actor, Customer, "change"):
            return ids
        return set(
            restrict(Customer.objects.filter(pk__any_of=ids), self.actor, "change").values_list(
                "pk", flat=True
            )
        )

    def _customers_where(
        self, column: str, values: set[Any], extra: str = "", keys_only: bool = False
    ) -> dict[Any, list[dict[str, Any]]]:
        """Customers whose ``column`` is one of ``values``, grouped by it, in id order. ``keys_only``:
        just the id and that column, which for the email and phone an index answers without reading
        the table."""
        result: dict[Any, list[dict[str, Any]]] = {}
        if not values:
            return result
        # Plain SQL: compiling a thousand-value IN list through the ORM costs more than running it.
        customer_table, company_table = Customer._meta.db_table, Company._meta.db_table
        keys: tuple[str, ...]
        if keys_only:
            keys = ("id",)
            joined = f"{customer_table} c"
        else:
            keys = ("id", "email", "phone", "first_name_key", "last_name_key", "city",
                    "company__name", "company__tax_id")  # fmt: skip
            joined = f"{customer_table} c LEFT JOIN {company_table} co ON co.id = c.company_id"
        columns = ", ".join("co." + k[9:] if k.startswith("company__") else "c." + k for k in keys)
        select = f"SELECT {columns}, {column} FROM {joined}"  # noqa: S608  # names come from the models
        found: list[tuple[Any, ...]] = []
        items = sorted(values)
        with connections[router.db_for_read(Customer)].cursor() as cursor:
            for start in range(0, len(items), 900):
                part = items[start : start + 900]
                marks = ", ".join(["%s"] * len(part))
                cursor.execute(f"{select} WHERE {column} IN ({marks}){extra}", part)  # noqa: S608  # fixed names
                found.extend(cursor.fetchall())
        found.sort(key=operator.itemgetter(0))
        for values_row in found:
            customer = dict(zip(keys, values_row, strict=False))
            if keys_only:
                customer[column[2:]] = values_row[-1]  # "c.email" -> "email"
            result.setdefault(values_row[-1], []).append(customer)
        return result

    def _linked_key(self, row: CleanRow) -> str:
        """The key that makes re-importing a row a no-op: the order number, or a digest of the row
        (with how many identical rows came before it, so two real identical purchases stay two)."""
        data = row.data
        if self.job.kind == ImportKind.ORDERS and data.get("external_ref"):
            return str(data["external_ref"])
        parts = [str(data.get(k) or "") for k in sorted(data) if not k.startswith("_")]
        digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]
        self.occurrences[digest] = self.occurrences.get(digest, 0) + 1
        return f"h:{digest}:{self.occurrences[digest]}"

    def _plan_linked(self, rows: list[CleanRow]) -> list[Pending]:
        for row in rows:
            row.data["_key"] = self._linked_key(row)
        customers = self._resolve_customers(rows)
        model = "sales.order" if self.job.kind == ImportKind.ORDERS else "activity.interaction"
        keys = [r.data["_key"] for r in rows]
        if self.job.kind == ImportKind.ORDERS:
            seen = self._orders_here(rows, customers)
        else:
            seen = set(
                ImportRecord.objects.filter(model=model, external_ref__any_of=keys).values_list(
                    "external_ref", flat=True
                )
            )
            seen |= self._exported_here(rows, customers)
        refused = self._check_promotions(rows, customers, seen)
        result = []
        batch_seen: set[str] = set()
        for row in rows:
            key = row.data["_key"]
            target = customers.get(row.number)
            new_customer = ""
            if target is None and self.create_customers and self.job.kind == ImportKind.ORDERS:
                new_customer = self._new_customer_key(row)
            if isinstance(target, str) or (target is None and not new_customer):
                column, value = self._customer_cell(row)
                self._reject(row, target or _("no customer matches this email, phone or id"), column, value)
                continue
            if key in seen or key in batch_seen or (self.dry_run and key in self.file_index.emails):
                self.counts["duplicate"] += 1
                self.counts["skip"] += 1
                continue
            if row.number in refused:
                code, why = refused[row.number]
                self._reject(row, why, self._column_of("promo_code"), code)
                continue
            batch_seen.add(key)
            if self.dry_run:
                self.file_index.emails[key] = row.number
            if new_customer and new_customer not in self.new_customers:
                self.counts["customers"] += 1
                # In a dry run nothing is created: the key only stops the customer being counted twice.
                self.new_customers[new_customer] = 0
            self.counts["create"] += 1
            result.append(Pending(row, "create", target_id=target, new_customer=new_customer))
        return result

    def _orders_here(self, rows: list[CleanRow], customers: dict[int, int | str | None]) -> set[str | None]:
        """The keys of order rows already here, read in one query (by order number, whatever the
        source, and by the ids ``cartera-<id>`` names): an order an import wrote with the row's
        number, or a record of this Cartera written out by its own export, so that importing an
        export back creates nothing: an order of the same customer, date and amount that has the row's
        number, whatever its source (an order entered by hand with its invoice number), or is the
        order ``cartera-<id>`` names (the export's number for an order without one)."""
        targets = {r.number: customers.get(r.number) for r in rows}
        by_key = {r.data["_key"]: r for r in rows}
        numbered = {int(m[1]): key for key in by_key if (m := _EXPORTED_ORDER.match(key))}
        found = Order.objects.filter(
            Q(pk__in=list(numbered)) | Q(external_ref__any_of=list(by_key))
        ).values_list("pk", "source", "external_ref", "customer_id", "ordered_on", "amount")
        seen: set[str | None] = set()
        for pk, source, external_ref, customer_id, ordered_on, amount in found:
            if source == ORDER_SOURCE and external_ref in by_key:
                seen.add(external_ref)
            for key in {numbered.get(pk) or "", external_ref or ""} & by_key.keys():
                row = by_key[key]
                target = targets[row.number]
                if isinstance(target, int) and (customer_id, ordered_on, amount) == (
                    target,
                    row.data.get("ordered_on"),
                    row.data.get("amount"),
                ):
                    seen.add(key)
        return seen

    def _exported_here(self, rows: list[CleanRow], customers: dict[int, int | str | None]) -> set[str]:
        """The keys of interaction rows that are records of this Cartera written out by its own
        export, so that importing an export back creates nothing: an interaction logged here by hand
        (an imported one is known by its key already) of the same customer, minute, kind and subject."""
        targets = {r.number: customers.get(r.number) for r in rows}
        dated = [r for r in rows if isinstance(targets[r.number], int) and r.data.get("occurred_at")]
        if not dated:
            return set()
        moments = [r.data["occurred_at"] for r in dated]
        logged = set(
            Interaction.objects.filter(
                customer_id__in={targets[r.number] for r in dated},
                occurred_at__gte=min(moments) - datetime.timedelta(minutes=1),
                occurred_at__lte=max(moments) + datetime.timedelta(minutes=1),
            )
            .exclude(pk__in=ImportRecord.objects.filter(model="activity.interaction").values("object_id"))
            .values_list("customer_id", "occurred_at", "kind", "subject")
        )
        logged_minutes = {(c, _minute(when), kind, subject) for c, when, kind, subject in logged}
        return {
            r.data["_key"]
            for r in dated
            if (
                targets[r.number],
                _minute(r.data["occurred_at"]),
                r.data.get("kind"),
                r.data.get("subject") or "",
            )
            in logged_minutes
        }

    def _check_promotions(
        self, rows: list[CleanRow], customers: dict[int, int | str | None], seen: set[str | None]
    ) -> dict[int, tuple[str, str]]:
        """Link each new order row's promotion code (``_promotion_id``), checked as the order form
        checks it (unknown, not valid on the order's date, used up, another customer's). The rows whose
        code is refused, by number: (the code, why)."""
        coded: list[tuple[CleanRow, int | None]] = []
        keys: set[str] = set()
        for row in rows:
            key, target = row.data["_key"], customers.get(row.number)
            if isinstance(target, str) or (target is None and not self.create_customers):
                continue  # no usable customer: the row is rejected for that
            if not row.data.get("promo_code") or key in seen or key in keys:
                continue  # no code, or a row imported before: not a new use
            keys.add(key)
            coded.append((row, target))
        if not coded:
            return {}
        # A commit writes each batch before reading the next, so the database counts the uses of
        # earlier batches; a dry run writes nothing and counts them itself.
        checked = promotions_check_many(
            uses=[
                PromotionUse(row.data["promo_code"], target, row.data["ordered_on"]) for row, target in coded
            ],
            taken=self.promo_taken if self.dry_run else {},
        )
        refused: dict[int, tuple[str, str]] = {}
        for (row, _target), outcome in zip(coded, checked, strict=True):
            if isinstance(outcome, str):
                refused[row.number] = (row.data["promo_code"], outcome)
            else:
                row.data["_promotion_id"] = outcome.pk
        return refused

    def _column_of(self, field_key: str) -> str:
        """The file's column mapped to ``field_key`` (empty when none is)."""
        return next((header for header, key in self.job.columns.items() if key == field_key), "")

    @staticmethod
    def _new_customer_key(row: CleanRow) -> str:
        """What makes two order rows the same new customer: the id in the other system, else the
        e-mail, else the phone (a row with none of them names no customer and is rejected before)."""
        data = row.data
        for field_key, prefix in (
            ("customer_external_id", "id"),
            ("customer_email", "email"),
            ("customer_phone", "phone"),
        ):
            if data.get(field_key):
                return f"{prefix}:{data[field_key]}"
        return ""

    def _customer_cell(self, row: CleanRow) -> tuple[str, Any]:
        """The column and value a row names its customer by, for the message when none is found."""
        headers = {key: header for header, key in self.job.columns.items()}
        for field_key in ("customer_external_id", "customer_email", "customer_phone"):
            if row.data.get(field_key):
                return headers.get(field_key, ""), row.data[field_key]
        return "", ""

    def _resolve_customers(self, rows: list[CleanRow]) -> dict[int, int | str | None]:
        """The customer of each row, by row number: its id, a message saying why it cannot be used,
        or ``None`` when no customer matches (then the order may bring its customer)."""
        emails = {r.data["customer_email"] for r in rows if r.data.get("customer_email")}
        phones = {r.data["customer_phone"] for r in rows if r.data.get("customer_phone")}
        refs = {r.data["customer_external_id"] for r in rows if r.data.get("customer_external_id")}
        known: set[int] = set()
        by_email: dict[str, int] = {}
        by_phone: dict[str, list[int]] = {}
        for c in Customer.objects.filter(Q(email__any_of=emails) | Q(phone__any_of=phones)).values(
            "id", "email", "phone"
        ):
            known.add(c["id"])
            if c["email"]:
                by_email[c["email"]] = c["id"]
            if c["phone"]:
                by_phone.setdefault(c["phone"], []).append(c["id"])
        by_ref: dict[str, int] = {}
        for ref, object_id in (
            ImportRecord.objects.filter(model="customers.customer", external_ref__any_of=refs)
            .values_list("external_ref", "object_id")
            .order_by("id")
        ):
            by_ref[ref] = object_id
        known.update(Customer.objects.filter(id__in=set(by_ref.values())).values_list("id", flat=True))
        result: dict[int, int | str | None] = {}
        for row in rows:
            data = row.data
            found: int | str | None = None
            if data.get("customer_external_id"):
                found = by_ref.get(data["customer_external_id"])
            if found is None and data.get("customer_email"):
                found = by_email.get(data["customer_email"])
            if found is None and data.get("customer_phone"):
                ids = by_phone.get(data["customer_phone"], [])
                found = ids[0] if len(ids) == 1 else (_("several customers have this phone") if ids else None)
            if isinstance(found, int) and found not in known:
                found = None
            result[row.number] = found
        if self.job.kind == ImportKind.ORDERS:
            # Orders go only to customers the actor may change (a sales rep: her own).
            may = self._changeable({f for f in result.values() if isinstance(f, int)})
            for number, found in result.items():
                if isinstance(found, int) and found not in may:
                    result[number] = _("you cannot record orders for a customer you do not own")
        return result
