"""Reading the files people bring: CSV in any usual dialect and encoding, XLSX, ODS and vCard.

Every reader yields rows one at a time (``(row_number, values)``, row numbers as a spreadsheet shows
them: the header is row 1), so a million-row CSV is read in constant memory. Anything that cannot be
read raises :class:`ParseError` with a message for the user, in their language; nothing else escapes.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import io
import zipfile
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.utils.translation import gettext as _

SAMPLE_BYTES = 256 * 1024
MAX_LINE_CHARS = 1024 * 1024
MAX_FIELD_CHARS = 100_000
MAX_COLUMNS = 500
MAX_ROWS = 2_000_000
# Spreadsheets are zip files: refuse archives that would inflate beyond this or by an absurd ratio.
MAX_UNCOMPRESSED_BYTES = 512 * 1024 * 1024
MAX_COMPRESSION_RATIO = 200
MAX_VCARD_BYTES = 20 * 1024 * 1024

VCARD_HEADERS = [
    "FN", "N.given", "N.family", "EMAIL", "TEL", "TEL.cell", "ORG", "TITLE", "ADR.street", "ADR.city",
    "ADR.region", "ADR.code", "ADR.country", "BDAY", "NOTE", "UID",
]  # fmt: skip


class ParseError(Exception):
    """The file cannot be read; ``str(error)`` is a message for the person who uploaded it."""


@dataclass
class Table:
    """A file read as a header and a stream of rows."""

    headers: list[str]
    rows: Iterator[tuple[int, list[Any]]]
    file_format: str
    encoding: str = ""
    delimiter: str = ""
    _closers: list[IO[Any]] = field(default_factory=list, repr=False)

    def close(self) -> None:
        for handle in self._closers:
            with suppress(Exception):
                handle.close()

    def __enter__(self) -> Table:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def detect_format(path: Path, file_name: str = "") -> str:
    """``csv``, ``xlsx``, ``ods`` or ``vcard``, from the content first and the name second."""
    with path.open("rb") as handle:
        head = handle.read(SAMPLE_BYTES)
    if not head.strip():
        raise ParseError(_("The file is empty."))
    name = (file_name or path.name).lower()
    if head.startswith(b"PK\x03\x04"):
        if name.endswith(".ods"):
            return "ods"
        with suppress(Exception), zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "mimetype" in names and b"opendocument.spreadsheet" in archive.read("mimetype"):
                return "ods"
        return "xlsx"
    if head[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise ParseError(_("This is an old Excel (.xls) file; save it as .xlsx or CSV and try again."))
    text_head = head.lstrip(codecs.BOM_UTF8).lstrip()
    if text_head[:11].upper() == b"BEGIN:VCARD" or name.endswith(".vcf"):
        return "vcard"
    if name.endswith((".xlsx", ".ods")):
        raise ParseError(_("The file is damaged or is not a spreadsheet."))
    return "csv"


def open_table(path: Path, file_name: str = "", *, max_rows: int = MAX_ROWS) -> Table:
    """Open ``path`` as a table; the caller closes it (it is a context manager)."""
    kind = detect_format(path, file_name)
    if kind == "csv":
        table = _open_csv(path)
    elif kind in ("xlsx", "ods"):
        table = _open_spreadsheet(path, kind)
    else:
        table = _open_vcard(path)
    table.headers = _clean_headers(table.headers)
    table.rows = _limit(table.rows, max_rows)
    return table


def _limit(rows: Iterator[tuple[int, list[Any]]], max_rows: int) -> Iterator[tuple[int, list[Any]]]:
    for count, row in enumerate(rows, start=1):
        if count > max_rows:
            raise ParseError(
                _("The file has more than %(n)s rows; split it into smaller files.") % {"n": max_rows}
            )
        yield row


def _clean_headers(headers: list[Any]) -> list[str]:
    names = [("" if h is None else str(h)).strip().lstrip("\ufeff") for h in headers]
    while names and not names[-1]:
        names.pop()
    if not names or not any(names):
        raise ParseError(_("The first row is empty: the file needs a row with the column names."))
    if len(names) > MAX_COLUMNS:
        raise ParseError(_("The file has more than %(n)s columns.") % {"n": MAX_COLUMNS})
    if _looks_like_data(names):
        raise ParseError(
            _("The first row looks like data, not column names; add a header row and try again.")
        )
    seen: dict[str, int] = {}
    result = []
    for index, name in enumerate(names, start=1):
        name = name or _("Column %(n)s") % {"n": index}
        if name in seen:
            seen[name] += 1
            name = f"{name} ({seen[name]})"
        else:
            seen[name] = 1
        result.append(name[:255])
    return result


def _looks_like_data(names: list[str]) -> bool:
    """A header of column names has no email addresses and is not mostly numbers or dates."""
    filled = [n for n in names if n]
    if any("@" in n and "." in n.split("@")[-1] for n in filled):
        return True
    numeric = sum(1 for n in filled if sum(ch.isdigit() for ch in n) >= max(3, len(n) // 2))
    return numeric * 2 > len(filled)


# --- CSV ----------------------------------------------------------------------------------------------


def sniff_encoding(sample: bytes, complete: bool) -> str:
    """UTF-8 (with or without BOM) when the bytes are UTF-8; otherwise what charset-normalizer finds,
    narrowed to the encodings Spanish spreadsheets are written in."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        # A sample cut in the middle of a character is still UTF-8.
        if not complete and exc.start >= len(sample) - 3:
            with suppress(UnicodeDecodeError):
                sample[: exc.start].decode("utf-8")
                return "utf-8"
    from charset_normalizer import from_bytes

    best = from_bytes(sample[:65536]).best()
    guess = (best.encoding if best else "cp1252").lower().replace("_", "-")
    if guess in {"utf-8", "ascii"}:
        return "utf-8"
    # Spanish Excel writes Windows-1252; Latin-1 decodes any byte, so it is the last resort.
    for candidate in ("cp1252", "latin-1"):
        with suppress(UnicodeDecodeError):
            sample.decode(candidate)
            return candidate
    return "latin-1"


def _open_csv(path: Path) -> Table:
    size = path.stat().st_size
    with path.open("rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    if b"\x00" in sample and not sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ParseError(_("This is not a text or spreadsheet file (it contains binary data)."))
    encoding = sniff_encoding(sample, complete=size <= len(sample))
    text_sample = sample.decode(encoding, errors="replace")
    first_line = text_sample.split("\n", 1)[0]
    if "\n" not in text_sample and size > len(sample):
        raise ParseError(
            _("The first line is longer than %(n)s KB; this is not a spreadsheet export.")
            % {"n": SAMPLE_BYTES // 1024}
        )
    delimiter = max((";", ",", "\t", "|"), key=lambda d: first_line.count(d))
    if first_line.count(delimiter) == 0:
        delimiter = ","
    raw = path.open("rb")
    stream = io.TextIOWrapper(raw, encoding=encoding, errors="strict", newline="")
    reader = csv.reader(_bounded_lines(stream), delimiter=delimiter, quotechar='"', strict=False)
    try:
        headers = next(reader)
    except StopIteration as exc:
        stream.close()
        raise ParseError(_("The file is empty.")) from exc
    except (csv.Error, UnicodeDecodeError) as exc:
        stream.close()
        raise ParseError(_("The file cannot be read as text: %(error)s") % {"error": exc}) from exc

    def rows() -> Iterator[tuple[int, list[Any]]]:
        number = 1
        try:
            for values in reader:
                number += 1
                if not values or not "".join(values).strip():
                    continue
                yield number, values
        except UnicodeDecodeError as exc:
            raise ParseError(
                _("Row %(row)s is not in the file's encoding (%(encoding)s); save the file as UTF-8.")
                % {"row": number + 1, "encoding": encoding}
            ) from exc
        except csv.Error as exc:
            raise ParseError(
                _("Row %(row)s cannot be read: %(error)s") % {"row": number + 1, "error": exc}
            ) from exc

    return Table(headers, rows(), "csv", encoding, delimiter, [stream])


def _bounded_lines(stream: IO[str]) -> Iterator[str]:
    """Lines of at most ``MAX_LINE_CHARS`` characters: a 50 MB line is refused, not swallowed."""
    while True:
        line = stream.readline(MAX_LINE_CHARS + 1)
        if not line:
            return
        if len(line) > MAX_LINE_CHARS:
            raise csv.Error(_("a line is longer than %(n)s characters") % {"n": MAX_LINE_CHARS})
        yield line


csv.field_size_limit(MAX_FIELD_CHARS)


# --- XLSX and ODS ----------------------------------------------------------------------------------------


def _check_archive(path: Path) -> None:
    """Refuse zip bombs and damaged archives before a spreadsheet library inflates anything."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            total = sum(info.file_size for info in infos)
            packed = sum(info.compress_size for info in infos) or 1
            bad = archive.testzip() if path.stat().st_size < 5 * 1024 * 1024 else None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise ParseError(_("The spreadsheet is damaged or incomplete; save it again and retry.")) from exc
    if bad is not None:
        raise ParseError(_("The spreadsheet is damaged or incomplete; save it again and retry."))
    if total > MAX_UNCOMPRESSED_BYTES or total / packed > MAX_COMPRESSION_RATIO:
        raise ParseError(_("The spreadsheet expands to too much data to import safely."))


def _cell(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    if isinstance(value, datetime.datetime) and value.time() == datetime.time(0):
        return value.date()
    return value


def _open_spreadsheet(path: Path, kind: str) -> Table:
    _check_archive(path)
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_path(str(path))
        if not workbook.sheet_names:
            raise ParseError(_("The spreadsheet has no sheets."))
        sheet = workbook.get_sheet_by_index(0)
        if sheet.total_height > MAX_ROWS:
            raise ParseError(
                _("The file has more than %(n)s rows; split it into smaller files.") % {"n": MAX_ROWS}
            )
        iterator = iter(sheet.iter_rows())
        headers: list[Any] = []
        for values in iterator:
            if any(v not in ("", None) for v in values):
                headers = list(values)
                break
    except ParseError:
        raise
    except Exception as exc:  # calamine raises its own error types for every kind of damage
        raise ParseError(_("The spreadsheet is damaged or incomplete; save it again and retry.")) from exc
    if not headers:
        raise ParseError(_("The file is empty."))
    header_row = sheet.start[0] + 1 if sheet.start else 1

    def rows() -> Iterator[tuple[int, list[Any]]]:
        number = header_row
        try:
            for values in iterator:
                number += 1
                if any(v not in ("", None) for v in values):
                    yield number, [_cell(v) for v in values]
        except Exception as exc:
            raise ParseError(_("Row %(row)s of the spreadsheet cannot be read.") % {"row": number}) from exc

    return Table(headers, rows(), kind)


# --- vCard ------------------------------------------------------------------------------------------------


def _open_vcard(path: Path) -> Table:
    if path.stat().st_size > MAX_VCARD_BYTES:
        raise ParseError(_("The contacts file is larger than %(n)s MB.") % {"n": MAX_VCARD_BYTES // 2**20})
    data = path.read_bytes()
    if b"\x00" in data[:SAMPLE_BYTES]:
        raise ParseError(_("This is not a text or spreadsheet file (it contains binary data)."))
    text = data.decode(sniff_encoding(data, complete=True), errors="replace")
    if "BEGIN:VCARD" not in text.upper():
        raise ParseError(_("No contact (BEGIN:VCARD) was found in the file."))
    import vobject

    try:
        cards = list(vobject.readComponents(text, ignoreUnreadable=True))
    except Exception as exc:  # vobject signals damage with many exception types
        raise ParseError(_("The contacts file is damaged: %(error)s") % {"error": str(exc)[:200]}) from exc

    def rows() -> Iterator[tuple[int, list[Any]]]:
        for number, card in enumerate(cards, start=2):
            if getattr(card, "name", "").upper() != "VCARD":
                continue
            yield number, _vcard_row(card)

    return Table(list(VCARD_HEADERS), rows(), "vcard", "utf-8")


def _vcard_row(card: Any) -> list[Any]:
    contents: dict[str, list[Any]] = getattr(card, "contents", {})

    def first(key: str) -> Any:
        items = contents.get(key) or []
        return items[0].value if items else ""

    def text(value: Any) -> str:
        if isinstance(value, list):
            return ", ".join(str(v) for v in value if v)
        return str(value or "").strip()

    name = first("n")
    tels = contents.get("tel") or []
    cell = next((t.value for t in tels if "CELL" in [p.upper() for p in t.params.get("TYPE", [])]), "")
    other = next((t.value for t in tels if t.value != cell), "")
    adr = first("adr")
    org = first("org")
    values = {
        "FN": text(first("fn")),
        "N.given": text(getattr(name, "given", "")),
        "N.family": text(getattr(name, "family", "")),
        "EMAIL": text(first("email")),
        "TEL": text(other),
        "TEL.cell": text(cell),
        "ORG": text(org[0] if isinstance(org, list) and org else org),
        "TITLE": text(first("title")),
        "ADR.street": text(getattr(adr, "street", "")),
        "ADR.city": text(getattr(adr, "city", "")),
        "ADR.region": text(getattr(adr, "region", "")),
        "ADR.code": text(getattr(adr, "code", "")),
        "ADR.country": text(getattr(adr, "country", "")),
        "BDAY": text(first("bday")),
        "NOTE": text(first("note")),
        "UID": text(first("uid")),
    }
    return [values[h] for h in VCARD_HEADERS]


def count_rows(path: Path, file_name: str = "") -> int:
    """How many data rows the file has (a quick pass, for progress bars)."""
    with open_table(path, file_name) as table:
        return sum(1 for _ in table.rows)
