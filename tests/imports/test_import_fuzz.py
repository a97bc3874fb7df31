"""Property tests: the parsers never crash on arbitrary bytes, and exports never leave a formula."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

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
        # A text cell holding the value as written (issue 11 item 8): never a formula, no apostrophe;
        # only the control characters XLSX cannot hold are dropped (XML reads a carriage return as
        # a line break).
        for value, cell in zip(values, sheet[2], strict=False):
            assert cell.data_type != "f"
            kept = ILLEGAL_CHARACTERS_RE.sub("", value).replace("\r\n", "\n").replace("\r", "\n")
            assert (cell.value or "").replace("\r\n", "\n").replace("\r", "\n") == kept


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


# Plain numbers near the fast path's edges: trunk and international prefixes, country codes (own,
# foreign, without "+"), leading zeros, lengths around the valid ones, separators.
_PHONE_PREFIXES = ["", "0", "00", "+", "+34", "34", "0034", "+351", "+33", "+44", "+1", "1", "+3"]
_PLAIN_PHONES = st.builds(
    lambda prefix, first, rest, sep: prefix + sep + first + sep.join([rest[:2], rest[2:5], rest[5:]]),
    st.sampled_from(_PHONE_PREFIXES),
    st.sampled_from("6789") | st.sampled_from("0123456789"),
    st.from_regex(r"[0-9]{8}", fullmatch=True) | st.from_regex(r"[0-9]{4,11}", fullmatch=True),
    st.sampled_from(["", " ", ".", "-", "  ", "/"]),
)


@settings(max_examples=500, deadline=None)
@given(
    value=_PLAIN_PHONES | st.from_regex(r"[6789][0-9]{8}", fullmatch=True) | st.text(max_size=20),
    region=st.sampled_from(["ES", "PT", "GB", "US", "FR", "DE", "MX", "IT", "AD"]) | st.just("ES"),
)
@example(value="0612345678", region="ES")
@example(value="34612345678", region="ES")
@example(value="0034612345678", region="ES")
@example(value="+34 0612345678", region="ES")
@example(value="+351 912 345 678", region="ES")
@example(value="612 345 678", region="PT")
def test_fast_phone_agrees_with_normalize_phone(value, region):
    from django.core.exceptions import ValidationError

    from cartera.core.contact import normalize_phone
    from cartera.imports.fields import read_phone

    def outcome(read):
        try:
            return read(value.strip(), region)
        except ValidationError as exc:
            return exc.messages

    assert outcome(read_phone) == outcome(normalize_phone)


def test_fast_phone_path_is_taken_for_plain_spanish_numbers(monkeypatch):
    """The shortcut is used (the general parser is not called) and gives phonenumbers' answer."""
    import phonenumbers

    from cartera.imports import fields

    expected = {
        text: phonenumbers.format_number(phonenumbers.parse(text, "ES"), phonenumbers.PhoneNumberFormat.E164)
        for text in ("612345678", "+34 612 34 56 78", "91.123.45.67", "699-123-456")
    }

    def no_parser(*args, **kwargs):
        raise AssertionError("the general parser was called")

    monkeypatch.setattr(fields, "normalize_phone", no_parser)
    assert {text: fields.read_phone(text, "ES") for text in expected} == expected
    with pytest.raises(AssertionError):
        fields.read_phone("612 345", "ES")  # not valid: left to the parser, for its message
