"""Reading: every row of a file read and checked (:class:`cartera.imports.rows.RowReader`), in file
order and bounded memory; big files by worker processes, a few batches ahead of the writer."""

from __future__ import annotations

import multiprocessing
import os
import queue as queues
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from django.utils import translation

from cartera.imports.fields import FieldDef
from cartera.imports.parsers import ParseError, Table, open_table
from cartera.imports.rows import CleanRow, RowProblem, RowReader

# Reading a row (email-validator, phonenumbers, dates) costs about as much as writing it, so big files
# are read by worker processes, a few batches ahead of the writer; small files are read in-process.
# Each worker opens the file itself and reads (parses) all of it, but checks only its own batches
# (batch k goes to worker k mod n): the writer then neither parses the file nor sends any cell to a
# worker, and gets back rows ready to plan. Parsing costs a tenth of checking, so parsing n times in n
# processes is cheaper for the writer, which is the bottleneck, than parsing once and shipping cells.
PARALLEL_AFTER_ROWS = 2000  # two batches of the commit
READ_AHEAD = 4
WORKER_TIMEOUT = 5.0

# What a worker sends for a row: number, cells, values, problems (None when fine), folded name keys,
# warnings (None when none).
_ReadRow = tuple[
    int, list[Any], dict[str, Any], list[RowProblem] | None, str, str, str, list[RowProblem] | None
]


def _read_share(
    source: tuple[str, str],
    reading: tuple[str, dict[str, str], dict[str, Any], str, dict[str, FieldDef]],
    after: int,
    share: tuple[int, int, int],
    out: Any,
) -> None:
    """A reading worker: the rows after ``after``, in batches of ``size``; batch k is checked and put on
    ``out`` when k mod ``count`` is ``index``. Ends with ("end", "") or ("error", message)."""
    # Forked from the task worker, this process inherited its signal handlers, among them the
    # worker's "shut down gracefully" on SIGTERM, which would ignore the writer's terminate() and
    # leave it waiting in join() for ever (seen when the database connection was cut mid-import).
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, signal.SIG_DFL)
    kind, columns, options, language, definitions = reading
    index, count, size = share
    translation.activate(language)
    parent = os.getppid()

    def send(message: tuple[str, Any]) -> None:
        # A writer that was killed never takes the rest: stop then, instead of waiting forever.
        while True:
            try:
                out.put(message, timeout=WORKER_TIMEOUT)
                return
            except queues.Full:
                if os.getppid() != parent:
                    # (Not SystemExit: exiting would wait for the queue's buffer to be flushed.)
                    os._exit(1)

    batch: list[_ReadRow] = []
    number_in_batch = batch_number = 0
    try:
        with open_table(Path(source[0]), source[1]) as table:
            reader = RowReader(kind, table.headers, columns, options, definitions)
            mine = index == 0
            for number, raw in table.rows:
                if number <= after:
                    continue
                if mine:
                    row = reader.read(number, raw)
                    batch.append(
                        (
                            number,
                            raw,
                            row.data,
                            row.problems or None,
                            row.first_key,
                            row.last_key,
                            row.context_key,
                            row.warnings or None,
                        )
                    )
                number_in_batch += 1
                if number_in_batch == size:
                    if mine:
                        send(("rows", batch))
                        batch = []
                    batch_number += 1
                    number_in_batch = 0
                    mine = batch_number % count == index
        if batch:
            send(("rows", batch))
        send(("end", ""))
    except ParseError as exc:
        # Every worker stops at the same row; the owner of its batch sends the rows before it first.
        if batch:
            send(("rows", batch))
        send(("error", str(exc)))


def _from_worker(queue: Any, process: Any) -> tuple[str, Any]:
    """The worker's next message; a worker that died (killed, out of memory) is an error, not a hang."""
    while True:
        try:
            return cast(tuple[str, Any], queue.get(timeout=WORKER_TIMEOUT))
        except queues.Empty:
            if not process.is_alive():
                raise RuntimeError(f"a reading worker stopped (exit code {process.exitcode})") from None


def read_rows(
    table: Table,
    kind: str,
    columns: dict[str, str],
    options: dict[str, Any],
    source: tuple[str, str] | None = None,
    batch_size: int = 1000,
) -> Iterator[CleanRow]:
    """Every row of ``table`` read and checked, in file order, in bounded memory. With ``source`` (the
    stored path and the file name) big files are read by worker processes, in batches of ``batch_size``
    rows (the commit's, so that each worker's batch is one of the writer's)."""
    reader = RowReader(kind, table.headers, columns, options)
    cpus = os.cpu_count() or 1
    last = 0
    for seen, (number, raw) in enumerate(table.rows, start=1):
        last = number
        yield reader.read(number, raw)
        # Forking a process that runs other threads (a threaded web server) is unsafe, so only
        # single-threaded processes (the task worker, the CLI) read in parallel.
        if (
            seen >= PARALLEL_AFTER_ROWS
            and source is not None
            and cpus > 1
            and options.get("parallel", True)
            and threading.active_count() == 1
        ):
            break
    else:
        return
    # The writer keeps one core busy, so the readers get the others.
    count = max(1, min(cpus - 1, 4))
    context = multiprocessing.get_context("fork")
    reading = (kind, columns, options, translation.get_language() or "es", reader.definitions)
    workers = []
    try:
        for index in range(count):
            queue = context.Queue(maxsize=READ_AHEAD)
            process = context.Process(
                target=_read_share,
                args=(source, reading, last, (index, count, batch_size), queue),
                daemon=True,
            )
            process.start()
            workers.append((queue, process))
        batch_number = 0
        while True:
            queue, process = workers[batch_number % count]
            what, payload = _from_worker(queue, process)
            if what == "end":
                return
            if what == "error":
                raise ParseError(payload)
            for number, raw, data, problems, first, last_key, context_key, warnings in payload:
                yield CleanRow(
                    number, raw, data, problems or [], first, last_key, context_key, warnings or []
                )
            batch_number += 1
    finally:
        for _queue, process in workers:
            process.terminate()
        for _queue, process in workers:
            process.join(timeout=WORKER_TIMEOUT)
            if process.is_alive():  # never wait for ever on a reader
                process.kill()
                process.join()
