"""The one place that decides which rows a user may reach.

Every query a user can trigger (web views, API endpoints, exports, CLI commands acting for a user)
goes through :func:`restrict`. The rule is the same for every model:

1. the user needs the model permission for the action (``customers.change_customer``...), which
   comes from their role (a Django group);
2. viewing is shared: anyone allowed to view a model sees all of its rows (the portfolio belongs to
   the whole team), except for models that declare ``scope_private = True`` (an import job and what
   hangs from it: a file one person brought in), which are viewed like any other action;
3. other actions reach every row only with ``accounts.act_on_all_records`` (admins and managers);
   everybody else reaches only the rows they own, as named by the model's ``scope_owner_fields``.

A row outside the result is, for that user and action, as if it did not exist.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db import models
from django.db.models import Q
from django.http import Http404

Action = Literal["view", "add", "change", "delete", "export"]
ALL_RECORDS_PERMISSION = "accounts.act_on_all_records"

M = TypeVar("M", bound=models.Model)


def permission_name(model: type[models.Model], action: Action) -> str:
    """The ``app_label.action_model`` permission that ``action`` on ``model`` requires."""
    opts = model._meta
    return f"{opts.app_label}.{action}_{opts.model_name}"


def can(user: Any, model: type[models.Model], action: Action) -> bool:
    """Whether ``user`` may do ``action`` on at least some rows of ``model``."""
    return bool(user.is_authenticated and user.is_active and user.has_perm(permission_name(model, action)))


def restrict(queryset: models.QuerySet[M], user: Any, action: Action = "view") -> models.QuerySet[M]:
    """The rows of ``queryset`` that ``user`` may ``action``."""
    model = queryset.model
    if not can(user, model, action):
        return queryset.none()
    if sees_every_row(user, model, action):
        return queryset
    owner_fields: tuple[str, ...] = getattr(model, "scope_owner_fields", ())
    if not owner_fields:
        return queryset.none()
    owned = Q()
    for path in owner_fields:
        owned |= Q(**{path: user})
    return queryset.filter(owned)


def sees_every_row(user: Any, model: type[models.Model], action: Action = "view") -> bool:
    """Whether :func:`restrict` leaves every row of ``model`` to ``user`` for ``action``.

    Lets a read skip the model's own table (counting on a one-to-one side table, say) only when the
    scoping rule would not have filtered anything out.
    """
    if not can(user, model, action):
        return False
    shared = action == "view" and not getattr(model, "scope_private", False)
    return shared or user.has_perm(ALL_RECORDS_PERMISSION)


def get_for_user(queryset: models.QuerySet[M], user: Any, action: Action = "view", **lookup: Any) -> M:
    """Fetch one row for ``action``: 404 when the user cannot see it, 403 when they see it but may not act."""
    try:
        obj = restrict(queryset, user, "view").get(**lookup)
    except ObjectDoesNotExist as exc:
        raise Http404 from exc
    if action != "view" and not restrict(queryset, user, action).filter(pk=obj.pk).exists():
        raise PermissionDenied
    return obj


def require(user: Any, model: type[models.Model], action: Action) -> None:
    """Raise 403 unless ``user`` may do ``action`` on some rows of ``model`` (used for creation)."""
    if not can(user, model, action):
        raise PermissionDenied
