"""``fast_insert``, the import's way of writing orders and interactions with their ids back: what it
writes and the ids it hands back equal what Django's ``bulk_create`` gives, on both databases (on
PostgreSQL through ``COPY`` under ids taken from the sequence first; on SQLite a multi-row ``INSERT``),
and so does its plain twin (``CARTERA_BULK_PLAIN``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from cartera.activity.models import Interaction
from cartera.imports.services import writing
from cartera.sales.models import Order

pytestmark = pytest.mark.django_db


def _orders(customer, n, prefix="P"):
    return [
        Order(customer=customer, ordered_on=dt.date(2026, 1, 1) + dt.timedelta(days=i % 300),
              amount=Decimal(f"{10 + i}.{i % 100:02d}"), currency="EUR", category="Café" if i % 3 else "",
              external_ref=f"{prefix}-{i}" if i % 2 else None, source="import")
        for i in range(n)
    ]  # fmt: skip


def _read(ids):
    return list(
        Order.objects.filter(pk__in=ids)
        .order_by("pk")
        .values_list("customer_id", "ordered_on", "amount", "currency", "category", "external_ref", "source")
    )


@pytest.mark.parametrize("plain", [False, True], ids=["fast", "plain twin"])
def test_fast_insert_writes_what_bulk_create_writes_and_hands_the_ids_back(customer, settings, plain):
    settings.CARTERA_BULK_PLAIN = plain
    fast = _orders(customer, 23)
    writing.fast_insert(Order, fast)
    plain = Order.objects.bulk_create(_orders(customer, 23, prefix="Q"))
    assert all(o.pk for o in fast) and len({o.pk for o in fast}) == 23
    # Each object got its own row's id: the row read back by it is the object's.
    for obj in fast:
        row = Order.objects.get(pk=obj.pk)
        assert (row.amount, row.external_ref, row.ordered_on) == (
            obj.amount,
            obj.external_ref,
            obj.ordered_on,
        )

    def same(rows):  # the order numbers differ only by their prefix (they are unique per source)
        return [(*r[1:5], r[5] and r[5].split("-")[1], r[6]) for r in rows]

    assert same(_read([o.pk for o in fast])) == same(_read([o.pk for o in plain]))
    assert all(o.created_at is not None for o in fast)  # the stamps are set on the objects too


def test_fast_insert_of_interactions(customer, owner):
    rows = [
        Interaction(customer=customer, kind="call", direction="outbound", subject=f"Llamada {i}", body="",
                    occurred_at=dt.datetime(2026, 1, 1 + i, 10, tzinfo=dt.UTC), author=owner)
        for i in range(5)
    ]  # fmt: skip
    writing.fast_insert(Interaction, rows)
    assert [Interaction.objects.get(pk=r.pk).subject for r in rows] == [f"Llamada {i}" for i in range(5)]


def test_customers_written_with_their_ids_back_are_whole_and_found_by_search(owner):
    """The rows of the customers an import creates (``CustomerRows``): ids in the rows' order, every
    value where it belongs, the search document computed by the database."""
    from django.db import connection

    from cartera.customers.models import Customer
    from cartera.customers.selectors import CustomerFilters, customer_list

    rows = writing.CustomerRows(connection, owner.pk, "import")
    people = [("Nuria", "Quintana Vidal", f"nuria{i}@example.es") for i in range(12)]
    for first, last, email in people:
        rows.add_customer(
            {"first_name": first, "last_name": last, "email": email, "stage": "customer"},
            None,
            *Customer.name_keys(first, last),
        )
    ids = rows.insert()
    assert len(set(ids)) == 12
    for pk, (first, last, email) in zip(ids, people, strict=True):
        c = Customer.objects.get(pk=pk)
        assert (c.first_name, c.last_name, c.email, c.stage, c.owner_id) == (
            first,
            last,
            email,
            "customer",
            owner.pk,
        )
    assert customer_list(user=owner, filters=CustomerFilters(query="quintana vidal")).count() == 12
    created = Customer.objects.create(first_name="Después", owner=owner)  # the sequence moved on
    assert created.pk > max(ids)
