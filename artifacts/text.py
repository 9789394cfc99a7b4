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
from typing import Any

import numpy as np

MIN_TOKEN_LENGTH = 2        # single letters ("s" of "it's", initials) carry no meaning alone
MAX_NAME_WORDS = 4          # longest run of query words tried as a joined name ("samuel l jackson")
STEM_CACHE_SIZE = 1 << 18   # distinct words seen in a catalog are far fewer than this

# scikit-learn's ENGLISH_STOP_WORDS (318 words), kept here so the service need not import
# scikit-learn; tests/unit/test_text.py asserts it still equals sklearn's list.
ENGLISH_STOP_WORDS = frozenset("""
a about above across after afterwards again against all almost alone along already
also although always am among amongst amoungst amount an and another any anyhow
anyone anything anyway anywhere are around as at back be became because become
becomes becoming been before beforehand behind being below beside besides between
beyond bill both bottom but by call can cannot cant co con could couldnt cry de
describe detail do done down due during each eg eight either eleven else elsewhere
empty enough etc even ever every everyone everything everywhere except few fifteen
fifty fill find fire first five for former formerly forty found four from front full
further get give go had has hasnt have he hence her here hereafter hereby herein
hereupon hers herself him himself his how however hundred i ie if in inc indeed
interest into is it its itself keep last latter latterly least less ltd made many
may me meanwhile might mill mine more moreover most mostly move much must my myself
name namely neither never nevertheless next nine no nobody none noone nor not
nothing now nowhere of off often on once one only onto or other others otherwise our
ours ourselves out over own part per perhaps please put rather re same see seem
seemed seeming seems serious several she should show side since sincere six sixty so
some somehow someone something sometime sometimes somewhere still such system take
ten than that the their them themselves then thence there thereafter thereby
therefore therein thereupon these they thick thin third this those though three
through throughout thru thus to together too top toward towards twelve twenty two un
under until up upon us very via was we well were what whatever when whence whenever
where whereafter whereas whereby wherein whereupon wherever whether which while
whither who whoever whole whom whose why will with within without would yet you your
yours yourself yourselves
""".split())

_WORD = re.compile(r"[a-z0-9]+")
_STOP_WORDS = ENGLISH_STOP_WORDS


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
    return _stemmer().stem(word)


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    """NLTK's PorterStemmer, imported on first use: `import nltk` costs ~0.3-2 s (it pulls
    in scipy.stats and more), which the service should not pay before it is SERVING."""
    from nltk.stem.porter import PorterStemmer
    return PorterStemmer()


def warm_up_stemmer() -> None:
    """Import NLTK now (the service calls this on a background thread once SERVING), so the
    first Search after a start does not wait the 0.4-2 s of `import nltk`."""
    _stemmer()


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


def query_terms(text: str, vocabulary_index: Mapping[str, int] | None = None,
                known_words: Mapping[str, str] | None = None) -> list[str]:
    """Terms of a typed query: `analyze(text)`, except that typed names become name terms.

    Runs of MAX_NAME_WORDS..2 adjacent words (longest first) are joined the way
    `name_token` joins a name ("tom hanks" -> "tomhanks" -> term "tomhank"); a run whose
    term is in `vocabulary_index` is replaced by that one term, because the words were
    typed as a name, not as "tom" and "hank". Without a match — or without a
    vocabulary — the result is exactly `analyze(text)`.

    `known_words` (raw word of the catalog's text → its term, for the words whose term is in
    the vocabulary; `search/terms.words.txt`) spares the stemmer, ~15 µs a word and the
    largest cost of a never-seen query: a known word's term is looked up, and a run is joined
    when the joined word is a known word (a name token is one word of the text). Plain words
    get the same terms either way; a run is joined a little less often, only when its joined
    form occurs in the catalog ("tom hanks"), not when merely its stem does ("tom hank").
    """
    raw = words(text)
    consumed = [False] * len(raw)
    names: list[str] = []
    for size in range(MAX_NAME_WORDS, 1, -1) if vocabulary_index else ():
        for start in range(len(raw) - size + 1):
            if any(consumed[start:start + size]):
                continue
            joined = "".join(raw[start:start + size])
            term = known_words.get(joined) if known_words is not None else stem(joined)
            if term is not None and term in vocabulary_index:
                names.append(term)
                consumed[start:start + size] = [True] * size
    known = known_words or {}
    plain = [known.get(word) or stem(word) for word, used in zip(raw, consumed, strict=True)
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
