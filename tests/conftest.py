"""Shared test personas: an owner (sales rep who owns customers), a colleague (another sales rep),
a manager, an admin and an outsider (an active user with no role)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _plain_http(settings):
    """Tests talk plain HTTP to the test client and the live server."""
    settings.SECURE_SSL_REDIRECT = False
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    # Real password hashing costs about a second per persona; tests do not need its strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def make_user(db):
    from cartera.accounts.services import user_create

    def make(username: str, role: str, **extra):
        return user_create(username=username, password="s3cret-pass-123", role=role, **extra)

    return make


@pytest.fixture
def owner(make_user):
    return make_user("owner", "sales_rep", first_name="Olga", last_name="Owner")


@pytest.fixture
def colleague(make_user):
    return make_user("colleague", "sales_rep", first_name="Carlos", last_name="Colleague")


@pytest.fixture
def manager(make_user):
    return make_user("manager", "manager", first_name="Marta", last_name="Manager")


@pytest.fixture
def admin_user(make_user):
    return make_user("boss", "admin")


@pytest.fixture
def outsider(db):
    from cartera.accounts.models import User

    return User.objects.create_user(username="outsider", password="s3cret-pass-123")


@pytest.fixture
def customer(owner):
    from cartera.customers.services import customer_create

    return customer_create(
        actor=owner,
        fields={
            "first_name": "Lucía",
            "last_name": "Martínez Ortega",
            "email": "Lucia@Example.es",
            "phone": "612 345 678",
        },
    )


def login(client, user):
    client.force_login(user)
    return client
