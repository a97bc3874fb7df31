"""Two-factor backup codes (django-otp's static device): made when two-factor sign-in is turned on and
shown that once, each signs in once, new ones replace the old; someone who lost the phone still signs
in; an administrator can reset another user's two-factor sign-in, and the reset is logged (issue 16)."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

from cartera.privacy.models import AuditEntry
from tests.conftest import login, totp_code
from tests.web.test_two_factor import PASSWORD, turn_on


def _codes(html: str) -> list[str]:
    block = re.search(r'data-testid="backup-codes">(.*?)</ol>', html, re.S)
    assert block, "the new codes are on the page"
    return re.findall(r"<code>([a-z2-7]+)</code>", block.group(1))


def _sign_in_with(client: Client, username: str, code: str):
    client.logout()
    assert client.post("/accounts/login/", {"username": username, "password": PASSWORD}).status_code == 302
    return client.post(
        reverse("accounts:two_factor_verify"), {"code": code}, headers={"accept-language": "en"}
    )


@pytest.fixture
def client():
    return Client(headers={"accept-language": "en"})


def test_codes_are_shown_once_when_two_factor_is_turned_on(client, owner):
    client.force_login(owner)
    client.get(reverse("accounts:two_factor"))
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.get(user=owner, confirmed=False)
    page = client.post(reverse("accounts:two_factor"), {"code": totp_code(device)}).text
    codes = _codes(page)
    assert len(codes) == 10 and len(set(codes)) == 10
    again = client.get(reverse("accounts:two_factor")).text
    assert not any(code in again for code in codes), "shown only once"
    assert "You have 10 unused backup codes." in again


def test_a_user_who_lost_the_phone_signs_in_with_a_backup_code_once(client, owner):
    login(client, owner)
    turn_on(client, owner)
    code = StaticToken.objects.filter(device__user=owner).first().token

    used = _sign_in_with(client, "owner", f" {code.upper()[:4]}-{code.upper()[4:]} ")  # as people type it
    assert used.status_code == 302
    home = client.get(reverse("web:home"))
    assert home.status_code == 200 and "9 are left" in home.text  # the warning, on the next page
    assert StaticToken.objects.filter(device__user=owner).count() == 9

    again = _sign_in_with(client, "owner", code)
    assert again.status_code == 200 and "errorlist" in again.text
    assert client.get(reverse("web:home")).status_code == 302  # still not past the second factor


def test_new_codes_replace_the_old_ones(client, owner):
    login(client, owner)
    turn_on(client, owner)
    old = list(StaticToken.objects.filter(device__user=owner).values_list("token", flat=True))
    page = client.post(reverse("accounts:two_factor"), {"action": "backup_codes"}).text
    new = _codes(page)
    assert len(new) == 10 and not set(new) & set(old)
    assert _sign_in_with(client, "owner", old[0]).status_code == 200  # refused
    StaticDevice.objects.get(user=owner).throttle_reset()  # a wrong code slows the next try down
    assert _sign_in_with(client, "owner", new[0]).status_code == 302


def test_without_two_factor_there_are_no_codes_to_make(client, owner):
    client.force_login(owner)
    client.post(reverse("accounts:two_factor"), {"action": "backup_codes"})
    assert not StaticToken.objects.exists()


def test_an_admin_resets_a_users_two_factor_and_it_is_logged(client, owner, admin_user):
    login(client, owner)
    turn_on(client, owner)
    login(client, admin_user)
    changelist = reverse("admin:accounts_user_changelist")
    response = client.post(changelist, {"action": "reset_two_factor", "_selected_action": [owner.pk]})
    assert response.status_code == 302
    owner.refresh_from_db()
    assert not owner.two_factor_enabled
    assert not StaticToken.objects.filter(device__user=owner).exists()
    line = AuditEntry.objects.get(target_type="accounts.user", target_id=owner.pk)
    assert (line.actor_name, line.action) == ("boss", "changed")
    client.logout()
    assert client.post("/accounts/login/", {"username": "owner", "password": PASSWORD}).status_code == 302
    assert client.get(reverse("web:home")).status_code == 200  # no second factor asked any more


def test_only_an_admin_may_reset_someone_elses(owner, manager):
    from django.core.exceptions import PermissionDenied

    from cartera.accounts.services import two_factor_reset

    with pytest.raises(PermissionDenied):
        two_factor_reset(actor=manager, user=owner)
