"""Text helpers shared by search, de-duplication and imports."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")


def fold(text: str | None) -> str:
    """Lower-case, accent-free, single-spaced form of ``text`` used as a search key.

    "José Ángel  Muñoz" and "jose angel munoz" fold to the same key, so people find a customer
    however they type the name.
    """
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", stripped.casefold()).strip()
