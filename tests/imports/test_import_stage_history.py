"""An import that changes a stage (a stage column, or orders that make buyers customers) writes the
stage history like every other path; undoing it writes the way back."""

from __future__ import annotations

import pytest

from cartera.customers.models import Stage, StageChange
from cartera.imports.models import DuplicatePolicy
from cartera.imports.services import import_job_configure, import_job_rollback, import_job_run

pytestmark = pytest.mark.django_db


def _moves(customer):
    return list(
        StageChange.objects.filter(customer=customer)
        .order_by("id")
        .values_list("from_stage", "to_stage", "via")
    )


def test_orders_import_makes_buyers_customers_with_history(manager, start_job, customer):
    content = "Email,Fecha,Importe,Nº pedido\nlucia@example.es,03/04/2025,10,P-1\n"
    import_job_run(job=start_job(manager, content, kind="orders"), dry_run=False)
    assert _moves(customer) == [("prospect", "customer", "import")]


def test_stage_column_update_and_its_rollback_write_history(manager, start_job, customer):
    job = start_job(
        manager, "Nombre,Apellidos,Email,Etapa\nLucía,Martínez Ortega,lucia@example.es,Sospechoso\n"
    )
    import_job_configure(
        actor=manager, job=job, columns=job.columns, options={}, duplicate_policy=DuplicatePolicy.OVERWRITE
    )
    job = import_job_run(job=job, dry_run=False)
    customer.refresh_from_db()
    assert customer.stage == Stage.SUSPECT
    assert _moves(customer) == [("prospect", "suspect", "import")]
    import_job_rollback(actor=manager, job=job)
    customer.refresh_from_db()
    assert customer.stage == Stage.PROSPECT
    assert _moves(customer) == [("prospect", "suspect", "import"), ("suspect", "prospect", "import")]


def test_customers_created_by_an_orders_import_are_customers_with_the_same_history(manager, start_job):
    """Customers the orders bring are written as customers at once (not created as prospects and
    updated after): same stage, same single history line as a buyer who was a prospect."""
    from cartera.customers.models import Customer

    content = "Email,Nombre,Fecha,Importe,Nº pedido\nnuevo@example.es,Nuria Nueva,03/04/2025,10,P-9\n"
    job = start_job(manager, content, kind="orders")
    import_job_configure(actor=manager, job=job, columns=job.columns, options={"create_customers": True})
    import_job_run(job=job, dry_run=False)
    created = Customer.objects.get(email="nuevo@example.es")
    assert created.stage == Stage.CUSTOMER
    assert _moves(created) == [("prospect", "customer", "import")]
    import_job_rollback(actor=manager, job=job)
    assert not Customer.objects.filter(email="nuevo@example.es").exists()
