"""Index-friendly prefix matching on folded key columns."""

from __future__ import annotations

from django.db import connection
from django.db.models import Q

# The highest code point: every string that starts with ``term`` sorts below ``term + _TOP``
# in SQLite's byte-wise (BINARY) collation.
_TOP = "\U0010ffff"


def prefix_q(field: str, term: str) -> Q:
    """``field`` starts with ``term``, written so that the column's B-tree index is used.

    SQLite only uses an index for ``LIKE 'x%'`` on NOCASE columns, so there the prefix becomes a
    range. PostgreSQL uses ``LIKE 'x%'`` with the ``text_pattern_ops`` index, and a range would be
    wrong there under a linguistic collation.
    """
    if connection.vendor == "sqlite":
        return Q(**{f"{field}__gte": term, f"{field}__lt": term + _TOP})
    return Q(**{f"{field}__startswith": term})
