"""Who may call the API: personal tokens, and the browser session with its CSRF token."""

import pytest
from django.test import Client

from cartera.accounts.models import ApiToken
from cartera.accounts.services import api_token_create


def test_a_request_without_a_token_is_401_and_says_how_to_authenticate(anon_api):
    response = anon_api.get("/api/customers")
    assert response.status_code == 401
    assert "detail" in response.json()
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer cart_not-a-real-token",
        "Bearer ",
        "Token cart_whatever",
        "Basic b3duZXI6czNjcmV0",
        "cart_no_scheme",
    ],
)
def test_an_invalid_token_is_401(make_api, owner, header):
    api_token_create(user=owner, name="real")
    response = make_api().get("/api/customers", headers={"Authorization": header})
    assert response.status_code == 401


def test_a_valid_token_authenticates_its_user_and_records_its_use(make_api, owner):
    token, raw = api_token_create(user=owner, name="laptop")
    assert token.last_used_at is None
    response = make_api(raw).get("/api/me")
    assert response.status_code == 200
    assert response.json() == {
        "id": owner.pk,
        "username": "owner",
        "full_name": "Olga Owner",
        "email": "",
        "role": "sales_rep",
    }
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_tokens_are_stored_hashed(owner):
    token, raw = api_token_create(user=owner, name="laptop")
    assert raw not in {token.key_hash, token.prefix}
    assert not ApiToken.objects.filter(key_hash=raw).exists()


def test_a_deactivated_users_token_stops_working(make_api, owner):
    _, raw = api_token_create(user=owner, name="laptop")
    owner.is_active = False
    owner.save()
    assert make_api(raw).get("/api/me").status_code == 401


def test_a_revoked_token_stops_working(make_api, owner):
    token, raw = api_token_create(user=owner, name="laptop")
    token.delete()
    assert make_api(raw).get("/api/me").status_code == 401


def test_the_browser_session_works_for_reading(make_api, owner, customer):
    client = Client()
    client.force_login(owner)
    response = make_api(client=client).get(f"/api/customers/{customer.pk}")
    assert response.status_code == 200


def test_a_session_write_needs_the_csrf_token(make_api, owner, customer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    api = make_api(client=client)
    refused = api.patch(f"/api/customers/{customer.pk}", {"city": "Bilbao"})
    assert refused.status_code == 403
    customer.refresh_from_db()
    assert customer.city == ""

    client.get("/admin/login/")  # any page that renders a CSRF token sets the cookie
    csrf = client.cookies["csrftoken"].value
    accepted = api.patch(f"/api/customers/{customer.pk}", {"city": "Bilbao"}, headers={"X-CSRFToken": csrf})
    assert accepted.status_code == 200, accepted.content
    customer.refresh_from_db()
    assert customer.city == "Bilbao"


def test_a_token_request_needs_no_csrf_token(make_api, owner, customer):
    _, raw = api_token_create(user=owner, name="script")
    api = make_api(raw, client=Client(enforce_csrf_checks=True))
    assert api.patch(f"/api/customers/{customer.pk}", {"city": "Bilbao"}).status_code == 200


def test_the_api_takes_no_password_so_it_cannot_bypass_the_login_lockout(make_api, owner):
    """Basic auth with the right password is refused: passwords are only checked by the login pages,
    which django-axes throttles (tests/web/test_login_lockout.py)."""
    import base64

    basic = base64.b64encode(b"owner:s3cret-pass-123").decode()
    response = make_api().get("/api/me", headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 401


# --- expiry, scopes, revocation on password change ------------------------------------------------


def test_a_token_expires_after_90_days_by_default(make_api, owner):
    import datetime as dt

    from django.utils import timezone

    token, raw = api_token_create(user=owner, name="laptop")
    lifetime = token.expires_at - timezone.now()
    assert dt.timedelta(days=89, hours=23) < lifetime <= dt.timedelta(days=90)
    assert make_api(raw).get("/api/me").status_code == 200
    token.expires_at = timezone.now() - dt.timedelta(seconds=1)
    token.save()
    response = make_api(raw).get("/api/me")
    assert response.status_code == 401
    assert set(response.json()) == {"detail"}


def test_the_lifetime_and_access_are_chosen_on_the_tokens_page(client, owner):
    import datetime as dt

    from django.utils import timezone

    client.force_login(owner)
    page = client.get("/accounts/tokens/").text
    assert 'name="scope"' in page and 'name="days"' in page
    response = client.post("/accounts/tokens/", {"name": "Excel", "scope": "read", "days": "7"})
    assert response.status_code == 200
    token = ApiToken.objects.get(name="Excel")
    assert token.scope == "read"
    assert dt.timedelta(days=6, hours=23) < token.expires_at - timezone.now() <= dt.timedelta(days=7)
    # Nothing chosen: read only, for 90 days.
    client.post("/accounts/tokens/", {"name": "Otro"})
    other = ApiToken.objects.get(name="Otro")
    assert other.scope == "read" and other.expires_at - timezone.now() > dt.timedelta(days=89)
    # More than the longest lifetime is refused.
    client.post("/accounts/tokens/", {"name": "Eterno", "days": "100000"})
    assert not ApiToken.objects.filter(name="Eterno").exists()


def test_a_read_only_token_reads_but_every_write_is_403_json(make_api, owner, customer, db_snapshot):
    _, raw = api_token_create(user=owner, name="Excel", scope="read")
    api = make_api(raw)
    assert api.get("/api/me").status_code == 200
    assert api.get(f"/api/customers/{customer.pk}").status_code == 200
    assert api.get("/api/customers").status_code == 200
    before = db_snapshot()
    for response in [
        api.patch(f"/api/customers/{customer.pk}", {"city": "Bilbao"}),
        api.post("/api/customers", {"first_name": "Ana"}),
        api.delete(f"/api/customers/{customer.pk}"),
        api.post("/api/tasks", {"title": "x", "due_at": "2026-03-01T09:00:00Z"}),
        api.post("/api/interactions", {"customer": customer.pk, "kind": "call"}),
    ]:
        assert response.status_code == 403, response.content
        assert response["Content-Type"].startswith("application/json")
        assert response.json()["detail"].startswith("Este token solo puede leer.")
    assert db_snapshot() == before


def test_a_write_token_writes(make_api, owner, customer):
    _, raw = api_token_create(user=owner, name="sync", scope="write")
    assert make_api(raw).patch(f"/api/customers/{customer.pk}", {"city": "Bilbao"}).status_code == 200


def test_changing_the_password_revokes_every_token(client, make_api, owner):
    _, read_raw = api_token_create(user=owner, name="Excel", scope="read")
    _, write_raw = api_token_create(user=owner, name="sync", scope="write")
    client.force_login(owner)
    response = client.post(
        "/accounts/password/",
        {
            "old_password": "s3cret-pass-123",
            "new_password1": "another-long-pass-456",
            "new_password2": "another-long-pass-456",
        },
    )
    assert response.status_code == 302
    assert make_api(read_raw).get("/api/me").status_code == 401
    assert make_api(write_raw).get("/api/me").status_code == 401
    page = client.get("/accounts/tokens/", headers={"accept-language": "en"}).text
    assert page.count("Revoked: the password changed") == 2
    # A new token works with the new password in place.
    owner.refresh_from_db()
    _, fresh = api_token_create(user=owner, name="new")
    assert make_api(fresh).get("/api/me").status_code == 200


def test_a_password_set_by_an_admin_revokes_the_tokens_too(make_api, owner):
    _, raw = api_token_create(user=owner, name="laptop")
    owner.set_password("set-by-the-admin-789")
    owner.save()
    assert make_api(raw).get("/api/me").status_code == 401
