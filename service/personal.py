"""RecommendForUser and PredictRatings scoring, callable in-process (evaluation, benchmarks) without RPC.

Loads `personal/` of a version (tables memory-mapped, boosters from UBJSON) and scores with
`movierec.artifacts.personal_features` — the functions the trainer computed training features with.
"""

from __future__ import annotations

import json
import sys
import threading
import types
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from movierec.artifacts import personal_features as pf
from movierec.artifacts.catalog import CatalogArrays

from .metrics import stage


def _import_xgboost_without_sklearn() -> types.ModuleType:
    """Serving needs xgboost's native Booster only, but `xgboost.compat` imports scikit-learn (and
    with it scipy.stats and pandas) to offer its sklearn wrappers: about 1 s of a 1.7 s cold start.
    Hiding scikit-learn during the import sends xgboost down its own no-scikit-learn path, as on a
    host without it; afterwards scikit-learn imports normally. When scikit-learn or xgboost is
    already loaded (trainer, `make eval`) nothing changes."""
    if "sklearn" in sys.modules or "xgboost" in sys.modules:
        import xgboost
        return xgboost
    sys.modules["sklearn"] = None  # type: ignore[assignment]  # makes `import sklearn` raise ImportError
    try:
        import xgboost
    finally:
        del sys.modules["sklearn"]
    return xgboost


xgb = _import_xgboost_without_sklearn()

LIKED_REASON_MIN_SIMILARITY = 0.3   # below this, the best-matching liked movie is not a credible reason
CLUSTER_REASON = "popular with viewers like you"
PROFILE_CACHE_SIZE = 4096           # profiles (a few KB each) of recently scored histories, per model version


@dataclass
class PersonalArtifacts:
    tables: pf.ItemTables
    classifier: xgb.Booster
    regressor: xgb.Booster
    ranker: xgb.Booster
    cluster_boost: float
    user_index: dict[int, int]
    seen_indptr: np.ndarray
    seen_rows: np.ndarray
    seen_ratings: np.ndarray
    candidates_cf: int = 200
    candidates_content: int = 100
    candidates_cluster: int = 100
    _profiles: OrderedDict[bytes, pf.Profile] = field(default_factory=OrderedDict, repr=False, compare=False)
    _profiles_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def profile(self, rows: np.ndarray, ratings: np.ndarray) -> pf.Profile:
        """`pf.build_profile` of a history, from a bounded LRU keyed by the history's exact contents
        (a known user's stored ratings, or an anonymous history sent again). The artifacts belong to one
        model version, so a reload starts an empty cache. Profiles are shared: never mutate one."""
        rows = np.asarray(rows, dtype=np.int64)
        ratings = np.asarray(ratings, dtype=np.float32)
        key = b"%d:" % len(rows) + rows.tobytes() + ratings.tobytes()
        with self._profiles_lock:
            found = self._profiles.get(key)
            if found is not None:
                self._profiles.move_to_end(key)
                return found
        built = pf.build_profile(self.tables, rows, ratings)
        with self._profiles_lock:
            self._profiles[key] = built
            while len(self._profiles) > PROFILE_CACHE_SIZE:
                self._profiles.popitem(last=False)
        return built

    def history(self, user_id: int) -> tuple[np.ndarray, np.ndarray] | None:
        """A known user's training ratings (catalog rows, ratings), or None for an unknown user."""
        position = self.user_index.get(user_id)
        if position is None:
            return None
        start, end = int(self.seen_indptr[position]), int(self.seen_indptr[position + 1])
        return np.asarray(self.seen_rows[start:end], dtype=np.int64), np.asarray(self.seen_ratings[start:end])


def _booster(path: Path) -> xgb.Booster:
    booster = xgb.Booster(model_file=str(path))
    booster.set_param({"nthread": 1})  # tiny batches: threads cost more than they give
    return booster


def load_personal(version_dir: Path, catalog: CatalogArrays, vectors: np.ndarray) -> PersonalArtifacts | None:
    """The version's personalisation artifacts, or None when it was trained without them."""
    root = version_dir / pf.DIRECTORY
    if not (root / "meta.json").is_file():
        return None
    meta = json.loads((root / "meta.json").read_text())
    if tuple(meta["ranking_features"]) != pf.RANKING_FEATURES:
        raise ValueError(f"{root}: trained with other features than this server computes; retrain")
    genres, popularity, year = pf.catalog_columns(catalog.genre_mask, len(catalog.genre_vocabulary),
                                                  catalog.popularity, catalog.year)
    tables = pf.ItemTables.load(version_dir, genres=genres, vectors=vectors, popularity=popularity, year=year)
    user_ids = np.load(root / "users" / "user_ids.npy")
    candidates = meta.get("candidates", {})
    return PersonalArtifacts(
        tables=tables, classifier=_booster(root / "classifier.ubj"), regressor=_booster(root / "regressor.ubj"),
        ranker=_booster(root / "ranker.ubj"), cluster_boost=float(meta["cluster_boost"]),
        user_index={int(u): i for i, u in enumerate(user_ids.tolist())},
        seen_indptr=np.load(root / "users" / "seen_indptr.npy", mmap_mode="r"),
        seen_rows=np.load(root / "users" / "seen_rows.npy", mmap_mode="r"),
        seen_ratings=np.load(root / "users" / "seen_ratings.npy", mmap_mode="r"),
        **{f"candidates_{k}": int(v) for k, v in candidates.items()},
    )


def profile_of(personal: PersonalArtifacts, rows: np.ndarray, ratings: np.ndarray) -> pf.Profile:
    with stage("feature_building"):
        return personal.profile(rows, ratings)


@dataclass
class Recommended:
    rows: np.ndarray
    scores: np.ndarray
    like_probability: np.ndarray
    predicted_rating: np.ndarray
    reason_rows: np.ndarray     # the liked movie each result is "because of", -1 for the cluster reason
    rating_cluster: int


def recommend(personal: PersonalArtifacts, profile: pf.Profile, k: int, allowed: np.ndarray | None = None,
              excluded: frozenset[int] | set[int] = frozenset(), exclude_seen: bool = True) -> Recommended:
    """Top-k: candidates (item-item, content, popular-in-cluster) → XGBoost ranker → cluster boost."""
    t = personal.tables
    mask = np.ones(t.n_items, dtype=bool) if allowed is None else np.array(allowed, dtype=bool)
    if exclude_seen:
        mask[profile.rows] = False
    if excluded:
        mask[np.fromiter(excluded, dtype=np.int64)] = False
    with stage("ann_search"):
        c = pf.candidates(t, profile, mask, n_cf=personal.candidates_cf, n_content=personal.candidates_content,
                          n_cluster=personal.candidates_cluster)
        if len(c.rows) < k:  # narrow filters: fill with the best-rated allowed movies
            extra = np.setdiff1d(np.flatnonzero(mask), c.rows)
            extra = extra[np.argsort(-np.asarray(t.item_mean)[extra], kind="stable")[: k - len(c.rows)]]
            c = pf.candidates_from_rows(t, profile, np.r_[c.rows, extra])
    if len(c.rows) == 0:
        empty = np.zeros(0, np.float32)
        return Recommended(np.zeros(0, np.int64), empty, empty, empty, np.zeros(0, np.int64), profile.rating_cluster)
    with stage("feature_building"):
        x = pf.ranking_features(t, profile, c)
    with stage("xgboost_predict"):
        margin = personal.ranker.inplace_predict(x, predict_type="margin")
    scores = pf.final_scores(margin, c, personal.cluster_boost)
    top = np.argsort(-scores, kind="stable")[:k]
    pair = x[top, : len(pf.FEATURES)]
    with stage("xgboost_predict"):
        like = personal.classifier.inplace_predict(pair)
        rating = np.clip(personal.regressor.inplace_predict(pair), 0.5, 5.0)
    return Recommended(c.rows[top], scores[top].astype(np.float32), np.asarray(like, np.float32),
                       np.asarray(rating, np.float32), _reasons(t, profile, c.rows[top]), profile.rating_cluster)


def _reasons(t: pf.ItemTables, profile: pf.Profile, rows: np.ndarray) -> np.ndarray:
    if not len(profile.liked) or not len(rows):
        return np.full(len(rows), -1, dtype=np.int64)
    sims = np.asarray(t.vectors[rows]) @ np.asarray(t.vectors[profile.liked]).T
    best = sims.argmax(axis=1)
    return np.where(sims[np.arange(len(rows)), best] >= LIKED_REASON_MIN_SIMILARITY, profile.liked[best], -1)


def reason_text(catalog: CatalogArrays, reason_row: int) -> str:
    return CLUSTER_REASON if reason_row < 0 else f"because you liked {catalog.title[reason_row]}"


def predict_ratings(personal: PersonalArtifacts, profile: pf.Profile, rows: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(predicted rating, like probability) for each row, in the order given."""
    with stage("feature_building"):
        x = pf.pair_features(personal.tables, profile, rows)
    with stage("xgboost_predict"):
        rating = np.clip(personal.regressor.inplace_predict(x), 0.5, 5.0)
        like = personal.classifier.inplace_predict(x)
    return np.asarray(rating, np.float32), np.asarray(like, np.float32)
