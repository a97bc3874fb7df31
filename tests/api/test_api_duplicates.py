"""The duplicate finder and the merge through the REST API (issue 11: "a duplicate finder a user can
trust", usable from the API): the pairs with their score and reasons, the preview field by field, the
merge with the user's choices, its record and its undo, with the rights checked by the services as
they run."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from cartera.activity.services import interaction_create
from cartera.customers.models import Customer, CustomerMerge
from cartera.customers.services import customer_create, duplicate_candidates_refresh
from cartera.sales.models import Order
from cartera.sales.services import order_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def twins(owner, colleague, manager, customer):
    """``customer`` (Lucía, the owner's, fuller) and an older twin of the colleague's, same phone, with
    an order and a call; the finder has run."""
    twin = customer_create(
        actor=manager,
        fields={
            "first_name": "Lucia",
            "last_name": "Martinez Ortega",
            "phone": "+34 612 34 56 78",
            "city": "Teruel",
            "owner": colleague,
        },
    )
    Customer.objects.filter(pk=twin.pk).update(created_at=timezone.now() - dt.timedelta(days=900))
    twin.refresh_from_db()
    order_create(actor=manager, customer=twin, fields={"ordered_on": "2025-01-02", "amount": "10"})
    interaction_create(actor=manager, customer=twin, fields={"kind": "call", "subject": "hola"})
    assert duplicate_candidates_refresh() == 1
    return customer, twin


def test_managers_list_the_pairs_with_score_and_reasons(manager_api, twins):
    customer, twin = twins
    response = manager_api.get("/api/customers/duplicates", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    [pair] = response.json()["items"]
    assert {pair["first"]["id"], pair["second"]["id"]} == {customer.pk, twin.pk}
    assert pair["score"] >= 60 and pair["level"] in ("high", "medium")
    assert "same_phone" in pair["reasons"] and "same phone" in pair["reason_labels"]
    assert response.json()["next_cursor"] is None
    spanish = manager_api.get("/api/customers/duplicates", headers={"Accept-Language": "es"}).json()
    assert "mismo teléfono" in spanish["items"][0]["reason_labels"]


def test_the_preview_shows_both_records_field_by_field(manager_api, twins):
    customer, twin = twins
    response = manager_api.get("/api/customers/merge-preview", {"keep": customer.pk, "remove": twin.pk})
    assert response.status_code == 200
    preview = response.json()
    assert (preview["keep"]["id"], preview["remove"]["id"]) == (customer.pk, twin.pk)
    assert preview["suggested_keep"] in (customer.pk, twin.pk)
    city = next(row for row in preview["fields"] if row["name"] == "city")
    assert (city["keep"], city["remove"], city["default"], city["differs"]) == ("", "Teruel", "remove", True)
    owner_row = next(row for row in preview["fields"] if row["name"] == "owner")
    assert owner_row["default"] == "keep"
    # What goes with the twin: its order and its call (at least).
    assert sum(row["count"] for row in preview["moving"]) >= 2
    assert Customer.objects.filter(pk=twin.pk).exists()  # nothing changed


def test_merge_with_choices_then_read_and_undo_it(manager_api, twins, colleague, owner):
    customer, twin = twins
    response = manager_api.post(
        "/api/customers/merge", {"keep": customer.pk, "remove": twin.pk, "choices": {"owner": "remove"}}
    )
    assert response.status_code == 201
    merge = response.json()
    assert (merge["keep"], merge["removed_id"], merge["undone_at"]) == (customer.pk, twin.pk, None)
    customer.refresh_from_db()
    assert customer.owner == colleague and customer.city == "Teruel"
    assert Order.objects.get().customer_id == customer.pk
    assert not Customer.objects.filter(pk=twin.pk).exists()
    assert manager_api.get(f"/api/customers/merges/{merge['id']}").json() == merge
    assert manager_api.get("/api/customers/duplicates").json()["items"] == []

    undone = manager_api.post(f"/api/customers/merges/{merge['id']}/undo")
    assert undone.status_code == 201
    assert undone.json()["undone_at"] is not None and undone.json()["undone_by"] is not None
    customer.refresh_from_db()
    assert customer.owner == owner and Order.objects.get().customer_id == twin.pk
    again = manager_api.post(f"/api/customers/merges/{merge['id']}/undo")
    assert again.status_code == 422
    assert again.json()["detail"][0]["msg"]


def test_a_sales_rep_may_not_merge_a_colleagues_customer(owner_api, twins, db_snapshot):
    customer, twin = twins
    before = db_snapshot()
    response = owner_api.post("/api/customers/merge", {"keep": customer.pk, "remove": twin.pk})
    assert response.status_code == 403 and set(response.json()) == {"detail"}
    # Nor the other way round: the colleague's record would absorb theirs.
    assert owner_api.post("/api/customers/merge", {"keep": twin.pk, "remove": customer.pk}).status_code == 403
    # The pair is half a colleague's: not on the rep's list, and no preview of it.
    assert owner_api.get("/api/customers/duplicates").json() == {"items": [], "next_cursor": None}
    assert (
        owner_api.get("/api/customers/merge-preview", {"keep": customer.pk, "remove": twin.pk}).status_code
        == 403
    )
    assert db_snapshot() == before and not CustomerMerge.objects.exists()


@pytest.fixture
def own_twins(owner, customer):
    """Two records of Lucía, both the owner's (a rep who typed her in twice); the finder has run."""
    twin = customer_create(
        actor=owner,
        fields={"first_name": "Lucia", "last_name": "Martinez Ortega", "phone": "+34 612 34 56 78"},
    )
    assert duplicate_candidates_refresh() == 1
    return customer, twin


def test_a_sales_rep_lists_previews_merges_and_undoes_their_own_duplicates(owner_api, own_twins):
    customer, twin = own_twins
    [pair] = owner_api.get("/api/customers/duplicates").json()["items"]
    assert {pair["first"]["id"], pair["second"]["id"]} == {customer.pk, twin.pk}
    preview = owner_api.get("/api/customers/merge-preview", {"keep": customer.pk, "remove": twin.pk})
    assert preview.status_code == 200
    merged = owner_api.post("/api/customers/merge", {"keep": customer.pk, "remove": twin.pk})
    assert merged.status_code == 201
    assert not Customer.objects.filter(pk=twin.pk).exists()
    undone = owner_api.post(f"/api/customers/merges/{merged.json()['id']}/undo")
    assert undone.status_code == 201 and Customer.objects.filter(pk=twin.pk).exists()


@pytest.mark.parametrize(
    ("role", "pairs", "merge"),
    [("manager", 1, 201), ("colleague", 0, 403), ("owner", 1, 201), ("outsider", None, 403)],
)
def test_who_sees_and_merges_a_reps_own_duplicates(
    api_as, owner, colleague, manager, outsider, own_twins, role, pairs, merge
):
    """Per role: managers every pair, the rep their own, a colleague none of them, an outsider 403."""
    customer, twin = own_twins
    api = api_as({"manager": manager, "colleague": colleague, "owner": owner, "outsider": outsider}[role])
    listed = api.get("/api/customers/duplicates")
    if pairs is None:
        assert listed.status_code == 403
    else:
        assert listed.status_code == 200 and len(listed.json()["items"]) == pairs
    assert api.post("/api/customers/merge", {"keep": customer.pk, "remove": twin.pk}).status_code == merge


def test_rights_are_checked_when_the_merge_runs(manager_api, manager, twins, db_snapshot):
    """A manager previewed the merge, then lost the role: the merge itself is refused."""
    customer, twin = twins
    assert (
        manager_api.get("/api/customers/merge-preview", {"keep": customer.pk, "remove": twin.pk}).status_code
        == 200
    )
    manager.groups.set([Group.objects.get(name="sales_rep")])
    before = db_snapshot()
    response = manager_api.post("/api/customers/merge", {"keep": customer.pk, "remove": twin.pk})
    assert response.status_code == 403
    assert db_snapshot() == before


def test_undo_rights_are_checked_when_it_runs(manager_api, owner_api, manager, twins):
    customer, twin = twins
    merge = manager_api.post("/api/customers/merge", {"keep": customer.pk, "remove": twin.pk}).json()
    # The owner may change the kept customer (they see the merge) but may not delete it: 403.
    assert owner_api.get(f"/api/customers/merges/{merge['id']}").status_code == 200
    assert owner_api.post(f"/api/customers/merges/{merge['id']}/undo").status_code == 403
    assert CustomerMerge.objects.get().undone_at is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"remove": 999999}, "remove"),
        ({"keep": 999999}, "keep"),
        ({"choices": {"city": "both"}}, "city"),
        ({"choices": {"salary": "keep"}}, "payload"),
        ({"extra": 1}, "extra"),
    ],
)
def test_bad_merges_are_a_422(manager_api, twins, db_snapshot, body, field):
    customer, twin = twins
    before = db_snapshot()
    response = manager_api.post("/api/customers/merge", {"keep": customer.pk, "remove": twin.pk, **body})
    assert response.status_code == 422
    assert any(field in error["loc"] for error in response.json()["detail"]), response.json()
    assert db_snapshot() == before


def test_a_customer_cannot_be_merged_with_itself(manager_api, twins):
    customer, _ = twins
    response = manager_api.post("/api/customers/merge", {"keep": customer.pk, "remove": customer.pk})
    assert response.status_code == 422
    preview = manager_api.get("/api/customers/merge-preview", {"keep": customer.pk, "remove": customer.pk})
    assert preview.status_code == 422


def test_a_preview_needs_both_ids(manager_api, twins):
    customer, _ = twins
    response = manager_api.get("/api/customers/merge-preview", {"keep": customer.pk})
    assert response.status_code == 422
    assert (
        manager_api.get("/api/customers/merge-preview", {"keep": customer.pk, "remove": 999999}).status_code
        == 404
    )


def test_the_outsider_reaches_no_pair_and_no_merge(outsider_api, manager_api, twins, db_snapshot):
    customer, twin = twins
    merge = manager_api.post("/api/customers/merge", {"keep": customer.pk, "remove": twin.pk}).json()
    before = db_snapshot()
    assert outsider_api.get("/api/customers/duplicates").status_code == 403
    # Rights before the ids are looked up: a 403, not a 422 saying which ids exist.
    for body in ({"keep": customer.pk, "remove": twin.pk}, {"keep": 999999, "remove": customer.pk}):
        assert outsider_api.post("/api/customers/merge", body).status_code == 403
    assert outsider_api.get(f"/api/customers/merges/{merge['id']}").status_code == 404
    assert outsider_api.post(f"/api/customers/merges/{merge['id']}/undo").status_code == 404
    assert db_snapshot() == before


def test_the_pairs_cost_the_same_queries_however_many_there_are(manager_api, manager, twins):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert manager_api.get("/api/customers/duplicates").status_code == 200
        return len(queries)

    manager_api.get("/api/me")  # the token's first use of the test is recorded once; not the list's cost
    one = count()
    for i in range(4):
        for _ in range(2):
            customer_create(
                actor=manager, fields={"first_name": "Eva", "last_name": f"Gil{i}", "phone": f"60000000{i}"}
            )
    assert duplicate_candidates_refresh() == 5
    assert count() == one
