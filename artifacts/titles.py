"""How a caller-typed title is turned into a lookup key, the same way at training and serving.

"Matrix, The (1999)", "the matrix (1999)" and "The Matrix" all meet on the key "the matrix";
the year, when given, is returned separately so it can pick between remakes.
"""

from __future__ import annotations

import re
import unicodedata

_YEAR_SUFFIX = re.compile(r"\s*\((\d{4})(?:\s*[-–]\s*\d{0,4})?\)\s*$")
_TRAILING_ARTICLE = re.compile(r"^(?P<rest>.+),\s*(?P<article>the|a|an|les|la|le|l'|il|das|der|die|el|los|las)$")
_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """Case- and accent-insensitive form: NFKD, drop combining marks, casefold, single spaces."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", stripped.casefold()).strip()


def split_year(title: str) -> tuple[str, int | None]:
    """'Heat (1995)' -> ('Heat', 1995); a title without a trailing year keeps year None."""
    match = _YEAR_SUFFIX.search(title)
    if not match:
        return title.strip(), None
    return title[: match.start()].strip(), int(match.group(1))


def title_key(title: str) -> str:
    """Lookup key of a title without its year: folded, a trailing ', The' moved to the front."""
    key = fold(title)
    match = _TRAILING_ARTICLE.match(key)
    if match:
        article = match.group("article")
        joiner = "" if article.endswith("'") else " "
        key = f"{article}{joiner}{match.group('rest')}"
    return key
