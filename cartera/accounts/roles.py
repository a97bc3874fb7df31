"""Roles are Django groups; this module is the single definition of what each role may do.

| role      | sees                | writes                                             | export | delete |
|-----------|---------------------|----------------------------------------------------|--------|--------|
| admin     | everything          | everything, users and settings, Django admin       | yes    | yes    |
| manager   | every customer      | every customer, reassigns owners                   | yes    | yes    |
| sales_rep | the shared portfolio| customers they own; interactions on any customer;  | no     | no     |
|           |                     | orders of customers they own; their own tasks      |        |        |
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

ADMIN = "admin"
MANAGER = "manager"
SALES_REP = "sales_rep"

ROLE_LABELS = {ADMIN: _("Administrator"), MANAGER: _("Manager"), SALES_REP: _("Sales rep")}

_DOMAIN = {
    "customers": ["customer", "company", "tag"],
    "activity": ["interaction", "task"],
    "sales": ["order"],
    # The consent ledger and the lawful basis (cartera/privacy): recorded by the whole team.
    "privacy": ["consentevent", "privacyprofile"],
}


def _model_perms(actions: list[str]) -> list[str]:
    return [
        f"{app}.{action}_{model}" for app, models in _DOMAIN.items() for model in models for action in actions
    ]


ROLE_PERMISSIONS: dict[str, list[str]] = {
    MANAGER: _model_perms(["view", "add", "change", "delete"])
    + [
        "customers.export_customer",
        "customers.reassign_customer",
        "activity.export_interaction",
        "sales.export_order",
        "accounts.act_on_all_records",
        # Erasing a person (GDPR Art. 17 / 21) and reading the audit log: managers and admins only.
        "privacy.erase_customer",
        "privacy.view_auditentry",
    ],
    SALES_REP: _model_perms(["view", "add", "change"]),
}
# Admins hold every permission through ``is_superuser``; the group exists so the role is visible.
ROLE_PERMISSIONS[ADMIN] = list(ROLE_PERMISSIONS[MANAGER]) + ["accounts.view_user"]


def sync_roles_after_migrate(**kwargs: Any) -> None:
    """Create or update the role groups once migrations have created the permissions."""
    from cartera.accounts.services import roles_sync

    roles_sync()
