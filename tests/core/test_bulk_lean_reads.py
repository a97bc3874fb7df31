"""``core.bulk.lean_reads``: SQLite sorts spill to disk during a big read, and the settings come back."""

import pytest
from django.db import connection, transaction

from cartera.core.bulk import lean_reads


def _pragma(name: str) -> int | None:
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA {name}")
        row = cursor.fetchone()
    return None if row is None else int(row[0])


@pytest.mark.django_db(transaction=True)
def test_lean_reads_spills_sorts_to_disk_and_puts_the_settings_back(settings):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's connection settings")
    settings.CARTERA_BULK_PLAIN = False  # the fast path first, also in the plain-twin run
    before = (_pragma("temp_store"), _pragma("mmap_size"))
    assert before[0] == 2  # the project's connection keeps temporary sorts in memory
    with lean_reads():
        assert _pragma("temp_store") == 1
        assert _pragma("mmap_size") in (0, None)  # an in-memory test database maps nothing
    assert (_pragma("temp_store"), _pragma("mmap_size")) == before
    # Inside a transaction SQLite refuses the change: the block runs with the settings as they are.
    with transaction.atomic(), lean_reads():
        assert _pragma("temp_store") == 2
    # The plain twin changes nothing.
    settings.CARTERA_BULK_PLAIN = True
    with lean_reads():
        assert _pragma("temp_store") == 2
