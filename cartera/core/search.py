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
# query is cut into words the way their tokenizers cut the indexed text, and folded the way the
# index folds it: SQLite's unicode61 tokenizer drops accents and lowers case on both sides;
# PostgreSQL's index folds with unaccent(), which also spells out a few letters that have no
# accent to drop (æ, ø, ł...), so the query does the same for PostgreSQL.

_WORD = re.compile(r"[^\W_]+")
# Letters unaccent() rewrites that Unicode does not decompose (its unaccent.rules).
_UNACCENT_EXTRA = str.maketrans(
    {"æ": "ae", "ø": "o", "ł": "l", "đ": "d", "œ": "oe", "þ": "th", "ð": "d", "ß": "ss", "ħ": "h", "ı": "i"}
)
# Words of a query that are searched (a pasted paragraph stays cheap).
MAX_WORDS = 8


def search_words(query: str) -> list[str]:
    """The words of ``query``, lower case and accent-free, as the full-text indexes hold them.

    Only letters and digits survive, so quotes, ``*``, parentheses or ``:`` typed by a user can never
    reach the full-text query syntax. ``AND`` or ``NEAR`` come back as plain words, searched as
    such ("and"), because every word is quoted when the query is written.
    """
    decomposed = unicodedata.normalize("NFKD", query.lower())
    folded = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
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
    quoted = (word.translate(_UNACCENT_EXTRA).replace("\\", "\\\\").replace("'", "''") for word in words)
    return " & ".join(f"'{word}':*" for word in quoted)
