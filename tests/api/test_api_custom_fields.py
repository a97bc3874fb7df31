"""Custom fields through the API: their list, the `custom` filter and partial writes (see
tests/customers/test_custom_fields.py for the fixtures' story)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_the_api_lists_filters_and_writes_custom_fields(owner_api, custom_people):
    listed = owner_api.get("/api/customers/custom-fields").json()
    assert [f["key"] for f in listed] == ["shoe", "vip_since", "club", "store", "hobby"]
    assert listed[3]["choices"] == ["Centro", "Norte", "Sur"] and listed[2]["editable_by"] == "managers"
    found = owner_api.get("/api/customers", {"custom": ["store:Norte"]}).json()
    assert [c["first_name"] for c in found["items"]] == ["Bea"]
    found = owner_api.get("/api/customers", {"custom": ["shoe:41,5", "club:no"]}).json()
    assert [c["first_name"] for c in found["items"]] == ["Bea"]
    for bad in ("nope:1", "shoe:big", "store"):
        response = owner_api.get("/api/customers", {"custom": [bad]})
        assert response.status_code == 422, bad
    ana = custom_people["ana"]
    # A PATCH changes the custom fields it names and keeps the others; null clears one.
    response = owner_api.patch(f"/api/customers/{ana.pk}", {"custom_fields": {"store": "sur", "hobby": None}})
    assert response.status_code == 200, response.content
    ana.refresh_from_db()
    assert ana.custom_fields == {"shoe": "38", "vip_since": "2020-05-01", "club": True, "store": "Sur"}
    response = owner_api.patch(f"/api/customers/{ana.pk}", {"custom_fields": {"club": False}})
    assert response.status_code == 422
    ana.refresh_from_db()
    assert ana.custom_fields["club"] is True
