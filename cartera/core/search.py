"""Index-friendly prefix matching on folded key columns, and the words of an any-word search."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

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


# --- Any-word search -------------------------------------------------------------------------------
#
# Both databases index the words of a row themselves (SQLite FTS5, PostgreSQL tsvector), so the
# query must be cut into words the way their tokenizers cut the indexed text, and folded the way
# the index folds it. One table of foldings serves the query (here) and PostgreSQL's index
# expression (a ``translate()`` written by the migration that creates it), so the two cannot differ.


def _fold_table() -> tuple[str, str]:
    """(from, to): every Latin letter with a diacritic, upper or lower case, to its plain lower case."""
    sources, targets = [], []
    for code in range(0xC0, 0x250):
        char = chr(code)
        plain = unicodedata.normalize("NFKD", char.lower())
        plain = "".join(c for c in plain if not unicodedata.combining(c))
        if char.isalpha() and len(plain) == 1 and plain != char:
            sources.append(char)
            targets.append(plain)
    # Separators PostgreSQL's parser would otherwise keep inside one token (an e-mail, a host name).
    for char in "@._":
        sources.append(char)
        targets.append(" ")
    return "".join(sources), "".join(targets)


FOLD_FROM, FOLD_TO = _fold_table()
_FOLD = str.maketrans(FOLD_FROM, FOLD_TO)
_WORD = re.compile(r"[^\W_]+")
# Words of a query that are searched (a pasted paragraph stays cheap).
MAX_WORDS = 8


def search_words(query: str) -> list[str]:
    """The words of ``query``, lower case and accent-free, as the full-text indexes hold them.

    Only letters and digits survive, so quotes, ``*``, parentheses or ``:`` typed by a user can never
    reach the full-text query syntax. ``AND`` or ``NEAR`` come back as plain words, searched as
    such ("and"), because every word is quoted when the query is written.
    """
    folded = unicodedata.normalize("NFC", query).lower().translate(_FOLD)
    words: list[str] = []
    for word in _WORD.findall(folded):
        if word not in words:
            words.append(word)
    return words[:MAX_WORDS]


def fts5_prefix_query(words: Sequence[str]) -> str:
    """An FTS5 MATCH expression: every word, as a quoted prefix ("dolores"* AND "bermejo"*)."""
    return " AND ".join('"{}"*'.format(word.replace('"', '""')) for word in words)


def tsquery_prefix_query(words: Sequence[str]) -> str:
    """A ``to_tsquery`` text: every word, as a quoted prefix ('dolores':* & 'bermejo':*)."""
    return " & ".join("'{}':*".format(word.replace("'", "''").replace("\\", "\\\\")) for word in words)
