"""The authentication backend: Django's ``ModelBackend``, reading a user's access in one query."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection

from cartera.accounts.models import User


def _access_sql() -> str:
    """One statement for a user's own permissions, their groups' permissions and their groups' names.

    Table and column names come from the models, never from users; the user's id is a parameter.
    """
    q = connection.ops.quote_name
    perm, ct, group = Permission._meta.db_table, ContentType._meta.db_table, Group._meta.db_table
    user_perms = User.user_permissions.through._meta.db_table
    user_groups = User.groups.through._meta.db_table
    group_perms = Group.permissions.through._meta.db_table
    permission = f"{q(ct)}.{q('app_label')}, {q(perm)}.{q('codename')} FROM {q(perm)} JOIN {q(ct)} ON {q(ct)}.{q('id')} = {q(perm)}.{q('content_type_id')}"
    return (  # names come from the models
        f"SELECT 'user', {permission} JOIN {q(user_perms)} ON {q(user_perms)}.{q('permission_id')} = {q(perm)}.{q('id')}"  # noqa: S608
        f" WHERE {q(user_perms)}.{q('user_id')} = %s"
        f" UNION ALL SELECT 'group', {permission} JOIN {q(group_perms)} ON {q(group_perms)}.{q('permission_id')} = {q(perm)}.{q('id')}"
        f" JOIN {q(user_groups)} ON {q(user_groups)}.{q('group_id')} = {q(group_perms)}.{q('group_id')}"
        f" WHERE {q(user_groups)}.{q('user_id')} = %s"
        f" UNION ALL SELECT 'role', {q(group)}.{q('name')}, '' FROM {q(group)}"
        f" JOIN {q(user_groups)} ON {q(user_groups)}.{q('group_id')} = {q(group)}.{q('id')}"
        f" WHERE {q(user_groups)}.{q('user_id')} = %s"
    )  # fmt: skip


def load_access(user: Any) -> None:
    """Fill the caches Django's ``ModelBackend`` keeps on the user for one request, and the names of
    the user's groups (their role, :attr:`User.role`), from one query instead of three."""
    own: set[str] = set()
    from_groups: set[str] = set()
    groups: set[str] = set()
    with connection.cursor() as cursor:
        cursor.execute(_access_sql(), [user.pk, user.pk, user.pk])
        for kind, first, second in cursor.fetchall():
            if kind == "role":
                groups.add(first)
            else:
                (own if kind == "user" else from_groups).add(f"{first}.{second}")
    user._user_perm_cache = own
    user._group_perm_cache = from_groups
    user._group_names_cache = frozenset(groups)


class AccessBackend(ModelBackend):
    """Django's ``ModelBackend`` (same rules, same caches), except that a user's own permissions, their
    groups' permissions and their role are read together: every page asks for the permissions (the
    navigation, the scoping helper) and shows the role, which cost three queries."""

    def _get_permissions(self, user_obj: Any, obj: Any, from_name: str) -> set[str]:
        if (
            user_obj.is_active
            and not user_obj.is_anonymous
            and obj is None
            and not user_obj.is_superuser
            and not hasattr(user_obj, f"_{from_name}_perm_cache")
        ):
            load_access(user_obj)
        permissions: set[str] = super()._get_permissions(user_obj, obj, from_name)  # type: ignore[misc]
        return permissions
