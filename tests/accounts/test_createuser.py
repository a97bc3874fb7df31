"""``cartera createuser``: a member of the team with one role, with clear refusals."""

from __future__ import annotations

import io
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from cartera.accounts.models import User


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _in_english(monkeypatch):
    """These tests read the English messages: the command speaks ``CARTERA_LANG`` (see the last test)."""
    monkeypatch.setenv("CARTERA_LANG", "en")


def test_creates_a_user_with_the_role(db):
    out = StringIO()
    call_command(
        "createuser", "marta", "--role", "manager", "--email", "marta@example.com",
        "--first-name", "Marta", "--last-name", "Gil", "--password", "una-clave-larga-2026", stdout=out,
    )  # fmt: skip
    user = User.objects.get(username="marta")
    assert user.role == "manager"
    assert user.check_password("una-clave-larga-2026")
    assert (user.email, user.first_name, user.last_name) == ("marta@example.com", "Marta", "Gil")
    assert not user.is_superuser
    assert "created" in out.getvalue()


def test_admin_role_is_superuser_and_password_from_stdin(db, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("otra-clave-larga-2026\n"))
    call_command("createuser", "jefa", "--role", "admin", "--password-stdin", stdout=StringIO())
    user = User.objects.get(username="jefa")
    assert user.is_superuser and user.is_staff and user.role == "admin"
    assert user.check_password("otra-clave-larga-2026")


def test_refuses_an_existing_username(db):
    call_command(
        "createuser", "pepe", "--role", "sales_rep", "--password", "clave-larga-2026", stdout=StringIO()
    )
    with pytest.raises(CommandError, match="already exists"):
        call_command("createuser", "Pepe", "--role", "manager", "--password", "clave-larga-2026")
    assert User.objects.count() == 1


def test_refuses_an_unknown_role(db):
    with pytest.raises(
        CommandError, match=r"Unknown role 'boss'\. Choose one of: admin, auditor, manager, sales_rep\."
    ):
        call_command("createuser", "pepe", "--role", "boss", "--password", "clave-larga-2026")
    assert not User.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bad name!", "--role", "sales_rep"], "Invalid username 'bad name!'"),
        (["pepe", "--role", "sales_rep", "--email", "not-an-email"], "Invalid email 'not-an-email'"),
    ],
)
def test_refuses_a_bad_username_or_email(db, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("createuser", *args, "--password", "clave-larga-2026")
    assert not User.objects.exists()


def test_refuses_a_weak_password(db):
    with pytest.raises(CommandError, match="Password refused"):
        call_command("createuser", "pepe", "--role", "sales_rep", "--password", "123")
    assert not User.objects.exists()


def test_without_a_terminal_asks_for_stdin(db, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    with pytest.raises(CommandError, match="password-stdin"):
        call_command("createuser", "pepe", "--role", "sales_rep")


@pytest.mark.parametrize(
    ("language", "words"),
    [("es", ("Contraseña rechazada: ", "demasiado corta")), ("en", ("Password refused: ", "too short"))],
)
def test_one_language_for_the_refusal_and_its_reasons(db, language, words):
    # The framing is the command's, the reasons Django's password validators': the same language.
    with pytest.raises(CommandError) as refused:
        call_command("createuser", "pepe", "--role", "sales_rep", "--password", "123", "--lang", language)
    assert all(w in str(refused.value) for w in words), str(refused.value)
