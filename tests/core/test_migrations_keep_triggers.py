"""The database after every migration still has the triggers the project's migrations made.

A migration that rebuilds a table (Django's way of altering a field on SQLite) drops the table's
triggers silently: the customers' search index and the stage copied into their metrics would stop
following the customers. Migrations that only drop an index use ``index_dropped_in_place``."""

from __future__ import annotations

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db

TRIGGERS = {
    "customers_customer": {"customer_stage_to_metrics"}
    | ({"customers_customer_search_insert", "customers_customer_search_update", "customers_customer_search_delete"}
       if connection.vendor == "sqlite" else set()),
    "privacy_auditentry": {"privacy_audit_no_update", "privacy_audit_no_delete"}
    if connection.vendor == "sqlite" else {"privacy_audit_guard"},
}  # fmt: skip


@pytest.mark.parametrize("table", sorted(TRIGGERS))
def test_the_tables_keep_their_triggers(table):
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [table])
        else:
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal", [table]
            )
        found = {name for (name,) in cursor.fetchall()}
    assert TRIGGERS[table] <= found
