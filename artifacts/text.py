"""The text analyzer and the query projection, shared by the trainer and the service.

The trainer fits TF-IDF + SVD on per-movie "soups" tokenised by `analyze`; the service
later projects a free-text search query into that same space with `project_text`, using
only the stored vocabulary, idf and SVD components (plain arrays, no scikit-learn
objects). Both sides must therefore tokenise identically, which is why the analyzer
lives here, in the on-disk contract, and not in the trainer (the service never imports
the trainer).

Names and multi-word keywords ("Tom Hanks", "time travel") enter the soup as single
tokens made by `name_token` ("tomhanks", "timetravel") so that a person is one feature
and does not blend into the ordinary words "tom" and "hank". A name token is itself a
plain `[a-z0-9]+` word, so `analyze` handles it like any other word: it becomes one
(stemmed) term, e.g. "tomhanks" -> "tomhank". A typed query such as "tom hanks" is two
words, so `query_terms` joins runs of adjacent query words exactly the way `name_token`
joins a name and, when the joined term exists in the trained vocabulary, uses it in place
of the separate words — the query then hits the name feature, not "tom" and "hank".
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import lru_cache

import numpy as np
from nltk.stem import PorterStemmer
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

MIN_TOKEN_LENGTH = 2        # single letters ("s" of "it's", initials) carry no meaning alone
MAX_NAME_WORDS = 4          # longest run of query words tried as a joined name ("samuel l jackson")
STEM_CACHE_SIZE = 1 << 18   # distinct words seen in a catalog are far fewer than this

_WORD = re.compile(r"[a-z0-9]+")
_STOP_WORDS = frozenset(ENGLISH_STOP_WORDS)
_STEMMER = PorterStemmer()


def fold_ascii(text: str) -> str:
    """Lowercase ASCII form: NFKD splits "é" into "e" + accent, the accent is dropped.

    Characters without an ASCII decomposition (e.g. CJK) disappear; the catalog is English
    and such characters would only make rare, useless features.
    """
    decomposed = unicodedata.normalize("NFKD", text)
    return decomposed.encode("ascii", "ignore").decode("ascii").lower()


def words(text: str) -> list[str]:
    """Every raw `[a-z0-9]+` word of the folded text, stop words and single letters included."""
    return _WORD.findall(fold_ascii(text))


@lru_cache(maxsize=STEM_CACHE_SIZE)
def stem(word: str) -> str:
    """Porter stem of one word, cached: stemming dominates the analyzer's cost."""
    return _STEMMER.stem(word)


def analyze(text: str) -> list[str]:
    """Text -> TF-IDF terms: fold accents, lowercase, word tokens, drop stop words, stem.

    Used as the `analyzer` of the trainer's TfidfVectorizer and by `project_text`.
    """
    return [stem(word) for word in words(text)
            if len(word) >= MIN_TOKEN_LENGTH and word not in _STOP_WORDS]


def name_token(name: str) -> str:
    """A person's name or multi-word keyword as one word: "Tom Hanks" -> "tomhanks".

    Accents are folded and every non-alphanumeric character removed, so the result is a
    single `[a-z0-9]+` word that `analyze` keeps as one term.
    """
    return "".join(words(name))


def name_tokens(names: Iterable[str]) -> str:
    """Space-joined name tokens of several names, ready to append to a soup."""
    return " ".join(token for token in (name_token(n) for n in names) if token)


def query_terms(text: str, vocabulary_index: Mapping[str, int] | None = None) -> list[str]:
    """Terms of a typed query: `analyze(text)`, except that typed names become name terms.

    Runs of MAX_NAME_WORDS..2 adjacent words (longest first) are joined the way
    `name_token` joins a name ("tom hanks" -> "tomhanks" -> term "tomhank"); a run whose
    term is in `vocabulary_index` is replaced by that one term, because the words were
    typed as a name, not as "tom" and "hank". Without a match — or without a
    vocabulary — the result is exactly `analyze(text)`.
    """
    raw = words(text)
    consumed = [False] * len(raw)
    names: list[str] = []
    for size in range(MAX_NAME_WORDS, 1, -1) if vocabulary_index else ():
        for start in range(len(raw) - size + 1):
            if any(consumed[start:start + size]):
                continue
            term = stem("".join(raw[start:start + size]))
            if term in vocabulary_index:
                names.append(term)
                consumed[start:start + size] = [True] * size
    plain = [stem(word) for word, used in zip(raw, consumed, strict=True)
             if not used and len(word) >= MIN_TOKEN_LENGTH and word not in _STOP_WORDS]
    return plain + names


def tfidf_row(terms: Iterable[str], vocabulary_index: Mapping[str, int],
              idf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sparse TF-IDF row as (column indices, values), as sklearn's TfidfVectorizer makes it.

    sublinear tf (1 + ln count), times idf, then the row scaled to unit L2 norm; terms
    outside the vocabulary are ignored. An all-unknown text gives an empty row.
    """
    counts = Counter(vocabulary_index[t] for t in terms if t in vocabulary_index)
    if not counts:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    columns = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
    tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
    values = (1.0 + np.log(tf)) * np.asarray(idf, dtype=np.float64)[columns]
    values /= np.linalg.norm(values)
    return columns, values.astype(np.float32)


def project_text(text: str, vocabulary_index: Mapping[str, int], idf: np.ndarray,
                 components: np.ndarray, *, match_names: bool = True) -> np.ndarray:
    """Project free text into the trained SVD space: TF-IDF row @ components.T.

    Reproduces `TruncatedSVD.transform(TfidfVectorizer.transform([text]))` with plain
    arrays (`components` is k×V). With `match_names` (the default, for typed queries)
    the terms come from `query_terms`, so "tom hanks" also hits the "tomhank" name
    feature; with `match_names=False` the terms are exactly `analyze(text)`, identical
    to the fitted pipeline. The result (k,) float32 is not normalised, like sklearn's;
    an unknown or empty text gives the zero vector.
    """
    terms = query_terms(text, vocabulary_index) if match_names else analyze(text)
    columns, values = tfidf_row(terms, vocabulary_index, idf)
    components = np.asarray(components)
    if columns.size == 0:
        return np.zeros(components.shape[0], dtype=np.float32)
    projected = components[:, columns].astype(np.float64) @ values.astype(np.float64)
    return projected.astype(np.float32)
