"""Users and API tokens."""

from __future__ import annotations

import hashlib

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from cartera.accounts import roles


class User(AbstractUser):
    """A member of the team. Their role is the group they belong to (see :mod:`cartera.accounts.roles`)."""

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
        names = {g.name for g in self.groups.all()}
        for role in (roles.ADMIN, roles.MANAGER, roles.SALES_REP):
            if role in names:
                return role
        return ""

    @property
    def role_label(self) -> str:
        return str(roles.ROLE_LABELS.get(self.role, _("No role")))


def hash_token(raw: str) -> str:
    """Tokens are stored hashed: a leaked database does not leak working tokens."""
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """A personal token for the REST API, shown once at creation and stored only as a hash."""

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("user")
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=8, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
