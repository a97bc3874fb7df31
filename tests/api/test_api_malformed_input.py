"""Malformed input, every kind a hostile tester sent, on every endpoint it applies to.

Each answer is a documented 4xx in JSON (``ApiClient`` also fails a test on any status the OpenAPI
document does not declare): 422 naming the field for a bad value, 400 for a cursor we did not issue
or a body that is not JSON, 415 for a body that is not sent as JSON, 404/405 for a path or method
the API does not have. Never a 500, never an HTML page, and the database is unchanged.

The suite runs on SQLite and on PostgreSQL (``DATABASE_URL``), which refuses NUL in text.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from cartera.core.api_common import MAX_DB_INT

OVER_64_BITS = [MAX_DB_INT + 1, 2**70, -(2**63) - 1]
BAD_TEXT = {"nul": "Ana\x00Ruiz", "lone surrogate": "Ana\ud800Ruiz", "only a NUL": "\x00"}
EXTREME_DATES = ["0001-01-01", "9999-12-31", "1899-12-31", "2101-01-01"]
EXTREME_DATETIMES = [
    "0001-01-01T00:00:00",
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59-05:00",
    "9999-12-31T23:59:59",
]
WRONG_TYPES = [
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "text/html",
]


def _is_json(response: Any) -> bool:
    return response["Content-Type"].startswith("application/json")


def refused(response: Any, status: int, *loc: str | int) -> dict[str, Any]:
    """Assert a JSON refusal with ``status``; for a 422, that some error names ``loc``."""
    assert response.status_code == status, response.content[:300]
    assert _is_json(response), response["Content-Type"]
    body = response.json()
    if status == 422:
        locations = [tuple(error["loc"]) for error in body["detail"]]
        assert any(where[: len(loc)] == loc for where in locations), locations
        assert all(error["msg"] for error in body["detail"])
    else:
        assert isinstance(body["detail"], str) and body["detail"]
    return body


# --- bodies ----------------------------------------------------------------------------------------

# method, path, a valid body, a NOT NULL text field, an id field, a date field, whether it is a date-time.
WRITES = [
    ("post", "/api/customers", lambda r: {"first_name": "Ana"}, "first_name", "company", "birth_date", False),
    ("patch", "/api/customers/{customer}", lambda r: {}, "last_name", "owner", "birth_date", False),
    ("post", "/api/companies", lambda r: {"name": "Norte SL"}, "name", None, None, False),
    ("patch", "/api/companies/{company}", lambda r: {}, "tax_id", None, None, False),
    (
        "post",
        "/api/orders",
        lambda r: {"customer": r["customer"].pk, "ordered_on": "2026-01-05", "amount": "10"},
        "currency",
        "customer",
        "ordered_on",
        False,
    ),
    ("patch", "/api/orders/{order}", lambda r: {}, "category", None, "ordered_on", False),
    (
        "post",
        "/api/interactions",
        lambda r: {"customer": r["customer"].pk, "kind": "call"},
        "subject",
        "customer",
        "occurred_at",
        True,
    ),
    ("patch", "/api/interactions/{interaction}", lambda r: {}, "body", None, "occurred_at", True),
    (
        "post",
        "/api/tasks",
        lambda r: {"title": "Llamar", "due_at": "2026-12-20T10:00:00"},
        "title",
        "assignee",
        "due_at",
        True,
    ),
    ("patch", "/api/tasks/{task}", lambda r: {}, "notes", "assignee", "due_at", True),
    (
        "post",
        "/api/lead-forms",
        lambda r: {"name": "Web", "title": "Hola", "assign_to": r["customer"].owner_id},
        "title",
        "assign_to",
        None,
        False,
    ),
]
WRITE_IDS = [f"{method} {path}" for method, path, *_ in WRITES]


def _path(template: str, records: dict[str, Any]) -> str:
    return template.format(**{name: row.pk for name, row in records.items()})


@pytest.fixture(params=WRITES, ids=WRITE_IDS)
def write(request, records, manager_api, db_snapshot):
    """One write endpoint, called as a manager (who may write everywhere), with the rows it needs."""
    method, template, valid, text_field, id_field, date_field, with_time = request.param
    before = db_snapshot()

    class Write:
        def send(self, changes: dict[str, Any]) -> Any:
            body = {**valid(records), **changes}
            return getattr(manager_api, method)(_path(template, records), body)

        def send_raw(self, raw: bytes, content_type: str) -> Any:
            client = manager_api.client
            response = client.generic(
                method.upper(),
                _path(template, records),
                raw,
                content_type=content_type,
                headers=manager_api._headers(None),
            )
            return manager_api._check(method, _path(template, records), response)

    w = Write()
    w.text_field, w.id_field, w.date_field, w.with_time = text_field, id_field, date_field, with_time
    yield w
    assert db_snapshot() == before, "a refused request changed the database"


def test_every_kind_of_malformed_body_is_a_json_4xx(write):
    """One endpoint, every kind of bad body (one test per endpoint keeps the suite fast)."""
    # JSON null in a NOT NULL text field (a PATCH used to write NULL: an IntegrityError, a 500).
    refused(write.send({write.text_field: None}), 422, "body", "payload", write.text_field)
    # Text the database cannot store: NUL (PostgreSQL), lone surrogates (UTF-8).
    for text in BAD_TEXT.values():
        refused(write.send({write.text_field: text}), 422, "body", "payload", write.text_field)
    # Integers over 64 bits (SQLite: OverflowError).
    for number in OVER_64_BITS if write.id_field else []:
        refused(write.send({write.id_field: number}), 422, "body", "payload", write.id_field)
    # Dates at the edges of the calendar (converting year 1 +05:00 to UTC overflowed).
    if write.date_field:
        for value in EXTREME_DATETIMES if write.with_time else EXTREME_DATES:
            refused(write.send({write.date_field: value}), 422, "body", "payload", write.date_field)
    # JSON that is not an object.
    for raw in [b"[]", b'"Ana"', b"1", b"null", b"true", b"[{}]"]:
        refused(write.send_raw(raw, "application/json"), 422, "body", "payload")
    # Not JSON at all.
    for raw in [b"{", b'{"first_name": }', b"\xff\xfe{}", b"{'a': 1}"]:
        refused(write.send_raw(raw, "application/json"), 400)
    # JSON sent as something else.
    for content_type in WRONG_TYPES:
        refused(write.send_raw(b'{"first_name": "Ana"}', content_type), 415)


def test_json_with_a_charset_or_a_json_suffix_is_accepted(manager_api):
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = manager_api.client.generic(
            "POST",
            "/api/companies",
            json.dumps({"name": f"Norte {content_type}"}),
            content_type=content_type,
            headers=manager_api._headers(None),
        )
        assert response.status_code == 201, response.content


def test_nested_values_are_checked_too(manager_api, customer, db_snapshot):
    before = db_snapshot()
    path = f"/api/customers/{customer.pk}"
    refused(manager_api.patch(path, {"tags": ["vip", "\x00"]}), 422, "body", "payload", "tags")
    refused(
        manager_api.patch(path, {"custom_fields": {"a\ud800": "x"}}), 422, "body", "payload", "custom_fields"
    )
    refused(manager_api.patch(path, {"custom_fields": {"n": 2**64}}), 422, "body", "payload", "custom_fields")
    assert db_snapshot() == before


def test_a_patch_leaves_out_what_is_not_sent_but_null_is_not_empty(manager_api, task):
    """``null`` is refused where the field has no null; a field left out keeps its value."""
    response = manager_api.patch(f"/api/tasks/{task.pk}", {"done": None})
    refused(response, 422, "body", "payload", "done")
    response = manager_api.patch(f"/api/tasks/{task.pk}", {"notes": "ok"})
    assert response.status_code == 200
    assert response.json()["title"] == task.title and response.json()["notes"] == "ok"


def test_nullable_fields_still_take_null(manager_api, customer, order):
    response = manager_api.patch(f"/api/customers/{customer.pk}", {"email": None, "birth_date": None})
    assert response.status_code == 200 and response.json()["email"] is None
    assert manager_api.patch(f"/api/orders/{order.pk}", {"external_ref": None}).status_code == 200


def test_segments_refuse_unstorable_text_in_json(manager_api, db_snapshot):
    """The segment body is checked by the database's last-resort handler: still a JSON 4xx, never a 500."""
    before = db_snapshot()
    response = manager_api.post("/api/segments", {"name": "Ana\ud800", "definition": {}})
    refused(response, 422, "body")
    assert db_snapshot() == before


# --- lists: cursors and query parameters ------------------------------------------------------------

LISTS = [
    "/api/customers",
    "/api/companies",
    "/api/tags",
    "/api/orders",
    "/api/interactions",
    "/api/tasks",
    "/api/segments/{segment}/members",
]


def _b64(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


HAND_MADE_CURSORS = {
    "garbage": "garbage!!",
    "empty list": _b64([]),
    "one value": _b64([1]),
    "text for a date": _b64(["not a date", 1]),
    "NUL": _b64(["\x00", "\x00", 1]),
    "over 64 bits": _b64(["2026-01-01", 2**70]),
    "object": _b64({"id": 1}),
    "an impossible date": _b64(["9999-99-99", 1]),
    "a forged signature": _b64(["2026-01-01", 1]) + ":forged",
}


@pytest.fixture
def segment(manager_api):
    response = manager_api.post("/api/segments", {"name": "Todos", "definition": {}})
    assert response.status_code == 201, response.content
    return response.json()["id"]


@pytest.mark.parametrize("path", LISTS)
def test_a_hand_made_cursor_is_400(manager_api, records, segment, path):
    for cursor in HAND_MADE_CURSORS.values():
        refused(manager_api.get(path.format(segment=segment), {"cursor": cursor}), 400)
    # A NUL is refused before the cursor is even read, like in any other query parameter.
    refused(manager_api.get(path.format(segment=segment), {"cursor": "\x00"}), 422, "query", "cursor")


@pytest.mark.parametrize("path", LISTS)
def test_cursors_we_issued_still_work_and_tampering_is_400(
    manager_api, make_customers, records, segment, path
):
    make_customers(3)
    for n in range(3):
        manager_api.post("/api/companies", {"name": f"Empresa {n}"})
        manager_api.post("/api/interactions", {"customer": records["customer"].pk, "kind": "call"})
        manager_api.post("/api/tasks", {"title": f"T{n}", "due_at": "2026-12-20T10:00:00"})
        manager_api.post(
            "/api/orders",
            {"customer": records["customer"].pk, "ordered_on": f"2026-01-0{n + 1}", "amount": "1"},
        )
        manager_api.patch(f"/api/customers/{records['customer'].pk}", {"tags": [f"t{n}", f"u{n}"]})
    first = manager_api.get(path.format(segment=segment), {"limit": 1}).json()
    cursor = first["next_cursor"]
    assert cursor, path
    assert manager_api.get(path.format(segment=segment), {"limit": 1, "cursor": cursor}).status_code == 200
    payload, _, signature = cursor.rpartition(":")
    tampered = _b64(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))) + [1])
    refused(manager_api.get(path.format(segment=segment), {"cursor": f"{tampered}:{signature}"}), 400)
    refused(manager_api.get(path.format(segment=segment), {"cursor": cursor[:-3]}), 400)


def test_a_cursor_from_another_sort_order_is_400(manager_api, make_customers):
    make_customers(3)
    by_name = manager_api.get("/api/customers", {"sort": "name", "limit": 1}).json()["next_cursor"]
    refused(manager_api.get("/api/customers", {"sort": "-name", "cursor": by_name}), 400)
    assert manager_api.get("/api/customers", {"sort": "name", "cursor": by_name}).status_code == 200


ID_FILTERS = [
    ("/api/customers", "owner"),
    ("/api/customers", "company"),
    ("/api/customers", "tag"),
    ("/api/orders", "customer"),
    ("/api/interactions", "customer"),
    ("/api/interactions", "author"),
    ("/api/tasks", "assignee"),
    ("/api/tasks", "customer"),
]


def test_integers_over_64_bits_in_the_query_are_422(manager_api, records):
    for path, name in ID_FILTERS:
        for number in OVER_64_BITS:
            refused(manager_api.get(path, {name: str(number)}), 422, "query", name)


TEXT_FILTERS = [("/api/customers", "q"), ("/api/customers", "sector"), ("/api/companies", "q")]


def test_nul_in_a_query_is_422(manager_api, records):
    for path, name in TEXT_FILTERS:
        refused(manager_api.get(path, {name: "Ana\x00"}), 422, "query", name)


def test_extreme_dates_in_the_query_are_422(manager_api, records):
    for name in ["date_from", "date_to"]:
        for value in ["0000-01-01", "0001-01-01", "9999-12-31", "2026-02-30", "1e400"]:
            refused(manager_api.get("/api/orders", {name: value}), 422, "query", name)


# --- paths and methods ----------------------------------------------------------------------------

DETAILS = [
    "/api/customers/{}",
    "/api/companies/{}",
    "/api/orders/{}",
    "/api/interactions/{}",
    "/api/tasks/{}",
    "/api/segments/{}/count",
    "/api/segments/{}/members",
]


@pytest.mark.parametrize("template", DETAILS)
def test_ids_over_64_bits_in_the_path_are_404(manager_api, records, template):
    for number in [MAX_DB_INT, MAX_DB_INT + 1, 2**70, 10**40]:
        refused(manager_api.get(template.format(number)), 404)


@pytest.mark.parametrize("template", DETAILS)
def test_a_path_that_is_not_an_id_is_a_json_404(manager_api, records, template):
    for value in ["-1", "abc", "1.5", "%00", "1e3"]:
        refused(manager_api.client.get(template.format(value), headers=manager_api._headers(None)), 404)


def test_an_unknown_api_path_is_a_json_404(manager_api):
    for path in ["/api/nothing", "/api/customers/", "/api/customers/1/orders", "/api/v2/customers"]:
        refused(manager_api.client.get(path, headers=manager_api._headers(None)), 404)
        refused(manager_api.client.post(path, {}, headers=manager_api._headers(None)), 404)


def test_a_wrong_method_is_a_json_405(manager_api, customer):
    response = manager_api.client.put(
        f"/api/customers/{customer.pk}",
        "{}",
        content_type="application/json",
        headers=manager_api._headers(None),
    )
    refused(response, 405)
    assert set(response["Allow"].replace(" ", "").split(",")) == {"GET", "PATCH", "DELETE"}


# --- the last resort -------------------------------------------------------------------------------


def test_what_the_database_refuses_is_a_json_422_and_nothing_is_saved(manager_api, db_snapshot):
    """A value only the database refuses (here a definition with a NUL, read from a query string)."""
    before = db_snapshot()
    definition = json.dumps(
        {
            "match": "all",
            "groups": [{"match": "all", "rules": [{"field": "city", "op": "eq", "value": "\x00"}]}],
        }
    )
    response = manager_api.get("/api/segments/count", {"definition": definition})
    assert response.status_code in (200, 422) and _is_json(response)
    assert db_snapshot() == before
