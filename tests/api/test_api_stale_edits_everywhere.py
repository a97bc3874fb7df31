"""Every API PATCH honours If-Match: a client that read an older version of a company, interaction,
task, order or opportunity cannot overwrite a colleague's newer edit (issue 16: lost update, beyond
customers; issue 15 for opportunities)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from cartera.activity.services import interaction_create, task_create
from cartera.customers.services import company_create
from cartera.sales.services import order_create


def _company(owner, customer):
    return company_create(actor=owner, fields={"name": "Talleres Ruiz"}), "companies", "region", "name"


def _interaction(owner, customer):
    row = interaction_create(actor=owner, customer=customer, fields={"kind": "call", "subject": "Primera"})
    return row, "interactions", "body", "subject"


def _task(owner, customer):
    row = task_create(actor=owner, fields={"title": "Llamar", "customer": customer, "due_at": timezone.now()})
    return row, "tasks", "notes", "title"


def _order(owner, customer):
    fields = {"ordered_on": dt.date(2024, 3, 1), "amount": Decimal("120.00"), "category": "Libros"}
    return order_create(actor=owner, customer=customer, fields=fields), "orders", "source", "category"


def _opportunity(owner, customer):
    from cartera.pipeline.services import opportunity_create, pipeline_defaults_ensure

    pipeline_defaults_ensure()
    row = opportunity_create(actor=owner, fields={"customer": customer, "title": "Reforma"})
    return row, "opportunities", "next_step", "title"


@pytest.mark.parametrize(
    "make", [_company, _interaction, _task, _order, _opportunity], ids=lambda f: f.__name__[1:]
)
def test_patch_with_an_old_etag_is_refused_and_the_newer_edit_kept(
    api_as, make_user, owner, manager, customer, make
):
    row, path, their_field, my_field = make(owner, customer)
    url = f"/api/{path}/{row.pk}"
    # Two managers: each may change every kind of row (a rep could not change a company).
    mine, theirs = api_as(make_user("marina", "manager")), api_as(manager)
    etag = mine.get(url)["ETag"]
    assert etag, "a read names the saved state it returns"
    assert theirs.patch(url, {their_field: "Cambiado por Marta"}).status_code == 200

    stale = mine.patch(url, {my_field: "Mi cambio"}, headers={"If-Match": etag})

    assert stale.status_code == 412
    assert stale.json()["detail"]
    row.refresh_from_db()
    assert getattr(row, their_field) == "Cambiado por Marta"
    assert getattr(row, my_field) != "Mi cambio"
    fresh = mine.get(url)["ETag"]
    ok = mine.patch(url, {my_field: "Mi cambio"}, headers={"If-Match": fresh})
    assert ok.status_code == 200 and ok["ETag"] not in ("", fresh)
    row.refresh_from_db()
    assert (getattr(row, my_field), getattr(row, their_field)) == ("Mi cambio", "Cambiado por Marta")
