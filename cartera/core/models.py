"""Shared model building blocks."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from cartera.core.concurrency import version_of


class TimeStampedModel(models.Model):
    """Adds ``created_at`` and ``updated_at``, kept by the database layer on every save."""

    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        abstract = True

    @property
    def version(self) -> str:
        """Which saved state of the row this is; an edit based on an older one is refused (lost update)."""
        return version_of(self)
