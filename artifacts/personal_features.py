"""Personalisation features, shared by the trainer and the service (pure numpy, one code path).

The trainer fits `ItemTables` (item statistics, latent factors, user-cluster centroids, the
item-item matrix) from training ratings only and saves them under `personal/` in a version;
the service maps them back. Both sides then turn a user's history into a `Profile` with
`build_profile` and a (profile, candidate movies) pair into a feature matrix with
`pair_features` / `ranking_features` — the exact same functions, so the served path is
the evaluated path. A known user's profile is built from their stored ratings, an anonymous
caller's from the history they send; nothing else differs.

Rows are catalog rows (the content vectors and the catalog share them). Nothing here knows
about pandas, scikit-learn, XGBoost or gRPC.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

DIRECTORY = "personal"
LIKE_THRESHOLD = 4.0
USER_SHRINK = 5.0      # pseudo-ratings at the global mean added to a user's mean / like rate
GENRE_SHRINK = 5.0     # pseudo-ratings at the user's mean added to each genre's deviation
MAX_LIKED = 50         # liked movies compared one by one with a candidate (max similarity)

FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    "user_item_stats": ("user_mean", "user_log_count", "user_std", "user_like_rate",
                        "item_mean", "item_log_count", "item_like_rate"),
    "genre": ("genre_affinity_mean", "genre_affinity_max", "genre_affinity_min", "genre_share"),
    "clusters": ("rating_cluster", "genre_cluster", "cluster_item_mean", "cluster_item_like",
                 "genre_cluster_item_mean"),
    "latent": ("mf_dot", "mf_prediction", "item_bias", "user_bias"),
    "content": ("content_liked_max", "content_liked_centroid", "content_disliked_max", "content_taste"),
    "popularity_recency": ("popularity", "year", "year_vs_user"),
}
FEATURES: tuple[str, ...] = tuple(name for group in FEATURE_GROUPS.values() for name in group)
RANKING_EXTRA: tuple[str, ...] = ("cf_score", "cf_rank", "cluster_share_rank", "content_rank")
RANKING_FEATURES: tuple[str, ...] = FEATURES + RANKING_EXTRA


@dataclass
class ItemTables:
    """Everything item-side the features need. Statistics come from the training ratings only;
    `genres`, `vectors`, `popularity`, `year` come from the catalog and content model."""

    global_mean: float
    global_like_rate: float
    ridge: float                      # fold-in regularisation of a user's bias and factors
    item_mean: np.ndarray             # (n,) shrunk mean rating (global mean when unrated)
    item_like: np.ndarray             # (n,) shrunk share of ratings >= 4
    item_log_count: np.ndarray        # (n,) log1p(number of ratings)
    item_bias: np.ndarray             # (n,) matrix-factorisation item bias
    item_factors: np.ndarray          # (n, f) matrix-factorisation item factors
    genre_centroids: np.ndarray       # (kg, G) KMeans on users' genre affinities
    rating_components: np.ndarray     # (c, n) TruncatedSVD of users' centred rating vectors
    rating_centroids: np.ndarray      # (kr, c) KMeans on those projections
    cluster_item_mean: np.ndarray     # (kr, n) item mean within a rating cluster, shrunk to item_mean
    cluster_item_like: np.ndarray     # (kr, n) share of a rating cluster's users who liked the item
    genre_cluster_item_mean: np.ndarray  # (kg, n)
    cf_indptr: np.ndarray             # item-item (EASE) weights as CSR over catalog rows
    cf_indices: np.ndarray
    cf_data: np.ndarray
    genres: np.ndarray                # (n, G) float32 multi-hot
    vectors: np.ndarray               # (n, d) float32 L2-normalised content vectors
    popularity: np.ndarray            # (n,) log1p(TMDB popularity), 0 when unknown
    year: np.ndarray                  # (n,) float32, NaN when unknown

    SCALARS = ("global_mean", "global_like_rate", "ridge")
    FROM_CATALOG = ("genres", "vectors", "popularity", "year")

    @property
    def n_items(self) -> int:
        return len(self.item_mean)

    def save(self, directory: Path) -> None:
        target = directory / DIRECTORY / "tables"
        target.mkdir(parents=True, exist_ok=True)
        scalars = {}
        for spec in fields(self):
            if spec.name in self.SCALARS:
                scalars[spec.name] = float(getattr(self, spec.name))
            elif spec.name not in self.FROM_CATALOG:
                np.save(target / f"{spec.name}.npy", np.ascontiguousarray(getattr(self, spec.name)))
        (target / "scalars.json").write_text(json.dumps(scalars))

    @classmethod
    def load(cls, directory: Path, *, genres: np.ndarray, vectors: np.ndarray, popularity: np.ndarray,
             year: np.ndarray, mmap: bool = True) -> ItemTables:
        source = directory / DIRECTORY / "tables"
        values: dict[str, Any] = json.loads((source / "scalars.json").read_text())
        for spec in fields(cls):
            if spec.name not in cls.SCALARS and spec.name not in cls.FROM_CATALOG:
                values[spec.name] = np.load(source / f"{spec.name}.npy", mmap_mode="r" if mmap else None)
        return cls(**values, genres=genres, vectors=vectors, popularity=popularity, year=year)


def catalog_columns(genre_mask: np.ndarray, n_genres: int, popularity: np.ndarray,
                    year: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The catalog-derived item columns, computed the same way on both sides."""
    mask = np.asarray(genre_mask, dtype=np.uint32)
    genres = ((mask[:, None] >> np.arange(n_genres, dtype=np.uint32)[None, :]) & 1).astype(np.float32)
    pop = np.log1p(np.clip(np.nan_to_num(np.asarray(popularity, dtype=np.float32)), 0, None))
    years = np.asarray(year, dtype=np.float32)
    years = np.where(years > 0, years, np.nan).astype(np.float32)
    return genres, pop.astype(np.float32), years


@dataclass
class Profile:
    """One user's history summarised; built the same way for known users and anonymous callers."""

    rows: np.ndarray          # rated catalog rows
    ratings: np.ndarray       # their ratings
    mean: float
    log_count: float
    std: float
    like_rate: float
    genre_affinity: np.ndarray  # (G,) shrunk mean deviation from the user's mean per genre
    genre_share: np.ndarray     # (G,) share of the user's ratings in each genre
    bias: float
    factors: np.ndarray         # (f,)
    rating_cluster: int
    genre_cluster: int
    liked: np.ndarray           # up to MAX_LIKED liked rows, best rated first
    disliked: np.ndarray        # up to MAX_LIKED disliked rows (rating <= 2.5), worst first
    liked_centroid: np.ndarray  # (d,) L2-normalised mean content vector of liked movies (zeros if none)
    taste: np.ndarray           # (d,) L2-normalised sum of (rating - mean) × content vector
    mean_year: float


def _normalised(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return (vector / norm).astype(np.float32) if norm > 0 else np.zeros_like(vector, dtype=np.float32)


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero): user clusters compare directions, not volume."""
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.where(norms > 0, x / np.where(norms > 0, norms, 1), 0).astype(np.float32)


def build_profile(t: ItemTables, rows: np.ndarray, ratings: np.ndarray) -> Profile:
    """Summarise a history (catalog rows and their ratings, any order, no duplicates)."""
    rows = np.asarray(rows, dtype=np.int64)
    r = np.asarray(ratings, dtype=np.float32)
    n = len(rows)
    mean = float((r.sum() + USER_SHRINK * t.global_mean) / (n + USER_SHRINK))
    like_rate = float(((r >= LIKE_THRESHOLD).sum() + USER_SHRINK * t.global_like_rate) / (n + USER_SHRINK))
    std = float(r.std()) if n > 1 else 0.0
    centred = r - mean

    g = np.asarray(t.genres[rows]) if n else np.zeros((0, t.genres.shape[1]), np.float32)
    counts = g.sum(axis=0)
    genre_affinity = (centred @ g) / (counts + GENRE_SHRINK)
    genre_share = counts / max(n, 1)

    # Fold-in: ridge solve for [bias, factors] against the fixed item side.
    q = np.asarray(t.item_factors[rows], dtype=np.float64)
    x = np.hstack([np.ones((n, 1)), q])
    y = r - t.global_mean - np.asarray(t.item_bias[rows], dtype=np.float64)
    a = x.T @ x + t.ridge * np.eye(x.shape[1])
    w = np.linalg.solve(a, x.T @ y)
    bias, factors = float(w[0]), w[1:].astype(np.float32)

    projection = unit_rows(np.asarray(t.rating_components[:, rows], dtype=np.float32) @ centred)
    rating_cluster = int(np.argmin(((t.rating_centroids - projection) ** 2).sum(axis=1)))
    genre_cluster = int(np.argmin(((t.genre_centroids - genre_affinity) ** 2).sum(axis=1)))

    order = np.argsort(-r, kind="stable")
    liked = rows[order][r[order] >= LIKE_THRESHOLD][:MAX_LIKED]
    worst = np.argsort(r, kind="stable")
    disliked = rows[worst][r[worst] <= 2.5][:MAX_LIKED]
    vectors = np.asarray(t.vectors[rows], dtype=np.float32) if n else np.zeros((0, t.vectors.shape[1]), np.float32)
    liked_mask = r >= LIKE_THRESHOLD
    liked_centroid = _normalised(vectors[liked_mask].sum(axis=0)) if liked_mask.any() else \
        np.zeros(t.vectors.shape[1], np.float32)
    taste = _normalised(centred @ vectors) if n else np.zeros(t.vectors.shape[1], np.float32)
    years = np.asarray(t.year[rows])
    known_years = years[~np.isnan(years)]
    mean_year = float(known_years.mean()) if len(known_years) else float("nan")
    return Profile(rows, r, mean, float(np.log1p(n)), std, like_rate, genre_affinity.astype(np.float32),
                   genre_share.astype(np.float32), bias, factors, rating_cluster, genre_cluster, liked, disliked,
                   liked_centroid, taste, mean_year)


def pair_features(t: ItemTables, p: Profile, cand: np.ndarray) -> np.ndarray:
    """(len(cand), len(FEATURES)) float32 features of the user-movie pairs, columns in FEATURES order."""
    cand = np.asarray(cand, dtype=np.int64)
    m = len(cand)
    out = np.empty((m, len(FEATURES)), dtype=np.float32)
    col = {name: i for i, name in enumerate(FEATURES)}

    def put(name: str, value: Any) -> None:
        out[:, col[name]] = value

    put("user_mean", p.mean)
    put("user_log_count", p.log_count)
    put("user_std", p.std)
    put("user_like_rate", p.like_rate)
    put("item_mean", t.item_mean[cand])
    put("item_log_count", t.item_log_count[cand])
    put("item_like_rate", t.item_like[cand])

    g = np.asarray(t.genres[cand])
    n_genres = g.sum(axis=1)
    has = n_genres > 0
    aff = p.genre_affinity[None, :]
    put("genre_affinity_mean", np.where(has, (g @ p.genre_affinity) / np.maximum(n_genres, 1), np.nan))
    put("genre_affinity_max", np.where(has, np.where(g > 0, aff, -np.inf).max(axis=1), np.nan))
    put("genre_affinity_min", np.where(has, np.where(g > 0, aff, np.inf).min(axis=1), np.nan))
    put("genre_share", g @ p.genre_share)

    put("rating_cluster", p.rating_cluster)
    put("genre_cluster", p.genre_cluster)
    put("cluster_item_mean", t.cluster_item_mean[p.rating_cluster, cand])
    put("cluster_item_like", t.cluster_item_like[p.rating_cluster, cand])
    put("genre_cluster_item_mean", t.genre_cluster_item_mean[p.genre_cluster, cand])

    dot = np.asarray(t.item_factors[cand]) @ p.factors
    put("mf_dot", dot)
    put("mf_prediction", t.global_mean + p.bias + t.item_bias[cand] + dot)
    put("item_bias", t.item_bias[cand])
    put("user_bias", p.bias)

    v = np.asarray(t.vectors[cand], dtype=np.float32)
    if len(p.liked):
        put("content_liked_max", (v @ np.asarray(t.vectors[p.liked]).T).max(axis=1))
    else:
        put("content_liked_max", np.nan)
    put("content_liked_centroid", v @ p.liked_centroid)
    if len(p.disliked):
        put("content_disliked_max", (v @ np.asarray(t.vectors[p.disliked]).T).max(axis=1))
    else:
        put("content_disliked_max", np.nan)
    put("content_taste", v @ p.taste)

    put("popularity", t.popularity[cand])
    years = t.year[cand]
    put("year", years)
    put("year_vs_user", years - p.mean_year)
    return out


# ------------------------------------------------------------------------- ranking


@dataclass
class Candidates:
    rows: np.ndarray          # candidate catalog rows
    cf: np.ndarray            # item-item score of each candidate
    cluster_share: np.ndarray  # share of the user's rating cluster who liked it
    content: np.ndarray       # cosine to the liked centroid
    cf_rank: np.ndarray       # rank (0 best) of each candidate within the candidate set, by source
    cluster_rank: np.ndarray
    content_rank: np.ndarray


def cf_scores(t: ItemTables, rows: np.ndarray) -> np.ndarray:
    """Item-item (EASE) scores of every catalog row for a binary history: sum of the history's rows."""
    rows = np.asarray(rows, dtype=np.int64)
    starts = np.asarray(t.cf_indptr[rows], dtype=np.int64)
    lengths = np.asarray(t.cf_indptr[rows + 1], dtype=np.int64) - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(t.n_items, dtype=np.float64)
    offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
    take = offsets + np.arange(total)
    return np.bincount(np.asarray(t.cf_indices)[take], weights=np.asarray(t.cf_data)[take], minlength=t.n_items)


def _top(scores: np.ndarray, allowed: np.ndarray, n: int) -> np.ndarray:
    """Rows of the n best allowed scores (unordered)."""
    masked = np.where(allowed, scores, -np.inf)
    n = min(n, int(allowed.sum()))
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    top = np.argpartition(-masked, n - 1)[:n]
    return top[np.isfinite(masked[top])]


def _ranks(values: np.ndarray) -> np.ndarray:
    """Rank of each value within the candidate set (0 = best)."""
    ranks = np.empty(len(values), dtype=np.float32)
    ranks[np.argsort(-values, kind="stable")] = np.arange(len(values), dtype=np.float32)
    return ranks


def _source_scores(t: ItemTables, p: Profile) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Item-item, popular-in-cluster and content scores of every catalog row."""
    cf = cf_scores(t, p.rows)
    cluster = np.asarray(t.cluster_item_like[p.rating_cluster], dtype=np.float64)
    content = np.asarray(t.vectors @ p.liked_centroid, dtype=np.float64) if p.liked_centroid.any() \
        else np.zeros(t.n_items)
    return cf, cluster, content


def _assemble(chosen: np.ndarray, cf: np.ndarray, cluster: np.ndarray, content: np.ndarray) -> Candidates:
    cf, cluster, content = cf[chosen], cluster[chosen], content[chosen]
    return Candidates(chosen, cf.astype(np.float32), cluster.astype(np.float32), content.astype(np.float32),
                      _ranks(cf), _ranks(cluster), _ranks(content))


def candidates(t: ItemTables, p: Profile, allowed: np.ndarray, *, n_cf: int, n_content: int,
               n_cluster: int) -> Candidates:
    """Union of the item-item, content-neighbour and popular-in-cluster top lists among `allowed` rows."""
    cf, cluster, content = _source_scores(t, p)
    chosen = np.unique(np.concatenate([
        _top(cf, allowed & (cf != 0), n_cf), _top(content, allowed, n_content), _top(cluster, allowed, n_cluster)]))
    return _assemble(chosen, cf, cluster, content)


def candidates_from_rows(t: ItemTables, p: Profile, rows: np.ndarray) -> Candidates:
    """Given rows as candidates, with the same source scores."""
    return _assemble(np.asarray(rows, dtype=np.int64), *_source_scores(t, p))


def ranking_features(t: ItemTables, p: Profile, c: Candidates) -> np.ndarray:
    """Pair features plus the candidate sources' scores and ranks, columns in RANKING_FEATURES order."""
    extra = np.column_stack([c.cf, np.log1p(c.cf_rank), np.log1p(c.cluster_rank), np.log1p(c.content_rank)])
    return np.hstack([pair_features(t, p, c.rows), extra.astype(np.float32)])


def final_scores(ranker_margin: np.ndarray, c: Candidates, boost: float) -> np.ndarray:
    """The ranking score: the ranker's margin plus the tuned cluster boost (popular with viewers like you)."""
    return ranker_margin + boost * c.cluster_share


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))
