"""One registry version, loaded for serving: catalog, vectors and indexes, all memory-mapped.

Loading verifies the manifest's checksums first (a corrupted artifact is never served),
then maps the arrays; the only work proportional to the catalog is building id lookups.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from movierec.artifacts import registry
from movierec.artifacts.catalog import MISSING_ID, CatalogArrays, read_catalog
from movierec.artifacts.titles import title_key
from movierec.index import ClusteredIndex

from .gc_pause import collections_paused
from .personal import PersonalArtifacts, load_personal
from .search import SearchEngine

log = logging.getLogger(__name__)

VECTORS = "content/vectors.npy"
INDEX_DIR = "index"


@dataclass
class Lookups:
    """Caller ids → internal rows. Built once per loaded version."""

    movielens: dict[int, int]
    tmdb: dict[int, int]
    imdb: dict[int, int]
    title: dict[str, list[int]]          # title_key → rows, most-rated first
    genre_bits: dict[str, int]           # folded genre name → bit

    @classmethod
    def build(cls, catalog: CatalogArrays) -> Lookups:
        def index(column: np.ndarray) -> dict[int, int]:
            rows = np.flatnonzero(column != MISSING_ID)
            return dict(zip(column[rows].tolist(), rows.tolist()))

        order = np.lexsort((-np.asarray(catalog.popularity), -np.asarray(catalog.rating_count)))
        titles: dict[str, list[int]] = {}
        for row, raw in zip(order.tolist(), np.asarray(catalog.title)[order].tolist()):
            titles.setdefault(title_key(raw), []).append(row)
        genres = {g.casefold(): bit for bit, g in enumerate(catalog.genre_vocabulary)}
        return cls(index(catalog.movielens_id), index(catalog.tmdb_id), index(catalog.imdb_id), titles, genres)


@dataclass
class LoadedModel:
    version: str
    manifest: dict[str, Any]
    catalog: CatalogArrays
    vectors: np.ndarray
    index: ClusteredIndex
    lookups: Lookups
    load_seconds: float
    extras: dict[str, Any] = field(default_factory=dict)
    personal: PersonalArtifacts | None = None  # RecommendForUser / PredictRatings (service/personal.py)

    @property
    def created(self) -> str:
        return str(self.manifest.get("created", ""))


def load_model(registry_dir: Path, version: str = "", *, verify: bool = True) -> LoadedModel:
    """Load `version` (default: production) from the registry, or raise RegistryError/ValueError."""
    with collections_paused():
        return _load(registry_dir, version, verify)


def _load(registry_dir: Path, version: str, verify: bool) -> LoadedModel:
    started = time.perf_counter()
    found = (registry.open_version(registry_dir, version, verify=verify) if version
             else registry.production_version(registry_dir, verify=verify))
    catalog = read_catalog(found.path)
    vectors = np.load(found.file(VECTORS), mmap_mode="r")
    index = ClusteredIndex.load(found.file(INDEX_DIR), mmap=True)
    if vectors.shape[0] != len(catalog) or index.ntotal != len(catalog):
        raise registry.RegistryError(
            f"version {found.name}: {len(catalog)} catalog rows, {vectors.shape[0]} vectors, "
            f"{index.ntotal} indexed — the artifacts do not belong together"
        )
    lookups = Lookups.build(catalog)
    search = SearchEngine.load(found.path, vectors=vectors, years=catalog.year, manifest=found.manifest)
    personal = load_personal(found.path, catalog, vectors)
    elapsed = time.perf_counter() - started
    log.info("loaded model %s: %d movies, %d clusters in %.3fs", found.name, len(catalog), index.n_clusters, elapsed)
    if search is not None:
        log.info("search structures of %s loaded in %.3fs", found.name, search.load_seconds)
    # A plain ndarray view of the mapped vectors (still zero-copy): np.memmap's Python-level
    # __getitem__ costs ~1.5 µs per row read on SimilarMovies' path.
    return LoadedModel(found.name, found.manifest, catalog, np.asarray(vectors), index, lookups, elapsed,
                       extras={"search": search} if search is not None else {}, personal=personal)
