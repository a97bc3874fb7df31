"""Rollback undoes only what the actor may undo now, and never what someone changed or added since."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tasks_db.models import DBTaskResult

from cartera.activity.models import Interaction, Task
from cartera.customers.models import Customer
from cartera.imports.models import ImportJob, ImportRecord, JobStatus
from cartera.imports.services import import_job_configure, import_job_rollback, import_job_run
from cartera.imports.tasks import run_rollback
from cartera.sales.models import Order

pytestmark = pytest.mark.django_db

FILE = "Nombre,Email,Ciudad\n" + "".join(f"Persona{i},persona{i}@example.es,Vigo\n" for i in range(5))


def _imported(user, start_job, content=FILE, policy="skip"):
    job = start_job(user, content)
    import_job_configure(actor=user, job=job, columns=job.columns, options={}, duplicate_policy=policy)
    return import_job_run(job=job, dry_run=False)


def _colleagues_work(manager, colleague, customer):
    """A manager gives the customer to a colleague, who sells, meets and plans a call."""
    from cartera.activity.services import interaction_create, task_create
    from cartera.customers.services import customer_update
    from cartera.sales.services import order_create

    customer_update(actor=manager, customer=customer, fields={"owner": colleague})
    customer.refresh_from_db()
    order = order_create(
        actor=colleague, customer=customer, fields={"ordered_on": "2026-01-02", "amount": "7500"}
    )
    meeting = interaction_create(
        actor=colleague, customer=customer, fields={"kind": "meeting", "subject": "x"}
    )
    task = task_create(
        actor=colleague, fields={"title": "llamar", "customer": customer, "due_at": timezone.now()}
    )
    return order, meeting, task


def test_rep_rollback_keeps_a_customer_reassigned_to_a_colleague(
    client, owner, colleague, manager, start_job, django_capture_on_commit_callbacks
):
    job = _imported(owner, start_job)
    assert job.created_count == 5 and Customer.objects.filter(owner=owner).count() == 5
    moved = Customer.objects.get(email="persona2@example.es")
    order, meeting, task = _colleagues_work(manager, colleague, moved)

    client.force_login(owner)
    # The rollback runs in the worker: the request only queues it, and the page follows it.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("imports:rollback", args=[job.pk]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == JobStatus.ROLLING_BACK and Customer.objects.count() == 5
    page = client.get(reverse("imports:progress", args=[job.pk]))
    assert "hx-trigger" in page.text and "5" in page.text
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(reverse("imports:rollback", args=[job.pk])).status_code == 302  # a second click
    assert DBTaskResult.objects.filter(task_path__endswith="run_rollback").count() == 1
    assert run_rollback.call(job.pk).startswith(("Rolled back", "Importación revertida"))
    assert run_rollback.call(job.pk).startswith("skipped")
    job.refresh_from_db()
    assert job.status == JobStatus.ROLLED_BACK
    # The colleague's customer and everything on it survive; the rep's other four rows are undone.
    assert list(Customer.objects.values_list("pk", flat=True)) == [moved.pk]
    assert Order.objects.filter(pk=order.pk).exists()
    assert Interaction.objects.filter(pk=meeting.pk).exists()
    assert Task.objects.filter(pk=task.pk).exists()
    (kept,) = ImportRecord.objects.filter(job=job)
    assert kept.object_id == moved.pk and "Carlos Colleague" in kept.conflict
    assert job.report["rollback"] == {"undone": 4, "kept": 1}
    page = client.get(reverse("imports:detail", args=[job.pk]))
    assert 'id="conflicts"' in page.text and "Carlos Colleague" in page.text
    assert reverse("customers:detail", args=[moved.pk]) in page.text


def test_manager_rollback_keeps_a_customer_with_someone_elses_activity(manager, colleague, owner, start_job):
    """A manager may delete any customer, but not one with orders or calls the import did not bring."""
    from cartera.activity.services import interaction_create
    from cartera.sales.services import order_create

    job = _imported(owner, start_job)
    sold = Customer.objects.get(email="persona0@example.es")
    called = Customer.objects.get(email="persona1@example.es")
    order = order_create(actor=manager, customer=sold, fields={"ordered_on": "2026-01-02", "amount": "7500"})
    call = interaction_create(actor=colleague, customer=called, fields={"kind": "call", "subject": "x"})
    import_job_rollback(actor=manager, job=job)
    assert set(Customer.objects.values_list("pk", flat=True)) == {sold.pk, called.pk}
    assert Order.objects.filter(pk=order.pk).exists() and Interaction.objects.filter(pk=call.pk).exists()
    conflicts = set(ImportRecord.objects.filter(job=job).values_list("conflict", flat=True))
    assert conflicts == {_("has orders, interactions or tasks added after the import")}


def test_rollback_keeps_rows_edited_after_the_import(owner, manager, customer, start_job):
    from cartera.customers.services import customer_update

    content = "Nombre,Email,Ciudad\nLucía,lucia@example.es,Cádiz\nNuevo,nuevo@example.es,Vigo\n"
    job = _imported(owner, start_job, content, policy="overwrite")
    customer.refresh_from_db()
    assert customer.city == "Cádiz"
    new = Customer.objects.get(email="nuevo@example.es")
    customer_update(actor=owner, customer=customer, fields={"city": "Sevilla"})
    customer_update(actor=owner, customer=new, fields={"notes": "Cliente de la feria"})
    import_job_rollback(actor=owner, job=job)
    customer.refresh_from_db()
    # The later edit is not overwritten with the value from before the import, nor deleted.
    assert customer.city == "Sevilla" and Customer.objects.filter(pk=new.pk).exists()
    conflicts = set(ImportRecord.objects.filter(job=job).values_list("conflict", flat=True))
    assert conflicts == {_("edited after the import")}


def test_rollback_restores_values_when_nothing_changed_since(owner, customer, start_job):
    content = "Nombre,Apellidos,Email,Ciudad\nLuz,Nueva,lucia@example.es,Cádiz\n"
    job = _imported(owner, start_job, content, policy="overwrite")
    customer.refresh_from_db()
    assert (customer.first_name, customer.city) == ("Luz", "Cádiz")
    import_job_rollback(actor=owner, job=job)
    customer.refresh_from_db()
    assert (customer.first_name, customer.city, customer.first_name_key) == ("Lucía", "", "lucia")
    assert not ImportRecord.objects.filter(job=job).exists()


def test_rep_rollback_keeps_orders_of_a_customer_now_owned_by_a_colleague(
    owner, colleague, manager, customer, start_job
):
    from cartera.customers.services import customer_update

    job = start_job(owner, "Email,Fecha,Importe\nlucia@example.es,02/01/2026,10\n", kind="orders")
    job = import_job_run(job=job, dry_run=False)
    assert job.created_count == 1
    customer_update(actor=manager, customer=customer, fields={"owner": colleague})
    import_job_rollback(actor=owner, job=job)
    assert Order.objects.count() == 1
    assert ImportRecord.objects.get(job=job).conflict == _("now owned by %(user)s") % {"user": colleague}


@pytest.mark.parametrize("who", ["colleague", "outsider"])
def test_only_the_jobs_owner_or_a_manager_reaches_the_rollback(client, request, owner, start_job, who):
    job = _imported(owner, start_job)
    client.force_login(request.getfixturevalue(who))
    assert client.post(reverse("imports:rollback", args=[job.pk])).status_code == 404
    job.refresh_from_db()
    assert job.status == JobStatus.DONE and Customer.objects.count() == 5
    assert ImportRecord.objects.filter(job=job, conflict="").count() == 5


def test_a_job_rolled_back_once_cannot_be_rolled_back_again(owner, start_job):
    from django.core.exceptions import ValidationError

    job = _imported(owner, start_job)
    import_job_rollback(actor=owner, job=job)
    with pytest.raises(ValidationError):
        import_job_rollback(actor=owner, job=ImportJob.objects.get(pk=job.pk))


def test_records_written_before_written_at_was_kept_use_the_jobs_end(owner, start_job):
    """Records from before the ``written_at`` column compare against when the job finished."""
    from cartera.customers.services import customer_update

    job = _imported(owner, start_job)
    ImportRecord.objects.filter(job=job).update(written_at=None)
    ImportJob.objects.filter(pk=job.pk).update(finished_at=timezone.now() - datetime.timedelta(seconds=1))
    # Every customer looks edited after the job's end now, except the ones put back before it.
    Customer.objects.filter(email="persona1@example.es").update(
        updated_at=timezone.now() - datetime.timedelta(hours=1)
    )
    customer_update(actor=owner, customer=Customer.objects.get(email="persona3@example.es"), fields={})
    import_job_rollback(actor=owner, job=ImportJob.objects.get(pk=job.pk))
    assert not Customer.objects.filter(email="persona1@example.es").exists()
    assert Customer.objects.filter(email="persona3@example.es").exists()


def test_a_rollback_that_stops_in_the_worker_changes_nothing(owner, start_job, monkeypatch):
    from cartera.imports.services import import_job_rollback_enqueue
    from cartera.imports.services import rollback as rollback_module

    job = _imported(owner, start_job)
    import_job_rollback_enqueue(actor=owner, job=job)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(rollback_module, "_undo_customer_creations", broken)
    with pytest.raises(RuntimeError):
        run_rollback.call(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE and "disk full" in job.message
    assert Customer.objects.count() == 5 and ImportRecord.objects.filter(job=job, conflict="").count() == 5


def test_a_customer_created_and_then_updated_by_the_same_import_is_undone(owner, start_job, monkeypatch):
    """A later row of the same file (another batch) fills in the customer an earlier row created."""
    from cartera.imports.services import running

    monkeypatch.setattr(running, "BATCH_SIZE", 2)
    content = (
        "Nombre,Email,Ciudad\nAna,ana@example.es,\nBea,bea@example.es,Vigo\n"
        "Carla,carla@example.es,León\nAna,ana@example.es,Cádiz\n"
    )
    job = _imported(owner, start_job, content, policy="update_empty")
    assert (job.created_count, job.updated_count) == (3, 1)
    assert Customer.objects.get(email="ana@example.es").city == "Cádiz"
    import_job_rollback(actor=owner, job=job)
    assert Customer.objects.count() == 0 and not ImportRecord.objects.filter(job=job).exists()
