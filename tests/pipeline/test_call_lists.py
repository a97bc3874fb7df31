"""Call lists: a rep's calls for today, most at stake first; the outcome in one tap (with the next call
scheduled); managers build lists from a segment for the team and read each rep's activity."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from cartera.activity.models import Interaction, Task
from cartera.activity.services import task_create
from cartera.customers.models import Customer
from cartera.customers.services import customer_create
from cartera.pipeline import selectors, services
from cartera.pipeline.models import CallList, CallListEntry
from tests.conftest import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def portfolio(owner, colleague):
    """For ``owner``: a customer at risk, one with a hot opportunity, one with an overdue task, a new
    lead; and a colleague's customer who must never show up."""
    from cartera.insights.models import CustomerMetrics

    services.pipeline_defaults_ensure()
    people = {}
    for key in ("risk", "hot", "overdue", "lead"):
        people[key] = customer_create(actor=owner, fields={"first_name": key.title(), "phone": "612000001"})
    Customer.objects.filter(pk__in=[people["risk"].pk, people["hot"].pk, people["overdue"].pk]).update(
        created_at=timezone.now() - dt.timedelta(days=60)
    )
    CustomerMetrics.objects.create(
        customer=people["risk"],
        lifecycle="at_risk",
        clv_12m=Decimal("1000"),
        p_alive=0.4,
        computed_at=timezone.now(),
    )
    services.opportunity_create(
        actor=owner,
        fields={
            "customer": people["hot"],
            "title": "Gran pedido",
            "value": Decimal("5000"),
            "probability": 80,
        },
    )
    task_create(actor=owner, fields={"title": "Seguimiento", "customer": people["overdue"],
                                     "due_at": timezone.now() - dt.timedelta(days=2)})  # fmt: skip
    people["theirs"] = customer_create(actor=colleague, fields={"first_name": "Ajeno"})
    return people


def test_calls_today_are_ordered_by_what_is_at_stake(owner, portfolio):
    rows = selectors.calls_today(user=owner)
    assert [(r.customer.first_name, r.kind) for r in rows] == [
        ("Risk", "at_risk"), ("Hot", "hot"), ("Overdue", "overdue"), ("Lead", "new"),
    ]  # fmt: skip
    assert rows[0].stake == Decimal("600.00") and rows[1].stake == Decimal("4000.00")


def test_one_tap_outcomes_log_the_call_and_schedule_the_next(client, owner, portfolio):
    login(client, owner)
    page = client.get("/pipeline/calls/")
    assert 'href="tel:+34612000001"' in page.text
    response = client.post(
        f"/pipeline/calls/{portfolio['risk'].pk}/log/", {"outcome": "reached"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200 and "callrow called" in response.text
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    client.post(
        f"/pipeline/calls/{portfolio['hot'].pk}/log/",
        {"outcome": "call_back", "call_back_on": tomorrow.isoformat()},
    )
    call = Interaction.objects.get(customer=portfolio["hot"])
    assert (call.kind, call.outcome, call.author) == ("call", "follow_up", owner)
    task = Task.objects.get(customer=portfolio["hot"])
    assert task.assignee == owner and timezone.localtime(task.due_at).date() == tomorrow
    # Called today: they leave today's list.
    assert [r.customer.first_name for r in selectors.calls_today(user=owner)] == ["Overdue", "Lead"]
    # "Call back" without a day is refused in words, and nothing is written.
    response = client.post(
        f"/pipeline/calls/{portfolio['lead'].pk}/log/", {"outcome": "call_back"}, HTTP_HX_REQUEST="true"
    )
    assert "errorlist" in response.text
    assert not Interaction.objects.filter(customer=portfolio["lead"]).exists()


def test_manager_builds_lists_per_owner_from_a_segment(client, manager, owner, colleague, portfolio):
    from cartera.segments.services import segment_create

    rule = {"groups": [{"match": "all", "rules": [{"field": "stage", "op": "in", "value": ["prospect"]}]}]}
    segment = segment_create(actor=manager, fields={"name": "Potenciales", "definition": rule})
    login(client, manager)
    response = client.post("/pipeline/calls/team/", {"segment": segment.pk, "assignee": "", "name": "Campaña otoño",
                                                     "for_date": timezone.localdate().isoformat()})  # fmt: skip
    assert response.status_code == 302
    lists = {cl.assignee: cl for cl in CallList.objects.all()}
    assert set(lists) == {owner, colleague}
    assert lists[colleague].entries.get().customer == portfolio["theirs"]
    assert lists[owner].entries.count() == 4
    # The rep's list comes first in their calls for today; they do not see the colleague's list.
    rows = selectors.calls_today(user=owner)
    assert all(r.kind == "assigned" for r in rows[:4])
    login(client, owner)
    assert client.get(f"/pipeline/calls/lists/{lists[colleague].pk}/").status_code == 404
    client.post(f"/pipeline/calls/{portfolio['lead'].pk}/log/", {"outcome": "no_answer"})
    assert (
        CallListEntry.objects.get(call_list=lists[owner], customer=portfolio["lead"]).outcome == "no_answer"
    )
    # Activity per rep.
    login(client, manager)
    page = client.get("/pipeline/calls/team/?days=1")
    owner_row = next(a for a in page.context["activity"] if a.user == owner)
    assert (owner_row.calls, owner_row.reached) == (1, 0)


def test_reps_cannot_build_lists(owner, portfolio):
    with pytest.raises(PermissionDenied):
        services.call_lists_from_segment(actor=owner, members=Customer.objects.all(), name="x",
                                         for_date=timezone.localdate(), assignee=None)  # fmt: skip
    with pytest.raises(ValidationError):
        services.call_outcome_log(actor=owner, customer=portfolio["lead"], outcome="maybe")
