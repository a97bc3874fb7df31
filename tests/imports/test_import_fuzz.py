"""Property tests: the parsers never crash on arbitrary bytes, and exports never leave a formula."""

from __future__ import annotations

import csv
import io

import openpyxl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cartera.imports.exporting import FORMULA_STARTS, csv_stream, neutralize, xlsx_file
from cartera.imports.parsers import ParseError, open_table

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FAST
@given(data=st.binary(max_size=2000), name=st.sampled_from(["a.csv", "a.xlsx", "a.ods", "a.vcf", "a.txt"]))
def test_parsers_never_crash(tmp_path_factory, data, name):
    path = tmp_path_factory.mktemp("fuzz") / name
    path.write_bytes(data)
    try:
        with open_table(path, name) as table:
            for _row in table.rows:
                pass
    except ParseError as exc:
        assert str(exc)


@FAST
@given(
    st.lists(st.text(max_size=30), min_size=1, max_size=6),
    st.sampled_from(["\n", "\r\n"]),
    st.sampled_from([",", ";", "\t"]),
)
def test_csv_text_never_crashes(tmp_path_factory, cells, newline, delimiter):
    path = tmp_path_factory.mktemp("fuzz") / "a.csv"
    path.write_text(
        "Nombre" + delimiter + "Email" + newline + delimiter.join(cells) + newline, encoding="utf-8"
    )
    try:
        with open_table(path) as table:
            list(table.rows)
    except ParseError:
        pass


formula_like = st.text(max_size=20).map(lambda s: s) | st.sampled_from(FORMULA_STARTS).flatmap(
    lambda start: st.text(max_size=20).map(lambda rest: start + rest)
)


@FAST
@given(st.lists(formula_like, min_size=1, max_size=5))
def test_exports_neutralise_formulas(values):
    for value in values:
        assert not str(neutralize(value)).startswith(FORMULA_STARTS)
    body = b"".join(csv_stream(["a"] * len(values), [values])).decode("utf-8-sig")
    (_header, row) = list(csv.reader(io.StringIO(body)))
    assert all(not cell.startswith(FORMULA_STARTS) for cell in row)
    with xlsx_file(["a"] * len(values), [values]) as handle:
        sheet = openpyxl.load_workbook(handle).active
        for cell in sheet[2]:
            assert cell.data_type != "f"
            assert not str(cell.value or "").startswith(FORMULA_STARTS)


def test_zip_bomb_is_refused(tmp_path):
    import zipfile

    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * (50 * 1024 * 1024))
    try:
        open_table(path, "bomb.xlsx")
    except ParseError as exc:
        assert "expands" in str(exc) or "demasiad" in str(exc)
    else:
        raise AssertionError("a zip bomb was opened")


def test_xlsx_ods_and_vcard(tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Nombre", "Teléfono", "Fecha de nacimiento"])
    sheet.append(["Ana", 612345678, __import__("datetime").date(1980, 1, 2)])
    workbook.save(tmp_path / "a.xlsx")
    with open_table(tmp_path / "a.xlsx") as table:
        assert table.headers == ["Nombre", "Teléfono", "Fecha de nacimiento"]
        assert list(table.rows)[0][1][1] == 612345678
    (tmp_path / "c.vcf").write_text(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ana Ruiz\r\nN:Ruiz;Ana;;;\r\nEMAIL:ana@example.es\r\nTEL;TYPE=CELL:600111222\r\nEND:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bo\r\nN:;Bo;;;\r\nORG:Acme\r\nEND:VCARD\r\n"
    )
    with open_table(tmp_path / "c.vcf") as table:
        rows = [dict(zip(table.headers, r, strict=True)) for _n, r in table.rows]
    assert rows[0]["N.given"] == "Ana" and rows[0]["TEL.cell"] == "600111222" and rows[1]["ORG"] == "Acme"


@FAST
@given(
    st.from_regex(r"[A-Za-z0-9._%+!#-]{1,20}@[A-Za-z0-9-]{1,12}(\.[A-Za-z]{2,6}){1,2}", fullmatch=True)
    | st.text(max_size=40)
)
def test_fast_email_agrees_with_normalize_email(value):
    from django.core.exceptions import ValidationError

    from cartera.core.contact import normalize_email
    from cartera.imports.fields import read_email

    try:
        expected = normalize_email(value.strip())
    except ValidationError:
        expected = "invalid"
    try:
        got = read_email(value.strip()) if value.strip() else None
    except ValidationError:
        got = "invalid"
    assert got == expected
