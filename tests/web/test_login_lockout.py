"""Login throttling (django-axes): repeated wrong passwords lock a username out from one address, on
the app's login page and on the Django admin's, with a message that says for how long."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.conf import settings
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

PASSWORD = "s3cret-pass-123"
APP_LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"


def attempt(client: Client, url: str, username: str, password: str, **extra):
    return client.post(url, {"username": username, "password": password}, **extra)


def fail_until_locked(client: Client, url: str, username: str, **extra) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(client, url, username, "wrong-password", **extra)


def is_logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.parametrize("wrong", [5, 10])
def test_wrong_passwords_then_the_right_one_is_refused(client, owner, wrong):
    for _ in range(wrong):
        response = attempt(client, APP_LOGIN, "owner", "wrong-password")
    assert response.status_code == 429  # the attempt that reached the limit already says so
    response = attempt(client, APP_LOGIN, "owner", PASSWORD)
    assert response.status_code == 429
    assert not is_logged_in(client)
    assert client.get(reverse("web:home")).status_code == 302  # still sent to the login page


def test_the_lockout_message_says_for_how_long_in_the_users_language(client, owner):
    fail_until_locked(client, APP_LOGIN, "owner")
    spanish = attempt(client, APP_LOGIN, "owner", PASSWORD, headers={"accept-language": "es"})
    assert "Demasiados intentos fallidos. Vuelve a intentarlo dentro de 15 minutos." in spanish.text
    english = attempt(client, APP_LOGIN, "owner", PASSWORD, headers={"accept-language": "en"})
    assert "Too many failed attempts. Try again in 15 minutes." in english.text


def test_fewer_failures_than_the_limit_do_not_lock(client, owner):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert attempt(client, APP_LOGIN, "owner", "wrong-password").status_code == 200
    assert attempt(client, APP_LOGIN, "owner", PASSWORD).status_code == 302
    assert is_logged_in(client)


def test_a_success_clears_the_count(client, owner):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt(client, APP_LOGIN, "owner", "wrong-password")
    assert attempt(client, APP_LOGIN, "owner", PASSWORD).status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt(client, APP_LOGIN, "owner", "wrong-password")
    assert attempt(client, APP_LOGIN, "owner", PASSWORD).status_code == 302


def test_other_users_from_the_same_address_are_not_affected(client, owner, colleague):
    fail_until_locked(client, APP_LOGIN, "owner")
    assert attempt(client, APP_LOGIN, "owner", PASSWORD).status_code == 429
    other = Client()
    assert attempt(other, APP_LOGIN, "colleague", PASSWORD).status_code == 302
    assert is_logged_in(other)


def test_the_same_user_from_another_address_is_not_affected(client, owner):
    fail_until_locked(client, APP_LOGIN, "owner", REMOTE_ADDR="203.0.113.7")
    assert attempt(client, APP_LOGIN, "owner", PASSWORD, REMOTE_ADDR="203.0.113.7").status_code == 429
    elsewhere = Client(REMOTE_ADDR="198.51.100.20")
    assert attempt(elsewhere, APP_LOGIN, "owner", PASSWORD).status_code == 302


def test_the_admin_login_is_locked_too(client, admin_user):
    fail_until_locked(client, ADMIN_LOGIN, "boss")
    response = attempt(client, ADMIN_LOGIN, "boss", PASSWORD)
    assert response.status_code == 429
    assert not is_logged_in(client)
    assert (
        "Too many failed attempts"
        in attempt(client, ADMIN_LOGIN, "boss", PASSWORD, headers={"accept-language": "en"}).text
    )


def test_failures_on_the_admin_count_for_the_app_login(client, admin_user):
    fail_until_locked(client, ADMIN_LOGIN, "boss")
    assert attempt(client, APP_LOGIN, "boss", PASSWORD).status_code == 429


def test_the_lockout_ends_after_the_cool_off(client, owner, settings):
    from axes.models import AccessAttempt

    settings.CARTERA_LOGIN_LOCKOUT_RECHECK_SECONDS = 0  # the database's word on every try

    fail_until_locked(client, APP_LOGIN, "owner")
    assert attempt(client, APP_LOGIN, "owner", PASSWORD).status_code == 429
    AccessAttempt.objects.update(
        attempt_time=dt.datetime.now(dt.UTC) - settings.AXES_COOLOFF_TIME - dt.timedelta(seconds=1)
    )
    assert attempt(client, APP_LOGIN, "owner", PASSWORD).status_code == 302


def test_tries_while_locked_out_do_not_extend_the_lockout(client, owner, settings):
    from axes.models import AccessAttempt

    settings.CARTERA_LOGIN_LOCKOUT_RECHECK_SECONDS = 0  # the database's word on every try

    fail_until_locked(client, APP_LOGIN, "owner")
    AccessAttempt.objects.update(attempt_time=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10))
    response = attempt(client, APP_LOGIN, "owner", "wrong-again", headers={"accept-language": "en"})
    assert "Try again in 5 minutes." in response.text


def test_behind_a_proxy_the_forwarded_address_is_the_clients(client, owner, settings):
    settings.CARTERA_PROXY_COUNT = 1
    attacker = {"HTTP_X_FORWARDED_FOR": "203.0.113.7"}
    fail_until_locked(client, APP_LOGIN, "owner", **attacker)
    assert attempt(client, APP_LOGIN, "owner", PASSWORD, **attacker).status_code == 429
    # The real user comes through the same proxy (same REMOTE_ADDR) from another address.
    real = Client(HTTP_X_FORWARDED_FOR="198.51.100.20")
    assert attempt(real, APP_LOGIN, "owner", PASSWORD).status_code == 302
    # An address the attacker writes before the proxy's own entry is not believed.
    spoofed = {"HTTP_X_FORWARDED_FOR": "198.51.100.20, 203.0.113.7"}
    assert attempt(Client(), APP_LOGIN, "owner", PASSWORD, **spoofed).status_code == 429


def test_a_try_while_locked_out_is_answered_before_the_password_is_looked_at(client, owner, settings):
    """Once the process's memory of the lockout has lapsed, a password guesser who keeps going gets
    the lockout page from the lockout check alone: no login form, no authentication, no password hash
    (issue 16's load under attack); the right password is refused the same way, and the page says for
    how long."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.CARTERA_LOGIN_LOCKOUT_RECHECK_SECONDS = 0
    fail_until_locked(client, APP_LOGIN, "owner")
    with CaptureQueriesContext(connection) as ctx:
        response = attempt(client, APP_LOGIN, "owner", PASSWORD, headers={"accept-language": "en"})
    assert response.status_code == 429
    assert "Try again in 15 minutes" in response.content.decode()
    assert not is_logged_in(client)
    sql = " ".join(q["sql"] for q in ctx.captured_queries)
    assert len(ctx.captured_queries) <= 2, sql  # the lockout check and its time left
    assert "accounts_user" not in sql  # the user was never looked up, no password was checked
    rendered = [t.name for t in response.templates]
    assert "accounts/locked_out.html" in rendered
    assert "registration/login.html" not in rendered  # the login form was not built and thrown away


# A repeated try within CARTERA_LOGIN_LOCKOUT_RECHECK_SECONDS of a refusal is answered by
# accounts.middleware.RecentLockoutMiddleware from the process's memory.


@pytest.mark.parametrize("url", [APP_LOGIN, ADMIN_LOGIN])
def test_a_repeated_try_is_refused_from_memory_in_the_visitors_language(client, admin_user, url):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    fail_until_locked(client, url, "boss")
    for language, message in [
        ("es", "Demasiados intentos fallidos. Vuelve a intentarlo dentro de 15 minutos."),
        ("en", "Too many failed attempts. Try again in 15 minutes."),
    ]:
        with CaptureQueriesContext(connection) as ctx:
            response = attempt(client, url, "boss", PASSWORD, headers={"accept-language": language})
        assert response.status_code == 429
        assert not ctx.captured_queries, [q["sql"] for q in ctx.captured_queries]  # no session, no lookup
        assert message in response.text and f'<html lang="{language}">' in response.text
        assert response["Content-Language"] == language
        assert response["Retry-After"] == str(15 * 60)
        assert response["Cache-Control"] == "no-store"
        assert response["X-Frame-Options"] == "DENY"
        assert "default-src 'none'" in response["Content-Security-Policy"]
        assert [t.name for t in response.templates][0] == "accounts/locked_out_brief.html"
    assert not is_logged_in(client)


def test_memory_is_per_username_and_address(client, owner, colleague):
    fail_until_locked(client, APP_LOGIN, "owner", REMOTE_ADDR="203.0.113.7")
    assert attempt(client, APP_LOGIN, "owner", PASSWORD, REMOTE_ADDR="203.0.113.7").status_code == 429
    assert attempt(Client(REMOTE_ADDR="198.51.100.20"), APP_LOGIN, "owner", PASSWORD).status_code == 302
    assert attempt(Client(REMOTE_ADDR="203.0.113.7"), APP_LOGIN, "colleague", PASSWORD).status_code == 302


def test_a_lockout_cleared_by_an_administrator_counts_once_the_memory_lapses(client, owner, settings):
    from axes.models import AccessAttempt

    settings.CARTERA_LOGIN_LOCKOUT_RECHECK_SECONDS = 2
    fail_until_locked(client, APP_LOGIN, "owner")
    AccessAttempt.objects.all().delete()  # what `axes_reset` or the admin's delete does
    assert attempt(client, APP_LOGIN, "owner", PASSWORD).status_code == 429  # still remembered
    time.sleep(2)
    assert attempt(client, APP_LOGIN, "owner", PASSWORD).status_code == 302
    assert is_logged_in(client)


def test_the_memory_ends_with_the_lockout(client, owner):
    from cartera.accounts import throttling

    fail_until_locked(client, APP_LOGIN, "owner")
    request = RequestFactory().post(APP_LOGIN, REMOTE_ADDR="127.0.0.1")
    assert throttling.recent_lockout_minutes(request, "owner") == 15
    throttling.remember_lockout(request, "owner", timezone.now())  # a lockout that has just ended
    assert throttling.recent_lockout_minutes(request, "owner") is None
