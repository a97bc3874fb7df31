"""Writes for users, roles and API tokens."""

from __future__ import annotations

import datetime
import secrets

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from cartera.accounts import roles
from cartera.accounts.models import ApiToken, TokenScope, User, hash_token, password_fingerprint
from cartera.core import hooks


def roles_sync() -> None:
    """Make the role groups hold exactly the permissions :mod:`roles` gives them.

    Reads every permission once (a few hundred rows) instead of once per name: this runs after
    every ``migrate`` and whenever a role's group is missing.
    """
    by_name = {
        f"{app_label}.{codename}": pk
        for pk, app_label, codename in Permission.objects.values_list(
            "pk", "content_type__app_label", "codename"
        )
    }
    for role, perm_names in roles.ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set([by_name[name] for name in perm_names if name in by_name])


def _role_group(role: str) -> Group:
    """The group of ``role``, made (with every role's permissions) when it does not exist yet, as
    after a database flush."""
    group = Group.objects.filter(name=role).first()
    if group is None:
        roles_sync()
        group = Group.objects.get(name=role)
    return group


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
    user.groups.set([_role_group(role)])
    return user


def api_token_create(
    *, user: User, name: str, scope: str = TokenScope.WRITE, days: int | None = None
) -> tuple[ApiToken, str]:
    """Create a token for ``user``; returns the row and the raw key, which is never stored.

    It lasts ``days`` (``CARTERA_API_TOKEN_DAYS``, 90, unless given; at most
    ``CARTERA_API_TOKEN_MAX_DAYS``) and works only while the user's password stays the same.
    People choose the scope on the tokens page and in ``cartera token create`` (read by default there);
    a program calling this without one gets what it always had, read and write.
    """
    if scope not in TokenScope.values:
        raise ValueError(f"unknown scope {scope!r}; choose one of {', '.join(TokenScope.values)}")
    days = settings.CARTERA_API_TOKEN_DAYS if days is None else days
    if not 1 <= days <= settings.CARTERA_API_TOKEN_MAX_DAYS:
        raise ValueError(f"a token lasts from 1 to {settings.CARTERA_API_TOKEN_MAX_DAYS} days, not {days}")
    raw = "cart_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=raw[5:13],
        key_hash=hash_token(raw),
        scope=scope,
        expires_at=timezone.now() + datetime.timedelta(days=days),
        password_fingerprint=password_fingerprint(user),
    )
    return token, raw


def api_token_authenticate(*, raw: str, write: bool = False) -> User | None:
    """The user a raw token acts for, or ``None`` when it is unknown, expired, revoked by a password
    change or its user is inactive; records when the token was last used.

    A read-only token asked to ``write`` is refused with :class:`PermissionDenied` (a 403, not a
    401: the token is fine, the request is beyond it).
    """
    token = ApiToken.objects.select_related("user").filter(key_hash=hash_token(raw)).first()
    now = timezone.now()
    if token is None or not token.is_usable(now):
        return None
    if write and token.scope != TokenScope.WRITE:
        raise PermissionDenied(
            _("This token can only read. Create a token with write access to change data.")
        )
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def api_token_revoke(*, user: User, token_id: int) -> bool:
    """Delete one of ``user``'s tokens; returns whether it existed."""
    deleted, _ = ApiToken.objects.filter(user=user, pk=token_id).delete()
    return deleted > 0


# --- two-factor sign-in (TOTP) --------------------------------------------------------------------


def totp_device_start(*, user: User) -> TOTPDevice:
    """A new, unconfirmed authenticator for ``user`` (any earlier unconfirmed one is dropped)."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name="Cartera", confirmed=False)


@transaction.atomic
def totp_device_confirm(*, user: User, device: TOTPDevice, code: str) -> bool:
    """Turn two-factor sign-in on once ``code`` from the new authenticator is right.

    The new device replaces any earlier one, so a user has at most one. Returns whether the code was
    right (django-otp slows down repeated wrong codes).
    """
    if device.user_id != user.pk or not device.verify_token(code.strip()):
        return False
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    User.objects.filter(pk=user.pk).update(two_factor_enabled=True)
    user.two_factor_enabled = True
    return True


@transaction.atomic
def totp_device_remove(*, user: User, code: str) -> bool:
    """Turn two-factor sign-in off, proven by a current code; never for those who must keep it."""
    if user.two_factor_required:
        raise PermissionDenied(_("Administrators must keep two-factor sign-in."))
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None or not device.verify_token(code.strip()):
        return False
    _second_factor_drop(user)
    return True


def _second_factor_drop(user: User) -> None:
    """Forget the user's authenticator and backup codes; two-factor sign-in is off."""
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    User.objects.filter(pk=user.pk).update(two_factor_enabled=False)
    user.two_factor_enabled = False


# How many one-time backup codes a user gets at a time; each signs in once, without the phone.
BACKUP_CODE_COUNT = 10


@transaction.atomic
def backup_codes_generate(*, user: User) -> list[str]:
    """New one-time backup codes for ``user`` (who has two-factor sign-in on); earlier ones stop working.

    The codes are returned to be shown once; afterwards only how many are left is shown. They are
    django-otp's static tokens: a code that signs in is deleted at once, so it works only once.
    """
    if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        raise PermissionDenied(_("Turn two-factor sign-in on first."))
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=_("Backup codes")[:64], confirmed=True)
    codes: list[str] = []
    while len(codes) < BACKUP_CODE_COUNT:
        code = StaticToken.random_token()
        if code not in codes:
            codes.append(code)
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def second_factor_verify(*, user: User, code: str) -> Device | None:
    """The device that accepts ``code`` as ``user``'s second factor: the authenticator's six digits, or
    one of the backup codes (used up by this call). ``None`` when neither accepts it."""
    typed = "".join(code.split()).replace("-", "").lower()
    # Each kind is tried only with what looks like its own code, so that a backup code typed does not
    # count as a wrong authenticator code (django-otp slows down a device after each failure).
    if typed.isdigit():
        totp = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        return totp if totp is not None and totp.verify_token(typed) else None
    for device in StaticDevice.objects.filter(user=user, confirmed=True):
        # verify_token locks the token row and deletes it: two sign-ins with one code cannot both pass.
        if device.verify_token(typed):
            return device
    return None


@transaction.atomic
def two_factor_reset(*, actor: User, user: User) -> None:
    """An administrator turns off another user's two-factor sign-in (a lost phone and no backup codes
    left); written in the audit log. The user sets it up again at their next sign-in (admins must)."""
    if not actor.is_superuser:
        raise PermissionDenied(_("Only an administrator may reset another user's two-factor sign-in."))
    _second_factor_drop(user)
    hooks.fire(
        "audited",
        actor=actor,
        action="changed",
        target_type="accounts.user",
        target_id=user.pk,
        label=user.get_username(),
        detail={"two_factor": "reset by an administrator"},
    )
