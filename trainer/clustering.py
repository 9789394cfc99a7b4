"""Ward clustering of the movie vectors, with k chosen by silhouette, in sub-quadratic memory.

Exact Ward on n items needs the n(n-1)/2 pairwise distances (40 GB of float64 at 100k
items). Instead, when n exceeds `micro_clusters` (m):

1. seeded k-means (faiss) partitions the items into m micro-clusters — O(n·m) time,
   O(n + m·d) memory;
2. exact Ward runs over the micro-cluster means *weighted by their sizes* (our own
   nearest-neighbour-chain Ward with the Lance–Williams update, O(m²) memory). With sizes
   as weights this is precisely Ward's algorithm started from the micro-partition instead
   of from singletons: every merge cost is the true increase of the within-cluster sum
   of squares of the items. The only approximation is that items of one micro-cluster
   always stay together;
3. the tree is cut for every candidate k and the micro labels are mapped back to items;
4. each k is scored by the mean silhouette on the same seeded sample of at most
   `silhouette_sample` items (euclidean by default — on L2-normalised vectors it is a
   monotone function of cosine, and it is the distance Ward minimises), and the best k
   wins (ties go to the smaller k).

With n ≤ m Ward runs directly on the items (unit weights), which equals scipy's
`linkage(method="ward")`. Labels are numbered by cluster size, largest first.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import faiss
import numpy as np
import scipy.sparse as sp

from movierec.trainer.config import ClusterConfig

SILHOUETTE_CHUNK = 1024  # sample rows per distance block (chunk × sample float32 in memory)


@dataclass
class ClusterResult:
    """The chosen clustering and how it was chosen."""

    labels: np.ndarray                    # (n,) int32 in 0..k-1, 0 = largest cluster
    centroids: np.ndarray                 # k × d float32, L2-normalised mean vectors
    k: int
    silhouette_by_k: dict[int, float]
    silhouette: float                     # silhouette_by_k[k]
    sizes: list[int]                      # items per label
    timings: dict[str, float] = field(default_factory=dict)
    ward_leaves: int = 0                  # points Ward ran on: micro-clusters, or n items
    used_micro_clusters: bool = False
    silhouette_metric: str = "euclidean"
    silhouette_items: int = 0             # items the silhouette was computed on


def cluster_vectors(vectors: np.ndarray, config: ClusterConfig) -> ClusterResult:
    """Cluster L2-normalised vectors with (micro-clustered) Ward; k by silhouette."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n = len(vectors)
    timings: dict[str, float] = {}
    started = time.perf_counter()

    used_micro = n > config.micro_clusters
    if used_micro:
        assignment = micro_cluster(vectors, config.micro_clusters, config.kmeans_iterations, config.seed)
    else:
        assignment = np.arange(n, dtype=np.int64)
    leaves, weights = cluster_means(vectors, assignment)
    timings["kmeans_seconds"] = time.perf_counter() - started

    clock = time.perf_counter()
    candidates = candidate_ks(config, leaves=len(leaves), items=n)
    pairs, _ = ward_merges(leaves, weights)
    leaf_labels = cut_tree(pairs, len(leaves), candidates)
    labelings = {k: leaf_labels[k][assignment] for k in candidates}
    timings["ward_seconds"] = time.perf_counter() - clock

    clock = time.perf_counter()
    sample = silhouette_sample(n, config.silhouette_sample, config.seed)
    scores = silhouette_scores(vectors[sample], {k: labels[sample] for k, labels in labelings.items()},
                               metric=config.silhouette_metric)
    timings["silhouette_seconds"] = time.perf_counter() - clock

    best = max(candidates, key=lambda k: (scores[k], -k))
    labels = relabel_by_size(labelings[best])
    centroids, sizes = cluster_means(vectors, labels)
    timings["total_seconds"] = time.perf_counter() - started
    return ClusterResult(
        labels=labels,
        centroids=np.ascontiguousarray(_unit_rows(centroids), dtype=np.float32),
        k=best,
        silhouette_by_k=scores,
        silhouette=scores[best],
        sizes=[int(s) for s in sizes],
        timings=timings,
        ward_leaves=len(leaves),
        used_micro_clusters=used_micro,
        silhouette_metric=config.silhouette_metric,
        silhouette_items=len(sample),
    )


def candidate_ks(config: ClusterConfig, leaves: int, items: int) -> list[int]:
    """k values of the configured range that the data can support (2 ≤ k ≤ leaves, k < items)."""
    ks = [k for k in range(config.k_min, config.k_max + 1, config.k_step)
          if 2 <= k <= leaves and k < items]
    if not ks:
        raise ValueError(f"no k in range({config.k_min}, {config.k_max + 1}, {config.k_step}) "
                         f"fits {items} items / {leaves} Ward leaves")
    return ks


def micro_cluster(vectors: np.ndarray, m: int, iterations: int, seed: int) -> np.ndarray:
    """Seeded k-means into m micro-clusters; returns each item's micro-cluster (int64).

    Empty micro-clusters are possible; `cluster_means` drops them by renumbering.
    """
    kmeans = faiss.Kmeans(vectors.shape[1], m, niter=iterations, seed=seed,
                          min_points_per_centroid=1, verbose=False)
    kmeans.train(vectors)
    _, nearest = kmeans.index.search(vectors, 1)
    _, compact = np.unique(nearest[:, 0], return_inverse=True)
    return compact.astype(np.int64)


def cluster_means(vectors: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean vector (float64) and size of each label 0..max(labels), via a sparse one-hot product.

    The product stays in float32 so no float64 copy of all n vectors is made.
    """
    n = len(labels)
    groups = int(labels.max()) + 1
    onehot = sp.csr_matrix((np.ones(n, dtype=np.float32), (labels, np.arange(n))), shape=(groups, n))
    sizes = np.bincount(labels, minlength=groups)
    sums = np.asarray(onehot @ vectors, dtype=np.float64)
    return sums / np.maximum(sizes, 1)[:, None], sizes


def ward_merges(points: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted Ward by the nearest-neighbour chain; merges sorted by height.

    Point i stands for a cluster of `weights[i]` items with mean `points[i]`. The cost
    between clusters is scipy's Ward distance sqrt(2·wa·wb/(wa+wb))·‖ca − cb‖, updated
    with Lance–Williams. Returns (pairs, heights): pairs[t] = (a, b) are two leaf indices
    whose clusters merge at step t (each cluster is named by one of its leaves).
    """
    m = len(points)
    p = np.asarray(points, dtype=np.float64)
    size = np.asarray(weights, dtype=np.float64).copy()
    squares = np.einsum("ij,ij->i", p, p)
    distance2 = np.maximum(squares[:, None] + squares[None, :] - 2.0 * (p @ p.T), 0.0)
    cost = 2.0 * np.outer(size, size) / (size[:, None] + size[None, :]) * distance2
    np.fill_diagonal(cost, np.inf)
    pairs: list[tuple[int, int]] = []
    heights: list[float] = []
    chain: list[int] = []
    first_active = 0
    active = np.ones(m, dtype=bool)
    for _ in range(3 * m * m):  # the chain loop runs O(m) times; the bound only guards bugs
        if len(pairs) == m - 1:
            break
        if not chain:
            while not active[first_active]:
                first_active += 1
            chain.append(first_active)
        a = chain[-1]
        b = int(np.argmin(cost[a]))
        if len(chain) > 1 and cost[a, chain[-2]] <= cost[a, b]:
            b = chain[-2]
        if len(chain) > 1 and b == chain[-2]:
            chain.pop()
            chain.pop()
            heights.append(float(np.sqrt(cost[a, b])))
            pairs.append((a, b))
            _merge(cost, size, active, a, b)
        else:
            chain.append(b)
    order = np.argsort(np.asarray(heights), kind="stable")
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)[order], np.asarray(heights)[order]


def _merge(cost: np.ndarray, size: np.ndarray, active: np.ndarray, a: int, b: int) -> None:
    """Merge clusters a and b into slot min(a, b) with the Lance–Williams Ward update."""
    keep, gone = min(a, b), max(a, b)
    wa, wb, wk = size[a], size[b], size
    with np.errstate(invalid="ignore"):
        updated = ((wa + wk) * cost[a] + (wb + wk) * cost[b] - wk * cost[a, b]) / (wa + wb + wk)
    updated[~active] = np.inf
    updated[[keep, gone]] = np.inf
    cost[keep, :] = updated
    cost[:, keep] = updated
    cost[gone, :] = np.inf
    cost[:, gone] = np.inf
    size[keep] = wa + wb
    active[gone] = False


def cut_tree(pairs: np.ndarray, leaves: int, ks: Sequence[int]) -> dict[int, np.ndarray]:
    """Leaf labels for each k: the partition after the first `leaves - k` merges."""
    parent = np.arange(leaves)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    cuts: dict[int, np.ndarray] = {}
    applied = 0
    for k in sorted(set(ks), reverse=True):
        while applied < leaves - k:
            a, b = root(int(pairs[applied, 0])), root(int(pairs[applied, 1]))
            parent[max(a, b)] = min(a, b)
            applied += 1
        roots = np.array([root(i) for i in range(leaves)])
        cuts[k] = np.unique(roots, return_inverse=True)[1].astype(np.int64)
    return cuts


def relabel_by_size(labels: np.ndarray) -> np.ndarray:
    """Renumber labels 0..k-1 by decreasing size (ties: earliest first item), as int32."""
    _, first, inverse, counts = np.unique(labels, return_index=True, return_inverse=True,
                                          return_counts=True)
    order = np.lexsort((first, -counts))
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[inverse].astype(np.int32)


def silhouette_sample(n: int, size: int, seed: int) -> np.ndarray:
    """Sorted indices of the items the silhouette is computed on: all, or a seeded sample."""
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def silhouette_scores(vectors: np.ndarray, labelings: dict[int, np.ndarray],
                      metric: str = "euclidean") -> dict[int, float]:
    """Mean silhouette of several labelings of the same points, in one distance pass.

    Equals sklearn's `silhouette_score` per labeling, but the O(s²) distances are computed
    once, in row chunks, and turned into per-cluster distance sums for every labeling at
    once with a product against their stacked one-hot matrices. A labeling with fewer
    than two clusters scores -1.
    """
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    s = len(x)
    ks = list(labelings)
    offsets = np.cumsum([0] + [int(labelings[k].max()) + 1 for k in ks])
    onehot = np.zeros((s, offsets[-1]), dtype=np.float32)
    for k, start in zip(ks, offsets[:-1], strict=True):
        onehot[np.arange(s), start + labelings[k]] = 1.0
    sums = np.empty((s, offsets[-1]), dtype=np.float64)
    for start in range(0, s, SILHOUETTE_CHUNK):
        stop = min(start + SILHOUETTE_CHUNK, s)
        block = pairwise_distances(x[start:stop], x, metric)
        block[np.arange(stop - start), np.arange(start, stop)] = 0.0
        sums[start:stop] = block @ onehot
    return {k: _silhouette_from_sums(sums[:, offsets[i]:offsets[i + 1]], labelings[k])
            for i, k in enumerate(ks)}


def _silhouette_from_sums(sums: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette given each point's summed distance to every cluster."""
    counts = np.bincount(labels, minlength=sums.shape[1]).astype(np.float64)
    if np.count_nonzero(counts) < 2:
        return -1.0
    rows = np.arange(len(labels))
    own = counts[labels]
    with np.errstate(divide="ignore", invalid="ignore"):
        a = sums[rows, labels] / (own - 1)
        means = sums / counts[None, :]
    means[:, counts == 0] = np.inf
    means[rows, labels] = np.inf
    b = means.min(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = (b - a) / np.maximum(a, b)
    scores = np.where(own > 1, np.nan_to_num(scores), 0.0)
    return float(scores.mean())


def pairwise_distances(rows: np.ndarray, columns: np.ndarray, metric: str) -> np.ndarray:
    """Euclidean or cosine distances, float32, from one matrix product updated in place.

    In place, so a silhouette chunk costs one chunk × sample buffer, not five.
    """
    row_sq = np.einsum("ij,ij->i", rows, rows)
    col_sq = np.einsum("ij,ij->i", columns, columns)
    out = rows @ columns.T
    if metric == "euclidean":
        out *= -2.0
        out += row_sq[:, None]
        out += col_sq[None, :]
        np.maximum(out, 0.0, out=out)
        return np.sqrt(out, out=out)
    if metric == "cosine":
        out /= np.maximum(np.sqrt(row_sq), 1e-12)[:, None]
        out /= np.maximum(np.sqrt(col_sq), 1e-12)[None, :]
        np.subtract(1.0, out, out=out)
        return np.clip(out, 0.0, 2.0, out=out)
    raise ValueError(f"unknown silhouette metric {metric!r} (euclidean or cosine)")


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm; zero rows stay zero."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)
