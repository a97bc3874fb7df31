"""Opportunities: opening, moving, winning (with the order) and losing; every move in the history;
the scoping rule (a rep reaches their own, managers all); the board and its "move to" control."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from cartera.customers.models import Stage, StageChange
from cartera.customers.services import customer_create
from cartera.pipeline import selectors, services
from cartera.pipeline.models import LostReason, Opportunity, OpportunityStageChange
from cartera.sales.models import Order
from tests.conftest import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def pipeline(db):
    return services.pipeline_defaults_ensure()


@pytest.fixture
def stages(pipeline):
    return selectors.stages_of(pipeline)


@pytest.fixture
def deal(owner, customer, pipeline):
    return services.opportunity_create(
        actor=owner, fields={"customer": customer, "title": "Reforma oficina", "value": Decimal("12000")}
    )


def test_open_takes_the_first_stage_its_probability_and_the_actor(deal, owner, stages):
    assert (deal.stage, deal.probability, deal.owner) == (stages[0], stages[0].probability, owner)
    assert list(deal.stage_changes.values_list("from_stage", "to_stage")) == [(None, stages[0].pk)]


def test_opening_for_a_suspect_makes_them_a_prospect(owner, pipeline):
    suspect = customer_create(actor=owner, fields={"first_name": "Sara", "stage": Stage.SUSPECT})
    services.opportunity_create(actor=owner, fields={"customer": suspect, "title": "Primera visita"})
    suspect.refresh_from_db()
    assert suspect.stage == Stage.PROSPECT
    assert StageChange.objects.get(customer=suspect).via == "pipeline"


def test_needs_a_customer_or_a_company(owner, pipeline):
    with pytest.raises(ValidationError):
        services.opportunity_create(actor=owner, fields={"title": "Nadie"})
    assert not Opportunity.objects.exists()


def test_move_sets_probability_and_keeps_time_in_stage(deal, owner, stages):
    Opportunity.objects.filter(pk=deal.pk).update(stage_entered_at=timezone.now() - dt.timedelta(days=3))
    deal.refresh_from_db()
    moved = services.opportunity_move(actor=owner, opportunity=deal, stage=stages[2])
    assert (moved.stage, moved.probability) == (stages[2], stages[2].probability)
    change = OpportunityStageChange.objects.filter(from_stage=stages[0]).get()
    assert change.to_stage == stages[2] and change.days_in_stage == 3


def test_a_colleague_neither_sees_nor_moves_it_and_nothing_changes(client, deal, colleague, manager, stages):
    with pytest.raises(PermissionDenied):
        services.opportunity_move(actor=colleague, opportunity=deal, stage=stages[1])
    login(client, colleague)
    assert client.get(f"/pipeline/opportunities/{deal.pk}/").status_code == 404
    assert client.post(f"/pipeline/opportunities/{deal.pk}/move/", {"stage": stages[1].pk}).status_code == 404
    assert not selectors.opportunity_list(user=colleague, filters=selectors.OpportunityFilters()).exists()
    deal.refresh_from_db()
    assert deal.stage == stages[0]
    assert selectors.opportunity_list(user=manager, filters=selectors.OpportunityFilters()).count() == 1


def test_win_creates_the_order_and_makes_a_customer(deal, owner, customer):
    won = services.opportunity_win(actor=owner, opportunity=deal, create_order=True)
    assert won.status == "won" and won.probability == 100 and won.order is not None
    order = Order.objects.get()
    assert (order.customer, order.amount, order.channel) == (customer, Decimal("12000.00"), "sales_rep")
    customer.refresh_from_db()
    assert customer.stage == Stage.CUSTOMER
    assert StageChange.objects.filter(customer=customer, via="first_order").exists()
    with pytest.raises(ValidationError):
        services.opportunity_win(actor=owner, opportunity=won)


def test_lose_needs_an_active_reason_and_reopen_brings_it_back(deal, owner, stages):
    reason = LostReason.objects.get(name="Precio")
    lost = services.opportunity_lose(actor=owner, opportunity=deal, reason=reason, note="caro")
    assert (lost.status, lost.lost_reason, lost.probability) == ("lost", reason, 0)
    with pytest.raises(ValidationError):
        services.opportunity_move(actor=owner, opportunity=lost, stage=stages[1])
    reopened = services.opportunity_reopen(actor=owner, opportunity=lost)
    assert (reopened.status, reopened.lost_reason, reopened.stage) == ("open", None, stages[0])


def test_board_columns_total_page_and_mark_rotting(owner, customer, pipeline, stages):
    for i in range(25):
        services.opportunity_create(
            actor=owner, fields={"customer": customer, "title": f"Deal {i}", "value": Decimal(100 + i)}
        )
    old = timezone.now() - dt.timedelta(days=(stages[0].rotting_days or 0) + 2)
    Opportunity.objects.filter(title="Deal 0").update(last_activity_at=old, stage_entered_at=old)
    columns = selectors.board(user=owner, pipeline=pipeline, filters=selectors.OpportunityFilters())
    first = columns[0]
    assert first.count == 25 and first.value == sum(Decimal(100 + i) for i in range(25))
    assert first.weighted == first.value * stages[0].probability / 100
    assert first.rotting == 1 and len(first.cards) == selectors.COLUMN_SIZE and first.next_offset == 20
    assert first.cards[0].title == "Deal 24"  # largest value first
    base = selectors.opportunity_list(
        user=owner, filters=selectors._open_in(selectors.OpportunityFilters(), pipeline)
    )
    rest, more = selectors.column_page(base=base, stage=stages[0], offset=20)
    assert len(rest) == 5 and more is None and rest[-1].title == "Deal 0" and rest[-1].is_rotting()


def test_move_to_control_and_drag_endpoint(client, deal, owner, stages):
    login(client, owner)
    board = client.get("/pipeline/")
    assert board.status_code == 200 and "Reforma oficina" in board.text
    response = client.post(
        f"/pipeline/opportunities/{deal.pk}/move/", {"stage": stages[1].pk, "next": "/pipeline/"}
    )
    assert response.status_code == 302 and response["Location"] == "/pipeline/"
    response = client.post(
        f"/pipeline/opportunities/{deal.pk}/move/", {"stage": stages[3].pk}, HTTP_ACCEPT="application/json"
    )
    assert response.json() == {"stage": stages[3].pk, "stage_name": stages[3].name}
    other = services.pipeline_create(actor=_manager(), name="Renovaciones", stages="Aviso | 30 | 5")
    response = client.post(
        f"/pipeline/opportunities/{deal.pk}/move/",
        {"stage": other.stages.get().pk},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 422
    deal.refresh_from_db()
    assert deal.stage == stages[3]
    assert deal.stage_changes.count() == 3


def _manager():
    from cartera.accounts.services import user_create

    return user_create(username="jefa", password="s3cret-pass-123", role="manager")


def test_settings_edit_stages_and_refuse_removing_a_used_one(client, manager, deal, pipeline, stages):
    login(client, manager)
    prefix = f"p{pipeline.pk}"
    lines = "\n".join(f"{s.name} | {s.probability} | 3" for s in stages[:3]) + "\nFirma | 90 | 2"
    response = client.post("/pipeline/settings/", {"pipeline": pipeline.pk, f"{prefix}-name": "Ventas",
                                                  f"{prefix}-active": "on", f"{prefix}-stages": lines})  # fmt: skip
    assert response.status_code == 302
    assert [s.name for s in selectors.stages_of(pipeline)] == [*(s.name for s in stages[:3]), "Firma"]
    # The first stage holds the deal: removing it is refused, nothing changes.
    response = client.post("/pipeline/settings/", {"pipeline": pipeline.pk, f"{prefix}-name": "Ventas",
                                                  f"{prefix}-active": "on", f"{prefix}-stages": "Firma | 90 | 2"})  # fmt: skip
    assert response.status_code == 200
    assert "still has opportunities" in response.text or "todavía tiene oportunidades" in response.text
    assert len(selectors.stages_of(pipeline)) == 4


def test_sales_reps_cannot_manage_pipelines(client, owner, pipeline):
    with pytest.raises(PermissionDenied):
        services.pipeline_create(actor=owner, name="Mío", stages="Uno")
    login(client, owner)
    assert client.get("/pipeline/settings/").status_code == 403
