"""``cartera token create|list|revoke``: the way to get an API token from the command line."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from cartera.accounts.models import ApiToken


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("token", *args, lang="en", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_create_prints_a_working_token_once(owner, make_api):
    out, err = run("create", "owner", "laptop")
    raw = out.strip()
    assert raw.startswith("cart_")
    assert "Shown once" in err
    token = ApiToken.objects.get()
    assert (token.user, token.name, token.prefix) == (owner, "laptop", raw[5:13])
    assert raw not in token.key_hash
    assert make_api(raw).get("/api/me").json()["username"] == "owner"


def test_list_shows_tokens_but_never_their_keys(owner, colleague):
    owner_raw = run("create", "owner", "laptop")[0].strip()
    run("create", "colleague", "script")
    out, _ = run("list")
    assert "laptop" in out and "script" in out and "never" in out
    assert owner_raw not in out
    out, _ = run("list", "colleague")
    assert "script" in out and "laptop" not in out


def test_revoke_stops_the_token(owner, make_api):
    raw = run("create", "owner", "laptop")[0].strip()
    token = ApiToken.objects.get()
    out, _ = run("revoke", "owner", str(token.pk))
    assert "revoked" in out
    assert not ApiToken.objects.exists()
    assert make_api(raw).get("/api/me").status_code == 401


def test_a_user_cannot_revoke_someone_elses_token(owner, colleague):
    run("create", "owner", "laptop")
    token = ApiToken.objects.get()
    with pytest.raises(CommandError):
        run("revoke", "colleague", str(token.pk))
    assert ApiToken.objects.exists()


@pytest.mark.parametrize("args", [("create", "nobody", "x"), ("list", "nobody"), ("revoke", "nobody", "1")])
def test_unknown_users_are_an_error(db, args):
    with pytest.raises(CommandError):
        run(*args)


def test_no_token_for_an_inactive_user(owner):
    owner.is_active = False
    owner.save()
    with pytest.raises(CommandError):
        run("create", "owner", "laptop")
    assert not ApiToken.objects.exists()


def test_create_is_read_only_for_90_days_unless_told(owner, make_api, customer):
    import datetime as dt

    from django.utils import timezone

    raw = run("create", "owner", "laptop")[0].strip()
    token = ApiToken.objects.get()
    assert token.scope == "read"
    assert token.expires_at - timezone.now() > dt.timedelta(days=89)
    assert make_api(raw).patch(f"/api/customers/{customer.pk}", {"city": "Soria"}).status_code == 403

    out, err = run("create", "owner", "nightly import", "--scope", "write", "--days", "30")
    token = ApiToken.objects.get(name="nightly import")
    assert token.scope == "write"
    assert dt.timedelta(days=29) < token.expires_at - timezone.now() <= dt.timedelta(days=30)
    assert "write" in err
    assert make_api(out.strip()).patch(f"/api/customers/{customer.pk}", {"city": "Soria"}).status_code == 200
    listing, _ = run("list", "owner")
    assert "read" in listing and "write" in listing and "active" in listing


@pytest.mark.parametrize("days", ["0", "366", "-5"])
def test_create_refuses_a_lifetime_out_of_range(owner, days):
    with pytest.raises(CommandError):
        run("create", "owner", "laptop", "--days", days)
    assert not ApiToken.objects.exists()
