"""Plain-text handling shared by compliance, flows and broadcasts.

`normalize` makes matching forgiving: case, accents, punctuation and emoji
do not matter ("¡¡ALTO!!" and "alto" are the same word).
"""

from __future__ import annotations

import re
import unicodedata

_NON_WORD = re.compile(r"[^a-z0-9 ]+")
_SPACES = re.compile(r"\s+")


def strip_accents(text: str) -> str:
    """Remove combining marks: "dónde" -> "donde", "ñ" -> "n"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def normalize(text: str) -> str:
    """Lower-case, drop accents, punctuation and emoji, collapse spaces."""
    text = strip_accents(text or "").lower()
    text = _NON_WORD.sub(" ", text)
    return _SPACES.sub(" ", text).strip()
