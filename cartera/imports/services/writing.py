"""Writing: new and changed customers, their companies and tags, orders and interactions, and the
``ImportRecord`` that links each to its job, with plain multi-row SQL built from the checked values."""

from __future__ import annotations

import contextlib
import functools
import operator
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from django.db import connections, router
from django.db.models import (
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    DecimalField,
    ForeignKey,
    IntegerField,
    Model,
    Q,
    TextField,
)
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from cartera.activity.models import Interaction
from cartera.core import bulk
from cartera.customers.models import Company, Customer, Stage, StageVia
from cartera.customers.services import customers_mark_buyers, stage_changes_record, tags_get_or_create
from cartera.imports.models import DuplicatePolicy, ImportKind, ImportRecord, ImportRowError
from cartera.imports.rows import CleanRow
from cartera.imports.services.common import (
    CUSTOMER_FIELDS,
    ORDER_SOURCE,
    Pending,
    RecordRow,
    RowNote,
    RunState,
    combined,
    company_key,
    jsonable_value,
)
from cartera.insights.tasks import schedule_refresh
from cartera.sales.models import Order


def new_customer_values(data: Mapping[str, Any]) -> dict[str, Any]:
    """A new customer's values from an order row: its name (split at the first space, as a customer
    file's full name is), else the customer's id in the other system as the name; e-mail, phone."""
    name = str(
        data.get("customer_name") or data.get("customer_external_id") or data.get("customer_email") or ""
    )
    if "@" in name:
        name = name.split("@", 1)[0]
    first, _sep, rest = name.strip().partition(" ")
    values: dict[str, Any] = {"first_name": first[:100] or "—", "last_name": rest.strip()[:150]}
    if data.get("customer_email"):
        values["email"] = data["customer_email"]
    if data.get("customer_phone"):
        values["phone"] = data["customer_phone"]
    return values


def names_company(key: str, company: Company | None) -> bool:
    """Whether a row's company key (:func:`company_key`) finds this company, as the commit finds it."""
    if company is None:
        return False
    if key.startswith("tax:"):
        return company.tax_id == key[4:]
    return company.name_key == key[5:]


def _field_label(name: str) -> str:
    if name == "tags":
        return str(_("tags"))
    field = Customer._meta.get_field(name.removesuffix("_id"))
    return str(capfirst(field.verbose_name))  # type: ignore[union-attr]


class Writing(RunState):
    """Writing a planned batch: the writing half of a run."""

    def _write_customers(self, pending: list[Pending]) -> None:
        job, actor = self.job, self.actor
        records: list[RecordRow] = []
        companies = self._companies([p.row for p in pending], records)
        creates = [item for item in pending if item.action == "create"]
        if creates:
            rows = CustomerRows(connections[router.db_for_write(Customer)], actor.pk, job.source)
            for item in creates:
                values = combined(item, self.policy)
                if item.merged:
                    first_key, last_key = Customer.name_keys(
                        values.get("first_name"), values.get("last_name")
                    )
                else:
                    first_key, last_key = item.row.first_key, item.row.last_key
                company = companies.get(company_key(values)) if self.with_companies else None
                rows.add_customer(values, company, first_key, last_key)
            created_ids = rows.insert()
        else:
            created_ids = []
        for item, pk in zip(creates, created_ids, strict=True):
            records.append(self._record("customers.customer", pk, "created", item.row))
        updates = [p for p in pending if p.action == "update" and p.target_id]
        changed_fields: set[str] = set()
        changed: list[Customer] = []
        new_tags = self._new_tags(updates) if self.with_tags else {}
        stage_moves: list[tuple[int, str, str]] = []
        for item, customer, values in self._update_targets(updates, with_company=False):
            previous, new_values = self._changes(customer, values, companies.get(company_key(values)))
            if not previous and not new_tags.get(customer.pk):
                self._unchanged(item)
                continue
            self._updated(item, [*previous, *(["tags"] if new_tags.get(customer.pk) else [])])
            if previous:
                for name, new in new_values.items():
                    if name == "stage":
                        stage_moves.append((customer.pk, str(getattr(customer, name)), str(new)))
                    setattr(customer, name, new)
                    changed_fields.add(name)
                customer.set_search_keys()
                customer.updated_at = timezone.now()
                changed.append(customer)
            records.append(self._record("customers.customer", customer.pk, "updated", item.row, previous))
        if stage_moves:
            stage_changes_record(actor=actor, changes=stage_moves, via=StageVia.IMPORT)
        if changed:
            Customer.objects.bulk_update(
                changed,
                [*sorted(changed_fields), "first_name_key", "last_name_key", "updated_at"],
                batch_size=500,
            )
        if self.with_tags:
            self._tags(list(zip(creates, created_ids, strict=True)), updates)
        insert_records(self.job.pk, records)

    def _changes(
        self, customer: Customer, values: Mapping[str, Any], company_id: int | None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The stored values the row would change, as they are now, and the values it writes
        (``{}, {}``: the row changes nothing). With "fill in the empty fields" only empty fields
        count; equal values never count. Each custom field counts as a field of its own: the file's
        values join the stored ones."""
        previous: dict[str, Any] = {}
        written: dict[str, Any] = {}
        for name in (*CUSTOMER_FIELDS, "company_id"):
            new: Any = company_id if name == "company_id" else values.get(name)
            old: Any = getattr(customer, name)
            if name == "custom_fields" and new:
                stored = old or {}
                new = {**new, **stored} if self.policy == DuplicatePolicy.UPDATE_EMPTY else {**stored, **new}
                if new == stored:
                    continue
                previous[name], written[name] = stored, new
                continue
            if new in (None, "") or new == old:
                continue
            if self.policy == DuplicatePolicy.UPDATE_EMPTY and old not in (None, ""):
                continue
            previous[name], written[name] = jsonable_value(old), new
        return previous, written

    def _new_tags(self, updates: list[Pending]) -> dict[int, set[str]]:
        """Per customer to update, the file's tags it does not have yet (by lower-cased name)."""
        wanted = {
            item.target_id or 0: {
                n.strip().lower()[:60] for n in combined(item, self.policy).get("tags") or []
            }
            for item in updates
        }
        wanted = {pk: names for pk, names in wanted.items() if names}
        if not wanted:
            return {}
        through = Customer.tags.through
        for customer_id, name in through.objects.filter(customer_id__in=wanted).values_list(
            "customer_id", "tag__name"
        ):
            wanted[customer_id].discard(name.strip().lower()[:60])
        return wanted

    def _unchanged(self, item: Pending) -> None:
        """A matched row that changes nothing is counted as unchanged, not updated."""
        if item.settled:
            return
        item.settled = True
        self.counts["update"] -= 1
        self.counts["unchanged"] += 1
        if item.note is not None:
            item.note.reason = _("%(how)s: nothing to change") % {"how": item.note.reason}

    def _updated(self, item: Pending, names: list[str]) -> None:
        if item.settled:
            return
        item.settled = True
        if item.note is not None:
            labels = ", ".join(_field_label(name) for name in names)
            item.note.reason = _("%(how)s: updated (%(fields)s)") % {
                "how": item.note.reason,
                "fields": labels,
            }

    def _update_targets(
        self, updates: list[Pending], with_company: bool
    ) -> Iterator[tuple[Pending, Customer, dict[str, Any]]]:
        """Each update with the customer it changes (one query) and the values it brings."""
        customers = Customer.objects.select_related("company") if with_company else Customer.objects
        targets = customers.in_bulk([p.target_id for p in updates if p.target_id])
        for item in updates:
            customer = targets.get(item.target_id or 0)
            if customer is not None:
                yield item, customer, combined(item, self.policy)

    def _check_updates(self, pending: list[Pending]) -> None:
        """The dry run's half of the honest count: which updates would change a stored value (the
        companies a file names for the first time count as a change)."""
        updates = [p for p in pending if p.action == "update" and p.target_id]
        if not updates:
            return
        new_tags = self._new_tags(updates) if self.with_tags else {}
        for item, customer, values in self._update_targets(updates, with_company=True):
            key = company_key(values) if self.with_companies else ""
            company_id = customer.company_id
            if key and not names_company(key, customer.company):
                company_id = -1  # another company, or one the import would create
            previous, _written = self._changes(customer, values, company_id)
            if previous or new_tags.get(customer.pk):
                self._updated(item, [*previous, *(["tags"] if new_tags.get(customer.pk) else [])])
            else:
                self._unchanged(item)

    def _companies(self, rows: list[CleanRow], records: list[RecordRow]) -> dict[str, int]:
        """Company ids by name key or tax id, creating the companies the file names for the first time."""
        wanted: dict[str, CleanRow] = {}
        for row in rows if self.with_companies else ():
            key = company_key(row.data)
            if key and key not in self.company_cache:
                wanted.setdefault(key, row)
        if wanted:
            taxes = [k[4:] for k in wanted if k.startswith("tax:")]
            names = [k[5:] for k in wanted if k.startswith("name:")]
            for c in Company.objects.filter(Q(tax_id__in=taxes) | Q(name_key__in=names)).values(
                "id", "tax_id", "name_key"
            ):
                if c["tax_id"]:
                    self.company_cache.setdefault(f"tax:{c['tax_id']}", c["id"])
                self.company_cache.setdefault(f"name:{c['name_key']}", c["id"])
            new = []
            for key, row in wanted.items():
                if key in self.company_cache:
                    continue
                data = row.data
                name = (data.get("company_name") or data.get("tax_id") or "")[:200]
                new.append(
                    (
                        key,
                        row,
                        Company(name=name, name_key=Company.key_for(name), tax_id=data.get("tax_id") or ""),
                    )
                )
            Company.objects.bulk_create([c for _k, _r, c in new])
            for key, row, company in new:
                self.company_cache[key] = company.pk
                if company.tax_id:
                    self.company_cache.setdefault(f"name:{company.name_key}", company.pk)
                records.append(self._record("customers.company", company.pk, "created", row))
        return self.company_cache

    def _tags(self, creates: list[tuple[Pending, int]], updates: list[Pending]) -> None:
        links: list[Any] = []
        through = Customer.tags.through
        pairs: list[tuple[int, list[str]]] = [
            (pk, combined(i, self.policy).get("tags") or []) for i, pk in creates
        ]
        pairs += [(i.target_id or 0, combined(i, self.policy).get("tags") or []) for i in updates]
        for customer_id, names in pairs:
            for name in names:
                key = name.strip().lower()[:60]
                if key not in self.tag_cache:
                    self.tag_cache[key] = tags_get_or_create(names=[name])[0].pk
                links.append(through(customer_id=customer_id, tag_id=self.tag_cache[key]))
        if links:
            through.objects.bulk_create(links, ignore_conflicts=True)

    def _bring_customers(self, pending: list[Pending], records: list[RecordRow]) -> None:
        """Create the customers that order rows name and the portfolio lacks (option "create the
        missing customers"): one per key, named by the name column, else by the id the file gives."""
        wanted: dict[str, CleanRow] = {}
        for item in pending:
            if item.new_customer and not self.new_customers.get(item.new_customer):
                wanted.setdefault(item.new_customer, item.row)
        if wanted:
            rows = CustomerRows(connections[router.db_for_write(Customer)], self.actor.pk, self.job.source)
            for row in wanted.values():
                # Created with the orders that make them customers: written as customers at once, not
                # created as prospects and updated a moment later (on PostgreSQL an update writes the
                # whole row again, its search document and every index entry: 1.7 s of 100,000 orders).
                values = {**new_customer_values(row.data), "stage": Stage.CUSTOMER}
                first_key, last_key = Customer.name_keys(values.get("first_name"), values.get("last_name"))
                rows.add_customer(values, None, first_key, last_key)
            created = list(zip(wanted.items(), rows.insert(), strict=True))
            for (key, row), pk in created:
                self.new_customers[key] = pk
                ref = str(row.data.get("customer_external_id") or "")[:100]
                records.append(("customers.customer", pk, "created", row.number, ref, None))
            # The same stage history as a customer who became one by buying.
            default_stage = str(Customer._meta.get_field("stage").default)
            stage_changes_record(
                actor=self.actor,
                changes=[(pk, default_stage, Stage.CUSTOMER) for _row, pk in created],
                via=StageVia.IMPORT,
            )
        for item in pending:
            if item.new_customer:
                item.target_id = self.new_customers[item.new_customer]

    def _write_linked(self, pending: list[Pending]) -> None:
        records: list[RecordRow] = []
        if self.job.kind == ImportKind.ORDERS:
            self._bring_customers(pending, records)
            # Rows, not model instances: building and preparing 100,000 ``Order`` objects was the
            # largest part of the writer's own work in an order import.
            orders = ModelRows(
                connections[router.db_for_write(Order)],
                Order(source=ORDER_SOURCE, currency=self.job.currency, created_by=self.actor),
                ORDER_ROW_FIELDS,
            )
            buyers = set()
            for item in pending:
                data = item.row.data
                buyers.add(item.target_id or 0)
                orders.add(
                    {
                        "customer_id": item.target_id or 0,
                        "ordered_on": data["ordered_on"],
                        "amount": data["amount"],
                        "currency": data.get("currency"),
                        "channel": data.get("channel"),
                        "category": data.get("category"),
                        "external_ref": data["_key"][:100],
                        "promotion_id": data.get("_promotion_id"),
                    }
                )
            for item, order_id in zip(pending, orders.insert(), strict=True):
                records.append(self._record("sales.order", order_id, "created", item.row))
            customers_mark_buyers(actor=self.actor, customer_ids=buyers, via=StageVia.IMPORT)
            if pending:
                self.ordered = True
                schedule_refresh(trigger="import")
        else:
            interactions = []
            for item in pending:
                data = item.row.data
                interactions.append(
                    Interaction(
                        customer_id=item.target_id or 0,
                        author=self.actor,
                        kind=data.get("kind") or "note",
                        direction=data.get("direction") or "outbound",
                        occurred_at=data.get("occurred_at") or timezone.now(),
                        subject=(data.get("subject") or "")[:200],
                        body=data.get("body") or "",
                        outcome=data.get("outcome") or "",
                    )
                )
            fast_insert(Interaction, interactions)
            for item, interaction in zip(pending, interactions, strict=True):
                records.append(self._record("activity.interaction", interaction.pk, "created", item.row))
        insert_records(self.job.pk, records)


# What an order row of a file sets; the rest comes from the job (source, currency, author).
ORDER_ROW_FIELDS = (
    "customer_id", "ordered_on", "amount", "currency", "channel", "category", "external_ref", "promotion_id"
)  # fmt: skip

# SQLite copies its write-ahead log into the database (and syncs both) whenever the log passes
# ``wal_autocheckpoint`` pages, 1,000 by default: with a dozen indexes on the customer table nearly
# every batch did that. During a commit the log may grow to this many pages (4 KiB each) first.
WAL_CHECKPOINT_PAGES = 25_000


@contextlib.contextmanager
def bulk_writes(dry_run: bool) -> Iterator[None]:
    """Fewer SQLite checkpoints while an import writes (a connection setting, put back afterwards).

    Durability and atomicity are unchanged: each batch still commits on its own, and a killed process
    leaves whole batches in the log, which SQLite replays or checkpoints on the next open."""
    connection = connections[router.db_for_write(Customer)]
    if dry_run or connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        (previous,) = cursor.fetchone()
        cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES:d}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA wal_autocheckpoint={int(previous):d}")


def fast_insert(model: type[Model], objs: list[Any]) -> None:
    """``bulk_create`` for plain rows, without its per-value preparation (the slowest part of an
    import): one multi-row ``INSERT ... RETURNING id`` per chunk; primary keys are set on ``objs``."""
    if not objs:
        return
    connection = connections[router.db_for_write(model)]
    if not connection.features.can_return_rows_from_bulk_insert:
        model._default_manager.bulk_create(objs, batch_size=500)
        return
    now = timezone.now()
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    plain = (CharField, TextField, BooleanField, IntegerField, ForeignKey)
    getters: list[Callable[[Any], Any]] = []
    for f in fields:
        getters.append(_getter(f, connection, now, plain))
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(f.column)) for f in fields)
    table = quote(model._meta.db_table)
    pk_column = quote(str(model._meta.pk.column))
    if connection.vendor == "postgresql" and bulk.fast_paths():
        ids = copy_with_ids(
            connection,
            model,
            [str(f.column) for f in fields],
            ([g(o) for g in getters] for o in objs),
            len(objs),
        )
        for obj, pk in zip(objs, ids, strict=True):
            obj.pk = pk
            obj._state.adding = False
            obj._state.db = connection.alias
        return
    row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
    size = max(1, min(500, connection.ops.bulk_batch_size(fields, objs)))
    with connection.cursor() as cursor:
        for start in range(0, len(objs), size):
            part = objs[start : start + size]
            params = [getter(obj) for obj in part for getter in getters]
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES "  # noqa: S608  # names come from the model
                + ", ".join([row_sql] * len(part))
                + f" RETURNING {pk_column}",
                params,
            )
            for obj, (pk,) in zip(part, cursor.fetchall(), strict=True):
                obj.pk = pk
                obj._state.adding = False
                obj._state.db = connection.alias


def copy_with_ids(
    connection: Any, model: type[Model], columns: list[str], rows: Any, count: int
) -> list[int]:
    """PostgreSQL: ``count`` new rows of ``model`` (database values in ``columns``' order) written with
    ``COPY``, which psycopg formats in C, under ids taken from the table's sequence first; the ids, in
    the rows' order. A multi-row ``INSERT ... RETURNING`` (or ``UNNEST`` of one array per column) cost
    more in psycopg, splitting thousands of placeholders or building the arrays in Python, than the
    insert itself (docs/benchmarks.md, issue 11's orders that bring their customers)."""
    if not count:
        return []
    table, pk = model._meta.db_table, str(model._meta.pk.column)
    with connection.cursor() as cursor:
        # The sequence is looked up once (a materialised CTE): named inside ``nextval`` it was looked
        # up again for every id, ten times the cost of taking the ids (25 ms against 2.5 ms for 5,000).
        cursor.execute(
            "WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence(%s, %s)::regclass AS seq) "
            "SELECT nextval(s.seq) FROM s, generate_series(1, %s)",
            [table, pk, count],
        )
        ids = [pk_value for (pk_value,) in cursor.fetchall()]
        values = iter(rows)
        bulk.copy_rows(cursor, table, [pk, *columns], ([pk_value, *next(values)] for pk_value in ids))
    return ids


def _getter(f: Any, connection: Any, now: Any, plain: tuple[type, ...]) -> Callable[[Any], Any]:
    """How ``fast_insert`` reads one field of an object as a database value."""
    if isinstance(f, DateTimeField) and (f.auto_now or f.auto_now_add):
        stamp = connection.ops.adapt_datetimefield_value(now)

        def stamped(obj: Any) -> Any:
            setattr(obj, f.attname, now)
            return stamp

        return stamped
    if isinstance(f, DateField) and not isinstance(f, DateTimeField):
        return lambda obj: connection.ops.adapt_datefield_value(getattr(obj, f.attname))
    name: str = f.attname
    if isinstance(f, plain) and not isinstance(f, DecimalField):
        return operator.attrgetter(name)
    return lambda obj: f.get_db_prep_save(getattr(obj, f.attname), connection)


def insert_records(job_id: int, records: list[RecordRow]) -> None:
    """One ``ImportRecord`` per created or changed record, written through the bulk-write toolkit
    (``COPY`` on PostgreSQL, ``executemany`` on SQLite: no ids are needed back, and building a model
    instance per row cost more than the insert; on PostgreSQL ``executemany`` was still one statement
    per record, 6.6 s of a 100,000-order import); its plain twin (``CARTERA_BULK_PLAIN=1``) is the
    ORM's ``bulk_create``."""
    if not records:
        return
    # After every write of the batch: a record changed later has a later ``updated_at``.
    now = timezone.now()
    if not bulk.fast_paths():
        ImportRecord.objects.bulk_create(
            [
                ImportRecord(
                    job_id=job_id,
                    model=model,
                    object_id=object_id,
                    action=action,
                    row_number=number,
                    external_ref=ref,
                    previous=previous,
                    written_at=now,
                )  # fmt: skip
                for model, object_id, action, number, ref, previous in records
            ],
            batch_size=500,
        )
        return
    connection = connections[router.db_for_write(ImportRecord)]
    previous_field = ImportRecord._meta.get_field("previous")
    written_at = connection.ops.adapt_datetimefield_value(now)
    names = ("job_id", "model", "object_id", "action", "row_number", "external_ref", "previous", "written_at",
             "conflict")  # fmt: skip
    column_of = {f.attname: str(f.column) for f in ImportRecord._meta.concrete_fields}
    params = (
        (
            job_id,
            model,
            object_id,
            action,
            number,
            ref,
            None if previous is None else previous_field.get_db_prep_save(previous, connection),
            written_at,
            "",
        )
        for model, object_id, action, number, ref, previous in records
    )
    with connection.cursor() as cursor:
        bulk.write_rows(cursor, ImportRecord._meta.db_table, [column_of[n] for n in names], list(params))


def insert_row_notes(notes: list[RowNote]) -> None:
    """Insert rejected rows and row notes as ``ImportRowError`` rows through the bulk-write toolkit
    (``COPY`` on PostgreSQL, ``executemany`` on SQLite): a re-import notes every row that matched a customer (half the rows of the
    import benchmark), and ``bulk_create`` prepared each value of each one through its field, which
    cost more than the insert. Its plain twin (``CARTERA_BULK_PLAIN=1``) is that ``bulk_create``."""
    if not notes:
        return
    names = ("job_id", "row_number", "outcome", "customer_id", "column", "value", "reason", "raw")
    if not bulk.fast_paths():
        ImportRowError.objects.bulk_create(
            [ImportRowError(**{name: getattr(note, name) for name in names}) for note in notes],
            batch_size=500,
        )
        notes.clear()
        return
    connection = connections[router.db_for_write(ImportRowError)]
    raw_field = ImportRowError._meta.get_field("raw")
    column_of = {f.attname: str(f.column) for f in ImportRowError._meta.concrete_fields}
    empty = raw_field.get_db_prep_save([], connection)
    params = (
        (
            note.job_id,
            note.row_number,
            note.outcome,
            note.customer_id,
            note.column,
            note.value,
            note.reason,
            raw_field.get_db_prep_save(note.raw, connection) if note.raw else empty,
        )
        for note in notes
    )
    with connection.cursor() as cursor:
        bulk.write_rows(cursor, ImportRowError._meta.db_table, [column_of[n] for n in names], list(params))
    notes.clear()


class ModelRows:
    """Database rows for new records of ``model``, built straight from checked values.

    Every value was read and checked by :class:`RowReader` (lengths, email, phone, date, choices), so
    what is left is putting it in its column: each row starts as a copy of ``template``'s database
    values (the model's defaults, what the job sets on every row, one timestamp per batch), which is
    much cheaper than building and preparing a model instance per row. ``fields`` are the attributes
    a row may set; an empty value keeps the template's.
    """

    def __init__(self, connection: Any, template: Model, fields: Iterable[str]) -> None:
        self.connection = connection
        self.model = type(template)
        concrete = [f for f in self.model._meta.concrete_fields if not f.primary_key]
        now = timezone.now()
        plain = (CharField, TextField, BooleanField, IntegerField, ForeignKey)
        self.base = [_getter(f, connection, now, plain)(template) for f in concrete]
        self.columns = [str(f.column) for f in concrete]
        self.position = {f.attname: i for i, f in enumerate(concrete)}
        self.slots: dict[str, tuple[int, Callable[[Any], Any] | None]] = {}
        for name in fields:
            model_field: Any = self.model._meta.get_field(name)
            adapt: Callable[[Any], Any] | None = None
            if isinstance(model_field, DateField) and not isinstance(model_field, DateTimeField):
                adapt = connection.ops.adapt_datefield_value
            elif not isinstance(model_field, plain) or isinstance(model_field, DecimalField):
                adapt = functools.partial(model_field.get_db_prep_save, connection=connection)
            self.slots[name] = (self.position[model_field.attname], adapt)
        self.rows: list[list[Any]] = []

    def add(self, values: Mapping[str, Any]) -> list[Any]:
        row = self.base.copy()
        slots = self.slots
        # A row holds only the fields its file maps, usually fewer than the model has.
        for name, value in values.items():
            slot = slots.get(name)
            if slot is not None and value is not None and value != "":
                index, adapt = slot
                row[index] = adapt(value) if adapt else value
        self.rows.append(row)
        return row

    def insert(self) -> list[int]:
        """Insert the rows; their new ids, in order."""
        return _insert_returning(self.connection, self.model, self.columns, self.rows)


class CustomerRows(ModelRows):
    """The rows of the customers an import creates, owned by the job's owner and from its source."""

    def __init__(self, connection: Any, owner_id: int | None, source: str) -> None:
        super().__init__(connection, Customer(owner_id=owner_id, source=source), CUSTOMER_FIELDS)
        self.company = self.position["company_id"]
        self.first_key = self.position["first_name_key"]
        self.last_key = self.position["last_name_key"]

    def add_customer(
        self, values: Mapping[str, Any], company_id: int | None, first_key: str, last_key: str
    ) -> None:
        row = self.add(values)
        row[self.company] = company_id
        row[self.first_key] = first_key
        row[self.last_key] = last_key


def _insert_returning(
    connection: Any, model: type[Model], columns: list[str], rows: list[list[Any]]
) -> list[int]:
    """Multi-row ``INSERT ... RETURNING id`` (SQLite 3.35+), 500 rows a statement; ``COPY`` under ids
    taken first on PostgreSQL (:func:`copy_with_ids`)."""
    if connection.vendor == "postgresql" and bulk.fast_paths():
        return copy_with_ids(connection, model, columns, rows, len(rows))
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    names = ", ".join(quote(c) for c in columns)
    sqlite = connection.vendor == "sqlite"
    row_sql = "(" + ", ".join(["?" if sqlite else "%s"] * len(columns)) + ")"
    # PostgreSQL sets no limit in Django's features but its protocol allows 65,535 parameters.
    limit = connection.features.max_query_params or 65535
    size = max(1, min(500, limit // len(columns)))
    ids: list[int] = []
    with connection.cursor() as cursor:
        # Django's SQLite cursor turns each "%s" into "?" with a regular expression, which on a
        # 15,000-parameter statement costs a fifth of the insert: its DB-API cursor gets "?" directly.
        execute = functools.partial(sqlite3.Cursor.execute, cursor.cursor) if sqlite else cursor.execute
        for start in range(0, len(rows), size):
            part = rows[start : start + size]
            execute(
                f"INSERT INTO {table} ({names}) VALUES "  # noqa: S608  # names come from the model
                + ", ".join([row_sql] * len(part))
                + f" RETURNING {quote(str(model._meta.pk.column))}",
                [value for row in part for value in row],
            )
            ids.extend(pk for (pk,) in cursor.fetchall())
    return ids
