"""ClusteredIndex on small synthetic blobs: scopes, filtering, persistence and recall."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from movierec.index import ClusteredIndex, IndexSpec, Scope, recall_at_k

N_ROWS = 2000
DIM = 32
N_BLOBS = 8
BLOB_SPREAD = 0.6   # centre scale vs unit noise: blobs overlap, so the narrower scopes miss a few
K = 10
SEED = 7


@dataclass(frozen=True)
class Blobs:
    vectors: np.ndarray
    labels: np.ndarray
    centroids: np.ndarray


@pytest.fixture(scope="module")
def blobs() -> Blobs:
    rng = np.random.default_rng(SEED)
    centres = rng.standard_normal((N_BLOBS, DIM)) * BLOB_SPREAD
    labels = rng.integers(0, N_BLOBS, N_ROWS)
    vectors = (centres[labels] + rng.standard_normal((N_ROWS, DIM))).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    centroids = np.stack([vectors[labels == c].mean(axis=0) for c in range(N_BLOBS)]).astype(np.float32)
    return Blobs(vectors, labels, centroids)


@pytest.fixture(scope="module")
def index(blobs: Blobs) -> ClusteredIndex:
    return ClusteredIndex.build(blobs.vectors, blobs.labels, blobs.centroids)


def brute_force(vectors: np.ndarray, query: np.ndarray, k: int, candidates: np.ndarray) -> np.ndarray:
    scores = vectors[candidates] @ query
    return candidates[np.lexsort((candidates, -scores))][:k]


def test_global_scope_equals_brute_force_top_k(index: ClusteredIndex, blobs: Blobs) -> None:
    for row in (0, 123, 1999):
        rows, scores = index.search(blobs.vectors[row], K, Scope.GLOBAL)
        expected = brute_force(blobs.vectors, blobs.vectors[row], K, np.arange(N_ROWS))
        np.testing.assert_array_equal(rows, expected)
        np.testing.assert_allclose(scores, blobs.vectors[expected] @ blobs.vectors[row], rtol=1e-5)
        assert rows.dtype == np.int64 and scores.dtype == np.float32


def test_cluster_scope_returns_only_rows_of_that_cluster(index: ClusteredIndex, blobs: Blobs) -> None:
    query = blobs.vectors[0]
    for cluster in range(N_BLOBS):
        rows, _ = index.search(query, K, Scope.CLUSTER, cluster=cluster)
        assert len(rows) == K
        assert (blobs.labels[rows] == cluster).all()
        members = np.flatnonzero(blobs.labels == cluster)
        np.testing.assert_array_equal(rows, brute_force(blobs.vectors, query, K, members))


def test_cluster_scope_without_cluster_uses_nearest_centroid(index: ClusteredIndex, blobs: Blobs) -> None:
    query = blobs.vectors[5]
    nearest = int(np.argmin(((blobs.centroids - query) ** 2).sum(axis=1)))
    assert index.nearest_clusters(query, 1)[0] == nearest
    rows, _ = index.search(query, K, Scope.CLUSTER)
    assert (blobs.labels[rows] == nearest).all()


def test_probe_scope_always_includes_the_given_cluster(index: ClusteredIndex, blobs: Blobs) -> None:
    query = blobs.vectors[0]
    farthest = int(index.nearest_clusters(query, N_BLOBS)[-1])
    rows, _ = index.search(query, N_ROWS, Scope.PROBE, cluster=farthest, probes=2)
    assert set(blobs.labels[rows]) == {int(index.nearest_clusters(query, 1)[0]), farthest}


def test_probe_scope_with_all_clusters_equals_global(index: ClusteredIndex, blobs: Blobs) -> None:
    for row in (0, 777, 1500):
        query = blobs.vectors[row]
        probed = index.search(query, K, Scope.PROBE, cluster=int(blobs.labels[row]), probes=N_BLOBS)
        exact = index.search(query, K, Scope.GLOBAL)
        np.testing.assert_array_equal(probed[0], exact[0])
        np.testing.assert_allclose(probed[1], exact[1], rtol=1e-6)


@pytest.mark.parametrize("scope", list(Scope))
def test_allowed_mask_respected_and_results_full_length(index: ClusteredIndex, blobs: Blobs, scope: Scope) -> None:
    allowed = np.random.default_rng(SEED).random(N_ROWS) < 0.1   # ~25 allowed rows per cluster
    query = blobs.vectors[0]
    cluster = int(blobs.labels[0])
    rows, _ = index.search(query, K, scope, cluster=cluster, probes=2, allowed=allowed)
    assert len(rows) == K
    assert allowed[rows].all()
    in_scope = np.flatnonzero(blobs.labels == cluster) if scope is Scope.CLUSTER else None
    if in_scope is not None:
        np.testing.assert_array_equal(rows, brute_force(blobs.vectors, query, K, in_scope[allowed[in_scope]]))


def test_exclude_respected(index: ClusteredIndex, blobs: Blobs) -> None:
    query = blobs.vectors[42]
    unfiltered, _ = index.search(query, K, Scope.GLOBAL)
    assert unfiltered[0] == 42                          # a movie is its own best match...
    excluded = [42, int(unfiltered[1]), int(unfiltered[2])]
    rows, _ = index.search(query, K, Scope.GLOBAL, exclude=excluded)
    assert not set(rows) & set(excluded)                # ...until the caller excludes it
    np.testing.assert_array_equal(rows[:K - 3], unfiltered[3:])
    assert len(rows) == K


def test_save_then_mmap_load_gives_identical_results(index: ClusteredIndex, blobs: Blobs, tmp_path: Path) -> None:
    written = index.save(tmp_path)
    names = {p.name for p in written}
    assert {"index.json", "global.faiss", "centroids.npy", "labels.npy", "cluster_0007.faiss"} <= names
    assert all(p.is_file() for p in written)
    loaded = ClusteredIndex.load(tmp_path, mmap=True)
    assert (loaded.n_clusters, loaded.dim, loaded.ntotal) == (N_BLOBS, DIM, N_ROWS)
    assert loaded.cluster_of(9) == index.cluster_of(9)
    allowed = blobs.labels % 2 == 0
    for scope in Scope:
        for row in (3, 1000):
            kwargs = dict(cluster=int(blobs.labels[row]), probes=3, allowed=allowed, exclude=[row])
            a = index.search(blobs.vectors[row], K, scope, **kwargs)
            b = loaded.search(blobs.vectors[row], K, scope, **kwargs)
            np.testing.assert_array_equal(a[0], b[0])
            np.testing.assert_array_equal(a[1], b[1])


def test_recall_of_global_is_one_and_probe_at_least_cluster(index: ClusteredIndex, blobs: Blobs) -> None:
    assert recall_at_k(index, blobs.vectors, K, Scope.GLOBAL, sample=300) == 1.0
    cluster = recall_at_k(index, blobs.vectors, K, Scope.CLUSTER, sample=300)
    probe = recall_at_k(index, blobs.vectors, K, Scope.PROBE, probes=3, sample=300)
    assert 0.0 < cluster <= probe <= 1.0
    assert cluster < 1.0                                 # the blobs overlap: the scope costs something


def test_k_larger_than_scope_returns_what_exists_without_padding(index: ClusteredIndex, blobs: Blobs) -> None:
    cluster = int(blobs.labels[0])
    size = int((blobs.labels == cluster).sum())
    rows, scores = index.search(blobs.vectors[0], size + 50, Scope.CLUSTER, cluster=cluster, exclude=[0])
    assert len(rows) == len(scores) == size - 1
    assert (rows >= 0).all() and 0 not in rows
    assert (np.diff(scores) <= 0).all()


def test_filtered_search_on_hnsw_clusters_is_still_complete(blobs: Blobs) -> None:
    hnsw = ClusteredIndex.build(blobs.vectors, blobs.labels, blobs.centroids, IndexSpec(kind="hnsw", hnsw_m=8))
    allowed = np.random.default_rng(SEED).random(N_ROWS) < 0.02  # a handful per cluster
    cluster = int(blobs.labels[0])
    available = int((allowed & (blobs.labels == cluster)).sum())
    rows, _ = hnsw.search(blobs.vectors[0], K, Scope.CLUSTER, cluster=cluster, allowed=allowed)
    assert len(rows) == min(K, available)
    assert allowed[rows].all() and (blobs.labels[rows] == cluster).all()


@pytest.mark.parametrize("scope", [Scope.CLUSTER, Scope.PROBE, Scope.GLOBAL])
def test_one_masked_query_answers_as_the_batch_path(index: ClusteredIndex, blobs: Blobs, scope: Scope) -> None:
    rng = np.random.default_rng(3)
    for trial in range(20):
        allowed = rng.random(N_ROWS) < (0.02 if trial % 2 else 0.6)
        exclude = rng.choice(N_ROWS, size=trial, replace=False)
        query = blobs.vectors[rng.integers(N_ROWS)]
        for k in (1, K, 150):
            one = index.search(query, k, scope, allowed=allowed, exclude=exclude)
            batch = index.search_batch(query[None], k, scope, allowed=allowed, exclude=exclude)[0]
            np.testing.assert_array_equal(one[0], batch[0])
            np.testing.assert_array_equal(one[1], batch[1])
