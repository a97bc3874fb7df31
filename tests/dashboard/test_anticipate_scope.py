""" "Anticipate" lists the customers each person looks after, and its follow-up task goes to the
customer's owner, whoever clicks it (issue 10)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from cartera.activity.models import Task
from cartera.customers.models import Customer

pytestmark = pytest.mark.django_db


def test_a_rep_sees_only_their_customers_and_a_manager_sees_all(
    client, owner, colleague, manager, analysed_portfolio
):
    client.force_login(manager)
    everyone = client.get(reverse("web:home")).context["board"].anticipate
    assert everyone
    # Give the colleague the manager's first two at-risk customers.
    theirs = [row["customer"].pk for row in everyone[:2]]
    Customer.objects.filter(pk__in=theirs).update(owner=colleague)
    client.force_login(colleague)
    rows = client.get(reverse("web:home")).context["board"].anticipate
    assert sorted(row["customer"].pk for row in rows) == sorted(theirs)
    client.force_login(owner)
    rows = client.get(reverse("web:home")).context["board"].anticipate
    assert rows and not {row["customer"].pk for row in rows} & set(theirs)
    assert all(row["customer"].owner_id == owner.pk for row in rows)


def test_the_follow_up_task_goes_to_the_customers_owner(client, owner, manager, analysed_portfolio):
    client.force_login(manager)
    row = client.get(reverse("web:home")).context["board"].anticipate[0]
    client.post(reverse("segments:follow_up", args=[row["customer"].pk]), headers={"HX-Request": "true"})
    task = Task.objects.get(customer=row["customer"])
    assert task.assignee == owner and task.created_by == manager and task.seen_at is None
