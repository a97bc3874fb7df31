"""Writes for users, roles and API tokens."""

from __future__ import annotations

import secrets

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.utils import timezone

from cartera.accounts import roles
from cartera.accounts.models import ApiToken, User, hash_token


def roles_sync() -> None:
    """Make the role groups hold exactly the permissions :mod:`roles` gives them."""
    for role, perm_names in roles.ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted: list[Permission] = []
        for name in perm_names:
            app_label, codename = name.split(".", 1)
            wanted.extend(Permission.objects.filter(content_type__app_label=app_label, codename=codename))
        group.permissions.set(wanted)


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str,
    role: str,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
) -> User:
    """Create a user with one role; admins are also superusers and staff (Django admin)."""
    if role not in roles.ROLE_PERMISSIONS:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(roles.ROLE_PERMISSIONS)}")
    is_admin = role == roles.ADMIN
    user = User.objects.create_user(
        username=username,
        password=password,
        email=email,
        first_name=first_name,
        last_name=last_name,
        is_staff=is_admin,
        is_superuser=is_admin,
    )
    roles_sync()
    user.groups.set([Group.objects.get(name=role)])
    return user


def api_token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """Create a token for ``user``; returns the row and the raw key, which is never stored."""
    raw = "cart_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, prefix=raw[5:13], key_hash=hash_token(raw))
    return token, raw


def api_token_authenticate(*, raw: str) -> User | None:
    """The active user a raw token belongs to, or ``None``; records when the token was last used."""
    token = ApiToken.objects.select_related("user").filter(key_hash=hash_token(raw)).first()
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def api_token_revoke(*, user: User, token_id: int) -> bool:
    """Delete one of ``user``'s tokens; returns whether it existed."""
    deleted, _ = ApiToken.objects.filter(user=user, pk=token_id).delete()
    return deleted > 0
