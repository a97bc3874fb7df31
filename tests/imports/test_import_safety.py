"""Files and mappings that others can reach: formula-safe rejected rows, mappings owned by their author."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from cartera.imports.models import ImportMapping
from cartera.imports.services import import_job_configure, import_job_run, import_mapping_save

pytestmark = pytest.mark.django_db


def test_rejected_rows_csv_neutralises_formula_headers(client, owner, start_job):
    content = 'Nombre,Email,"=HYPERLINK(""http://evil.example"",""clic"")",+SUM(A1)\nAna,no-es-correo,x,y\n'
    job = import_job_run(job=start_job(owner, content), dry_run=True)
    assert job.report["error"] == 1
    client.force_login(owner)
    response = client.get(reverse("imports:rejected", args=[job.pk]))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0][2:6] == ["Nombre", "Email", '\'=HYPERLINK("http://evil.example","clic")', "'+SUM(A1)"]
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def test_xlsx_export_writes_headers_as_text_cells():
    import openpyxl

    from cartera.imports.exporting import xlsx_file

    sheet = openpyxl.load_workbook(xlsx_file(["=1+1", "Nombre"], [["a", "b"]])).active
    assert sheet.cell(1, 1).value == "=1+1" and sheet.cell(1, 1).data_type == "s"


def _save(user, name, columns):
    return import_mapping_save(actor=user, name=name, kind="customers", columns=columns, options={})


def test_a_rep_cannot_overwrite_a_managers_mapping(owner, manager, colleague):
    _save(manager, "Feria", {"Mail": "email"})
    with pytest.raises(ValidationError) as refused:
        _save(owner, " Feria ", {"Mail": "notes"})
    assert "Marta Manager" in refused.value.messages[0]
    mapping = ImportMapping.objects.get()
    assert (mapping.columns, mapping.created_by) == ({"Mail": "email"}, manager)
    # Nor a colleague's; her own she may replace.
    _save(colleague, "Carlos", {"A": "email"})
    with pytest.raises(ValidationError):
        _save(owner, "Carlos", {"A": "notes"})
    _save(owner, "Mía", {"A": "email"})
    assert _save(owner, "Mía", {"A": "notes"}).columns == {"A": "notes"}
    # A manager acts on every record: may replace a rep's mapping, which stays the rep's.
    replaced = _save(manager, "Mía", {"A": "city"})
    assert (replaced.columns, replaced.created_by) == ({"A": "city"}, owner)


def test_mapping_page_refuses_a_name_taken_by_someone_else(client, owner, manager, start_job):
    _save(manager, "Feria", {"Mail": "email"})
    job = start_job(owner, "Nombre,Mail\nAna,ana@example.es\n")
    client.force_login(owner)
    page = client.get(reverse("imports:mapping", args=[job.pk]))
    assert "Feria (Marta Manager)" in page.text  # a manager's mapping may be used by everyone
    form = {f"col_{i}": job.columns.get(h, "") for i, h in enumerate(job.headers)}
    form.update(date_order="dmy", duplicate_policy="skip", source="import", save_as="Feria", action="dry_run")
    response = client.post(reverse("imports:mapping", args=[job.pk]), form)
    assert response.status_code == 200 and "Marta Manager" in response.text
    assert ImportMapping.objects.get().columns == {"Mail": "email"}
    with pytest.raises(ValidationError):
        import_job_configure(actor=owner, job=job, columns=job.columns, options={}, save_as="Feria")
    assert client.get(reverse("imports:mapping", args=[job.pk]) + "?mapping=abc").status_code == 200


def test_outsider_sees_no_saved_mapping(outsider, manager):
    from cartera.imports.selectors import mapping_list

    _save(manager, "Feria", {"Mail": "email"})
    assert not mapping_list(user=outsider, kind="customers").exists()


def _mapping_post(job, page_text, **extra):
    import html
    import re

    read = re.search(r'name="mapping_read" value="([^"]*)"', page_text)
    form = {f"col_{i}": job.columns.get(h, "") for i, h in enumerate(job.headers)}
    form.update(date_order="dmy", duplicate_policy="skip", source="import", action="dry_run", **extra)
    form["mapping_read"] = html.unescape(read[1]) if read else ""
    return form


def test_a_stale_replace_of_a_saved_mapping_is_refused_and_nothing_is_lost(client, owner, manager, start_job):
    """Optimistic concurrency on saved mappings (issue 16): the rep applies her mapping, a manager
    replaces it meanwhile, the rep's save is refused with a clear message; the manager's version stays
    and the rep's columns stay on her import; applied again, her save goes through."""
    mine = _save(owner, "Mía", {"Mail": "email"})
    job = start_job(owner, "Nombre,Mail\nAna,ana@example.es\n")
    client.force_login(owner)
    url = reverse("imports:mapping", args=[job.pk])
    page = client.get(f"{url}?mapping={mine.pk}", headers={"accept-language": "es"})
    assert 'value="Mía"' in page.text  # the name to replace it by is filled in
    form = _mapping_post(job, page.text, save_as="Mía", col_1="notes")

    _save(manager, "Mía", {"Mail": "city"})  # meanwhile

    refused = client.post(url, form, headers={"accept-language": "es"})
    assert refused.status_code == 200
    assert "Otra persona guardó la correspondencia «Mía» después de que la abrieras" in refused.text
    assert ImportMapping.objects.get().columns == {"Mail": "city"}
    job.refresh_from_db()
    assert job.columns["Mail"] == "notes"  # what she chose is still on her import and in the form

    # "Update the preview" keeps the version read; applied again, her replace goes through.
    again = client.get(f"{url}?mapping={mine.pk}", headers={"accept-language": "en"})
    preview = client.post(url, {**_mapping_post(job, again.text, save_as=""), "action": "preview"})
    assert "read=" in preview["Location"]
    page = client.get(preview["Location"])
    assert client.post(url, _mapping_post(job, page.text, save_as="Mía", col_1="notes")).status_code == 302
    assert ImportMapping.objects.get().columns["Mail"] == "notes"


def test_a_stale_mapping_save_through_the_service_is_refused(owner, manager):
    from cartera.core.concurrency import StaleEditError, version_of

    mine = _save(owner, "Mía", {"A": "email"})
    read = (mine.pk, version_of(mine))
    _save(manager, "Mía", {"A": "city"})
    with pytest.raises(StaleEditError) as refused:
        import_mapping_save(
            actor=owner, name="Mía", kind="customers", columns={"A": "notes"}, options={}, read=read
        )
    assert "Mía" in refused.value.messages[0]
    assert ImportMapping.objects.get().columns == {"A": "city"}
