"""The permission matrix of the REST API.

A sales rep (the colleague) tries every write on the owner's customer and the owner's records; the
outsider (an active user with no role) walks every route. Each attempt is refused and the database
is exactly as it was.
"""

import json

import pytest
from django.utils import timezone

from cartera.customers.models import Customer


@pytest.fixture
def walk_records(records, owner, manager):
    """``records``, plus a call list of the owner's, a lead form of the manager's, and a merge of two
    of the owner's customers (by the manager): rows of the call-list, lead-form and merge endpoints."""
    from cartera.customers.services import customer_create, customer_merge
    from cartera.pipeline.services import call_lists_from_segment, lead_form_save

    extra = [
        customer_create(actor=owner, fields={"first_name": f"Dup{i}", "phone": "699000111"}) for i in (1, 2)
    ]
    [call_list] = call_lists_from_segment(
        actor=manager,
        members=Customer.objects.filter(pk=records["customer"].pk),
        name="Lista",
        for_date=timezone.localdate(),
        assignee=owner,
    )
    lead_form = lead_form_save(
        actor=manager,
        lead_form=None,
        settings_values={"name": "Web", "title": "Hola", "assign_to": owner},
        fields=[],
        required=[],
        round_robin_users=[],
    )
    merge = customer_merge(actor=manager, keep=extra[0], remove=extra[1])
    return {
        **records,
        "call_list": call_list,
        "entry": call_list.entries.get(),
        "lead_form": lead_form,
        "merge": merge,
        "other": customer_create(actor=manager, fields={"first_name": "Otro"}),
    }


# --- the colleague: a sales rep who does not own `customer` ----------------------------------------


def colleague_writes(r, colleague):
    c, o, i, t, co = r["customer"].pk, r["order"].pk, r["interaction"].pk, r["task"].pk, r["company"].pk
    op = r["opportunity"].pk
    return [
        ("patch", f"/api/customers/{c}", {"city": "Cádiz"}),
        ("patch", f"/api/customers/{c}", {"owner": colleague.pk}),
        ("delete", f"/api/customers/{c}", None),
        ("post", "/api/orders", {"customer": c, "ordered_on": "2026-01-05", "amount": "10"}),
        ("patch", f"/api/orders/{o}", {"amount": "0"}),
        ("delete", f"/api/orders/{o}", None),
        ("patch", f"/api/interactions/{i}", {"subject": "cambiado"}),
        ("delete", f"/api/interactions/{i}", None),
        ("patch", f"/api/tasks/{t}", {"done": True}),
        ("patch", f"/api/tasks/{t}", {"title": "cambiado"}),
        ("delete", f"/api/tasks/{t}", None),
        ("patch", f"/api/companies/{co}", {"name": "Otro nombre"}),
        ("delete", f"/api/companies/{co}", None),
        # Granting consent needs the right to change the customer; erasing, a manager or an admin.
        (
            "post",
            f"/api/customers/{c}/consents",
            {"channel": "email", "purpose": "marketing", "granted": True, "wording": "Sí", "source": "call"},
        ),
        ("post", f"/api/customers/{c}/erase", {"confirmation": f"ERASE {c}"}),
        ("post", f"/api/customers/{c}/stage", {"stage": "former", "reason": "no"}),
        ("patch", f"/api/opportunities/{op}", {"title": "cambiado"}),
        ("post", f"/api/opportunities/{op}/move", {"stage": r["opportunity"].stage_id}),
        ("post", f"/api/opportunities/{op}/win", {"create_order": True}),
        ("delete", f"/api/opportunities/{op}", None),
        # Another rep's call list, a manager's lead form, a merge kept on the owner's customer.
        (
            "post",
            f"/api/call-lists/{r['call_list'].pk}/entries/{r['entry'].pk}/outcome",
            {"outcome": "reached"},
        ),
        ("post", "/api/call-lists", {"segment": 1, "name": "x", "for_date": "2026-01-05"}),
        ("patch", f"/api/lead-forms/{r['lead_form'].pk}", {"title": "x"}),
        ("post", "/api/lead-forms", {"name": "x", "title": "x", "assign_to": colleague.pk}),
        ("post", "/api/customers/merge", {"keep": c, "remove": r["other"].pk}),
        ("post", "/api/customers/merge", {"keep": r["other"].pk, "remove": c}),
        ("post", f"/api/customers/merges/{r['merge'].pk}/undo", None),
    ]


def test_a_sales_rep_cannot_write_on_a_colleagues_customer_or_records(
    colleague, colleague_api, walk_records, db_snapshot
):
    before = db_snapshot()
    attempts = colleague_writes(walk_records, colleague)
    for method, path, data in attempts:
        call = getattr(colleague_api, method)
        response = call(path, data) if data is not None else call(path)
        assert response.status_code in (403, 404), f"{method.upper()} {path} answered {response.status_code}"
        assert set(response.json()) == {"detail"}
    assert db_snapshot() == before


def test_visible_records_are_403_not_404_for_the_colleague(colleague_api, records):
    """The colleague sees the owner's customer, so being refused an action on it is a 403."""
    c = records["customer"].pk
    assert colleague_api.get(f"/api/customers/{c}").status_code == 200
    assert colleague_api.patch(f"/api/customers/{c}", {"city": "Cádiz"}).status_code == 403
    assert colleague_api.delete(f"/api/customers/{c}").status_code == 403


def test_the_owner_writes_on_their_customer_but_cannot_delete(owner_api, records, db_snapshot):
    c, o = records["customer"].pk, records["order"].pk
    assert owner_api.patch(f"/api/customers/{c}", {"city": "Cádiz"}).status_code == 200
    assert (
        owner_api.post("/api/orders", {"customer": c, "ordered_on": "2026-01-06", "amount": "5"}).status_code
        == 201
    )
    before = db_snapshot()
    for path in (f"/api/customers/{c}", f"/api/orders/{o}", f"/api/interactions/{records['interaction'].pk}"):
        assert owner_api.delete(path).status_code == 403
    assert db_snapshot() == before


def test_the_owner_cannot_hand_their_customer_to_a_colleague(owner_api, colleague, customer, db_snapshot):
    before = db_snapshot()
    response = owner_api.patch(f"/api/customers/{customer.pk}", {"owner": colleague.pk})
    assert response.status_code == 403
    assert db_snapshot() == before


def test_a_sales_rep_creating_a_customer_for_someone_else_is_refused(colleague_api, owner):
    response = colleague_api.post("/api/customers", {"first_name": "Ana", "owner": owner.pk})
    assert response.status_code == 403
    assert not Customer.objects.filter(first_name="Ana").exists()


def test_managers_and_admins_write_everywhere(manager_api, admin_api, records):
    for api in (manager_api, admin_api):
        c = records["customer"].pk
        assert api.patch(f"/api/customers/{c}", {"city": "León"}).status_code == 200
        assert (
            api.patch(f"/api/interactions/{records['interaction'].pk}", {"subject": "ok"}).status_code == 200
        )
        assert (
            api.post("/api/orders", {"customer": c, "ordered_on": "2026-02-01", "amount": "1"}).status_code
            == 201
        )
    assert admin_api.delete(f"/api/customers/{records['customer'].pk}").status_code == 204


# --- the outsider: authenticated, no role ---------------------------------------------------------


def outsider_walk(r):
    """Every operation of the API, with real ids of rows the outsider must not reach."""
    c, o, i, t, co = r["customer"].pk, r["order"].pk, r["interaction"].pk, r["task"].pk, r["company"].pk
    op = r["opportunity"].pk
    cl, entry, lf, mg = r["call_list"].pk, r["entry"].pk, r["lead_form"].pk, r["merge"].pk
    new_customer = {"first_name": "Ana"}
    return [
        ("get", "/api/customers", None, {200}),
        ("post", "/api/customers", new_customer, {403}),
        ("get", f"/api/customers/{c}", None, {404}),
        ("patch", f"/api/customers/{c}", {"city": "Soria"}, {404}),
        ("delete", f"/api/customers/{c}", None, {404}),
        ("get", "/api/companies", None, {200}),
        ("post", "/api/companies", {"name": "X"}, {403}),
        ("get", f"/api/companies/{co}", None, {404}),
        ("patch", f"/api/companies/{co}", {"name": "Y"}, {404}),
        ("delete", f"/api/companies/{co}", None, {404}),
        ("get", "/api/tags", None, {200}),
        ("get", "/api/customers/custom-fields", None, {403}),
        ("get", "/api/interactions", None, {200}),
        ("post", "/api/interactions", {"customer": c, "kind": "call"}, {403}),
        ("get", f"/api/interactions/{i}", None, {404}),
        ("patch", f"/api/interactions/{i}", {"subject": "x"}, {404}),
        ("delete", f"/api/interactions/{i}", None, {404}),
        ("get", "/api/tasks", None, {200}),
        ("post", "/api/tasks", {"title": "x", "due_at": "2026-03-01T09:00Z"}, {403}),
        ("get", f"/api/tasks/{t}", None, {404}),
        ("patch", f"/api/tasks/{t}", {"done": True}, {404}),
        ("delete", f"/api/tasks/{t}", None, {404}),
        ("get", "/api/orders", None, {200}),
        ("post", "/api/orders", {"customer": c, "ordered_on": "2026-01-05", "amount": "1"}, {403}),
        ("get", f"/api/orders/{o}", None, {404}),
        ("patch", f"/api/orders/{o}", {"amount": "2"}, {404}),
        ("delete", f"/api/orders/{o}", None, {404}),
        ("get", "/api/me", None, {200}),
        ("get", "/api/segments", None, {200}),
        ("post", "/api/segments", {"name": "S", "definition": SEGMENT_DEFINITION}, {403}),
        ("get", "/api/segments/count", {"definition": json.dumps(SEGMENT_DEFINITION)}, {200}),
        ("get", "/api/segments/999999/count", None, {404}),
        ("get", "/api/segments/999999/members", None, {404}),
        ("get", f"/api/customers/{c}/personal-data", None, {404}),
        ("get", f"/api/customers/{c}/consents", None, {404}),
        (
            "post",
            f"/api/customers/{c}/consents",
            {"channel": "email", "purpose": "marketing", "granted": False},
            {403},
        ),
        ("post", f"/api/customers/{c}/erase", {"confirmation": f"ERASE {c}"}, {404}),
        ("post", f"/api/customers/{c}/stage", {"stage": "former"}, {404}),
        ("get", f"/api/customers/{c}/stage-history", None, {404}),
        ("get", "/api/opportunities", None, {200}),
        ("post", "/api/opportunities", {"title": "x", "customer": c}, {403}),
        ("get", f"/api/opportunities/{op}", None, {404}),
        ("patch", f"/api/opportunities/{op}", {"title": "x"}, {404}),
        ("delete", f"/api/opportunities/{op}", None, {404}),
        ("post", f"/api/opportunities/{op}/move", {"stage": r["opportunity"].stage_id}, {404}),
        ("post", f"/api/opportunities/{op}/win", {"create_order": True}, {404}),
        ("post", f"/api/opportunities/{op}/lose", {"lost_reason": 1}, {404}),
        ("get", "/api/pipelines", None, {403}),
        ("get", "/api/pipelines/lost-reasons", None, {403}),
        ("get", "/api/surveys/", None, {200}),
        ("get", "/api/surveys/responses", None, {200}),
        ("get", f"/api/surveys/customers/{c}/standing", None, {404}),
        ("get", "/api/surveys/audits", None, {200}),
        ("get", "/api/surveys/999999/questions", None, {404}),
        ("get", "/api/surveys/999999/results", None, {404}),
        ("get", "/api/outbox/999999", None, {404}),
        ("get", "/api/campaigns", None, {200}),
        ("post", "/api/campaigns", {"name": "X", "messages": [{"segment": 1}]}, {403, 404}),
        ("get", "/api/campaigns/999999", None, {404}),
        ("get", "/api/campaigns/999999/review", None, {404}),
        ("post", "/api/campaigns/999999/send", {}, {404}),
        ("post", "/api/campaigns/999999/pause", {}, {404}),
        ("post", "/api/campaigns/999999/resume", {}, {404}),
        ("get", "/api/campaigns/999999/results", None, {404}),
        ("get", "/api/insights/backtest", None, {404}),
        ("post", "/api/insights/backtest", {}, {404}),
        ("get", "/api/insights/backtest/jobs/00000000-0000-4000-8000-000000000000", None, {404}),
        ("get", "/api/call-lists", None, {200}),
        ("get", "/api/call-lists/today", None, {403}),
        ("get", f"/api/call-lists/{cl}", None, {404}),
        ("post", "/api/call-lists", {"segment": 1, "name": "x", "for_date": "2026-01-05"}, {403}),
        ("post", f"/api/call-lists/{cl}/entries/{entry}/outcome", {"outcome": "reached"}, {404}),
        ("get", "/api/lead-forms", None, {200}),
        ("get", f"/api/lead-forms/{lf}", None, {404}),
        ("post", "/api/lead-forms", {"name": "x", "title": "x"}, {403}),
        ("patch", f"/api/lead-forms/{lf}", {"title": "x"}, {404}),
        ("get", f"/api/lead-forms/{lf}/submissions", None, {404}),
        ("get", "/api/prospects", None, {200}),
        ("get", f"/api/prospects/{c}", None, {404}),
        ("get", "/api/customers/duplicates", None, {403}),
        ("get", "/api/customers/merge-preview", {"keep": c, "remove": r["other"].pk}, {403}),
        ("post", "/api/customers/merge", {"keep": c, "remove": r["other"].pk}, {403}),
        ("get", f"/api/customers/merges/{mg}", None, {404}),
        ("post", f"/api/customers/merges/{mg}/undo", {}, {404}),
        ("post", "/api/exports", {"kind": "customers", "format": "xlsx"}, {403}),
        ("get", f"/api/exports/{r['export'].pk}", None, {404}),
        ("get", f"/api/exports/{r['export'].pk}/file", None, {404}),
    ]


SEGMENT_DEFINITION = {
    "match": "all",
    "groups": [{"match": "all", "rules": [{"field": "lifecycle", "op": "in", "value": ["at_risk"]}]}],
}


def test_the_outsider_reaches_nothing(outsider_api, walk_records, db_snapshot):
    before = db_snapshot()
    for method, path, data, expected in outsider_walk(walk_records):
        call = getattr(outsider_api, method)
        response = call(path, data) if data is not None else call(path)
        assert response.status_code in expected, f"{method.upper()} {path} answered {response.status_code}"
        if response.status_code == 200 and "items" in response.json():
            assert response.json() == {"items": [], "next_cursor": None}, path
        if response.status_code == 200 and isinstance(response.json(), list):
            assert response.json() == [], path
    assert db_snapshot() == before


def test_the_outsider_walk_covers_every_operation(walk_records, openapi_doc, operation_for):
    walked = set()
    for method, path, _, _ in outsider_walk(walk_records):
        found = operation_for(method, path)
        assert found is not None, path
        walked.add((method, found[0]))
    documented = {(m, p) for p, ops in openapi_doc["paths"].items() for m in ops}
    assert walked == documented


def test_anonymous_requests_are_401_on_every_operation(anon_api, walk_records, db_snapshot):
    before = db_snapshot()
    for method, path, data, _ in outsider_walk(walk_records):
        call = getattr(anon_api, method)
        response = call(path, data) if data is not None else call(path)
        assert response.status_code == 401, f"{method.upper()} {path} answered {response.status_code}"
    assert db_snapshot() == before
