"""The content model: one L2-normalised float32 vector per movie.

Three blocks, each L2-normalised per row before it is weighted, so a block's weight is
exactly its share of the squared norm (and of a cosine similarity) whatever its width:

* text — a per-movie soup (overview, tagline, keywords, top cast, directors; for movies
  without TMDB data: title, genres and MovieLens user tags) → TF-IDF with the shared
  analyzer (`artifacts.text.analyze`) → truncated SVD;
* genres — multi-hot;
* numerics — log1p(budget, revenue, popularity, runtime), missing values imputed with the
  column median of the known values, then standardised around that median, so an imputed
  value is exactly 0 and carries no signal (a movie with nothing known gets a zero block
  instead of a shared "typical" direction that would pull all unknown movies together).

The fitted vocabulary, idf and SVD components are returned as plain arrays so the service
can project a typed query (`artifacts.text.project_text`) without scikit-learn objects.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from movierec.artifacts.text import analyze, name_tokens
from movierec.artifacts.titles import split_year
from movierec.trainer.config import ContentConfig

NO_GENRE = "(no genres listed)"  # MovieLens' placeholder, not a genre


@dataclass
class ContentModel:
    """Movie vectors plus what the service needs to embed a free-text query later."""

    vectors: np.ndarray                 # n × d float32, rows L2-normalised, C-contiguous
    genre_vocabulary: list[str]         # column order of the genre block
    vocabulary: list[str]               # TF-IDF terms in column order
    idf: np.ndarray                     # (V,) float32
    svd_components: np.ndarray          # k × V float32
    blocks: dict[str, tuple[int, int]]  # block name → [start, stop) columns in `vectors`
    block_weights: dict[str, float]
    numeric_center: np.ndarray          # per numeric column, in log1p space
    numeric_scale: np.ndarray
    report: dict[str, Any] = field(default_factory=dict)

    def vocabulary_index(self) -> dict[str, int]:
        """Term → column, the lookup `project_text` takes."""
        return {term: column for column, term in enumerate(self.vocabulary)}


def fit_content_model(catalog: pd.DataFrame, config: ContentConfig) -> ContentModel:
    """Fit TF-IDF + SVD on the catalog's soups and assemble the weighted movie vectors."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    soups = build_soups(catalog, config)
    timings["soup_seconds"] = time.perf_counter() - started

    clock = time.perf_counter()
    vectorizer = TfidfVectorizer(analyzer=analyze, min_df=config.tfidf_min_df,
                                 max_df=config.tfidf_max_df, max_features=config.tfidf_max_features,
                                 sublinear_tf=True, dtype=np.float32)
    tfidf = vectorizer.fit_transform(soups)
    timings["tfidf_seconds"] = time.perf_counter() - clock

    clock = time.perf_counter()
    components = min(config.svd_components, tfidf.shape[1] - 1, tfidf.shape[0] - 1)
    if components < 1:
        raise ValueError(f"TF-IDF matrix {tfidf.shape} is too small for an SVD")
    svd = TruncatedSVD(n_components=components, n_iter=config.svd_iterations,
                       random_state=config.seed)
    text = svd.fit_transform(tfidf).astype(np.float32)
    timings["svd_seconds"] = time.perf_counter() - clock

    clock = time.perf_counter()
    genre_vocabulary = genre_vocabulary_of(catalog["genres"])
    genres = genre_matrix(catalog["genres"], genre_vocabulary)
    numerics, center, scale = numeric_matrix(catalog, config)
    weights = {"text": config.text_weight, "genres": config.genre_weight,
               "numeric": config.numeric_weight}
    vectors, blocks = combine_blocks({"text": text, "genres": genres, "numeric": numerics}, weights)
    timings["assemble_seconds"] = time.perf_counter() - clock
    timings["total_seconds"] = time.perf_counter() - started

    # Key names are read by the pipeline's report: "matrix_shape" is the final vectors,
    # "svd_explained_variance" the sum of the SVD's explained variance ratios.
    report = {
        "movies": int(len(catalog)),
        "movies_with_tmdb": int(np.asarray(catalog["has_tmdb"], dtype=bool).sum()),
        "empty_soups": int(sum(1 for s in soups if not s.strip())),
        "tfidf_shape": list(tfidf.shape),
        "tfidf_nnz": int(tfidf.nnz),
        "tfidf_vocabulary": int(tfidf.shape[1]),
        "svd_components": int(components),
        "svd_explained_variance": float(svd.explained_variance_ratio_.sum()),
        "block_dims": {name: stop - start for name, (start, stop) in blocks.items()},
        "block_weights": weights,
        "matrix_shape": list(vectors.shape),
        "timings": timings,
    }
    return ContentModel(
        vectors=vectors,
        genre_vocabulary=genre_vocabulary,
        vocabulary=[str(t) for t in vectorizer.get_feature_names_out()],
        idf=np.ascontiguousarray(vectorizer.idf_, dtype=np.float32),
        svd_components=np.ascontiguousarray(svd.components_, dtype=np.float32),
        blocks=blocks,
        block_weights=weights,
        numeric_center=center,
        numeric_scale=scale,
        report=report,
    )


def build_soups(catalog: pd.DataFrame, config: ContentConfig) -> list[str]:
    """One soup string per catalog row, in row order."""
    return [movie_soup(row, config) for row in catalog.to_dict("records")]


def movie_soup(movie: dict[str, Any], config: ContentConfig) -> str:
    """The words that describe one movie; names and keywords enter as single name tokens.

    TMDB movies are described by TMDB's text. Movies without a TMDB row only have
    MovieLens data, so their title (without the year), genres and user tags stand in.
    """
    if movie.get("has_tmdb"):
        parts = [
            _text(movie.get("overview")),
            _text(movie.get("tagline")),
            name_tokens(_names(movie.get("keywords"))[: config.max_keywords]),
            name_tokens(_names(movie.get("cast"))[: config.top_cast]),
            name_tokens(_names(movie.get("directors"))),
        ]
    else:
        parts = [
            split_year(_text(movie.get("title")))[0],
            name_tokens(g for g in _names(movie.get("genres")) if g != NO_GENRE),
            " ".join(_names(movie.get("tags"))),
        ]
    return " ".join(p for p in parts if p)


def genre_vocabulary_of(genres: pd.Series) -> list[str]:
    """Sorted distinct genres, the MovieLens "(no genres listed)" placeholder excluded."""
    return sorted({g for movie in genres for g in _names(movie) if g != NO_GENRE})


def genre_matrix(genres: pd.Series, vocabulary: Sequence[str]) -> np.ndarray:
    """Multi-hot n × G float32 (genres outside `vocabulary` are ignored)."""
    column = {g: i for i, g in enumerate(vocabulary)}
    matrix = np.zeros((len(genres), len(vocabulary)), dtype=np.float32)
    for row, movie in enumerate(genres):
        for g in _names(movie):
            if g in column:
                matrix[row, column[g]] = 1.0
    return matrix


def numeric_matrix(catalog: pd.DataFrame,
                   config: ContentConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """log1p numerics, median-imputed, standardised around the median; returns center/scale too.

    Centering on the median of the known values makes every imputed entry exactly 0.
    """
    names = list(config.numeric_columns)
    raw = catalog[names].to_numpy(dtype=np.float64, na_value=np.nan) if names else np.empty((len(catalog), 0))
    known = np.isfinite(raw) & ((raw > 0) if config.numeric_zero_is_missing else (raw >= 0))
    logged = np.where(known, np.log1p(np.where(known, raw, 0.0)), np.nan)
    center = np.zeros(len(names))
    scale = np.ones(len(names))
    for j in range(len(names)):
        values = logged[known[:, j], j]
        if values.size:
            center[j] = np.median(values)
            spread = values.std()
            scale[j] = spread if spread > 0 else 1.0
    standardised = np.where(known, (logged - center) / scale, 0.0)
    return standardised.astype(np.float32), center.astype(np.float32), scale.astype(np.float32)


def combine_blocks(blocks: dict[str, np.ndarray],
                   weights: dict[str, float]) -> tuple[np.ndarray, dict[str, tuple[int, int]]]:
    """L2-normalise each block per row, weight it, concatenate, L2-normalise the rows.

    Returns the float32 C-contiguous matrix and each block's column range. A zero-width
    block or a zero weight is left out.
    """
    parts: list[np.ndarray] = []
    ranges: dict[str, tuple[int, int]] = {}
    start = 0
    for name, block in blocks.items():
        if block.shape[1] == 0 or weights[name] == 0:
            continue
        parts.append(normalize(block.astype(np.float32)) * np.float32(weights[name]))
        ranges[name] = (start, start + block.shape[1])
        start += block.shape[1]
    vectors = normalize(np.hstack(parts)).astype(np.float32)
    return np.ascontiguousarray(vectors), ranges


def _text(value: Any) -> str:
    """A string cell, or "" for NaN/None."""
    return value if isinstance(value, str) else ""


def _names(value: Any) -> list[str]:
    """A list cell (list, tuple or array of strings), or [] for NaN/None."""
    if isinstance(value, (list, tuple, np.ndarray, pd.Series)):
        return [str(v) for v in value if isinstance(v, str) and v]
    return []
