"""The rejected-rows file, written back in the dialect of the file that was uploaded.

A Spanish Excel saves CSV as ``;`` and Windows-1252 and opens a ``,`` / UTF-8 file as one column, so
the file goes back the way it came: same separator; same encoding when it was Windows-1252 (or
Latin-1) and every character fits, else UTF-8 with a BOM (which Excel reads). A spreadsheet upload
gets ``;`` when its numbers use a decimal comma, ``,`` otherwise. The first two columns are the row
number in the uploaded file and why the row was not imported; then the row as it was read, so the
file can be fixed and imported again as it is (the import ignores the two extra columns, and the
apostrophe that keeps a formula-like cell as text is removed when the file is read again).
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterable, Iterator
from typing import Any

from django.utils.translation import gettext as _

from cartera.imports.exporting import neutralize
from cartera.imports.fields import text_of
from cartera.imports.models import ImportJob, ImportRowError, RowOutcome

SINGLE_BYTE = ("cp1252", "latin-1")


class _Echo:
    def write(self, value: str) -> str:
        return value


def dialect_of(job: ImportJob) -> tuple[str, str]:
    """``(delimiter, encoding)`` of the uploaded file as the rejected rows are written back."""
    options = job.options
    delimiter = options.get("delimiter") or (";" if options.get("decimal_comma", True) else ",")
    encoding = options.get("encoding") or ""
    return delimiter, encoding if encoding in SINGLE_BYTE else "utf-8"


def rejected_table(job: ImportJob, notes: Iterable[ImportRowError]) -> Iterator[list[str]]:
    """The file's rows, header first: row number, reason(s), then the cells as uploaded. ``notes``
    come in row order; a row with several problems is one line with all of them."""
    yield [_("Row"), _("Why it was not imported"), *job.headers]
    width = len(job.headers)
    number = 0
    raw: list[str] = []
    reasons: list[str] = []
    for note in notes:
        if note.row_number != number:
            if number:
                yield [str(number), "; ".join(reasons), *raw]
            number, raw, reasons = note.row_number, [], []
        if note.raw and not raw:
            raw = [text_of(v) for v in note.raw[:width]] + [""] * (width - len(note.raw))
        label = note.reason
        if note.outcome != RowOutcome.REJECTED:
            label = f"{note.get_outcome_display()}: {label}"
        elif note.column:
            label = f"{note.column}: {label}"
        if label not in reasons:
            reasons.append(label)
    if number:
        yield [str(number), "; ".join(reasons), *raw]


def _lines(rows: Iterable[list[str]], delimiter: str) -> Iterator[str]:
    writer = csv.writer(_Echo(), delimiter=delimiter)
    for row in rows:
        yield writer.writerow([neutralize(cell) for cell in row])


def _fits(rows: Iterable[list[str]], encoding: str) -> bool:
    for row in rows:
        for cell in row:
            try:
                cell.encode(encoding)
            except UnicodeEncodeError:
                return False
    return True


def rejected_file(job: ImportJob, notes: Any) -> tuple[Iterator[bytes], str]:
    """The bytes of the rejected-rows file and its charset. ``notes`` is a queryset read twice: once
    to see whether every character fits the upload's single-byte encoding, once to write."""
    delimiter, encoding = dialect_of(job)
    if encoding in SINGLE_BYTE and not _fits(rejected_table(job, notes.iterator()), encoding):
        encoding = "utf-8"

    def stream() -> Iterator[bytes]:
        if encoding == "utf-8":
            yield codecs.BOM_UTF8
        for line in _lines(rejected_table(job, notes.iterator()), delimiter):
            yield line.encode(encoding)

    return stream(), "windows-1252" if encoding == "cp1252" else encoding
