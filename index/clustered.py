"""Cluster-scoped similarity search over L2-normalised vectors (inner product = cosine).

One FAISS index per cluster plus one exact global index, so a "more like this" query can
stay inside the query movie's cluster (fast, on-theme), spread to the nearest few clusters,
or go global (exact). Rows are the internal row numbers 0..n-1 of the vectors matrix; the
caller maps them to movie ids.

The trainer builds and saves; the server loads memory-mapped and searches. Memory mapping
uses faiss.IO_FLAG_MMAP_IFC: with faiss 1.15 it maps the vectors of flat, IndexIDMap(HNSW)
and IVF-flat indexes zero-copy (checked for each: anonymous RSS grows < 1 MB on load), so
loading costs no reads and the pages live in the shared page cache.
IO_FLAG_MMAP does *not* do that for flat indexes (it is for IVF on-disk inverted lists):
measured on a 400 MB IndexFlatIP, IO_FLAG_MMAP | READ_ONLY took 340 ms and grew RSS by
390 MB, IO_FLAG_MMAP_IFC | READ_ONLY took 0.2 ms and grew anonymous RSS by 0 MB (touched
pages show up only as file-backed RSS, which the kernel can drop and processes share).
A mapped index is read-only: adding to it aborts the process, so this class never adds
after build. Files are replaced atomically on save, so a live mapping of an older version
is never overwritten under a running server.

Searching is thread-safe (indexes are only read after build or load).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from .kinds import IndexSpec, Kind, build_part, search_params
from .scope import Scope
from .selector import RowFilter, as_rows, not_in

FORMAT_VERSION = 1
MANIFEST_FILE = "index.json"
GLOBAL_FILE = "global.faiss"
CENTROIDS_FILE = "centroids.npy"
LABELS_FILE = "labels.npy"
CLUSTER_FILE = "cluster_{:04d}.faiss"
MMAP_FLAGS = faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY
DEFAULT_PROBES = 3  # matches trainer IndexConfig.default_probes
# FAISS OpenMP threads per search call (see _omp_threads for why one).
SEARCH_THREADS = 1

Hits = tuple[np.ndarray, np.ndarray]  # (rows int64, scores float32), best first

_ptr = faiss.swig_ptr
_NO_ROWS = np.empty(0, dtype=np.int64)


class ClusteredIndex:
    """Per-cluster FAISS indexes + a global exact index + the cluster centroids."""

    def __init__(
        self,
        global_index: faiss.Index,
        clusters: Sequence[faiss.Index],
        kinds: Sequence[Kind],
        centroids: np.ndarray,
        labels: np.ndarray,
        spec: IndexSpec,
    ) -> None:
        """Assemble from parts; use build() or load() rather than calling this directly."""
        if len(clusters) != len(centroids) or len(kinds) != len(clusters):
            raise ValueError("one index and one kind per centroid expected")
        if global_index.ntotal != len(labels) or sum(c.ntotal for c in clusters) != len(labels):
            raise ValueError("indexes and labels disagree on the number of rows")
        if centroids.ndim != 2 or centroids.shape[1] != global_index.d:
            raise ValueError("centroids and index dimension differ")
        self._global = global_index
        self._clusters = list(clusters)
        self._kinds = [Kind(k) for k in kinds]
        self._centroids = centroids
        # A plain ndarray view of the (possibly memory-mapped) labels: np.memmap's Python-level
        # __getitem__ costs ~2 µs per scalar read, and cluster_of runs ~12 times per RPC.
        self._labels = np.asarray(labels)
        self._spec = spec
        self._exact = all(kind is Kind.FLAT for kind in self._kinds)
        # Plain ints: SWIG attribute reads cost ~1 µs each on the per-query path.
        self._dim, self._ntotal = int(global_index.d), int(global_index.ntotal)
        self._sizes = [int(c.ntotal) for c in self._clusters]
        # Bound SWIG search entry points, for _search_one (skips the Python wrapper's checks).
        self._global_search = global_index.search_c
        self._cluster_search = [c.search_c for c in self._clusters]
        # Cᵀ and ‖c‖² once (k×d is tiny, so a plain in-RAM copy even when the file is
        # mapped), so nearest-centroid (L2) is one small matrix product per query.
        self._centroids_t = np.array(centroids, dtype=np.float32).T.copy()
        self._centroid_sq = np.einsum("ij,ij->i", self._centroids_t.T, self._centroids_t.T)

    # ------------------------------------------------------------------ build / persist

    @classmethod
    def build(
        cls,
        vectors: np.ndarray,
        labels: np.ndarray,
        centroids: np.ndarray,
        spec: IndexSpec | None = None,
    ) -> ClusteredIndex:
        """Index `vectors` (n×d, rows L2-normalised) split by `labels` (n, in 0..k-1).

        `centroids` (k×d) choose the clusters a query probes. `spec` picks the per-cluster
        index kind (default: exact flat); the global index is always exact flat.
        """
        spec = spec or IndexSpec()
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        centroids = np.ascontiguousarray(centroids, dtype=np.float32)
        labels = np.asarray(labels)
        if vectors.ndim != 2 or len(vectors) == 0:
            raise ValueError("vectors must be a non-empty n×d matrix")
        if not np.isfinite(vectors).all():
            raise ValueError("vectors contain NaN or inf")
        if labels.shape != (len(vectors),) or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError("labels must be n integers")
        n_clusters = len(centroids)
        if centroids.ndim != 2 or centroids.shape[1] != vectors.shape[1]:
            raise ValueError("centroids must be k×d with the vectors' d")
        if labels.min() < 0 or labels.max() >= n_clusters:
            raise ValueError(f"labels must lie in 0..{n_clusters - 1}")

        global_index = faiss.IndexFlatIP(vectors.shape[1])
        global_index.add(vectors)
        order = np.argsort(labels, kind="stable").astype(np.int64)
        bounds = np.concatenate(([0], np.cumsum(np.bincount(labels, minlength=n_clusters))))
        clusters, kinds = [], []
        for c in range(n_clusters):
            rows = order[bounds[c]:bounds[c + 1]]
            index, kind = build_part(spec, vectors[rows], rows)
            clusters.append(index)
            kinds.append(kind)
        return cls(global_index, clusters, kinds, centroids, labels.astype(np.int32), spec)

    def save(self, directory: Path) -> list[Path]:
        """Write every file into `directory` and return their paths (for checksumming).

        Each file is written beside its target and renamed over it, so a server that has an
        older file memory-mapped keeps reading the old inode instead of crashing.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        manifest = {
            "format": FORMAT_VERSION,
            "faiss_version": faiss.__version__,
            "metric": "inner_product",
            "ntotal": self.ntotal,
            "dim": self.dim,
            "n_clusters": self.n_clusters,
            "spec": self._spec.to_dict(),
            "cluster_kinds": [k.value for k in self._kinds],
            "cluster_sizes": self._sizes,
        }
        written = [
            _replace(directory / MANIFEST_FILE,
                     lambda p: p.write_text(json.dumps(manifest, indent=2) + "\n")),
            _replace(directory / CENTROIDS_FILE, lambda p: _save_npy(p, self._centroids)),
            _replace(directory / LABELS_FILE, lambda p: _save_npy(p, self._labels)),
            _replace(directory / GLOBAL_FILE, lambda p: faiss.write_index(self._global, str(p))),
        ]
        for c, index in enumerate(self._clusters):
            written.append(_replace(directory / CLUSTER_FILE.format(c),
                                    lambda p, index=index: faiss.write_index(index, str(p))))
        return written

    @classmethod
    def load(cls, directory: Path, mmap: bool = True) -> ClusteredIndex:
        """Open a saved index; with `mmap` nothing is read until a search touches it.

        All cluster indexes are opened eagerly: mapped, that costs well under a
        millisecond each, and it keeps first-query latency flat.
        """
        directory = Path(directory)
        manifest = json.loads((directory / MANIFEST_FILE).read_text())
        if manifest.get("format") != FORMAT_VERSION:
            raise ValueError(f"unsupported index format {manifest.get('format')!r} in {directory}")
        flags = MMAP_FLAGS if mmap else 0
        mmap_mode = "r" if mmap else None

        def read(name: str) -> faiss.Index:
            return faiss.read_index(str(directory / name), flags)

        clusters = [read(CLUSTER_FILE.format(c)) for c in range(manifest["n_clusters"])]
        return cls(
            read(GLOBAL_FILE),
            clusters,
            manifest["cluster_kinds"],
            np.load(directory / CENTROIDS_FILE, mmap_mode=mmap_mode),
            np.load(directory / LABELS_FILE, mmap_mode=mmap_mode),
            IndexSpec.from_dict(manifest["spec"]),
        )

    # ------------------------------------------------------------------ introspection

    @property
    def n_clusters(self) -> int:
        return len(self._clusters)

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def ntotal(self) -> int:
        return self._ntotal

    @property
    def spec(self) -> IndexSpec:
        return self._spec

    @property
    def labels(self) -> np.ndarray:
        """Cluster of every row (read-only view; memory-mapped after load)."""
        view = self._labels.view()
        view.flags.writeable = False
        return view

    @property
    def cluster_sizes(self) -> np.ndarray:
        return np.array(self._sizes, dtype=np.int64)

    def cluster_of(self, row: int) -> int:
        """The cluster `row` was assigned to at training time."""
        if not 0 <= row < self.ntotal:
            raise IndexError(f"row {row} outside 0..{self.ntotal - 1}")
        return int(self._labels[row])

    def nearest_clusters(self, query: np.ndarray, n: int) -> np.ndarray:
        """The `n` (at most n_clusters) clusters whose centroids are nearest (L2) to `query` (d,),
        nearest first."""
        return self._nearest(self._as_queries(query), n)[0]

    def __repr__(self) -> str:
        return (f"ClusteredIndex(ntotal={self.ntotal}, dim={self.dim}, "
                f"n_clusters={self.n_clusters}, kind={self._spec.kind.value})")

    # ------------------------------------------------------------------ search

    def search(
        self,
        query: np.ndarray,
        k: int,
        scope: Scope,
        *,
        cluster: int | None = None,
        probes: int = DEFAULT_PROBES,
        allowed: np.ndarray | None = None,
        exclude: Iterable[int] | np.ndarray = (),
    ) -> Hits:
        """Top-`k` rows for one query (d,) or (1×d): (rows int64, scores float32), best first.

        CLUSTER searches `cluster` (default: the centroid nearest the query); PROBE the
        `probes` nearest clusters, always including `cluster` when given; GLOBAL everything.
        `allowed` (bool per row) and `exclude` (rows) filter inside FAISS, so results are
        only shorter than `k` when the scope holds fewer passing rows. Never -1 padded.
        """
        q = self._as_queries(query)
        if len(q) != 1:
            raise ValueError("search takes one query; use search_batch for several")
        if self._exact and (cluster is None or isinstance(cluster, (int, np.integer))):
            return self._search_one(q, k, Scope(scope), cluster, probes, exclude, allowed)
        return self.search_batch(q, k, scope, clusters=cluster, probes=probes,
                                 allowed=allowed, exclude=exclude)[0]

    def search_batch(
        self,
        queries: np.ndarray,
        k: int,
        scope: Scope,
        *,
        clusters: int | Sequence[int] | np.ndarray | None = None,
        probes: int = DEFAULT_PROBES,
        allowed: np.ndarray | None = None,
        exclude: Iterable[int] | np.ndarray = (),
        threads: int | None = SEARCH_THREADS,
    ) -> list[Hits]:
        """search() for m×d queries, one (rows, scores) pair each (lengths may differ).

        `clusters` is one cluster for all queries or one per query. Queries that visit the
        same cluster are searched together in one FAISS call. `threads` None lets FAISS use
        every core, worth trying for big offline batches on a dedicated machine.
        """
        scope = Scope(scope)
        q = self._as_queries(queries)
        row_filter = RowFilter(self.ntotal, allowed, exclude)
        if k < 1 or len(q) == 0:
            return [_no_hits() for _ in range(len(q))]
        with _omp_threads(threads):
            if scope is Scope.GLOBAL:
                return self._search_global(q, k, row_filter)
            return self._search_clusters(q, k, self._plan(q, scope, clusters, probes), row_filter)

    # ------------------------------------------------------------------ internals

    def _search_one(self, q: np.ndarray, k: int, scope: Scope, cluster: int | None,
                    probes: int, exclude: Iterable[int] | np.ndarray, allowed: np.ndarray | None = None) -> Hits:
        """search() for one query over exact (flat) indexes, with the least Python around FAISS:
        no grouping, and a RowFilter only for a mask; every visited index writes into one
        preallocated pair of result arrays through the SWIG `search_c` directly (the Python
        `search` wrapper re-validates and allocates per call), and one _best merges them.
        Same answer as search_batch: same selector and kk per index, same merge and tie order."""
        params = row_filter = None
        if allowed is None:
            dropped = _NO_ROWS if _is_empty(exclude) else as_rows(exclude, self._ntotal)
        else:
            row_filter = RowFilter(self._ntotal, allowed, exclude)  # holds the selector's bitmap
            dropped = row_filter.dropped
            params = search_params(Kind.FLAT, self._spec, k, row_filter.selector)
        if k < 1:
            return _no_hits()
        wanted = k + len(dropped)
        if scope is Scope.GLOBAL:
            targets = [(self._global_search, min(wanted, self._ntotal))]
        else:
            targets = [(self._cluster_search[c], min(wanted, self._sizes[c]))
                       for c in self._plan_one(q, scope, cluster, probes)]
        total = sum(kk for _, kk in targets)
        scores = np.empty(total, dtype=np.float32)
        rows = np.empty(total, dtype=np.int64)
        x = _ptr(q)
        previous = faiss.omp_get_max_threads()
        if previous != SEARCH_THREADS:
            faiss.omp_set_num_threads(SEARCH_THREADS)
        try:
            offset = 0
            for search_c, kk in targets:
                if kk == 0:
                    continue
                end = offset + kk
                search_c(1, x, kk, _ptr(scores[offset:end]), _ptr(rows[offset:end]), params)
                offset = end
        finally:
            if previous != SEARCH_THREADS:
                faiss.omp_set_num_threads(previous)
        return _best([(rows[:offset], scores[:offset])], k, dropped)

    def _plan_one(self, q: np.ndarray, scope: Scope, cluster: int | None, probes: int) -> list[int]:
        """_plan for one query and at most one given cluster, as a list of cluster ids."""
        if cluster is not None:
            cluster = int(cluster)
            if not 0 <= cluster < self.n_clusters:
                raise ValueError(f"cluster must lie in 0..{self.n_clusters - 1}")
        if scope is Scope.CLUSTER:
            return [cluster] if cluster is not None else self._nearest_one(q, 1)
        if probes < 1:
            raise ValueError("probes must be >= 1")
        plan = self._nearest_one(q, min(probes, self.n_clusters))
        if cluster is not None and cluster not in plan:
            plan[-1] = cluster
        return plan

    def _nearest_one(self, q: np.ndarray, n: int) -> list[int]:
        """_nearest for a 1×d query (same arithmetic, so the same order), as a list."""
        dist = self._centroid_sq - 2.0 * (q @ self._centroids_t)
        return np.argsort(dist[0], kind="stable")[:n].tolist()

    def _search_global(self, q: np.ndarray, k: int, row_filter: RowFilter) -> list[Hits]:
        kk = min(k + row_filter.extra, self.ntotal)
        params = search_params(Kind.FLAT, self._spec, kk, row_filter.selector)
        scores, rows = self._global.search(q, kk, params=params)
        return [_best([(rows[i], scores[i])], k, row_filter.dropped) for i in range(len(q))]

    def _search_clusters(self, q: np.ndarray, k: int, plan: np.ndarray, row_filter: RowFilter) -> list[Hits]:
        """Search every planned cluster once for all queries visiting it, merge per query."""
        parts: list[list[Hits]] = [[] for _ in range(len(q))]
        wanted = k + row_filter.extra
        params: dict[Kind, faiss.SearchParameters | None] = {}
        for c, members in _group_by_cluster(plan):
            index, kind = self._clusters[c], self._kinds[c]
            kk = min(wanted, self._sizes[c])
            if kk == 0:
                continue
            if kind not in params:
                params[kind] = search_params(kind, self._spec, wanted, row_filter.selector)
            scores, rows = index.search(q if members is None else q[members], kk, params=params[kind])
            for j, i in enumerate(range(len(q)) if members is None else members):
                parts[i].append((rows[j], scores[j]))
        hits = [_best(p, k, row_filter.dropped) for p in parts]
        if not self._exact:
            hits = [self._complete(h, q[i:i + 1], k, plan[i], row_filter) for i, h in enumerate(hits)]
        return hits

    def _as_queries(self, queries: np.ndarray) -> np.ndarray:
        q = np.asarray(queries, dtype=np.float32)
        if q.ndim == 1:
            q = q[None, :]
        if q.ndim != 2 or q.shape[1] != self.dim:
            raise ValueError(f"queries must be ({self.dim},) or (m, {self.dim}), got {q.shape}")
        return np.ascontiguousarray(q)

    def _nearest(self, q: np.ndarray, n: int) -> np.ndarray:
        """(m, n) nearest cluster ids per query; ‖q-c‖² ranks as ‖c‖² - 2 q·c."""
        if n < 1:
            raise ValueError("n must be >= 1")
        dist = self._centroid_sq - 2.0 * (q @ self._centroids_t)
        return np.argsort(dist, axis=1, kind="stable")[:, :n].astype(np.int64)

    def _plan(self, q: np.ndarray, scope: Scope, clusters: Any, probes: int) -> np.ndarray:
        """(m, p) clusters to visit per query."""
        given = None
        if clusters is not None:
            given = np.asarray(clusters, dtype=np.int64)
            if given.ndim == 0:
                given = np.full(len(q), given)
            if given.shape != (len(q),):
                raise ValueError("clusters must be one cluster or one per query")
            if given.min() < 0 or given.max() >= self.n_clusters:
                raise ValueError(f"cluster must lie in 0..{self.n_clusters - 1}")
        if scope is Scope.CLUSTER:
            return given[:, None] if given is not None else self._nearest(q, 1)
        if probes < 1:
            raise ValueError("probes must be >= 1")
        plan = self._nearest(q, min(probes, self.n_clusters))
        if given is not None:
            missing = ~(plan == given[:, None]).any(axis=1)
            plan[missing, -1] = given[missing]
        return plan

    def _complete(
        self, hits: Hits, q: np.ndarray, k: int, visited: np.ndarray, row_filter: RowFilter
    ) -> Hits:
        """Keep approximate kinds exact in count: if filtering left a cluster search short
        while the scope holds more passing rows, redo it exactly on the global index."""
        if len(hits[0]) >= k:
            return hits
        in_scope = np.flatnonzero(np.isin(self._labels, visited))
        passing = in_scope[row_filter.passing(in_scope)]
        if len(passing) <= len(hits[0]):
            return hits
        mask = np.zeros(self.ntotal, dtype=bool)
        mask[passing] = True
        exact = RowFilter(self.ntotal, mask, ())
        kk = min(k, len(passing))
        params = search_params(Kind.FLAT, self._spec, kk, exact.selector)
        scores, rows = self._global.search(q, kk, params=params)
        return _best([(rows[0], scores[0])], k, exact.dropped)


def _group_by_cluster(plan: np.ndarray) -> Iterable[tuple[int, np.ndarray | None]]:
    """(cluster, indexes of the queries visiting it; None = all) pairs."""
    if len(plan) == 1:
        return ((int(c), None) for c in plan[0])
    return ((int(c), np.flatnonzero((plan == c).any(axis=1))) for c in np.unique(plan))


@contextmanager
def _omp_threads(n: int | None) -> Iterator[None]:
    """Run FAISS with `n` OpenMP threads in the calling thread (None: leave as is).

    A single query over a cluster is ~10 µs of work; an OpenMP fork/join costs more, and on
    a busy host a parallel region waits for a free core. Measured on 2 shared cores: one
    global query 14.7 ms with 2 threads vs 0.22 ms with 1; a 1000-query cluster batch
    607 vs 19 µs/query. A server gets its parallelism from concurrent requests instead.
    OpenMP's thread count is per calling thread, so setting and restoring it here is safe
    under a threaded server, and it is why one omp_set_num_threads() at server start would
    not reach gRPC worker threads.
    """
    previous = faiss.omp_get_max_threads()
    if n is None or n == previous:
        yield
        return
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


def _is_empty(rows: Iterable[int] | np.ndarray) -> bool:
    """True for an empty sized collection (the usual `exclude=()`); False when unknown."""
    try:
        return len(rows) == 0  # type: ignore[arg-type]
    except TypeError:
        return False


def _no_hits() -> Hits:
    return np.empty(0, np.int64), np.empty(0, np.float32)


def _best(parts: Sequence[Hits], k: int, dropped: np.ndarray) -> Hits:
    """Merge per-index results: drop -1 padding and `dropped` rows, order by score then
    row, keep k."""
    if not parts:
        return _no_hits()
    if len(parts) == 1:
        rows, scores = parts[0]
    else:
        rows = np.concatenate([p[0] for p in parts])
        scores = np.concatenate([p[1] for p in parts])
    keep = rows >= 0
    if dropped.size:
        keep &= not_in(rows, dropped)
    if not keep.all():
        rows, scores = rows[keep], scores[keep]
    order = np.lexsort((rows, -scores))[:k]  # row breaks ties, so results are reproducible
    return rows[order], scores[order]


def _replace(path: Path, write: Callable[[Path], object]) -> Path:
    """Write via a temporary sibling and rename: readers see the old file or the new one."""
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)
    return path


def _save_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as f:
        np.save(f, np.asarray(array))
