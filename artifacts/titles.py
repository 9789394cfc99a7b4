"""How a caller-typed title is turned into a lookup key, the same way at training and serving.

"Matrix, The (1999)", "the matrix (1999)" and "The Matrix" all meet on the key "the matrix";
the year, when given, is returned separately so it can pick between remakes.
"""

from __future__ import annotations

import re
import unicodedata

_YEAR_SUFFIX = re.compile(r"\s*\((\d{4})(?:\s*[-–]\s*\d{0,4})?\)\s*$")
# Articles MovieLens moves to the end ("Matrix, The", "Dolce Vita, La", "Atalante, L'"): one list,
# used by the trainer for display titles and by the service for title lookups, so both agree.
TITLE_ARTICLES: tuple[str, ...] = (
    "The", "A", "An",                                  # English
    "Les", "Le", "La", "L'", "Une", "Un",              # French
    "Il", "I", "Lo", "Gli", "Una",                     # Italian
    "Das", "Der", "Die",                               # German
    "El", "Los", "Las",                                # Spanish
    "Det", "Den", "De", "En",                          # Scandinavian
    "Da",                                              # slang ("Hip Hop Witch, Da")
)
_KEY_ARTICLES = "|".join(re.escape(a.casefold()) for a in sorted(TITLE_ARTICLES, key=len, reverse=True))
_TRAILING_ARTICLE = re.compile(rf"^(?P<rest>.+),\s*(?P<article>{_KEY_ARTICLES})$")
_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """Case- and accent-insensitive form: NFKD, drop combining marks, casefold, single spaces.

    ASCII text has nothing to decompose or drop, so it skips the per-character pass (Search folds
    every query three or four times).
    """
    if text.isascii():
        stripped = text
    else:
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
