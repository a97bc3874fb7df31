"""Import jobs, their rejected rows and records, and what an import may write: all through the scoping
helper. A job is its author's (and the managers'); others get a 404 and change nothing."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from cartera.customers.models import Customer
from cartera.imports.models import ImportJob, ImportRecord, ImportRowError, JobStatus
from cartera.imports.selectors import import_job_list, rejected_rows, rollback_conflicts
from cartera.imports.services import (
    import_job_configure,
    import_job_enqueue,
    import_job_rollback,
    import_job_run,
)

pytestmark = pytest.mark.django_db

FILE = "Nombre,Email\nAna,ana@example.es\nMal,no-es-correo\n"


def test_jobs_rows_and_records_are_read_through_the_scoping_helper(
    owner, colleague, manager, outsider, start_job
):
    job = import_job_run(job=start_job(owner, FILE), dry_run=False)
    assert (
        ImportRowError.objects.filter(job=job).count() == 1
        and ImportRecord.objects.filter(job=job).count() == 1
    )
    for user, sees in ((owner, True), (manager, True), (colleague, False), (outsider, False)):
        assert import_job_list(user=user).filter(pk=job.pk).exists() is sees, user
        assert rejected_rows(user=user, job=job).exists() is sees, user
    ImportRecord.objects.filter(job=job).update(conflict="kept")
    assert rollback_conflicts(user=manager, job=job).count() == 1
    assert not rollback_conflicts(user=colleague, job=job).exists()


def test_a_colleague_reaches_no_route_of_another_reps_job(client, owner, colleague, start_job):
    job = import_job_run(job=start_job(owner, FILE), dry_run=True)
    client.force_login(colleague)
    for name in ("mapping", "detail", "progress", "rejected"):
        assert client.get(reverse(f"imports:{name}", args=[job.pk])).status_code == 404, name
    for name in ("commit", "rollback"):
        assert client.post(reverse(f"imports:{name}", args=[job.pk])).status_code == 404, name
    job.refresh_from_db()
    assert job.status == JobStatus.CHECKED and Customer.objects.count() == 0
    assert reverse("imports:detail", args=[job.pk]) not in client.get(reverse("imports:index")).text


def test_services_refuse_an_actor_who_may_not_act_on_the_job(owner, colleague, start_job):
    job = import_job_run(job=start_job(owner, FILE), dry_run=True)
    with pytest.raises(PermissionDenied):
        import_job_enqueue(actor=colleague, job=job)
    done = import_job_run(job=start_job(owner, "Nombre,Email\nBea,bea@example.es\n"), dry_run=False)
    with pytest.raises(PermissionDenied):
        import_job_rollback(actor=colleague, job=done)
    assert ImportJob.objects.get(pk=job.pk).status == JobStatus.CHECKED
    assert Customer.objects.filter(email="bea@example.es").exists()


def test_a_managers_update_import_changes_a_reps_customer(manager, start_job, customer):
    job = start_job(manager, "Nombre,Email,Ciudad\nLucía,lucia@example.es,Cádiz\n")
    import_job_configure(
        actor=manager, job=job, columns=job.columns, options={}, duplicate_policy="overwrite"
    )
    assert import_job_run(job=job, dry_run=False).updated_count == 1
    customer.refresh_from_db()
    assert customer.city == "Cádiz"


def test_a_rep_records_orders_only_for_her_own_customers(owner, colleague, start_job, customer):
    content = "Email,Fecha,Importe\nlucia@example.es,02/01/2026,10\n"
    refused = import_job_run(job=start_job(colleague, content, kind="orders"), dry_run=False)
    assert (refused.created_count, refused.error_count) == (0, 1)
    assert import_job_run(job=start_job(owner, content, kind="orders"), dry_run=False).created_count == 1
    assert customer.orders.count() == 1
