"""What the segment and persona writes share: the scoping check on the row and the name rule."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.utils.translation import gettext as _

from cartera.accounts.models import User
from cartera.core.scoping import Action
from cartera.segments.selectors.segments import may


def require_row(actor: User, obj: models.Model, action: Action = "change") -> None:
    """Refuse unless the scoping rule lets ``actor`` do ``action`` on ``obj`` (its author, or whoever
    acts on every record); the views have already turned "cannot even see it" into a 404."""
    if not may(actor, obj, action):
        raise PermissionDenied(_("Only its owner or a manager can change this."))


def check_name(name: Any) -> str:
    text = str(name or "").strip()
    if not text:
        raise ValidationError({"name": _("Give it a name.")})
    return text[:120]
