"""Migration operations the project's migrations share."""

from __future__ import annotations

from django.db import migrations


def index_dropped_in_place(
    *alterations: migrations.AlterField, indexes: dict[str, str]
) -> migrations.SeparateDatabaseAndState:
    """Fields that lose their own index (``db_index=False``): the ``alterations`` go to the migration
    state, and the database only runs ``DROP INDEX`` for each of ``indexes`` (name -> the ``CREATE
    INDEX`` that brings it back when the migration is reversed).

    Applied as plain ``AlterField`` operations, Django rebuilds the whole table on SQLite (a copy into a
    new table), which drops the table's triggers (the customers' search index and stage copy) and
    takes minutes on a big file; dropping the index is all that changes. The names are the ones Django
    gives a field's index, the same on every database (PostgreSQL adds a ``_like`` twin for text).
    """
    return migrations.SeparateDatabaseAndState(
        state_operations=list(alterations),
        database_operations=[
            migrations.RunSQL(
                [f'DROP INDEX IF EXISTS "{name}"' for name in indexes],
                reverse_sql=[sql for sql in indexes.values() if sql],
            )
        ],
    )
