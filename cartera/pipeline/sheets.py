"""Field sheets for prospecting: the columns of a printed prospecting sheet and of the Excel template,
both taken from the customer import's own field table (cartera/imports/fields.py), so that what a rep
writes on paper or in the template is what the import recognises.

The Excel template (:func:`template_workbook`) is headed by the import's labels in the user's
language, has drop-down lists (data validation) for the stage and the source, a non-binding list of
the sectors already in use (sector is free text in Cartera, not a managed list), and a second sheet
of instructions. openpyxl writes it, as it writes the exports.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from cartera.customers.models import Source, Stage
from cartera.imports.fields import field_map

#: The customer-import fields a prospecting sheet asks for, in the order a rep fills them.
SHEET_FIELDS = (
    "first_name", "last_name", "company_name", "phone", "email", "sector", "stage", "source", "notes",
)  # fmt: skip
#: Rows of the template that carry the drop-down lists and text formats.
TEMPLATE_ROWS = 1000


@dataclass(frozen=True)
class SheetColumn:
    key: str
    label: str


def sheet_columns() -> list[SheetColumn]:
    """The sheet's columns with the import's labels, in the active language."""
    fields = field_map("customers")
    return [SheetColumn(key, str(fields[key].label)) for key in SHEET_FIELDS]


def stage_labels() -> list[str]:
    """The stages as the import reads them (each label, in the active language)."""
    return [str(label) for _value, label in Stage.choices]


def source_labels() -> list[str]:
    return [str(label) for _value, label in Source.choices]


def consent_wording() -> str:
    """The consent sentence printed by the sheet's consent box: the one the customer form records."""
    return str(settings.CARTERA_CONSENT_WORDING)


def _list_column(sheet: Worksheet, column: int, title: str, values: Sequence[str]) -> str:
    """Write ``values`` down a column of the hidden lists sheet; the range formula for a validation."""
    letter = get_column_letter(column)
    sheet.cell(row=1, column=column, value=title)
    for row, value in enumerate(values, start=2):
        sheet.cell(row=row, column=column, value=value)
    last = max(2, len(values) + 1)
    return f"{quote_sheetname(sheet.title)}!${letter}$2:${letter}${last}"


def template_workbook(*, sectors: Sequence[str] = ()) -> io.BytesIO:
    """The Excel template: the prospects sheet (headers, drop-downs), the instructions, the lists."""
    columns = sheet_columns()
    position = {c.key: i for i, c in enumerate(columns, start=1)}
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = _("Prospects")[:31]
    header_font = Font(bold=True, color="FFFFFF")
    header_fill = PatternFill("solid", fgColor="1F4E79")
    for index, column in enumerate(columns, start=1):
        cell = sheet.cell(row=1, column=index, value=column.label)
        cell.font, cell.fill = header_font, header_fill
        cell.alignment = Alignment(vertical="center")
        width = 40 if column.key == "notes" else 28 if column.key == "email" else 18
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    # Phone numbers stay text: "+34 600..." must not become a formula or lose its leading zero.
    phone = get_column_letter(position["phone"])
    for row in range(2, TEMPLATE_ROWS + 2):
        sheet[f"{phone}{row}"].number_format = "@"

    instructions = book.create_sheet(_("Instructions")[:31])
    lists = book.create_sheet(_("Lists")[:31])
    lists.sheet_state = "hidden"
    stage_range = _list_column(lists, 1, _("Stage"), stage_labels())
    source_range = _list_column(lists, 2, _("Source"), source_labels())
    sector_range = _list_column(lists, 3, _("Sector"), list(sectors))

    def validate(key: str, formula: str, strict: bool, prompt: str) -> None:
        letter = get_column_letter(position[key])
        rule = DataValidation(type="list", formula1=formula, allow_blank=True)
        rule.showErrorMessage = strict
        rule.error = _("Choose a value from the list.")
        rule.errorTitle = {c.key: c.label for c in columns}[key]
        rule.prompt = prompt
        rule.showInputMessage = True
        rule.add(f"{letter}2:{letter}{TEMPLATE_ROWS + 1}")
        sheet.add_data_validation(rule)

    validate("stage", stage_range, True, _("Choose the stage from the list."))
    validate("source", source_range, True, _("Choose how you met this person."))
    if sectors:
        validate("sector", sector_range, False, _("A sector already in use, or type another."))

    lines = [
        _("How to fill in this template"),
        "",
        _("One person per row, on the first sheet. Keep the first row as it is: its headings are the ones "
          "the customer import of Cartera recognises."),
        _("Stage and source: choose from the drop-down list of the cell. Sector: a sector already in use, "
          "or type another."),
        _("Phone: with or without the country prefix (+34 600 111 222). E-mail: one address per cell."),
        _("Consent: the import does not record consent. Record it on the customer's page (Privacy), "
          "with the exact wording the person agreed to:"),
        f"“{consent_wording()}”",
        "",
        _("To import it: Import and export → Import a file → What the file holds: Customers. Say where "
          "the list comes from; a dry run shows what will be created and how well the people fit your "
          "best customers before anything is written."),
        "",
        _("Allowed stages") + ": " + ", ".join(stage_labels()),
        _("Allowed sources") + ": " + ", ".join(source_labels()),
    ]  # fmt: skip
    for row, text in enumerate(lines, start=1):
        cell = instructions.cell(row=row, column=1, value=text)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    instructions["A1"].font = Font(bold=True, size=14)
    instructions.column_dimensions["A"].width = 110

    out = io.BytesIO()
    book.save(out)
    out.seek(0)
    return out


#: The sheet's style sheet for paper (the A4 page, for the browser's
#: printing and for the PDF alike).
SHEET_CSS = Path(__file__).resolve().parent / "static" / "pipeline" / "sheet-print.css"


def sheet_pdf(html: str) -> bytes:
    """The prospecting sheet's HTML (``pipeline/sheet_pdf.html``) as PDF bytes, made by WeasyPrint
    with the sheet's print style sheet.

    Nothing is fetched while rendering (no URL of any scheme is allowed): the page is self-contained,
    and a name or a note typed by someone can never make the server read a file or call an address."""
    from weasyprint import CSS, HTML
    from weasyprint.urls import URLFetcher

    fetcher = URLFetcher(allowed_protocols=())
    document = HTML(string=html, base_url=None, url_fetcher=fetcher, media_type="print")
    pdf: bytes = document.write_pdf(stylesheets=[CSS(filename=str(SHEET_CSS), url_fetcher=fetcher)])
    return pdf
