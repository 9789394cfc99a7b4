"""`make eval`: shared/EVALUATION.md sections 1-3, our models beside the baselines, from one run.

    python -m benchmarks.eval [--data-dir ../shared/data] [--out benchmarks/results/eval.json]

§2 first: the per-user time split's train part is written to a scratch data dir and trained through the
real pipeline (trainer.pipeline.train), so the evaluated model never saw a test rating; its
RecommendForUser numbers come from service.personal.recommend — the function the RPC calls.
§1 reuses that version's catalog and content vectors (they do not depend on ratings) for 5-fold CV.
§3 reads the same version's manifest and queries its served SimilarMovies search.
Seeds are 42 throughout; the JSON holds every number printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import KFold

from movierec.artifacts import personal_features as pf
from movierec.service import personal as served
from movierec.service.model import load_model
from movierec.service.requests import RowFilter
from movierec.service.similar import DEFAULT_SCOPE, SCOPES, default_probes, similar_rows
from movierec.trainer import personal as tp
from movierec.trainer.config import PersonalConfig, TrainConfig
from movierec.trainer.ingest import load_movielens
from movierec.trainer.pipeline import train

SEED = 42
K = 10
RATINGS_CSV = "ml-latest-small/ratings.csv"


def log(message: str) -> None:
    print(f"[eval {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def table(title: str, headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[f"{c:.4f}" if isinstance(c, float) else str(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    out = [title, "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=False)),
           "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) for row in cells]
    return "\n".join(out)


def pm(values: list[float]) -> str:
    return f"{np.mean(values):.4f} ± {np.std(values):.4f}"


# ------------------------------------------------------------------ §2 split + model


def time_split_frame(ratings: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per user, ratings sorted by timestamp: the first floor(80%) train, the rest test."""
    ordered = ratings.assign(_pos=np.arange(len(ratings))).sort_values(["userId", "timestamp", "_pos"], kind="stable")
    rank = ordered.groupby("userId").cumcount()
    size = ordered.groupby("userId")["userId"].transform("size")
    early = rank < np.floor(size * 0.8)
    return ordered[early].drop(columns="_pos"), ordered[~early].drop(columns="_pos")


def scratch_data_dir(source: Path, train_ratings: pd.DataFrame, root: Path) -> Path:
    """A data dir identical to `source` except that ratings.csv holds only the training ratings."""
    target = root / "data"
    for path in source.rglob("*"):
        if path.is_file():
            relative = path.relative_to(source)
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            if relative.as_posix() != RATINGS_CSV:
                os.symlink(path.resolve(), target / relative)
    frame = train_ratings[["userId", "movieId", "rating", "timestamp"]]
    frame.to_csv(target / RATINGS_CSV, index=False)
    return target


def ndcg(ranked: list[int], relevant: set[int], k: int = K) -> float:
    return tp.ndcg_at(np.asarray(ranked), relevant, k)


def topn_metrics(lists: dict[int, list[int]], relevant: dict[int, set[int]], n_items: int) -> dict[str, float]:
    nd, rec, hr, shown = [], [], [], set()
    for user, rel in relevant.items():
        ranked = lists.get(user, [])[:K]
        hits = len(set(ranked) & rel)
        nd.append(ndcg(ranked, rel))
        rec.append(hits / min(len(rel), K))
        hr.append(1.0 if hits else 0.0)
        shown.update(ranked)
    return {"ndcg@10": float(np.mean(nd)), "recall@10": float(np.mean(rec)), "hr@10": float(np.mean(hr)),
            "coverage": len(shown) / n_items, "users": len(relevant)}


def section2(model, train_r: tp.Ratings, test_r: tp.Ratings, n_items: int, config: PersonalConfig
             ) -> tuple[dict[str, Any], str]:
    relevant = tp.relevant_by_user(test_r)
    groups = tp._groups(train_r.users)
    seen = {u: train_r.rows[idx] for u, idx in groups.items()}
    personal = model.personal
    results: dict[str, dict[str, float]] = {}

    def served_lists(boost: float) -> dict[int, list[int]]:
        original = personal.cluster_boost
        personal.cluster_boost = boost
        try:
            out = {}
            for user in relevant:
                history = personal.history(user)
                profile = served.profile_of(personal, *history)
                out[user] = served.recommend(personal, profile, K).rows.tolist()
            return out
        finally:
            personal.cluster_boost = original

    log("§2 movierec (served scoring)")
    results["movierec (served RecommendForUser)"] = topn_metrics(served_lists(personal.cluster_boost), relevant,
                                                                 n_items)
    results["movierec without cluster boost"] = topn_metrics(served_lists(0.0), relevant, n_items)

    def lists_from(score_of) -> dict[int, list[int]]:
        out = {}
        for user in relevant:
            s = np.array(score_of(user), dtype=np.float64)
            s[seen.get(user, [])] = -np.inf
            top = np.argpartition(-s, K)[:K]
            out[user] = top[np.argsort(-s[top], kind="stable")].tolist()
        return out

    log("§2 popularity")
    counts = np.bincount(train_r.rows, minlength=n_items).astype(np.float64)
    results["popularity (train counts)"] = topn_metrics(lists_from(lambda u: counts), relevant, n_items)

    log("§2 item-kNN cosine")
    items = np.flatnonzero(counts > 0)
    position = np.full(n_items, -1)
    position[items] = np.arange(len(items))
    _, user_codes = np.unique(train_r.users, return_inverse=True)
    code_of = {u: c for u, c in zip(train_r.users.tolist(), user_codes.tolist(), strict=False)}
    x = sp.csr_matrix((np.ones(len(train_r), np.float32), (user_codes, position[train_r.rows])),
                      shape=(user_codes.max() + 1, len(items)))
    dense = x.toarray()
    dense /= np.maximum(np.linalg.norm(dense, axis=0), 1e-12)
    cosine = dense.T @ dense  # dense BLAS: the sparse product would be nearly dense anyway
    del dense
    np.fill_diagonal(cosine, 0.0)

    def knn(user: int) -> np.ndarray:
        s = np.full(n_items, -np.inf)
        s[items] = x[code_of[user]].toarray().ravel() @ cosine
        return s
    results["item-kNN (cosine)"] = topn_metrics(lists_from(knn), relevant, n_items)

    log("§2 EASE: lambda on a validation split carved from train")
    early_idx, late_idx = tp.time_split(train_r)
    early, late = train_r.subset(early_idx), train_r.subset(late_idx)
    late_relevant = tp.relevant_by_user(late)
    early_groups = tp._groups(early.users)
    by_lambda = {}
    for lam in (100.0, 250.0, 500.0, 1000.0):
        b, b_items = tp.ease_matrix(early.rows, early.users, n_items, lam, 1)
        pos = np.full(n_items, -1)
        pos[b_items] = np.arange(len(b_items))
        values = []
        for user, rel in late_relevant.items():
            cols = pos[early.rows[early_groups[user]]] if user in early_groups else np.zeros(0, int)
            cols = cols[cols >= 0]
            s = b[cols].sum(axis=0)
            s[cols] = -np.inf
            values.append(ndcg(b_items[np.argsort(-s, kind="stable")[:K]].tolist(), rel))
        by_lambda[lam] = float(np.mean(values))
        log(f"  EASE lambda {lam}: validation NDCG@10 {by_lambda[lam]:.4f}")
    lam = max(by_lambda, key=by_lambda.get)
    b, b_items = tp.ease_matrix(train_r.rows, train_r.users, n_items, lam, 1)
    pos = np.full(n_items, -1)
    pos[b_items] = np.arange(len(b_items))

    def ease(user: int) -> np.ndarray:
        s = np.full(n_items, -np.inf)
        cols = pos[seen[user]]
        s[b_items] = b[cols[cols >= 0]].sum(axis=0)
        return s
    results[f"EASE (lambda={lam:g}, chosen on validation)"] = topn_metrics(lists_from(ease), relevant, n_items)

    log("§2 latency")
    counts_by_user = {u: len(idx) for u, idx in groups.items()}
    heavy = min(counts_by_user, key=lambda u: abs(counts_by_user[u] - 500))
    latencies = []
    for _ in range(300):
        started = time.perf_counter()
        history = personal.history(heavy)
        served.recommend(personal, served.profile_of(personal, *history), K)
        latencies.append((time.perf_counter() - started) * 1000)
    latency = {"user": heavy, "ratings": counts_by_user[heavy], "p50_ms": float(np.percentile(latencies, 50)),
               "p95_ms": float(np.percentile(latencies, 95)), "calls": len(latencies)}

    ease_name = next(name for name in results if name.startswith("EASE"))
    ratio = results["movierec (served RecommendForUser)"]["ndcg@10"] / results[ease_name]["ndcg@10"]
    text = table(f"§2 Top-N (per-user time split 80/20, {len(relevant)} users, full ranking, k=10)",
                 ["model", "NDCG@10", "Recall@10", "HR@10", "coverage"],
                 [[name, m["ndcg@10"], m["recall@10"], m["hr@10"], m["coverage"]] for name, m in results.items()])
    text += (f"\nmovierec / EASE NDCG ratio: {ratio:.3f}   EASE validation NDCG by lambda: "
             + ", ".join(f"{k:g}={v:.4f}" for k, v in by_lambda.items()))
    text += (f"\nRecommendForUser in-process latency, user {heavy} with {latency['ratings']} ratings: "
             f"p50 {latency['p50_ms']:.2f} ms, p95 {latency['p95_ms']:.2f} ms ({latency['calls']} calls)")
    return {"results": results, "ease_lambda_validation": {str(k): v for k, v in by_lambda.items()},
            "ease_lambda": lam, "movierec_over_ease": ratio, "latency": latency}, text


# ---------------------------------------------------------------------------- §1


def bias_model(train: tp.Ratings, reg: float = 10.0, iterations: int = 10) -> tuple[float, dict, dict]:
    mu = float(train.ratings.mean())
    users, items = np.unique(train.users, return_inverse=True)
    rows, item_codes = np.unique(train.rows, return_inverse=True)
    bu, bi = np.zeros(len(users)), np.zeros(len(rows))
    r = train.ratings.astype(np.float64)
    for _ in range(iterations):
        bi = np.bincount(item_codes, weights=r - mu - bu[items], minlength=len(rows)) / (
            np.bincount(item_codes, minlength=len(rows)) + reg)
        bu = np.bincount(items, weights=r - mu - bi[item_codes], minlength=len(users)) / (
            np.bincount(items, minlength=len(users)) + reg)
    return mu, dict(zip(users.tolist(), bu, strict=False)), dict(zip(rows.tolist(), bi, strict=False))


def baseline_metrics(test: tp.Ratings, predicted: np.ndarray, score: np.ndarray | None) -> dict[str, float]:
    like = (test.ratings >= pf.LIKE_THRESHOLD).astype(int)
    err = np.clip(predicted, 0.5, 5.0) - test.ratings
    out = {"rmse": float(np.sqrt(np.mean(err ** 2))), "mae": float(np.mean(np.abs(err)))}
    if score is not None:
        p = np.clip(1 / (1 + np.exp(-(score - 3.5) * 2)), 1e-6, 1 - 1e-6)  # monotone: AUC is unaffected
        out.update({"auc": float(roc_auc_score(like, score)), "gauc": tp.gauc(test.users, like, score),
                    "logloss": float(log_loss(like, p, labels=[0, 1]))})
    return out


def surprise_svd(train: tp.Ratings, test: tp.Ratings) -> np.ndarray | None:
    try:
        from surprise import SVD, Dataset, Reader
    except ImportError:
        log("scikit-surprise is not installed (make eval installs the [eval] extra): no SVD baseline row")
        return None
    frame = pd.DataFrame({"u": train.users, "i": train.rows, "r": train.ratings})
    data = Dataset.load_from_df(frame, Reader(rating_scale=(0.5, 5.0))).build_full_trainset()
    algo = SVD(random_state=SEED).fit(data)
    return np.array([algo.predict(u, i).est for u, i in zip(test.users.tolist(), test.rows.tolist(), strict=False)])


def section1(data: tp.Ratings, side: tp.CatalogSide, config: PersonalConfig) -> tuple[dict[str, Any], str]:
    folds = KFold(n_splits=5, shuffle=True, random_state=SEED)
    per_model: dict[str, list[dict[str, float]]] = {}
    ablation = None
    for number, (train_idx, test_idx) in enumerate(folds.split(np.arange(len(data)))):
        started = time.perf_counter()
        train_r, test_r = data.subset(train_idx), data.subset(test_idx)
        fold = tp.rating_fold(train_r, test_r, side, config)
        per_model.setdefault("movierec XGBoost (classifier / regressor)", []).append(fold.metrics)
        mu = float(train_r.ratings.mean())
        per_model.setdefault("global mean", []).append(
            baseline_metrics(test_r, np.full(len(test_r), mu), None))
        mu, bu, bi = bias_model(train_r)
        bias = np.array([mu + bu.get(u, 0.0) + bi.get(i, 0.0) for u, i in zip(test_r.users.tolist(),
                                                                              test_r.rows.tolist(), strict=False)])
        per_model.setdefault("user+item bias (reg 10)", []).append(baseline_metrics(test_r, bias, bias))
        svd = surprise_svd(train_r, test_r)
        if svd is not None:
            per_model.setdefault("MF: Surprise SVD (defaults)", []).append(baseline_metrics(test_r, svd, svd))
        if number == 0:
            log("§1 feature-group ablation on fold 0")
            ablation = tp.group_ablation(train_r, test_r, fold.train_features, fold.test_features, config)
        log(f"§1 fold {number}: {fold.metrics} ({time.perf_counter() - started:.0f}s)")
    rows = []
    summary = {}
    for name, metrics in per_model.items():
        keys = ["auc", "logloss", "gauc", "rmse", "mae"]
        summary[name] = {k: {"mean": float(np.mean([m[k] for m in metrics])),
                             "std": float(np.std([m[k] for m in metrics]))} for k in keys if k in metrics[0]}
        rows.append([name] + [pm([m[k] for m in metrics]) if k in metrics[0] else "—" for k in keys])
    text = table("§1 Rating tasks (KFold 5, shuffle, seed 42; like = rating >= 4; leak-free features)",
                 ["model", "AUC", "log loss", "GAUC", "RMSE", "MAE"], rows)
    assert ablation is not None
    base = ablation["none"]
    text += "\n\n" + table("§1 Feature groups (fold 0): metric with the group removed, and the change",
                           ["removed group", "AUC", "ΔAUC", "RMSE", "ΔRMSE"],
                           [[g, v["auc"], round(v["auc"] - base["auc"], 4), v["rmse"],
                             round(v["rmse"] - base["rmse"], 4)]
                            for g, v in ablation.items()])
    return {"models": summary, "folds": per_model, "feature_group_ablation_fold0": ablation}, text


# ---------------------------------------------------------------------------- §3


def section3(model, ratings: pd.DataFrame, movies: pd.DataFrame) -> tuple[dict[str, Any], str]:
    manifest = model.manifest
    content, clusters = manifest["reports"]["content"], manifest["reports"]["clusters"]
    metrics = manifest["metrics"]
    catalog, lookups = model.catalog, model.lookups
    n = len(catalog)
    rows = ratings["movieId"].map(lookups.movielens)
    keep = rows.notna().to_numpy()
    liked = ratings[keep].assign(row=rows[keep].astype(int))
    liked = liked[liked["rating"] >= pf.LIKE_THRESHOLD]
    users, user_codes = np.unique(liked["userId"].to_numpy(), return_inverse=True)
    matrix = sp.csc_matrix((np.ones(len(liked), np.float32), (user_codes, liked["row"].to_numpy())),
                           shape=(len(users), n))
    counts = np.bincount(rows[keep].astype(int), minlength=n)
    queries = np.flatnonzero(counts >= 20)
    co = (matrix[:, queries].T @ matrix).tocsr()  # common likers of each query with every movie

    primary = {}
    for movie_id, genres in zip(movies["movieId"].tolist(), movies["genres"].tolist(), strict=False):
        row = lookups.movielens.get(int(movie_id))
        if row is not None and genres:
            primary[row] = genres[0]
    by_genre: dict[str, list[int]] = {}
    for row, genre in primary.items():
        by_genre.setdefault(genre, []).append(row)
    rng = np.random.default_rng(SEED)
    probes = default_probes(model)
    neighbour_share, random_share = [], []
    nothing = RowFilter(None, frozenset())
    for i, q in enumerate(queries.tolist()):
        found = similar_rows(model, q, K, SCOPES[DEFAULT_SCOPE], probes, nothing)[0]
        common = co[i].toarray().ravel()
        neighbour_share.append(float(np.mean(common[found] >= 3)) if len(found) else 0.0)
        pool = [r for r in by_genre.get(primary.get(q, ""), []) if r != q]
        if len(pool) >= K:
            sample = rng.choice(pool, K, replace=False)
            random_share.append(float(np.mean(common[sample] >= 3)))
    sizes = sorted(clusters["sizes"], reverse=True)
    result = {
        "feature_matrix_shape": content.get("matrix_shape"),
        "svd_explained_variance": metrics["svd_explained_variance"],
        "ward_k": clusters["k"], "ward_silhouette": metrics["silhouette"], "cluster_sizes": sizes,
        "index_recall@10": {k.split("_", 1)[1]: v for k, v in metrics.items() if k.startswith("recall@")},
        "co_liked_share_neighbours": float(np.mean(neighbour_share)),
        "co_liked_share_random_same_primary_genre": float(np.mean(random_share)),
        "co_liked_queries": int(len(queries)),
    }
    text = table("§3 Content similarity (served SimilarMovies, default scope)", ["measure", "value"], [
        ["feature matrix shape", str(result["feature_matrix_shape"])],
        ["SVD explained variance", float(result["svd_explained_variance"])],
        [f"Ward silhouette (k={result['ward_k']})", float(result["ward_silhouette"])],
        ["cluster sizes (min / median / max)", f"{min(sizes)} / {int(np.median(sizes))} / {max(sizes)}"],
        *[[f"index recall@10 {scope} vs exact global", float(v)] for scope, v in result["index_recall@10"].items()],
        [f"co-liked share of top-10 neighbours ({len(queries)} movies with >= 20 ratings)",
         result["co_liked_share_neighbours"]],
        ["co-liked share of 10 random same-primary-genre movies", result["co_liked_share_random_same_primary_genre"]],
    ])
    return result, text


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/eval.json"))
    args = parser.parse_args(argv)
    started = time.perf_counter()
    ml = load_movielens(args.data_dir)
    train_frame, test_frame = time_split_frame(ml.ratings)
    log(f"§2 split: {len(train_frame)} train / {len(test_frame)} test ratings")
    with tempfile.TemporaryDirectory(prefix="movierec-eval-") as scratch:
        root = Path(scratch)
        data_dir = scratch_data_dir(args.data_dir, train_frame, root)
        config = dataclasses.replace(TrainConfig(), data_dir=data_dir, registry_dir=root / "registry",
                                     personal=dataclasses.replace(PersonalConfig(), holdout_metrics=False))
        log("training on the §2 train split through trainer.pipeline.train")
        trained = train(config, progress=lambda text: log(text.replace("\n", " | ")))
        model = load_model(root / "registry", trained.version)
        ids = np.asarray(model.catalog.movielens_id)
        train_r, test_r = tp.ratings_on_rows(train_frame, ids), tp.ratings_on_rows(test_frame, ids)
        s2, text2 = section2(model, train_r, test_r, len(model.catalog), config.personal)
        log("§3")
        s3, text3 = section3(model, ml.ratings, ml.movies)
        side = tp.CatalogSide(ids, model.personal.tables.genres, np.asarray(model.vectors),
                              model.personal.tables.popularity, model.personal.tables.year)
        training_report = trained.manifest["reports"]["personal"]
        log("§1 5-fold CV")
        s1, text1 = section1(tp.ratings_on_rows(ml.ratings, ids), side, config.personal)
    clusters = training_report["tables"]
    text_clusters = table("User clusters (fitted on the §2 train split)",
                          ["clustering", "k", "silhouette by k", "sizes"], [
        ["KMeans on per-user genre affinity", clusters["genre_clusters"]["k"],
         json.dumps(clusters["genre_clusters"]["silhouette_by_k"]), str(clusters["genre_clusters"]["sizes"])],
        [f"KMeans on rating vectors (TruncatedSVD {clusters['rating_clusters']['svd_components']}, "
         f"expl. var. {clusters['rating_clusters']['svd_explained_variance']})", clusters["rating_clusters"]["k"],
         json.dumps(clusters["rating_clusters"]["silhouette_by_k"]), str(clusters["rating_clusters"]["sizes"])],
    ])
    boost = training_report["ndcg_by_boost"]
    text_clusters += ("\ncluster boost (validation NDCG@10 by weight, cross-fitted ranker): "
                      + ", ".join(f"{k}={v:.4f}" for k, v in boost.items()))
    elapsed = time.perf_counter() - started
    report = {"protocol": "shared/EVALUATION.md §1-3", "seed": SEED, "seconds": round(elapsed, 1),
              "rating_tasks": s1, "top_n": s2, "content": s3,
              "user_clusters": clusters, "cluster_boost_validation": boost,
              "training_timings": training_report["timings"]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v)))
    print("\n\n".join([text1, text2, text_clusters, text3]))
    print(f"\nwrote {args.out} in {elapsed:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
