"""Search structures on disk: name tables (titles, people, keywords) with postings and trigram blocks.

The trainer builds them (`trainer/search.py`) into `<version>/search/`; the service maps them at
start (`read_search`) and answers queries with `service/search.py`. Both sides normalise text
with `normalize` from this module, so a key written at training is found at serving.

One `NameTable` per field. Its files, for a table named T:

    T.keys.txt          unique normalised keys, sorted (bisect gives exact and prefix lookups), one a line
    T.display.txt       per key: the name as shown to callers ("Tom Hanks", "time travel")
    T.key_prior.npy     float32 per key: the best popularity prior of its movies (prefix pruning)
    T.indptr.npy        int32 CSR row pointer, keys → postings
    T.rows.npy          int32 postings: catalog rows, per key most popular first
    T.kinds.npy         int8 per posting (titles: 0 title, 1 original/alternate title, 2 article dropped;
                        people: 0 cast, 1 director; keywords: 0 TMDB keyword, 1 MovieLens tag)
    T.details.npy       int32 per posting → T.detail_strings.txt line (-1: none)
    T.detail_strings.txt
    T.grams.txt         trigram vocabulary (padded "  key "), sorted
    T.gram_indptr.npy   int32 CSR, trigram → keys containing it
    T.gram_keys.npy     int32
    T.key_grams.npy     int16 distinct trigrams per key

plus `prior.npy` (float32 per catalog row, in [0, 1]: popularity prior that breaks ties),
`terms.{indptr,rows,weights}.npy` (BM25 postings of the content model's TF-IDF vocabulary over the
movies' text soups, column order of `content/vocabulary.json`; the lexical half of free text),
`terms.words.txt` + `terms.word_columns.npy` (every word of the soups whose term is in that
vocabulary, sorted, with the term's column: a query's words are looked up instead of stemmed) and
`text_groups.{order,indptr,bounds}.npy` (free text's group bounds, `TextGroups`) and `search.json`
(format version and counts). The `terms.*` and `text_groups.*` files are optional: versions built
before them load without (free text without BM25, with the stemmer for every query word, or with a
product over every row).
Arrays load memory-mapped; keys and trigrams are read and split once (about 100k short strings on
the real catalog), display names and details are decoded per hit (`Lines`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import numpy as np

from .titles import fold, split_year, title_key

DIRECTORY = "search"
FORMAT_VERSION = 1
TABLES = ("titles", "people", "keywords")
PRIOR_FILE = "prior.npy"
INFO_FILE = "search.json"

# Leading articles dropped to make an alias key ("the matrix" is also found as "matrix").
ARTICLES = frozenset({"the", "a", "an", "le", "la", "les", "l", "el", "los", "las", "il", "lo", "gli",
                      "der", "die", "das", "un", "une", "una", "de", "det", "den", "en"})

_APOSTROPHES = re.compile(r"['’‘`´]")
_NON_WORD = re.compile(r"[\W_]+")
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029]+")


def normalize(text: str) -> str:
    """Search key of any text: accents and case folded, '&' → 'and', apostrophes dropped,
    every other non-alphanumeric character a single space ("Schindler's List" → "schindlers list")."""
    folded = fold(text).replace("&", " and ")
    folded = _APOSTROPHES.sub("", folded)
    return _NON_WORD.sub(" ", folded).strip()


def title_search_key(title: str) -> str:
    """A title's key: year suffix removed, MovieLens trailing article moved to the front, normalised."""
    bare, _ = split_year(title)
    return normalize(title_key(bare))


def drop_article(key: str) -> str:
    """'the matrix' → 'matrix'; keys without a leading article (or only an article) come back unchanged."""
    head, _, rest = key.partition(" ")
    return rest if rest and head in ARTICLES else key


def trigrams(key: str) -> list[str]:
    """Distinct trigrams of the key padded as '  key ', so short keys and word starts get grams too."""
    padded = f"  {key} "
    return list(dict.fromkeys(padded[i:i + 3] for i in range(len(padded) - 2)))


def one_line(text: str) -> str:
    return _LINE_BREAKS.sub(" ", text).strip()


@dataclass
class NameTable:
    """Normalised keys → movies, with a trigram index over the keys for fuzzy candidates."""

    keys: list[str]
    display: Sequence[str]
    key_prior: np.ndarray
    indptr: np.ndarray
    rows: np.ndarray
    kinds: np.ndarray
    details: np.ndarray
    detail_strings: Sequence[str]
    grams: list[str]
    gram_indptr: np.ndarray
    gram_keys: np.ndarray
    key_grams: np.ndarray

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def postings(self) -> int:
        return int(self.indptr[-1])

    def detail(self, posting: int) -> str:
        position = int(self.details[posting])
        return self.detail_strings[position] if position >= 0 else ""

    # ------------------------------------------------------------------ build

    @classmethod
    def build(cls, entries: Iterable[tuple[str, str, int, int, str]], prior: np.ndarray) -> NameTable:
        """From (key, display, row, kind, detail) entries; the first display seen names a key.

        A (key, row) pair is kept once, with the smallest kind (a movie's own title beats an alias).
        """
        best: dict[tuple[str, int], tuple[int, str]] = {}
        display: dict[str, str] = {}
        for key, shown, row, kind, detail in entries:
            if not key:
                continue
            display.setdefault(key, one_line(shown))
            seen = best.get((key, row))
            if seen is None or kind < seen[0]:
                best[(key, row)] = (kind, one_line(detail))
        keys = sorted(display)
        position = {k: i for i, k in enumerate(keys)}
        by_key: list[list[tuple[int, int, str]]] = [[] for _ in keys]
        for (key, row), (kind, detail) in best.items():
            by_key[position[key]].append((row, kind, detail))
        prior = np.asarray(prior, dtype=np.float32)
        indptr = np.zeros(len(keys) + 1, dtype=np.int32)
        rows: list[int] = []
        kinds: list[int] = []
        details: list[int] = []
        detail_position: dict[str, int] = {}
        key_prior = np.zeros(len(keys), dtype=np.float32)
        for i, postings in enumerate(by_key):
            postings.sort(key=lambda p: (-float(prior[p[0]]), p[0]))  # most popular first
            for row, kind, detail in postings:
                rows.append(row)
                kinds.append(kind)
                details.append(detail_position.setdefault(detail, len(detail_position)) if detail else -1)
            indptr[i + 1] = len(rows)
            key_prior[i] = float(prior[postings[0][0]]) if postings else 0.0
        gram_lists = [trigrams(k) for k in keys]
        grams = sorted({g for gs in gram_lists for g in gs})
        gram_position = {g: i for i, g in enumerate(grams)}
        members: list[list[int]] = [[] for _ in grams]
        for key_id, gs in enumerate(gram_lists):
            for g in gs:
                members[gram_position[g]].append(key_id)
        gram_indptr = np.zeros(len(grams) + 1, dtype=np.int32)
        gram_indptr[1:] = np.cumsum([len(m) for m in members], dtype=np.int64)
        flat = [k for m in members for k in m]
        return cls(
            keys=keys,
            display=[display[k] for k in keys],
            key_prior=key_prior,
            indptr=indptr,
            rows=np.asarray(rows, dtype=np.int32),
            kinds=np.asarray(kinds, dtype=np.int8),
            details=np.asarray(details, dtype=np.int32),
            detail_strings=list(detail_position),
            grams=grams,
            gram_indptr=gram_indptr,
            gram_keys=np.asarray(flat, dtype=np.int32),
            key_grams=np.asarray([len(gs) for gs in gram_lists], dtype=np.int16),
        )

    # ------------------------------------------------------------------ files

    _ARRAYS = ("key_prior", "indptr", "rows", "kinds", "details", "gram_indptr", "gram_keys", "key_grams")
    _TEXTS = ("keys", "display", "detail_strings", "grams")
    _LAZY_TEXTS = ("display", "detail_strings")   # read per hit, not per query: `Lines`

    def write(self, directory: Path, name: str) -> None:
        for array in self._ARRAYS:
            np.save(directory / f"{name}.{array}.npy", np.ascontiguousarray(getattr(self, array)))
        for text in self._TEXTS:
            (directory / f"{name}.{text}.txt").write_text("\n".join(getattr(self, text)), encoding="utf-8")

    @classmethod
    def read(cls, directory: Path, name: str) -> NameTable:
        # Mapped, then viewed as plain ndarrays: np.memmap's per-slice overhead costs more than the lookups.
        arrays = {a: np.load(directory / f"{name}.{a}.npy", mmap_mode="r").view(np.ndarray) for a in cls._ARRAYS}
        texts: dict[str, Sequence[str]] = {
            t: Lines((directory / f"{name}.{t}.txt").read_bytes()) if t in cls._LAZY_TEXTS
            else _lines((directory / f"{name}.{t}.txt").read_text(encoding="utf-8")) for t in cls._TEXTS}
        table = cls(**arrays, **texts)
        if len(table.keys) != len(table.display) or len(table.indptr) != len(table.keys) + 1:
            raise ValueError(f"search table {name} in {directory}: keys, display and postings disagree")
        if len(table.grams) + 1 != len(table.gram_indptr) or len(table.key_grams) != len(table.keys):
            raise ValueError(f"search table {name} in {directory}: trigram index does not match its keys")
        return table


def _lines(text: str) -> list[str]:
    return text.split("\n") if text else []


class Lines(Sequence[str]):
    """The lines of a UTF-8 text file, each decoded when it is asked for.

    Display names and role details are read only for the few hits a query returns, while splitting
    their files into ~150k strings was a fifth of Search's load; here loading is one scan for line
    breaks, and a line costs ~1 µs when a hit needs it.
    """

    def __init__(self, data: bytes):
        self._data = data
        breaks = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord("\n"))
        self._starts = np.concatenate(([0], breaks + 1)) if data else np.zeros(0, dtype=np.int64)
        self._ends = np.append(breaks, len(data)) if data else np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._starts)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return self._data[self._starts[index]:self._ends[index]].decode("utf-8")

    def __iter__(self) -> Iterator[str]:
        return iter(_lines(self._data.decode("utf-8")))


@dataclass
class TermPostings:
    """Vocabulary column → (movie rows, BM25 weight of the term in that movie's soup), CSR."""

    indptr: np.ndarray        # int64 (V+1)
    rows: np.ndarray          # int32
    weights: np.ndarray       # float32

    _ARRAYS = ("indptr", "rows", "weights")

    def write(self, directory: Path) -> None:
        _write_arrays(directory, "terms", self, self._ARRAYS)

    @classmethod
    def read(cls, directory: Path) -> TermPostings | None:
        arrays = _read_arrays(directory, "terms", cls._ARRAYS)
        return None if arrays is None else cls(*arrays)

    def scores(self, columns: Iterable[int], n_rows: int) -> np.ndarray:
        """BM25 of a query (its vocabulary columns, repeats counted once) for every row."""
        columns = sorted(set(columns))
        if not columns:
            return np.zeros(n_rows, dtype=np.float32)
        rows = np.concatenate([self.rows[self.indptr[c]:self.indptr[c + 1]] for c in columns])
        weights = np.concatenate([self.weights[self.indptr[c]:self.indptr[c + 1]] for c in columns])
        return np.bincount(rows, weights=weights, minlength=n_rows).astype(np.float32)


@dataclass
class KnownWords:
    """Words of the movies' text soups → vocabulary column, for the words whose term is in the vocabulary.

    Stemming a word costs ~15 µs (NLTK's Porter stemmer is pure Python), which made stemming the
    largest part of a never-seen query; the trainer has stemmed every word of the catalog anyway.
    """

    words: list[str]          # sorted
    columns: np.ndarray       # int32, vocabulary column of each word's term

    def write(self, directory: Path) -> None:
        (directory / "terms.words.txt").write_text("\n".join(self.words))
        np.save(directory / "terms.word_columns.npy", np.asarray(self.columns, dtype=np.int32))

    @classmethod
    def read(cls, directory: Path) -> KnownWords | None:
        if not (directory / "terms.words.txt").is_file():
            return None
        return cls(_lines((directory / "terms.words.txt").read_text()),
                   np.load(directory / "terms.word_columns.npy", mmap_mode="r").view(np.ndarray))

    def terms(self, vocabulary: list[str]) -> dict[str, str]:
        """Word → term, for `artifacts.text.query_terms`."""
        return dict(zip(self.words, map(vocabulary.__getitem__, self.columns.tolist()), strict=True))


@dataclass
class TextGroups:
    """Free text's group bounds: the catalog's rows in groups of similar text vectors and, per
    vocabulary term and group, an upper bound of the inner product of the group's text vectors
    with the term's SVD direction (a column of `content/svd_components.npy`).

    A query's projection is a positive combination of its terms' directions (TF-IDF weights are
    positive), so Σ weight × bound bounds every inner product in a group: free text scans only the
    groups that can reach its semantic top (`service/free_text.py`), ~5% of the rows on the real
    catalog, instead of streaming the whole 5.6 MB text block for every query.
    """

    order: np.ndarray         # int32 catalog rows, group after group
    indptr: np.ndarray        # int64 (G+1): group g is order[indptr[g]:indptr[g+1]]
    bounds: np.ndarray        # float16 (V, G), rounded up: ≥ the real-valued inner product

    _ARRAYS = ("order", "indptr", "bounds")

    def __len__(self) -> int:
        return len(self.indptr) - 1

    def write(self, directory: Path) -> None:
        _write_arrays(directory, "text_groups", self, self._ARRAYS)

    @classmethod
    def read(cls, directory: Path) -> TextGroups | None:
        arrays = _read_arrays(directory, "text_groups", cls._ARRAYS)
        return None if arrays is None else cls(*arrays)

    def fits(self, rows: int, terms: int) -> bool:
        """Whether these groups were built for a catalog of `rows` movies and `terms` vocabulary terms."""
        return (self.bounds.ndim == 2 and self.bounds.shape == (terms, len(self)) and len(self.order) == rows
                and int(self.indptr[0]) == 0 and int(self.indptr[-1]) == rows)


def _write_arrays(directory: Path, prefix: str, holder: Any, names: Sequence[str]) -> None:
    """`<prefix>.<name>.npy` for each named array attribute of `holder`."""
    for name in names:
        np.save(directory / f"{prefix}.{name}.npy", np.ascontiguousarray(getattr(holder, name)))


def _read_arrays(directory: Path, prefix: str, names: Sequence[str]) -> list[np.ndarray] | None:
    """The arrays `_write_arrays` wrote, memory-mapped, or None when the version has none of them."""
    if not (directory / f"{prefix}.{names[0]}.npy").is_file():
        return None
    return [np.load(directory / f"{prefix}.{name}.npy", mmap_mode="r").view(np.ndarray) for name in names]


@dataclass
class SearchTables:
    titles: NameTable
    people: NameTable
    keywords: NameTable
    prior: np.ndarray          # float32 per catalog row
    terms: TermPostings | None = None
    known_words: KnownWords | None = None
    text_groups: TextGroups | None = None

    def write(self, version_dir: Path) -> dict[str, Any]:
        target = version_dir / DIRECTORY
        target.mkdir(parents=True, exist_ok=True)
        for name in TABLES:
            getattr(self, name).write(target, name)
        np.save(target / PRIOR_FILE, np.asarray(self.prior, dtype=np.float32))
        if self.terms is not None:
            self.terms.write(target)
        if self.known_words is not None:
            self.known_words.write(target)
        if self.text_groups is not None:
            self.text_groups.write(target)
        info = {"format": FORMAT_VERSION, "movies": len(self.prior), **self.counts(),
                "term_postings": int(self.terms.indptr[-1]) if self.terms is not None else 0,
                "known_words": len(self.known_words.words) if self.known_words is not None else 0,
                "text_groups": len(self.text_groups) if self.text_groups is not None else 0}
        (target / INFO_FILE).write_text(json.dumps(info, indent=2))
        return info

    def counts(self) -> dict[str, int]:
        out = {}
        for name in TABLES:
            table: NameTable = getattr(self, name)
            out[f"{name}_keys"] = len(table)
            out[f"{name}_postings"] = table.postings
            out[f"{name}_trigrams"] = len(table.grams)
        return out


def has_search(version_dir: Path) -> bool:
    return (version_dir / DIRECTORY / INFO_FILE).is_file()


def read_search(version_dir: Path) -> SearchTables:
    """Load `<version>/search/` (arrays memory-mapped); ValueError when it is from another format."""
    source = version_dir / DIRECTORY
    info = json.loads((source / INFO_FILE).read_text())
    if info.get("format") != FORMAT_VERSION:
        raise ValueError(f"{source}: search format {info.get('format')}, this code reads {FORMAT_VERSION}")
    prior = np.load(source / PRIOR_FILE, mmap_mode="r")
    return SearchTables(*(NameTable.read(source, name) for name in TABLES), prior=prior,
                        terms=TermPostings.read(source), known_words=KnownWords.read(source),
                        text_groups=TextGroups.read(source))
