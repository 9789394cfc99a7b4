"""The training stage that builds the search structures (`artifacts/search.py`) from the catalog.

Works on plain per-movie records (the catalog DataFrame's rows, or the served catalog's
details.jsonl records plus titles), so the same code rebuilds them for an older version.

* titles: the display title, TMDB original_title and the alternate titles (MovieLens' own
  spelling, "a.k.a." names), each also without its leading article;
* people: directors ("Director") and the full TMDB cast ("Cast: <character>");
* keywords: TMDB keywords and MovieLens user tags.

Popularity prior per movie, in [0, 1]: the larger of two percentile ranks, of TMDB popularity
and of the number of MovieLens ratings (a movie with neither is 0). Either source alone is
enough to call a movie well known, and each covers movies the other lacks.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from movierec.artifacts.search import (
    KnownWords,
    NameTable,
    SearchTables,
    TermPostings,
    drop_article,
    normalize,
    title_search_key,
)
from movierec.artifacts.text import analyze, words
from movierec.artifacts.titles import split_year

TITLE, ALTERNATE, NO_ARTICLE = 0, 1, 2
BM25_K1, BM25_B = 1.2, 0.75
DIRECTOR, CAST = 0, 1
KEYWORD, TAG = 0, 1


def percentile_rank(values: np.ndarray) -> np.ndarray:
    """Rank of each positive value among the positive values, in (0, 1]; non-positive → 0."""
    values = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0)
    out = np.zeros(len(values), dtype=np.float64)
    known = np.flatnonzero(values > 0)
    if known.size:
        order = known[np.argsort(values[known], kind="stable")]
        out[order] = np.arange(1, known.size + 1) / known.size
    return out


def popularity_prior(popularity: Sequence[float], rating_count: Sequence[float]) -> np.ndarray:
    return np.maximum(percentile_rank(np.asarray(popularity, dtype=np.float64)),
                      percentile_rank(np.asarray(rating_count, dtype=np.float64))).astype(np.float32)


def _names(value: Any) -> list[str]:
    if isinstance(value, (list, tuple, np.ndarray, pd.Series)):
        return [str(v) for v in value if isinstance(v, str) and v.strip()]
    return []


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def title_entries(records: Sequence[Mapping[str, Any]]) -> Iterator[tuple[str, str, int, int, str]]:
    for row, movie in enumerate(records):
        title = _text(movie.get("title"))
        names = [(title, TITLE)] + [(name, ALTERNATE) for name in
                                    [_text(movie.get("original_title")), *_names(movie.get("alt_titles"))]]
        for name, kind in names:
            if not name.strip():
                continue
            key = title_search_key(name)
            if kind == ALTERNATE and len(key) < 2:
                continue  # a parsing leftover such as the "s" of "Frontière(s)"
            shown = split_year(name)[0] if kind == ALTERNATE else title
            yield key, shown, row, kind, ""
            bare = drop_article(key)
            if bare != key:
                yield bare, shown, row, NO_ARTICLE, ""


def people_entries(records: Sequence[Mapping[str, Any]]) -> Iterator[tuple[str, str, int, int, str]]:
    for row, movie in enumerate(records):
        for name in _names(movie.get("directors")):
            yield normalize(name), name, row, DIRECTOR, "Director"
        characters = movie.get("characters")
        characters = list(characters) if isinstance(characters, (list, tuple, np.ndarray)) else []
        for position, name in enumerate(_names(movie.get("cast"))):
            character = characters[position] if position < len(characters) else ""
            character = character if isinstance(character, str) else ""
            yield normalize(name), name, row, CAST, f"Cast: {character.strip()}" if character.strip() else "Cast"


def keyword_entries(records: Sequence[Mapping[str, Any]]) -> Iterator[tuple[str, str, int, int, str]]:
    for row, movie in enumerate(records):
        for name in _names(movie.get("keywords")):
            yield normalize(name), name, row, KEYWORD, ""
        for name in _names(movie.get("tags")):
            yield normalize(name), name, row, TAG, ""


def build_search_tables(records: Sequence[Mapping[str, Any]], prior: np.ndarray) -> SearchTables:
    """Search tables over `records` (one dict per catalog row, in row order)."""
    prior = np.asarray(prior, dtype=np.float32)
    if len(prior) != len(records):
        raise ValueError(f"{len(records)} records but {len(prior)} priors")
    return SearchTables(
        titles=NameTable.build(title_entries(records), prior),
        people=NameTable.build(people_entries(records), prior),
        keywords=NameTable.build(keyword_entries(records), prior),
        prior=prior,
    )


def term_postings(soups: Sequence[str], vocabulary: Sequence[str]) -> TermPostings:
    """BM25 postings of each vocabulary term over the soups (analysed like the TF-IDF), CSR by term.

    weight = idf × tf (k1 + 1) / (tf + k1 (1 − b + b · len / mean len)), idf = ln(1 + (N − df + ½) / (df + ½)).
    """
    column = {term: i for i, term in enumerate(vocabulary)}
    per_term: list[list[tuple[int, int]]] = [[] for _ in vocabulary]
    lengths = np.zeros(len(soups), dtype=np.float64)
    for row, soup in enumerate(soups):
        terms = analyze(soup)
        lengths[row] = len(terms)
        counts: dict[int, int] = {}
        for term in terms:
            c = column.get(term)
            if c is not None:
                counts[c] = counts.get(c, 0) + 1
        for c, tf in counts.items():
            per_term[c].append((row, tf))
    mean_length = float(lengths.mean()) if len(lengths) and lengths.mean() > 0 else 1.0
    n = len(soups)
    indptr = np.zeros(len(vocabulary) + 1, dtype=np.int64)
    rows: list[int] = []
    weights: list[float] = []
    for c, postings in enumerate(per_term):
        df = len(postings)
        idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
        for row, tf in postings:
            norm = BM25_K1 * (1.0 - BM25_B + BM25_B * lengths[row] / mean_length)
            rows.append(row)
            weights.append(idf * tf * (BM25_K1 + 1.0) / (tf + norm))
        indptr[c + 1] = len(rows)
    return TermPostings(indptr, np.asarray(rows, dtype=np.int32), np.asarray(weights, dtype=np.float32))


def known_words(soups: Sequence[str], vocabulary: Sequence[str]) -> KnownWords:
    """Every distinct word of the soups whose term (`analyze` of the word alone) is in the vocabulary."""
    column = {term: i for i, term in enumerate(vocabulary)}
    seen = sorted({word for soup in soups for word in words(soup)})
    pairs = [(word, column[terms[0]]) for word in seen if (terms := analyze(word)) and terms[0] in column]
    return KnownWords([word for word, _ in pairs], np.array([c for _, c in pairs], dtype=np.int32))


def search_tables_from_catalog(movies: pd.DataFrame, soups: Sequence[str] | None = None,
                               vocabulary: Sequence[str] | None = None) -> SearchTables:
    """The pipeline's entry point: the catalog DataFrame (and the content model's soups and
    vocabulary, for the lexical half of free text) → search tables."""
    columns = [c for c in ("title", "original_title", "alt_titles", "directors", "cast", "characters",
                           "keywords", "tags") if c in movies.columns]
    records = movies[columns].to_dict("records")
    popularity = movies["popularity"] if "popularity" in movies.columns else np.zeros(len(movies))
    ratings = movies["rating_count"] if "rating_count" in movies.columns else np.zeros(len(movies))
    prior = popularity_prior(pd.to_numeric(pd.Series(popularity), errors="coerce").fillna(0).to_numpy(),
                             pd.to_numeric(pd.Series(ratings), errors="coerce").fillna(0).to_numpy())
    tables = build_search_tables(records, prior)
    if soups is not None and vocabulary is not None:
        tables.terms = term_postings(soups, vocabulary)
        tables.known_words = known_words(soups, vocabulary)
    return tables
