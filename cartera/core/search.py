"""Index-friendly prefix matching on folded key columns, and the words of an any-word search."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Container, Sequence

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


def tsquery_words(words: Sequence[str]) -> list[str]:
    """``words`` as PostgreSQL's index holds them (``unaccent`` also folds "ß", "æ"...)."""
    return [word.translate(_UNACCENT_EXTRA) for word in words]


def tsquery_prefix_query(words: Sequence[str]) -> str:
    """A ``to_tsquery`` text: every word, as a quoted prefix ('dolores':* & 'bermejo':*)."""
    quoted = (word.replace("\\", "\\\\").replace("'", "''") for word in tsquery_words(words))
    return " & ".join(f"'{word}':*" for word in quoted)


# --- One-letter typos ------------------------------------------------------------------------------
#
# When a search finds nothing, each word of four letters or more is tried again as the words one
# edit away from it (a letter changed, added, dropped, or two swapped: Damerau-Levenshtein 1). The
# variants are exact words looked up in the same full-text index, so the cost is a few hundred
# index probes whatever the size of the portfolio, and no second index has to be kept.

_ALPHABET = "abcdefghijklmnopqrstuvwxyz"
TYPO_MIN_LENGTH = 4


def one_edit_variants(word: str) -> list[str]:
    """The words one edit away from ``word`` (letters a-z; the word itself excluded), sorted."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    variants = {a + b[1:] for a, b in splits if b}
    variants |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    variants |= {a + c + b[1:] for a, b in splits if b for c in _ALPHABET}
    variants |= {a + c + b for a, b in splits for c in _ALPHABET}
    variants.discard(word)
    return sorted(v for v in variants if len(v) >= TYPO_MIN_LENGTH - 1)


def typo_queries(
    words: Sequence[str], known: Container[str] | None = None
) -> list[tuple[list[str], int, list[str]]]:
    """For each word long enough to carry a typo: (the other words, its position, its variants).

    ``known``: keep only the variants found there (the words the index holds, see
    ``customers.selectors.indexed_words``), and drop a word none of whose variants is known.
    """
    queries = []
    for i, word in enumerate(words):
        if len(word) < TYPO_MIN_LENGTH or not word.isalpha():
            continue
        variants = one_edit_variants(word)
        if known is not None:
            variants = [v for v in variants if v in known]
            if not variants:
                continue
        queries.append(([w for j, w in enumerate(words) if j != i], i, variants))
    return queries


def fts5_typo_query(words: Sequence[str], known: Container[str] | None = None) -> str:
    """An FTS5 MATCH expression finding ``words`` with one of them mistyped by one letter: the others
    as prefixes, the mistyped one as any of its variants (exact words; only the ``known`` ones when
    given, see :func:`typo_queries`). Empty when no variant is left."""
    alternatives = []
    for others, _i, variants in typo_queries(words, known):
        exact = " OR ".join(f'"{v}"' for v in variants)
        alternatives.append(" AND ".join([*(f'"{w}"*' for w in others), f"({exact})"]))
    return " OR ".join(f"({a})" for a in alternatives)


def tsquery_typo_query(words: Sequence[str], known: Container[str] | None = None) -> str:
    """The ``to_tsquery`` text of :func:`fts5_typo_query`."""
    alternatives = []
    for others, _i, variants in typo_queries(tsquery_words(words), known):
        exact = " | ".join(f"'{v}'" for v in variants)
        prefixes = [f"'{w}':*" for w in others]
        alternatives.append(" & ".join([*prefixes, f"({exact})"]))
    return " | ".join(f"({a})" for a in alternatives)
