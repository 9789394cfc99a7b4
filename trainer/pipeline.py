"""One training run: data → catalog → content model → clusters → indexes → a registry version.

Each stage is timed and reports what it found; the numbers are printed and recorded in the
manifest, so a version can be judged (and promoted) from its manifest alone.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from movierec.artifacts import registry
from movierec.artifacts.catalog import MISSING_ID, genre_mask, write_catalog
from movierec.index import ClusteredIndex, Scope, recall_at_k

from .catalog import build_catalog
from .clustering import ClusterResult, cluster_vectors
from .config import TrainConfig
from .features import ContentModel, build_soups, fit_content_model
from .gate import GateResult, gate_and_promote
from .ingest import file_checksums, load_movielens, load_tmdb
from .personal import personal_side, train_personal
from .search import search_tables_from_catalog
from .text_groups import build_text_groups

log = logging.getLogger(__name__)
T = TypeVar("T")

SCOPES = {"cluster": Scope.CLUSTER, "multi_probe": Scope.PROBE, "global": Scope.GLOBAL}
DETAIL_COLUMNS = ("original_title", "overview", "tagline", "keywords", "directors", "cast", "characters",
                  "tags", "alt_titles", "runtime", "budget", "revenue", "popularity", "vote_average", "vote_count")


@dataclass
class Timings:
    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        log.info("stage %s …", name)
        yield
        self.seconds[name] = round(time.perf_counter() - started, 3)
        log.info("stage %s done in %.2fs", name, self.seconds[name])


@dataclass(frozen=True)
class TrainResult:
    version: str
    path: Path
    manifest: dict[str, Any]
    promoted: bool = False
    gate: GateResult | None = None            # the promotion gate's checks (trainer/gate.py)


def _imdb_number(value: Any) -> int:
    text = str(value or "").lower().removeprefix("tt")
    return int(text) if text.isdigit() else MISSING_ID


def _plain(value: Any) -> Any:
    """JSON-friendly: NaN → None, numpy scalars → Python, arrays/lists → lists."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if value is pd.NA:
        return None
    return value


def catalog_arrays(movies: pd.DataFrame, genres: list[str]) -> dict[str, np.ndarray]:
    """The hot-path columns of the served catalog (see artifacts.catalog.CatalogArrays)."""
    return {
        "movielens_id": movies["movielens_id"].fillna(MISSING_ID).astype(np.int64).to_numpy(),
        "tmdb_id": movies["tmdb_id"].fillna(MISSING_ID).astype(np.int64).to_numpy(),
        "imdb_id": np.array([_imdb_number(v) for v in movies["imdb_id"]], dtype=np.int64),
        "year": movies["year"].fillna(0).astype(np.int16).to_numpy(),
        "genre_mask": np.array([genre_mask(g, genres) for g in movies["genres"]], dtype=np.uint32),
        "popularity": movies["popularity"].fillna(0.0).astype(np.float32).to_numpy(),
        "rating_count": movies["rating_count"].fillna(0).astype(np.int32).to_numpy(),
        "title": movies["title"].astype(str).to_numpy().astype(np.str_),
    }


def catalog_details(movies: pd.DataFrame) -> list[dict[str, Any]]:
    present = [c for c in DETAIL_COLUMNS if c in movies.columns]
    return [{c: _plain(v) for c, v in zip(present, values)} for values in movies[present].itertuples(index=False)]


def index_fidelity(index: ClusteredIndex, vectors: np.ndarray, config: TrainConfig) -> dict[str, float]:
    sample = config.index.recall_sample or None
    return {
        f"recall@{config.index.recall_k}_{name}": round(
            recall_at_k(index, vectors, config.index.recall_k, scope, probes=config.index.default_probes,
                        sample=sample, seed=config.cluster.seed), 4)
        for name, scope in SCOPES.items()
    }


def write_content(directory: Path, content: ContentModel) -> None:
    target = directory / "content"
    target.mkdir(parents=True, exist_ok=True)
    np.save(target / "vectors.npy", np.ascontiguousarray(content.vectors, dtype=np.float32))
    np.save(target / "idf.npy", np.asarray(content.idf, dtype=np.float32))
    np.save(target / "svd_components.npy", np.ascontiguousarray(content.svd_components, dtype=np.float32))
    (target / "vocabulary.json").write_text(json.dumps(list(content.vocabulary)))
    (target / "genre_vocabulary.json").write_text(json.dumps(list(content.genre_vocabulary)))


def summarise(content: ContentModel, clusters: ClusterResult, fidelity: dict[str, float],
              n_movies: int) -> dict[str, float]:
    """The flat numbers a promotion gate and a dashboard read."""
    sizes = np.asarray(clusters.sizes)
    return {
        "movies": float(n_movies),
        "embedding_dim": float(content.vectors.shape[1]),
        "svd_explained_variance": float(content.report.get("svd_explained_variance", float("nan"))),
        "clusters": float(clusters.k),
        "silhouette": float(clusters.silhouette),
        "cluster_size_min": float(sizes.min()),
        "cluster_size_median": float(np.median(sizes)),
        "cluster_size_max": float(sizes.max()),
        **fidelity,
    }


def train(config: TrainConfig, *, progress: Callable[[str], None] = print) -> TrainResult:
    """Run every stage and publish a complete version (and point production at it if asked)."""
    timings = Timings()
    with timings.stage("ingest"):
        movielens, tmdb = load_movielens(config.data_dir), load_tmdb(config.data_dir)
        checksums = file_checksums(config.data_dir)
    with timings.stage("catalog"):
        built = build_catalog(movielens, tmdb)
        movies = built.movies
    with timings.stage("content_model"):
        content = fit_content_model(movies, config.content)
    with timings.stage("clustering"):
        clusters = cluster_vectors(content.vectors, config.cluster)
    with timings.stage("index_build"):
        index = ClusteredIndex.build(content.vectors, clusters.labels, clusters.centroids)
    with timings.stage("index_fidelity"):
        fidelity = index_fidelity(index, content.vectors, config)
    with timings.stage("search_build"):
        search = search_tables_from_catalog(movies, build_soups(movies, config.content), content.vocabulary)
        text_dims = content.svd_components.shape[0]  # the text block leads the content vectors
        search.text_groups = build_text_groups(content.vectors[:, :text_dims], content.svd_components, config.search)
    with timings.stage("personal"):
        genre_names = list(content.genre_vocabulary)
        side = personal_side(catalog_arrays(movies, genre_names), len(genre_names), content.vectors)
        personal = train_personal(movielens.ratings, side, config.personal, progress=log.info)
    metrics = {**summarise(content, clusters, fidelity, len(movies)), **personal.metrics}
    version = registry.new_version_name()
    with timings.stage("write"), registry.writing_version(config.registry_dir, version) as scratch:
        genres = list(content.genre_vocabulary)
        write_catalog(scratch, catalog_arrays(movies, genres), genres, catalog_details(movies))
        write_content(scratch, content)
        search_report = search.write(scratch)
        index.save(scratch / "index")
        personal.write(scratch)
        manifest = registry.write_manifest(scratch, {
            "version": version,
            "kind": "movierec",
            "data": {"dir": str(config.data_dir), "sha256": checksums},
            "parameters": config.to_dict(),
            "metrics": metrics,
            "reports": {
                "search": search_report,
                "catalog": built.report,
                "content": content.report,
                "clusters": {"k": clusters.k, "silhouette_by_k": clusters.silhouette_by_k,
                             "sizes": list(map(int, clusters.sizes)), "timings": clusters.timings},
                "personal": personal.report,
            },
            "timings": timings.seconds,
        })
    # Registered as staging; production moves only if the promotion gate passes (trainer/gate.py).
    gate = gate_and_promote(config.registry_dir, version, config.gate, promote=config.promote)
    promoted = config.promote and gate.passed
    progress(report_text(version, manifest, promoted=promoted) + "\n" + gate.text())
    return TrainResult(version, config.registry_dir / version, manifest, promoted=promoted, gate=gate)


def report_text(version: str, manifest: dict[str, Any], *, promoted: bool) -> str:
    metrics, reports = manifest["metrics"], manifest["reports"]
    content = reports["content"]
    lines = [
        f"trained version {version}" + (" (now production)" if promoted else " (staging, not promoted)"),
        f"  catalog: {int(metrics['movies'])} movies; " + ", ".join(
            f"{k}={v}" for k, v in reports["catalog"].items() if isinstance(v, (int, float))),
        f"  feature matrix: {content.get('matrix_shape')}  tfidf vocabulary: {content.get('tfidf_vocabulary')}",
        f"  SVD explained variance: {metrics['svd_explained_variance']:.4f}",
        f"  Ward clusters: k={int(metrics['clusters'])}  silhouette={metrics['silhouette']:.4f}",
        f"  cluster sizes: {sorted(reports['clusters']['sizes'], reverse=True)}",
        "  index recall@10 vs exact global: " + ", ".join(
            f"{k.split('_', 1)[1]}={v:.4f}" for k, v in metrics.items() if k.startswith("recall@")),
        "  timings (s): " + ", ".join(f"{k}={v}" for k, v in manifest["timings"].items()),
    ]
    return "\n".join(lines)
