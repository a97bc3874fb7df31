"""Users and API tokens."""

from __future__ import annotations

import datetime
import hashlib

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from cartera.accounts import roles


class User(AbstractUser):
    """A member of the team. Their role is the group they belong to (see :mod:`cartera.accounts.roles`)."""

    # Kept on the row the session loads anyway, so that users without two-factor sign-in cost no
    # query per request; the device itself is django-otp's TOTPDevice.
    two_factor_enabled = models.BooleanField(_("two-factor sign-in"), default=False)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        permissions = [("act_on_all_records", _("Can act on every record, not only their own"))]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def role(self) -> str:
        """The user's role name; superusers are admins whatever their groups."""
        if self.is_superuser:
            return roles.ADMIN
        # Read with the permissions by cartera.accounts.backends when they were asked for first.
        names = getattr(self, "_group_names_cache", None)
        if names is None:
            names = {g.name for g in self.groups.all()}
        for role in (roles.ADMIN, roles.MANAGER, roles.SALES_REP, roles.AUDITOR):
            if role in names:
                return role
        return ""

    @property
    def two_factor_required(self) -> bool:
        """Admins must sign in with a second factor (``CARTERA_2FA_REQUIRED_FOR_ADMINS``)."""
        return bool(settings.CARTERA_2FA_REQUIRED_FOR_ADMINS and (self.is_superuser or self.is_staff))

    @property
    def role_label(self) -> str:
        return str(roles.ROLE_LABELS.get(self.role, _("No role")))


def hash_token(raw: str) -> str:
    """Tokens are stored hashed: a leaked database does not leak working tokens."""
    return hashlib.sha256(raw.encode()).hexdigest()


def password_fingerprint(user: User) -> str:
    """A keyed digest of the user's password hash: it changes whenever the password is set again
    (by the user, an admin or ``changepassword``), which is what revokes their API tokens."""
    return salted_hmac("cartera.accounts.ApiToken", user.password, algorithm="sha256").hexdigest()


class TokenScope(models.TextChoices):
    READ = "read", _("Read only")
    WRITE = "write", _("Read and write")


class ApiToken(models.Model):
    """A personal token for the REST API, shown once at creation and stored only as a hash.

    It works until it expires, is revoked, or its user's password changes; a read-only token is
    refused (403) on anything that changes data.
    """

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("user")
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=8, editable=False)
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True, editable=False)
    scope = models.CharField(_("access"), max_length=5, choices=TokenScope.choices, default=TokenScope.READ)
    expires_at = models.DateTimeField(_("expires"))
    password_fingerprint = models.CharField(_("password fingerprint"), max_length=64, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_expired(self, now: datetime.datetime | None = None) -> bool:
        return self.expires_at <= (now or timezone.now())

    def password_changed(self) -> bool:
        """Whether the user's password was set again since the token was created (it is then dead)."""
        return self.password_fingerprint != password_fingerprint(self.user)

    def is_usable(self, now: datetime.datetime | None = None) -> bool:
        return self.user.is_active and not self.is_expired(now) and not self.password_changed()

    @property
    def status_label(self) -> str:
        if self.password_changed():
            return str(_("Revoked: the password changed"))
        if self.is_expired():
            return str(_("Expired"))
        return str(_("Active"))
