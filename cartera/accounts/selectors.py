"""Reads about users: their two-factor sign-in."""

from __future__ import annotations

from typing import Any

from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice


def confirmed_totp_device(user: Any) -> TOTPDevice | None:
    """The user's working authenticator, if they have turned two-factor sign-in on."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def backup_codes_left(user: Any) -> int:
    """How many of the user's one-time backup codes are still unused."""
    return int(StaticToken.objects.filter(device__user=user, device__confirmed=True).count())


def needs_second_factor(user: Any) -> bool:
    """Whether a signed-in ``user`` must still prove the second factor in this session.

    Costs no query for the many users without two-factor sign-in (the flag is on their row).
    """
    if not user.is_authenticated or not (user.two_factor_enabled or user.two_factor_required):
        return False
    return not user.is_verified()
