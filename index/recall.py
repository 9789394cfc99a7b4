"""How faithful a scoped search is to exact global search: recall@k.

The trainer records this per scope in the manifest, so choosing CLUSTER or PROBE over
GLOBAL at serving time is a decision with a known price.
"""

from __future__ import annotations

import math

import numpy as np

from .clustered import DEFAULT_PROBES, SEARCH_THREADS, ClusteredIndex
from .scope import Scope

SEED = 42
QUERY_CHUNK = 4096  # queries per batched search: bounds the k×chunk result matrices


def recall_at_k(
    index: ClusteredIndex,
    vectors: np.ndarray,
    k: int,
    scope: Scope,
    probes: int = DEFAULT_PROBES,
    sample: int | None = None,
    seed: int = SEED,
    threads: int | None = SEARCH_THREADS,
) -> float:
    """Mean over movies of |scoped top-k ∩ exact top-k| / |exact top-k|.

    Each movie queries with its own vector, in its own cluster, and is not counted as its
    own neighbour. `sample` (None or 0 = every movie) draws that many movies with `seed`.
    `threads` as in ClusteredIndex.search_batch.
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.shape != (index.ntotal, index.dim):
        raise ValueError(f"vectors must be {index.ntotal}×{index.dim}, the indexed matrix")
    if k < 1:
        raise ValueError("k must be >= 1")
    rows = np.arange(index.ntotal)
    if sample and sample < index.ntotal:
        rows = np.sort(np.random.default_rng(seed).choice(index.ntotal, sample, replace=False))
    labels = index.labels

    total = 0.0
    for chunk in np.array_split(rows, math.ceil(len(rows) / QUERY_CHUNK)):
        queries = vectors[chunk]
        # k+1 then drop the movie itself: one batched call instead of a per-query exclude.
        truth = index.search_batch(queries, k + 1, Scope.GLOBAL, threads=threads)
        found = index.search_batch(queries, k + 1, scope, clusters=labels[chunk], probes=probes, threads=threads)
        for row, (true_rows, _), (found_rows, _) in zip(chunk, truth, found, strict=True):
            expected = true_rows[true_rows != row][:k]
            if len(expected):
                got = found_rows[found_rows != row][:k]
                total += len(np.intersect1d(expected, got, assume_unique=True)) / len(expected)
    return total / len(rows)
