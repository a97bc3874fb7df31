"""PATCH with If-Match: a client that read an older version of a customer cannot overwrite newer edits."""

from __future__ import annotations


def test_api_patch_with_an_old_etag_is_refused_with_412(api_as, owner, manager, customer):
    mine, theirs = api_as(owner), api_as(manager)
    read = mine.get(f"/api/customers/{customer.pk}")
    etag = read["ETag"]
    assert etag.strip('"') == customer.version
    assert theirs.patch(f"/api/customers/{customer.pk}", {"city": "Bilbao"}).status_code == 200

    stale = mine.patch(f"/api/customers/{customer.pk}", {"city": "Vigo"}, headers={"If-Match": etag})

    assert stale.status_code == 412
    assert stale.json()["detail"]
    customer.refresh_from_db()
    assert customer.city == "Bilbao"
    fresh = mine.get(f"/api/customers/{customer.pk}")["ETag"]
    ok = mine.patch(f"/api/customers/{customer.pk}", {"city": "Vigo"}, headers={"If-Match": fresh})
    assert ok.status_code == 200 and ok["ETag"] != fresh
    customer.refresh_from_db()
    assert customer.city == "Vigo"
