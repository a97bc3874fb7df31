"""Issue 11: "Tratamiento" (Sr./Sra./Srta.) is imported into the customer's title."""

from __future__ import annotations

from cartera.customers.models import Customer


def test_spanish_forms_of_address_are_imported(manager, start_job):
    from cartera.imports.services import import_job_run

    job = start_job(
        manager,
        "Tratamiento;Nombre;Apellidos;Email\n"
        "Sr.;Pablo;Jiménez;pablo@example.es\n"
        "Sra;Dolores;Bermejo Molina;dolores@example.es\n"
        "Srta.;Ana;Prieto;ana@example.es\n"
        "Dra.;Elena;Ruiz;elena@example.es\n"
        "Excmo.;Luis;Gil;luis@example.es\n",
    )
    assert job.columns.get("Tratamiento") == "title", job.columns
    job = import_job_run(job=job, dry_run=False)
    titles = dict(Customer.objects.values_list("email", "title"))
    assert titles["pablo@example.es"] == "mr"
    assert titles["dolores@example.es"] == "mrs"
    assert titles["ana@example.es"] == "ms"
    assert titles["elena@example.es"] == "dr"
    assert "luis@example.es" not in titles  # an unknown title is a rejected row, with the reason
    assert job.error_count == 1
