"""XLSX exports hold user text as text cells: no apostrophe added, nothing a spreadsheet runs as a
formula, the same value when read back (issue 11, item 8). CSV keeps the OWASP apostrophe."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from cartera.customers.services import customer_create
from cartera.imports import exporting, parsers

pytestmark = pytest.mark.django_db

TRICKY = ['=HYPERLINK("http://x.example","clic")', "+34600111222", "-5", "@x", "=1+1", "normal"]


def _write(tmp_path, header, rows):
    path = tmp_path / "out.xlsx"
    with exporting.xlsx_file(header, rows) as handle:
        path.write_bytes(handle.read())
    return path


def test_text_cells_read_back_identical_and_never_formulas(tmp_path):
    path = _write(tmp_path, ["=Cabecera", "Texto"], [[value, value] for value in TRICKY])

    sheet = load_workbook(path).active
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert all(cell.data_type == "s" for cell in cells), [(c.coordinate, c.data_type) for c in cells]
    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == TRICKY
    assert sheet["A1"].value == "=Cabecera"

    # Our own import reads the same values back.
    with parsers.open_table(path, "out.xlsx") as table:
        assert table.headers[0] == "=Cabecera"
        assert [cells[1] for _, cells in table.rows] == TRICKY


def test_numbers_and_dates_stay_typed(tmp_path):
    import datetime
    from decimal import Decimal

    path = _write(tmp_path, ["n", "d"], [[Decimal("12.50"), datetime.date(2026, 1, 2)]])
    sheet = load_workbook(path).active
    assert sheet["A2"].data_type == "n" and sheet["A2"].value == 12.5
    assert sheet["B2"].value == datetime.datetime(2026, 1, 2)


def test_customer_export_keeps_e164_phone_and_formula_like_names(manager, owner, export_through_worker):
    customer_create(
        actor=owner,
        fields={"first_name": '=HYPERLINK("http://x")', "last_name": "@x", "phone": "+447911123456"},
    )
    client = Client()
    client.force_login(manager)
    content = export_through_worker(
        client, reverse("imports:export_customers", args=["xlsx"]), headers={"accept-language": "en"}
    )
    sheet = load_workbook(io.BytesIO(content)).active
    header = [c.value for c in sheet[1]]
    row = dict(zip(header, sheet[2], strict=True))
    assert row["First name"].value == '=HYPERLINK("http://x")' and row["First name"].data_type == "s"
    assert row["Last name"].value == "@x"
    assert row["Phone"].value.startswith("+44") and "'" not in row["Phone"].value
    assert not any(c.data_type == "f" for r in sheet.iter_rows() for c in r)

    # CSV keeps the OWASP rule: a leading apostrophe before anything that starts like a formula.
    csv_text = b"".join(
        client.get(reverse("imports:export_customers", args=["csv"])).streaming_content
    ).decode("utf-8-sig")
    assert "'=HYPERLINK" in csv_text and "'@x" in csv_text
