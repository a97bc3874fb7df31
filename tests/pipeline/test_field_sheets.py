"""Field sheets: the printable prospecting sheet and the Excel template, whose headers are the customer
import's own and whose rows, filled in, import through the real import service."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pytest
from django.urls import reverse
from django.utils import timezone, translation

from cartera.core.contact import format_phone
from cartera.core.scoping import restrict
from cartera.customers.models import Customer, Source, Stage
from cartera.customers.services import customer_create
from cartera.imports.fields import field_map, suggest_columns
from cartera.imports.models import JobStatus
from cartera.imports.services import import_job_configure, import_job_create, import_job_run
from cartera.pipeline.models import CallList, CallListEntry
from cartera.pipeline.sheets import SHEET_FIELDS
from cartera.segments.models import Segment

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _uploads_in_tmp(settings, tmp_path):
    settings.VAR_DIR = tmp_path


def _template(client, language: str) -> openpyxl.Workbook:
    response = client.get(reverse("pipeline:sheet_template"), HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert ".xlsx" in response["Content-Disposition"]
    return openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))


@pytest.mark.parametrize("language", ["es", "en"])
def test_the_template_is_headed_as_the_import_reads_it_with_lists(client, owner, language):
    customer_create(actor=owner, fields={"first_name": "Ana", "sector": "Industria"})
    client.force_login(owner)
    book = _template(client, language)
    prospects, instructions, lists = book.worksheets
    assert instructions.title == {"es": "Instrucciones", "en": "Instructions"}[language]
    assert lists.sheet_state == "hidden"
    headers = [cell.value for cell in prospects[1]]
    with translation.override(language):
        fields = field_map("customers")
        assert headers == [str(fields[key].label) for key in SHEET_FIELDS]
        # Every heading is recognised by the import, as the field it stands for.
        assert suggest_columns(headers, "customers") == dict(zip(headers, SHEET_FIELDS, strict=True))
        stages = [str(label) for _v, label in Stage.choices]
        sources = [str(label) for _v, label in Source.choices]
    validations = {
        str(dv.sqref).split(":")[0].rstrip("0123456789"): dv
        for dv in prospects.data_validations.dataValidation
    }
    letter = {key: openpyxl.utils.get_column_letter(i) for i, key in enumerate(SHEET_FIELDS, start=1)}

    def listed(dv):
        sheet_name, cells = dv.formula1.rsplit("!", 1)
        start, end = cells.replace("$", "").split(":")
        return [c.value for (c,) in book[sheet_name.strip("'")][f"{start}:{end}"]]

    assert validations[letter["stage"]].type == "list" and listed(validations[letter["stage"]]) == stages
    assert validations[letter["source"]].type == "list" and listed(validations[letter["source"]]) == sources
    assert validations[letter["stage"]].showErrorMessage  # only the list's values
    # Sector is free text in Cartera: the sectors in use are offered, anything else is accepted.
    assert listed(validations[letter["sector"]]) == ["Industria"]
    assert not validations[letter["sector"]].showErrorMessage
    text = " ".join(str(c.value or "") for (c,) in instructions.iter_rows(max_col=1))
    assert stages[0] in text and sources[0] in text


@pytest.mark.parametrize(("written", "read"), [("es", "es"), ("en", "en"), ("es", "en"), ("en", "es")])
def test_the_template_filled_with_two_rows_imports_them(client, owner, written, read):
    client.force_login(owner)
    book = _template(client, written)
    sheet = book.worksheets[0]
    with translation.override(written):
        stage = {str(label): value for value, label in Stage.choices}
        source = {str(label): value for value, label in Source.choices}
        prospect, customer = str(Stage.PROSPECT.label), str(Stage.CUSTOMER.label)
        event, referral = str(Source.EVENT.label), str(Source.REFERRAL.label)
    sheet.append(["Lucía", "Pardo", "Talleres Pardo", "+34 600 111 222", "lucia@example.es", "Industria",
                  prospect, event, "Visitada en la feria"])  # fmt: skip
    sheet.append(["Tom", "Reed", "", "612 345 678", "tom@example.com", "Retail", customer, referral, ""])
    data = io.BytesIO()
    book.save(data)
    data.seek(0)
    with translation.override(read):
        job = import_job_create(actor=owner, upload=data, file_name="prospectos.xlsx", kind="customers")
        assert set(job.columns.values()) == set(SHEET_FIELDS)
        import_job_configure(actor=owner, job=job, columns=job.columns, options={"phone_region": "ES"})
        job = import_job_run(job=job, dry_run=True)
        assert job.status == JobStatus.CHECKED and job.report["create"] == 2 and job.report["error"] == 0
        job = import_job_run(job=job, dry_run=False)
    assert job.status == JobStatus.DONE and job.created_count == 2
    lucia, tom = Customer.objects.get(email="lucia@example.es"), Customer.objects.get(email="tom@example.com")
    assert (lucia.stage, lucia.source) == (stage[prospect], source[event]) == (Stage.PROSPECT, Source.EVENT)
    assert (tom.stage, tom.source) == (Stage.CUSTOMER, Source.REFERRAL)
    assert (
        lucia.company.name == "Talleres Pardo"
        and lucia.phone == "+34600111222"
        and lucia.sector == "Industria"
    )
    assert lucia.notes == "Visitada en la feria" and tom.last_name == "Reed"


def test_a_row_without_a_source_takes_the_import_s(client, owner):
    client.force_login(owner)
    book = _template(client, "en")
    book.worksheets[0].append(["Eva", "Sanz", "", "", "eva@example.es", "", "Prospect", "", ""])
    data = io.BytesIO()
    book.save(data)
    data.seek(0)
    job = import_job_create(actor=owner, upload=data, file_name="t.xlsx", kind="customers")
    import_job_configure(actor=owner, job=job, columns=job.columns, options={}, source="telemarketing")
    import_job_run(job=job, dry_run=False)
    assert Customer.objects.get().source == Source.TELEMARKETING


@pytest.mark.parametrize("language", ["es", "en"])
def test_the_printable_sheet(client, owner, language):
    client.force_login(owner)
    page = client.get(reverse("pipeline:sheet"), HTTP_ACCEPT_LANGUAGE=language)
    assert page.status_code == 200
    text = page.content.decode()
    with translation.override(language):
        for key in SHEET_FIELDS:
            assert f">{field_map('customers')[key].label}</th>" in text
    assert "pipeline/sheet.css" in text and "pipeline/sheet.js" in text and "data-print" in text
    assert text.count('<tr class="blank">') == 12 and reverse("pipeline:sheet_template") in text
    assert "Accepts marketing by this channel" in text  # the consent wording the customer form records
    assert {"es": "Hoja de prospección", "en": "Prospecting sheet"}[language] in text
    # The pipeline pages link to it.
    assert reverse("pipeline:sheet") in client.get(reverse("pipeline:calls")).content.decode()
    assert reverse("pipeline:sheet_template") in client.get(reverse("imports:index")).content.decode()


def test_the_sheet_is_pre_filled_from_a_call_list_or_a_segment(client, owner, colleague, manager):
    ana = customer_create(actor=owner, fields={"first_name": "Ana", "last_name": "Ruiz", "phone": "600111222",
                                               "stage": Stage.PROSPECT, "sector": "Industria"})  # fmt: skip
    bea = customer_create(
        actor=owner, fields={"first_name": "Bea", "last_name": "Gil", "stage": Stage.SUSPECT}
    )
    hidden = customer_create(actor=colleague, fields={"first_name": "Oculta", "stage": Stage.PROSPECT})
    calls = CallList.objects.create(
        name="Martes", assignee=owner, for_date=timezone.localdate(), created_by=manager
    )
    for position, person in enumerate([bea, ana, hidden]):
        CallListEntry.objects.create(call_list=calls, customer=person, position=position)
    client.force_login(owner)
    text = client.get(reverse("pipeline:sheet"), {"call_list": calls.pk, "blank": 3}).content.decode()
    assert text.index("Bea") < text.index("Ana") and format_phone("+34600111222") in text
    # Only people the rep may see are printed, in the list's order.
    visible = restrict(Customer.objects.all(), owner).filter(pk=hidden.pk).exists()
    assert ("Oculta" in text) == visible
    assert text.count('<tr class="filled">') == 2 + visible and text.count('<tr class="blank">') == 3
    segment = Segment.objects.create(
        name="Prospects", owner=owner,
        definition={"match": "all",
                    "groups": [{"match": "all", "rules": [{"field": "stage", "op": "in", "value": ["prospect"]}]}]},
    )  # fmt: skip
    text = client.get(reverse("pipeline:sheet"), {"segment": segment.pk, "blank": 0}).content.decode()
    assert "Ana" in text and "Bea" not in text and '<tr class="blank">' not in text
    # A list that is not theirs, or nonsense, is a message on the page, never an error.
    others = CallList.objects.create(name="Other", assignee=colleague, for_date=timezone.localdate())
    for query in ({"call_list": others.pk}, {"call_list": "x"}, {"blank": "500"},
                  {"call_list": calls.pk, "segment": segment.pk}):  # fmt: skip
        page = client.get(reverse("pipeline:sheet"), query)
        assert page.status_code == 200 and 'class="errors"' in page.content.decode()


def _pdf_pages(content: bytes) -> list[str]:
    """The text of each page of a PDF, read back by PDFium (what a PDF viewer would show)."""
    import pypdfium2

    document = pypdfium2.PdfDocument(content)
    try:
        return [page.get_textpage().get_text_range() for page in document]
    finally:
        document.close()


@pytest.mark.parametrize("language", ["es", "en"])
def test_the_sheet_as_a_pdf_made_on_the_server(client, owner, colleague, manager, language):
    ana = customer_create(actor=owner, fields={"first_name": "Ana", "last_name": "Núñez Ruiz",
                                               "phone": "600111222", "stage": Stage.PROSPECT})  # fmt: skip
    # A name that tries to pull a file or an address into the PDF is printed as text, nothing fetched.
    sly = customer_create(actor=owner, fields={"first_name": '<img src="file:///etc/passwd">',
                                               "last_name": "<link rel=stylesheet href=http://127.0.0.1:9/x.css>"})  # fmt: skip
    calls = CallList.objects.create(
        name="Martes", assignee=owner, for_date=timezone.localdate(), created_by=manager
    )
    for position, person in enumerate([ana, sly]):
        CallListEntry.objects.create(call_list=calls, customer=person, position=position)
    client.force_login(owner)
    page = client.get(
        reverse("pipeline:sheet"), {"call_list": calls.pk, "blank": 5}, HTTP_ACCEPT_LANGUAGE=language
    )
    pdf_link = f"{reverse('pipeline:sheet_pdf')}?call_list={calls.pk}&amp;blank=5"
    assert pdf_link in page.content.decode()  # the page offers the PDF of what it shows

    response = client.get(
        reverse("pipeline:sheet_pdf"), {"call_list": calls.pk, "blank": 5}, HTTP_ACCEPT_LANGUAGE=language
    )
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert (
        response["Content-Disposition"].startswith("attachment;")
        and ".pdf" in response["Content-Disposition"]
    )
    assert response.content.startswith(b"%PDF-")
    pages = _pdf_pages(response.content)
    text = " ".join(pages)
    unwrapped = "".join(text.split())  # narrow cells wrap long values over lines
    with translation.override(language):
        for key in SHEET_FIELDS:
            assert str(field_map("customers")[key].label) in text
    assert {"es": "Hoja de prospección", "en": "Prospecting sheet"}[language] in text
    assert "Martes" in text and "Núñez Ruiz" in text and format_phone("+34600111222") in text
    assert '<imgsrc="file:///etc/passwd">' in unwrapped and "root:" not in text
    assert "None" not in text  # an empty e-mail or sector is a blank cell to fill in
    assert "Accepts marketing by this channel" in text  # the consent wording, exactly as recorded
    assert "1 / 1" in pages[0]  # page numbers

    # Many people run over several A4 pages, each page numbered, headings repeated.
    many = CallList.objects.create(
        name="Ruta", assignee=owner, for_date=timezone.localdate(), created_by=manager
    )
    for position in range(40):
        person = customer_create(actor=owner, fields={"first_name": f"Persona{position:02d}"})
        CallListEntry.objects.create(call_list=many, customer=person, position=position)
    content = client.get(
        reverse("pipeline:sheet_pdf"), {"call_list": many.pk, "blank": 0}, HTTP_ACCEPT_LANGUAGE=language
    ).content
    import os

    if os.environ.get("SHEET_PDF_DUMP"):
        Path(os.environ["SHEET_PDF_DUMP"]).write_bytes(content)
    pages = _pdf_pages(content)
    assert len(pages) > 1 and f"1 / {len(pages)}" in pages[0]
    assert "Persona00" in pages[0] and "Persona39" in " ".join(pages[1:]) and "Persona39" not in pages[0]
    with translation.override(language):
        heading = "".join(str(field_map("customers")["first_name"].label).split())
        # the column headings on every page with rows
        assert all(heading in "".join(p.split()) for p in pages if "Persona" in p)

    # Someone else's call list, or nonsense: the page with its message, no PDF.
    others = CallList.objects.create(name="Other", assignee=colleague, for_date=timezone.localdate())
    for query in ({"call_list": others.pk}, {"blank": "500"}):
        refused = client.get(reverse("pipeline:sheet_pdf"), query, HTTP_ACCEPT_LANGUAGE=language)
        assert refused.status_code == 400 and refused["Content-Type"].startswith("text/html")
        assert 'class="errors"' in refused.content.decode()
