"""Personalisation training: item tables (stats, ALS factors, user clusters, EASE), the XGBoost
like/dislike classifier and rating regressor (leak-free: out-of-fold features), and the XGBoost
ranker behind RecommendForUser with its tuned cluster boost.

Every feature is computed by `movierec.artifacts.personal_features` — the module the service
uses at request time — from tables fitted here on training ratings only.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import xgboost as xgb
from sklearn.cluster import KMeans
from sklearn.decomposition import TruncatedSVD
from sklearn.metrics import log_loss, roc_auc_score, silhouette_score
from sklearn.model_selection import KFold

from movierec.artifacts import personal_features as pf
from movierec.artifacts.personal_features import ItemTables

from .config import PersonalConfig

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------ ratings


@dataclass
class Ratings:
    """Ratings as parallel arrays over catalog rows."""

    users: np.ndarray      # userId
    rows: np.ndarray       # catalog row
    ratings: np.ndarray    # float32
    timestamps: np.ndarray

    def __len__(self) -> int:
        return len(self.users)

    def subset(self, index: np.ndarray) -> Ratings:
        return Ratings(self.users[index], self.rows[index], self.ratings[index], self.timestamps[index])


def ratings_on_rows(ratings: pd.DataFrame, movielens_ids: np.ndarray) -> Ratings:
    """userId/movieId/rating/timestamp → arrays over catalog rows (ratings of unknown movies dropped)."""
    ids = np.asarray(movielens_ids, dtype=np.int64)
    lookup = pd.Series(np.arange(len(ids)), index=ids)
    lookup = lookup[lookup.index >= 0]
    rows = ratings["movieId"].astype(np.int64).map(lookup)
    keep = rows.notna().to_numpy()
    return Ratings(ratings["userId"].to_numpy(np.int64)[keep], rows.to_numpy()[keep].astype(np.int64),
                   ratings["rating"].to_numpy(np.float32)[keep], ratings["timestamp"].to_numpy(np.int64)[keep])


@dataclass
class CatalogSide:
    """The catalog columns personalisation needs, derived exactly as the service derives them."""

    movielens_ids: np.ndarray
    genres: np.ndarray
    vectors: np.ndarray
    popularity: np.ndarray
    year: np.ndarray

    @property
    def n_items(self) -> int:
        return len(self.genres)


def personal_side(arrays: dict[str, np.ndarray], n_genres: int, vectors: np.ndarray) -> CatalogSide:
    """From the catalog arrays written to the version (pipeline.catalog_arrays) and the content vectors."""
    genres, popularity, year = pf.catalog_columns(arrays["genre_mask"], n_genres, arrays["popularity"], arrays["year"])
    return CatalogSide(np.asarray(arrays["movielens_id"]), genres, np.asarray(vectors, np.float32), popularity, year)


# ------------------------------------------------------------------- item tables


def _als(users: np.ndarray, items: np.ndarray, r: np.ndarray, n_users: int, n_items: int, mu: float,
         config: PersonalConfig) -> tuple[np.ndarray, np.ndarray]:
    """Biased MF by alternating ridge solves; returns item biases and factors."""
    rng = np.random.default_rng(config.seed)
    f = config.factors
    user_side = np.zeros((n_users, f + 1), np.float32)
    item_side = np.hstack([np.zeros((n_items, 1)), rng.normal(0, 0.1, (n_items, f))]).astype(np.float32)
    by_user, by_item = np.argsort(users, kind="stable"), np.argsort(items, kind="stable")
    for _ in range(config.mf_iterations):
        user_side = _solve_side(users, items, r - mu - item_side[items, 0], item_side, n_users, config.mf_reg, by_user)
        item_side = _solve_side(items, users, r - mu - user_side[users, 0], user_side, n_items, config.mf_reg, by_item)
    return item_side[:, 0].copy(), np.ascontiguousarray(item_side[:, 1:])


def _solve_side(own: np.ndarray, other: np.ndarray, target: np.ndarray, other_side: np.ndarray, n_own: int,
                reg: float, order: np.ndarray) -> np.ndarray:
    """For each `own` id: ridge of target on [1, other factors]; returns [bias, factors] rows."""
    o = own[order]
    x = np.hstack([np.ones((len(o), 1), np.float32), other_side[other[order], 1:]])
    y = target[order].astype(np.float32)
    starts = np.flatnonzero(np.r_[True, o[1:] != o[:-1]])
    xtx = np.add.reduceat(x[:, :, None] * x[:, None, :], starts, axis=0).astype(np.float64)
    xty = np.add.reduceat(x * y[:, None], starts, axis=0).astype(np.float64)
    xtx += reg * np.eye(x.shape[1])
    solved = np.linalg.solve(xtx, xty[..., None])[..., 0]
    out = np.zeros((n_own, x.shape[1]), np.float32)
    out[o[starts]] = solved
    return out


def _choose_kmeans(points: np.ndarray, ks: tuple[int, ...], seed: int) -> tuple[KMeans, dict[int, float]]:
    """KMeans with k chosen by silhouette among the candidates that fit the number of points."""
    usable = [k for k in ks if 2 <= k < len(points)] or [min(2, len(points))]
    scores: dict[int, float] = {}
    best: KMeans | None = None
    for k in usable:
        model = KMeans(n_clusters=k, n_init=2, random_state=seed).fit(points)
        score = float(silhouette_score(points, model.labels_)) if len(set(model.labels_)) > 1 else -1.0
        scores[k] = round(score, 4)
        if best is None or score > scores[best.n_clusters]:
            best = model
    assert best is not None
    return best, scores


def _user_means(codes: np.ndarray, r: np.ndarray, n_users: int, global_mean: float) -> np.ndarray:
    sums = np.bincount(codes, weights=r, minlength=n_users)
    counts = np.bincount(codes, minlength=n_users)
    return ((sums + pf.USER_SHRINK * global_mean) / (counts + pf.USER_SHRINK)).astype(np.float32)


def ease_matrix(rows: np.ndarray, users: np.ndarray, n_items: int, lam: float, min_count: int) -> tuple[
        np.ndarray, np.ndarray]:
    """EASE (Steck 2019) over items with >= min_count ratings: the dense B and the item rows it covers."""
    counts = np.bincount(rows, minlength=n_items)
    items = np.flatnonzero(counts >= min_count)
    position = np.full(n_items, -1)
    position[items] = np.arange(len(items))
    keep = position[rows] >= 0
    _, user_codes = np.unique(users, return_inverse=True)
    x = sp.csr_matrix((np.ones(int(keep.sum()), np.float32), (user_codes[keep], position[rows[keep]])),
                      shape=(user_codes.max() + 1 if len(user_codes) else 0, len(items)))
    x.data[:] = 1.0
    gram = (x.T @ x).toarray().astype(np.float32)
    gram[np.diag_indices_from(gram)] += lam
    inverse = np.linalg.inv(gram)  # float32: half the time of float64, ample for a ridge-regularised Gram
    b = inverse / (-np.diag(inverse))
    b[np.diag_indices_from(b)] = 0.0
    return b.astype(np.float32), items


def _prune(b: np.ndarray, items: np.ndarray, n_items: int, keep: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep the `keep` largest weights of each item's row; CSR over catalog rows."""
    keep = min(keep, b.shape[1])
    counts = np.zeros(n_items, np.int64)
    if keep == 0 or len(items) == 0:
        return np.zeros(n_items + 1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float32)
    top = np.argpartition(-b, keep - 1, axis=1)[:, :keep]
    values = np.take_along_axis(b, top, axis=1)
    counts[items] = keep
    indptr = np.r_[0, np.cumsum(counts)].astype(np.int64)
    order = np.argsort(items)  # items are increasing already; keep CSR rows in catalog order
    return indptr, items[top[order]].reshape(-1).astype(np.int32), values[order].reshape(-1).astype(np.float32)


def fit_tables(train: Ratings, side: CatalogSide, config: PersonalConfig, *, ease_lambda: float | None = None,
               cluster_k: tuple[int, int] | None = None, report: dict[str, Any] | None = None) -> ItemTables:
    """Every item-side table from `train` only. With `ease_lambda`, also the pruned EASE matrix.

    `cluster_k` (genre k, rating k) fixes the KMeans sizes; otherwise each is chosen by silhouette."""
    n = side.n_items
    r = train.ratings.astype(np.float64)
    mu = float(r.mean()) if len(r) else 3.5
    like = float((r >= pf.LIKE_THRESHOLD).mean()) if len(r) else 0.5
    counts = np.bincount(train.rows, minlength=n)
    sums = np.bincount(train.rows, weights=r, minlength=n)
    likes = np.bincount(train.rows, weights=(r >= pf.LIKE_THRESHOLD).astype(float), minlength=n)
    item_mean = ((sums + config.item_shrink * mu) / (counts + config.item_shrink)).astype(np.float32)
    item_like = ((likes + config.item_shrink * like) / (counts + config.item_shrink)).astype(np.float32)

    user_ids, codes = np.unique(train.users, return_inverse=True)
    n_users = len(user_ids)
    started = time.perf_counter()
    item_bias, item_factors = _als(codes, train.rows, r.astype(np.float32), n_users, n, mu, config)
    als_seconds = time.perf_counter() - started

    # User clusters: on genre affinities, and on SVD projections of centred rating vectors,
    # with exactly the formulas build_profile uses so request-time assignment matches.
    means = _user_means(codes, r, n_users, mu)
    centred = (r - means[codes]).astype(np.float32)
    matrix = sp.csr_matrix((centred, (codes, train.rows)), shape=(n_users, n))
    genre_counts = sp.csr_matrix((np.ones(len(r), np.float32), (codes, train.rows)), shape=(n_users, n)) @ side.genres
    affinity = np.asarray(matrix @ side.genres) / (np.asarray(genre_counts) + pf.GENRE_SHRINK)
    genre_ks, rating_ks = ((cluster_k[0],), (cluster_k[1],)) if cluster_k else (config.cluster_k, config.cluster_k)
    genre_model, genre_silhouettes = _choose_kmeans(affinity.astype(np.float32), genre_ks, config.seed)
    components = min(config.rating_svd_components, max(1, min(matrix.shape) - 1))
    svd = TruncatedSVD(n_components=components, random_state=config.seed).fit(matrix)
    projected = pf.unit_rows(np.asarray(matrix @ svd.components_.T.astype(np.float32), dtype=np.float32))
    rating_model, rating_silhouettes = _choose_kmeans(projected, rating_ks, config.seed)
    rating_labels = rating_model.predict(projected)
    genre_labels = genre_model.predict(affinity.astype(np.float32))

    def cluster_tables(labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        cluster_of_rating = labels[codes]
        flat = cluster_of_rating * n + train.rows
        c_sums = np.bincount(flat, weights=r, minlength=k * n).reshape(k, n)
        c_counts = np.bincount(flat, minlength=k * n).reshape(k, n)
        c_likes = np.bincount(flat, weights=(r >= pf.LIKE_THRESHOLD).astype(float), minlength=k * n).reshape(k, n)
        sizes = np.maximum(np.bincount(labels, minlength=k), 1)[:, None]
        c_mean = (c_sums + config.cluster_shrink * item_mean[None, :]) / (c_counts + config.cluster_shrink)
        return c_mean.astype(np.float32), (c_likes / sizes).astype(np.float32)

    cluster_item_mean, cluster_item_like = cluster_tables(rating_labels, rating_model.n_clusters)
    genre_cluster_item_mean, _ = cluster_tables(genre_labels, genre_model.n_clusters)

    if ease_lambda is not None:
        b, ease_items = ease_matrix(train.rows, train.users, n, ease_lambda, config.ease_min_count)
        cf_indptr, cf_indices, cf_data = _prune(b, ease_items, n, config.ease_keep)
    else:
        cf_indptr, cf_indices, cf_data = np.zeros(n + 1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float32)

    if report is not None:
        report.update({
            "users": int(n_users), "ratings": int(len(r)), "global_mean": round(mu, 4),
            "als_seconds": round(als_seconds, 3),
            "genre_clusters": {"k": int(genre_model.n_clusters), "silhouette_by_k": genre_silhouettes,
                               "sizes": np.bincount(genre_labels).tolist()},
            "rating_clusters": {"k": int(rating_model.n_clusters), "silhouette_by_k": rating_silhouettes,
                                "sizes": np.bincount(rating_labels).tolist(),
                                "svd_components": int(components),
                                "svd_explained_variance": round(float(svd.explained_variance_ratio_.sum()), 4)},
            "ease": {"lambda": ease_lambda, "items": int((np.diff(cf_indptr) > 0).sum()), "keep": config.ease_keep},
        })
    return ItemTables(
        global_mean=mu, global_like_rate=like, ridge=config.mf_reg,
        item_mean=item_mean, item_like=item_like, item_log_count=np.log1p(counts).astype(np.float32),
        item_bias=item_bias.astype(np.float32), item_factors=item_factors.astype(np.float32),
        genre_centroids=genre_model.cluster_centers_.astype(np.float32),
        rating_components=np.ascontiguousarray(svd.components_, dtype=np.float32),
        rating_centroids=rating_model.cluster_centers_.astype(np.float32),
        cluster_item_mean=cluster_item_mean, cluster_item_like=cluster_item_like,
        genre_cluster_item_mean=genre_cluster_item_mean,
        cf_indptr=cf_indptr, cf_indices=cf_indices, cf_data=cf_data,
        genres=side.genres, vectors=side.vectors, popularity=side.popularity, year=side.year,
    )


# -------------------------------------------------------------- pair features


def _groups(users: np.ndarray) -> dict[int, np.ndarray]:
    order = np.argsort(users, kind="stable")
    sorted_users = users[order]
    starts = np.flatnonzero(np.r_[True, sorted_users[1:] != sorted_users[:-1]])
    ends = np.r_[starts[1:], len(order)]
    return {int(sorted_users[s]): order[s:e] for s, e in zip(starts, ends, strict=False)}


def profiles(tables: ItemTables, history: Ratings) -> dict[int, pf.Profile]:
    return {user: pf.build_profile(tables, history.rows[idx], history.ratings[idx])
            for user, idx in _groups(history.users).items()}


def features_for(tables: ItemTables, history: Ratings, query_users: np.ndarray, query_rows: np.ndarray
                 ) -> np.ndarray:
    """Pair features of (query_users[i], query_rows[i]) with profiles built from `history` only."""
    built = profiles(tables, history)
    empty = pf.build_profile(tables, np.zeros(0, np.int64), np.zeros(0, np.float32))
    out = np.empty((len(query_users), len(pf.FEATURES)), np.float32)
    for user, idx in _groups(query_users).items():
        out[idx] = pf.pair_features(tables, built.get(user, empty), query_rows[idx])
    return out


def cluster_sizes(tables: ItemTables) -> tuple[int, int]:
    return len(tables.genre_centroids), len(tables.rating_centroids)


def oof_features(train: Ratings, side: CatalogSide, config: PersonalConfig,
                 cluster_k: tuple[int, int] | None = None) -> np.ndarray:
    """Features of every training row from tables and profiles fitted WITHOUT that row's inner fold."""
    out = np.empty((len(train), len(pf.FEATURES)), np.float32)
    folds = KFold(n_splits=config.inner_folds, shuffle=True, random_state=config.seed)
    for fit_index, hold_index in folds.split(np.arange(len(train))):
        fit = train.subset(fit_index)
        tables = fit_tables(fit, side, config, cluster_k=cluster_k)
        out[hold_index] = features_for(tables, fit, train.users[hold_index], train.rows[hold_index])
    return out


# ---------------------------------------------------------------- rating models


def _params(config: PersonalConfig, objective: str) -> dict[str, Any]:
    return {"objective": objective, "eta": config.learning_rate, "max_depth": config.max_depth,
            "subsample": 0.8, "colsample_bytree": 0.8, "min_child_weight": 5, "tree_method": "hist", "max_bin": 64,
            "nthread": config.threads, "seed": config.seed,
            "eval_metric": "logloss" if objective.startswith("binary") else "rmse"}


def fit_booster(x: np.ndarray, y: np.ndarray, config: PersonalConfig, objective: str,
                feature_names: tuple[str, ...] = pf.FEATURES) -> xgb.Booster:
    matrix = xgb.DMatrix(x, label=y, feature_names=list(feature_names), nthread=config.threads)
    return xgb.train(_params(config, objective), matrix, num_boost_round=config.trees)


def predict(booster: xgb.Booster, x: np.ndarray, margin: bool = False) -> np.ndarray:
    return booster.inplace_predict(x, predict_type="margin" if margin else "value")


@dataclass
class RatingModels:
    classifier: xgb.Booster
    regressor: xgb.Booster


def fit_rating_models(train: Ratings, side: CatalogSide, config: PersonalConfig,
                      columns: list[int] | None = None, cluster_k: tuple[int, int] | None = None
                      ) -> tuple[RatingModels, np.ndarray]:
    """Classifier (rating >= 4) and regressor on out-of-fold features; returns them and the features."""
    x = oof_features(train, side, config, cluster_k)
    use = x if columns is None else x[:, columns]
    names = pf.FEATURES if columns is None else tuple(pf.FEATURES[c] for c in columns)
    like = (train.ratings >= pf.LIKE_THRESHOLD).astype(np.float32)
    return RatingModels(fit_booster(use, like, config, "binary:logistic", names),
                        fit_booster(use, train.ratings, config, "reg:squarederror", names)), x


def gauc(users: np.ndarray, labels: np.ndarray, scores: np.ndarray) -> float:
    """Mean per-user AUC over users with both classes."""
    values = []
    for idx in _groups(users).values():
        y = labels[idx]
        if 0 < y.sum() < len(y):
            values.append(roc_auc_score(y, scores[idx]))
    return float(np.mean(values)) if values else float("nan")


def rating_metrics(test: Ratings, like_probability: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    like = (test.ratings >= pf.LIKE_THRESHOLD).astype(int)
    p = np.clip(like_probability, 1e-6, 1 - 1e-6)
    err = np.clip(predicted, 0.5, 5.0) - test.ratings
    return {"auc": float(roc_auc_score(like, p)), "logloss": float(log_loss(like, p, labels=[0, 1])),
            "gauc": gauc(test.users, like, p), "rmse": float(np.sqrt(np.mean(err ** 2))),
            "mae": float(np.mean(np.abs(err)))}


@dataclass
class FoldResult:
    metrics: dict[str, float]
    test_features: np.ndarray
    train_features: np.ndarray
    models: RatingModels | None = None


def rating_fold(train: Ratings, test: Ratings, side: CatalogSide, config: PersonalConfig) -> FoldResult:
    """One leak-free fold: OOF features for train rows, test features from tables fitted on train only."""
    tables = fit_tables(train, side, config)  # chooses the cluster sizes from this training fold
    models, x_train = fit_rating_models(train, side, config, cluster_k=cluster_sizes(tables))
    x_test = features_for(tables, train, test.users, test.rows)
    metrics = rating_metrics(test, predict(models.classifier, x_test), predict(models.regressor, x_test))
    return FoldResult(metrics, x_test, x_train, models)


def group_ablation(train: Ratings, test: Ratings, x_train: np.ndarray, x_test: np.ndarray,
                   config: PersonalConfig) -> dict[str, dict[str, float]]:
    """AUC and RMSE with each feature group removed (same fold, same features otherwise)."""
    like_train = (train.ratings >= pf.LIKE_THRESHOLD).astype(np.float32)
    like_test = (test.ratings >= pf.LIKE_THRESHOLD).astype(int)
    out = {}
    for group, names in [("none", ())] + list(pf.FEATURE_GROUPS.items()):
        keep = [i for i, name in enumerate(pf.FEATURES) if name not in names]
        feature_names = tuple(pf.FEATURES[i] for i in keep)
        clf = fit_booster(x_train[:, keep], like_train, config, "binary:logistic", feature_names)
        reg = fit_booster(x_train[:, keep], train.ratings, config, "reg:squarederror", feature_names)
        auc = roc_auc_score(like_test, predict(clf, x_test[:, keep]))
        rmse = float(np.sqrt(np.mean((np.clip(predict(reg, x_test[:, keep]), 0.5, 5) - test.ratings) ** 2)))
        out[group] = {"auc": round(float(auc), 4), "rmse": round(rmse, 4)}
    return out


# ---------------------------------------------------------------------- ranking


def time_split(data: Ratings, share: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """Per user, ratings by timestamp: the first floor(share × n) rows, and the rest (EVALUATION.md §2)."""
    order = np.lexsort((np.arange(len(data)), data.timestamps, data.users))
    users = data.users[order]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    lengths = np.diff(np.r_[starts, len(order)])
    position = np.arange(len(order)) - np.repeat(starts, lengths)
    cut = np.repeat(np.floor(lengths * share).astype(int), lengths)
    early = position < cut
    return np.sort(order[early]), np.sort(order[~early])


def ndcg_at(ranked: np.ndarray, relevant: set[int], k: int = 10) -> float:
    gains = np.array([1.0 if int(r) in relevant else 0.0 for r in ranked[:k]])
    dcg = float((gains / np.log2(np.arange(2, len(gains) + 2))).sum())
    ideal = float((1.0 / np.log2(np.arange(2, min(len(relevant), k) + 2))).sum())
    return dcg / ideal if ideal else 0.0


def relevant_by_user(test: Ratings) -> dict[int, set[int]]:
    liked = test.ratings >= pf.LIKE_THRESHOLD
    return {user: set(test.rows[idx][liked[idx]].tolist()) for user, idx in _groups(test.users).items()
            if liked[idx].any()}


def choose_ease_lambda(early: Ratings, late: Ratings, side: CatalogSide, config: PersonalConfig
                       ) -> tuple[float, dict[float, float]]:
    """The EASE lambda with the best NDCG@10 of plain EASE on the late part (never on any test set)."""
    relevant = relevant_by_user(late)
    groups = _groups(early.users)
    scores: dict[float, float] = {}
    for lam in config.ease_lambdas:
        b, items = ease_matrix(early.rows, early.users, side.n_items, lam, config.ease_min_count)
        position = np.full(side.n_items, -1)
        position[items] = np.arange(len(items))
        values = []
        for user, rel in relevant.items():
            seen = early.rows[groups[user]] if user in groups else np.zeros(0, np.int64)
            cols = position[seen]
            s = b[cols[cols >= 0]].sum(axis=0)
            s[cols[cols >= 0]] = -np.inf
            top = items[np.argsort(-s)[:10]]
            values.append(ndcg_at(top, rel))
        scores[lam] = round(float(np.mean(values)), 5)
    return max(scores, key=scores.get), scores


@dataclass
class RankingData:
    users: np.ndarray
    x: np.ndarray
    y: np.ndarray
    cluster_share: np.ndarray
    rows: np.ndarray


def ranking_data(tables: ItemTables, history: Ratings, relevant: dict[int, set[int]], config: PersonalConfig
                 ) -> tuple[RankingData, float]:
    """Candidates and features for every user with a relevant item; also the candidates' recall."""
    built = profiles(tables, history)
    parts: list[tuple[int, pf.Candidates, np.ndarray, np.ndarray]] = []
    hits, wanted = 0, 0
    for user, rel in relevant.items():
        profile = built.get(user)
        if profile is None:
            continue
        allowed = np.ones(tables.n_items, bool)
        allowed[profile.rows] = False
        c = pf.candidates(tables, profile, allowed, n_cf=config.candidates_cf, n_content=config.candidates_content,
                          n_cluster=config.candidates_cluster)
        y = np.fromiter((int(r) in rel for r in c.rows), bool, len(c.rows))
        hits += int(y.sum())
        wanted += min(len(rel), 10)
        parts.append((user, c, pf.ranking_features(tables, profile, c), y))
    data = RankingData(
        users=np.concatenate([np.full(len(c.rows), u) for u, c, _, _ in parts]),
        x=np.vstack([x for _, _, x, _ in parts]),
        y=np.concatenate([y for _, _, _, y in parts]).astype(np.float32),
        cluster_share=np.concatenate([c.cluster_share for _, c, _, _ in parts]),
        rows=np.concatenate([c.rows for _, c, _, _ in parts]),
    )
    return data, hits / max(wanted, 1)


def _sample(data: RankingData, index: np.ndarray, config: PersonalConfig) -> np.ndarray:
    """All positives and up to `negatives_per_user` random negatives per user, within `index`."""
    rng = np.random.default_rng(config.seed)
    keep = []
    for idx in _groups(data.users[index]).values():
        rows = index[idx]
        positive = rows[data.y[rows] > 0]
        negative = rows[data.y[rows] == 0]
        if len(negative) > config.negatives_per_user:
            negative = rng.choice(negative, config.negatives_per_user, replace=False)
        keep.append(np.r_[positive, negative])
    return np.sort(np.concatenate(keep)) if keep else np.zeros(0, np.int64)


def fit_ranker(data: RankingData, index: np.ndarray, config: PersonalConfig) -> xgb.Booster:
    chosen = _sample(data, index, config)
    return fit_booster(data.x[chosen], data.y[chosen], config, "binary:logistic", pf.RANKING_FEATURES)


def ranking_ndcg(data: RankingData, scores: np.ndarray, relevant: dict[int, set[int]]) -> float:
    values = []
    for user, idx in _groups(data.users).items():
        top = data.rows[idx][np.argsort(-scores[idx], kind="stable")[:10]]
        values.append(ndcg_at(top, relevant[user]))
    return float(np.mean(values)) if values else 0.0


def tune_boost(data: RankingData, relevant: dict[int, set[int]], config: PersonalConfig
               ) -> tuple[float, dict[float, float], np.ndarray]:
    """Cross-fit the ranker over two halves of the users, then pick the cluster boost on those margins."""
    users = np.unique(data.users)
    rng = np.random.default_rng(config.seed)
    half = set(rng.permutation(users)[: len(users) // 2].tolist())
    in_half = np.fromiter((u in half for u in data.users), bool, len(data.users))
    margin = np.zeros(len(data.users), np.float32)
    for fit_mask in (in_half, ~in_half):
        if fit_mask.all() or not fit_mask.any():
            continue
        model = fit_ranker(data, np.flatnonzero(fit_mask), config)
        margin[~fit_mask] = predict(model, data.x[~fit_mask], margin=True)
    by_boost = {w: round(ranking_ndcg(data, margin + w * data.cluster_share, relevant), 5) for w in config.boost_grid}
    best = max(by_boost, key=lambda w: (by_boost[w], -w))
    return best, by_boost, margin


# ------------------------------------------------------------------ training run


@dataclass
class PersonalModel:
    tables: ItemTables
    models: RatingModels
    ranker: xgb.Booster
    boost: float
    seen: Ratings
    candidates: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)

    def write(self, directory: Path) -> None:
        target = directory / pf.DIRECTORY
        target.mkdir(parents=True, exist_ok=True)
        self.tables.save(directory)
        self.models.classifier.save_model(str(target / "classifier.ubj"))
        self.models.regressor.save_model(str(target / "regressor.ubj"))
        self.ranker.save_model(str(target / "ranker.ubj"))
        users_dir = target / "users"
        users_dir.mkdir(exist_ok=True)
        order = np.lexsort((self.seen.rows, self.seen.users))
        users, rows, ratings = self.seen.users[order], self.seen.rows[order], self.seen.ratings[order]
        ids, counts = np.unique(users, return_counts=True)
        np.save(users_dir / "user_ids.npy", ids.astype(np.int64))
        np.save(users_dir / "seen_indptr.npy", np.r_[0, np.cumsum(counts)].astype(np.int64))
        np.save(users_dir / "seen_rows.npy", rows.astype(np.int32))
        np.save(users_dir / "seen_ratings.npy", ratings.astype(np.float32))
        (target / "meta.json").write_text(json.dumps({
            "features": list(pf.FEATURES), "ranking_features": list(pf.RANKING_FEATURES),
            "cluster_boost": self.boost, "like_threshold": pf.LIKE_THRESHOLD,
            "candidates": self.candidates,
        }, indent=2))


def train_personal(ratings: pd.DataFrame, side: CatalogSide, config: PersonalConfig,
                   progress: Any = log.info) -> PersonalModel:
    """Fit everything RecommendForUser and PredictRatings serve, from `ratings` only."""
    data = ratings_on_rows(ratings, side.movielens_ids)
    report: dict[str, Any] = {"timings": {}}
    metrics: dict[str, float] = {}

    def timed(name: str, started: float) -> None:
        report["timings"][name] = round(time.perf_counter() - started, 3)
        progress(f"personal: {name} done in {report['timings'][name]}s")

    held_out: RatingModels | None = None
    if config.holdout_metrics and len(data) >= 50:
        started = time.perf_counter()
        train_index, test_index = next(KFold(5, shuffle=True, random_state=config.seed).split(np.arange(len(data))))
        fold = rating_fold(data.subset(train_index), data.subset(test_index), side, config)
        metrics.update({f"classifier_{k}" if k in ("auc", "logloss", "gauc") else f"regressor_{k}": round(v, 4)
                        for k, v in fold.metrics.items()})
        held_out = fold.models  # served as they are: the metrics describe exactly these boosters
        timed("holdout_metrics", started)

    started = time.perf_counter()
    tables_report: dict[str, Any] = {}
    early_index, late_index = time_split(data)
    early, late = data.subset(early_index), data.subset(late_index)
    lam, by_lambda = choose_ease_lambda(early, late, side, config)
    tables = fit_tables(data, side, config, ease_lambda=lam, report=tables_report)
    ks = cluster_sizes(tables)
    timed("serving_tables", started)

    started = time.perf_counter()
    models = held_out if held_out is not None else fit_rating_models(data, side, config, cluster_k=ks)[0]
    timed("rating_models", started)

    started = time.perf_counter()
    relevant = relevant_by_user(late)
    early_tables = fit_tables(early, side, config, ease_lambda=lam, cluster_k=ks)
    ranking, candidate_recall = ranking_data(early_tables, early, relevant, config)
    boost, by_boost, margin = tune_boost(ranking, relevant, config)
    ranker = fit_ranker(ranking, np.arange(len(ranking.users)), config)
    timed("ranker", started)
    metrics.update({"ranker_validation_ndcg@10": by_boost[boost],
                    "ranker_validation_ndcg@10_no_boost": by_boost.get(0.0, float("nan")),
                    "candidate_recall@10": round(candidate_recall, 4), "cluster_boost": boost,
                    "ease_lambda": lam})

    metrics.update({"user_genre_clusters": tables_report["genre_clusters"]["k"],
                    "user_rating_clusters": tables_report["rating_clusters"]["k"]})
    report.update({"tables": tables_report, "ease_ndcg_by_lambda": by_lambda, "ndcg_by_boost": by_boost,
                   "ranking_rows": int(len(ranking.users))})
    candidates = {"cf": config.candidates_cf, "content": config.candidates_content,
                  "cluster": config.candidates_cluster}
    return PersonalModel(tables, models, ranker, boost, data, candidates, metrics, report)
