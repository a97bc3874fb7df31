"""Two-factor sign-in (TOTP, django-otp): anyone can turn it on; admins must have it; a password
alone then opens no page, no admin and no API session."""

from __future__ import annotations

import re

from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.conftest import login, totp_code

PASSWORD = "s3cret-pass-123"


def password_login(client: Client, username: str, url: str = "/accounts/login/"):
    return client.post(url, {"username": username, "password": PASSWORD})


def turn_on(client: Client, user) -> TOTPDevice:
    page = client.get(reverse("accounts:two_factor"))
    assert page.status_code == 200
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post(reverse("accounts:two_factor"), {"code": totp_code(device)})
    # On: the page shows the backup codes, this once (see test_backup_codes.py).
    assert response.status_code == 200 and 'data-testid="backup-codes"' in response.text
    device.refresh_from_db()
    assert device.confirmed
    return device


def test_a_sales_rep_turns_it_on_with_a_code_from_the_app(client, owner):
    client.force_login(owner)
    page = client.get(reverse("accounts:two_factor")).text
    assert "<svg" in page  # the QR code, drawn by the server (no script, no external image)
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', page).group(1)
    device = TOTPDevice.objects.get(user=owner, confirmed=False)
    assert len(secret) >= 32
    wrong = client.post(reverse("accounts:two_factor"), {"code": "000000"})
    assert wrong.status_code == 200 and "errorlist" in wrong.text
    device.refresh_from_db()
    assert not device.confirmed
    owner.refresh_from_db()
    assert not owner.two_factor_enabled
    turn_on(client, owner)
    owner.refresh_from_db()
    assert owner.two_factor_enabled
    assert client.get(reverse("web:home")).status_code == 200  # this session gave the code


def test_with_it_on_the_password_alone_opens_nothing(client, owner, customer):
    login(client, owner)
    device = turn_on(client, owner)
    client.logout()

    assert password_login(client, "owner").status_code == 302
    for url in [
        reverse("web:home"),
        reverse("customers:detail", args=[customer.pk]),
        reverse("accounts:api_tokens"),
    ]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:two_factor_verify"))
    # Setting up a new authenticator is no way around the code.
    assert client.get(reverse("accounts:two_factor"))["Location"].startswith(
        reverse("accounts:two_factor_verify")
    )
    # Nor is the API with the session.
    assert client.get(f"/api/customers/{customer.pk}").status_code == 401

    wrong = client.post(reverse("accounts:two_factor_verify"), {"code": "000000"})
    assert wrong.status_code == 200
    assert client.get(reverse("web:home")).status_code == 302
    device.throttle_reset()  # django-otp makes one wait after a wrong code
    here = reverse("customers:detail", args=[customer.pk])
    right = client.post(reverse("accounts:two_factor_verify"), {"code": totp_code(device), "next": here})
    assert right.status_code == 302 and right["Location"] == here
    assert client.get(reverse("web:home")).status_code == 200
    assert client.get(f"/api/customers/{customer.pk}").status_code == 200


def test_repeated_wrong_codes_slow_down_guessing(client, owner):
    login(client, owner)
    device = turn_on(client, owner)
    client.logout()
    password_login(client, "owner")
    for _ in range(3):
        client.post(reverse("accounts:two_factor_verify"), {"code": "000000"})
    # The right code straight after is refused too: each wrong one doubles the wait.
    client.post(reverse("accounts:two_factor_verify"), {"code": totp_code(device)})
    assert client.get(reverse("web:home")).status_code == 302


def test_an_admin_without_an_authenticator_must_set_one_up(client, make_user):
    boss = make_user("chief", "admin")
    assert password_login(client, "chief", "/admin/login/").status_code == 302
    for url in [reverse("web:home"), "/admin/", reverse("customers:list")]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("accounts:two_factor"))
    assert client.get("/api/me").status_code == 401
    setup = client.get(reverse("accounts:two_factor"), headers={"accept-language": "en"})
    assert "Administrators must use two-factor sign-in" in setup.text
    turn_on(client, boss)
    assert client.get("/admin/").status_code == 200


def test_an_admin_cannot_turn_it_off_but_a_sales_rep_can(client, owner, admin_user):
    login(client, admin_user)
    device = TOTPDevice.objects.get(user=admin_user)
    client.post(reverse("accounts:two_factor"), {"code": totp_code(device)})
    assert TOTPDevice.objects.filter(user=admin_user, confirmed=True).exists()

    client.force_login(owner)
    device = turn_on(client, owner)
    assert client.post(reverse("accounts:two_factor"), {"code": "000000"}).status_code == 200
    assert TOTPDevice.objects.filter(user=owner).exists()
    device.throttle_reset()
    assert client.post(reverse("accounts:two_factor"), {"code": totp_code(device)}).status_code == 302
    assert not TOTPDevice.objects.filter(user=owner).exists()
    owner.refresh_from_db()
    assert not owner.two_factor_enabled
    client.logout()
    assert password_login(client, "owner").status_code == 302
    assert client.get(reverse("web:home")).status_code == 200


def test_the_code_page_follows_only_local_next(client, owner):
    login(client, owner)
    device = turn_on(client, owner)
    client.logout()
    password_login(client, "owner")
    response = client.post(
        reverse("accounts:two_factor_verify"), {"code": totp_code(device), "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("web:home")


def test_users_without_it_pay_no_query_for_it(client, owner, django_assert_num_queries):
    client.force_login(owner)
    client.get(reverse("accounts:password_change"))
    with django_assert_num_queries(2):  # the session and the user, nothing for two-factor sign-in
        client.get(reverse("accounts:password_change"))
