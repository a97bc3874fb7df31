"""An erased person is not brought back by a re-import: the row is rejected with the reason."""

from __future__ import annotations

import io

from cartera.customers.models import Customer
from cartera.customers.services import customer_create
from cartera.imports.models import ImportRowError
from cartera.imports.services import import_job_create, import_job_run
from cartera.privacy.services import customer_erase, erase_confirmation


def test_a_reimport_skips_erased_people(manager, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    gone = customer_create(actor=manager, fields={"first_name": "Rosa", "email": "rosa.ruiz@example.es"})
    customer_erase(actor=manager, customer=gone, confirmation=erase_confirmation(gone))
    content = "Nombre;Email\nRosa;Rosa.Ruiz@Example.es\nPedro;pedro@example.es\n"
    job = import_job_create(
        actor=manager, upload=io.BytesIO(content.encode()), file_name="a.csv", kind="customers"
    )

    job = import_job_run(job=job, dry_run=False)

    assert not Customer.objects.filter(email="rosa.ruiz@example.es").exists()
    assert Customer.objects.filter(email="pedro@example.es").exists()
    assert job.error_count == 1
    reason = ImportRowError.objects.get(job=job).reason
    assert "erased" in reason or "suprim" in reason
