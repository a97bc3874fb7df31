"""The access backend reads what Django's ModelBackend reads, and the role with it, in one query."""

from __future__ import annotations

import pytest
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cartera.accounts import roles
from cartera.accounts.backends import AccessBackend
from cartera.accounts.models import User


def fresh(user: User) -> User:
    return User.objects.get(pk=user.pk)


def test_permissions_and_role_cost_one_query(owner):
    user = fresh(owner)
    with CaptureQueriesContext(connection) as queries:
        assert user.has_perm("customers.view_customer")
        assert not user.has_perm("accounts.act_on_all_records")
        assert user.role == roles.SALES_REP
        assert str(user.role_label)
    assert len(queries.captured_queries) == 1


@pytest.mark.parametrize("persona", ["owner", "manager", "outsider", "admin_user"])
def test_the_same_permissions_as_djangos_backend(request, persona):
    user = request.getfixturevalue(persona)
    # A permission of the user's own, besides the role's, so that both halves are compared.
    user.user_permissions.add(Permission.objects.get(codename="view_tag"))
    django_user, ours = fresh(user), fresh(user)
    assert AccessBackend().get_user_permissions(ours) == ModelBackend().get_user_permissions(django_user)
    assert AccessBackend().get_group_permissions(ours) == ModelBackend().get_group_permissions(django_user)
    assert AccessBackend().get_all_permissions(ours) == ModelBackend().get_all_permissions(django_user)
    assert "customers.view_tag" in AccessBackend().get_all_permissions(fresh(user)) or user.is_superuser
    assert ours.role == fresh(user).role


def test_an_inactive_user_has_no_permission(owner):
    owner.is_active = False
    owner.save()
    user = fresh(owner)
    assert AccessBackend().get_all_permissions(user) == set()
    assert not user.has_perm("customers.view_customer")


def test_a_role_changed_later_is_seen_by_the_next_request(owner):
    from django.contrib.auth.models import Group

    assert fresh(owner).role == roles.SALES_REP
    owner.groups.set([Group.objects.get(name=roles.MANAGER)])
    user = fresh(owner)
    assert user.has_perm("accounts.act_on_all_records")
    assert user.role == roles.MANAGER
