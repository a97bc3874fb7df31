"""A customer file fills admin-defined custom fields: a column per field, suggested by its label, read
as the field's type, merged into what a matched customer already has, undone by a rollback."""

from __future__ import annotations

import pytest
from django.urls import reverse

from cartera.customers.models import Customer
from cartera.imports.models import DuplicatePolicy, ImportRowError
from cartera.imports.services import import_job_configure, import_job_rollback, import_job_run
from tests.conftest import login

pytestmark = pytest.mark.django_db

CSV = (
    "Nombre;Correo;Talla;Tienda habitual;Tarjeta club;VIP desde\n"
    "Ana;ana@example.es;38;centro;sí;01/05/2020\n"
    "Bea;bea@example.es;41,5;Norte;no;\n"
    "Ciro;ciro@example.es;grande;Este;quizá;31/02/2020\n"
)


def test_columns_are_suggested_read_as_their_type_and_written(manager, start_job, custom_field_set):
    job = start_job(manager, CSV)
    assert job.columns["Talla"] == "cf:shoe" and job.columns["Tienda habitual"] == "cf:store"
    assert job.columns["Tarjeta club"] == "cf:club" and job.columns["VIP desde"] == "cf:vip_since"
    job = import_job_run(job=job, dry_run=False)
    assert (job.created_count, job.error_count) == (2, 1)
    ana, bea = Customer.objects.get(first_name="Ana"), Customer.objects.get(first_name="Bea")
    assert ana.custom_fields == {"shoe": "38", "store": "Centro", "club": True, "vip_since": "2020-05-01"}
    assert bea.custom_fields == {"shoe": "41.5", "store": "Norte", "club": False}
    problems = set(ImportRowError.objects.filter(job=job).values_list("column", flat=True))
    assert problems == {"Talla", "Tienda habitual", "Tarjeta club", "VIP desde"}


def test_an_update_merges_custom_values_and_a_rollback_restores_them(manager, start_job, custom_people):
    ana = custom_people["ana"]
    Customer.objects.filter(pk=ana.pk).update(email="ana@example.es")
    job = start_job(manager, "Nombre;Correo;Tienda habitual\nAna;ana@example.es;Sur\n")
    import_job_configure(
        actor=manager, job=job, columns=job.columns, options={}, duplicate_policy=DuplicatePolicy.OVERWRITE
    )
    job = import_job_run(job=job, dry_run=False)
    assert job.updated_count == 1
    ana.refresh_from_db()
    assert ana.custom_fields["store"] == "Sur" and ana.custom_fields["hobby"] == "Vela y golf"
    import_job_rollback(actor=manager, job=job)
    ana.refresh_from_db()
    assert ana.custom_fields["store"] == "Centro" and ana.custom_fields["hobby"] == "Vela y golf"


def test_the_mapping_page_offers_custom_fields(client, manager, start_job, custom_field_set):
    job = start_job(manager, CSV)
    login(client, manager)
    page = client.get(reverse("imports:mapping", args=[job.pk])).content.decode()
    assert 'value="cf:store"' in page and "Tienda habitual" in page
