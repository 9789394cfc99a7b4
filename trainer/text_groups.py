"""Free text's group bounds (`artifacts.search.TextGroups`): which movies a query's semantic top can come from.

Free text needs, for every query, the catalog rows with the largest inner products between the
query's projection q and their text vectors (the global FAISS index's answer). Streaming the whole
text block (11k × 128 float32, 5.6 MB) per query costs ~0.5 ms when the block has left the CPU
caches, which on a shared machine it usually has. The trainer prepares the means to skip most of it:

* groups: k-means over the text vectors (`SearchConfig.text_groups`, ~11 similar movies a group);
* bounds: per vocabulary term t and group g, B[t, g] ≥ max over the group's rows x of x · c_t, with
  c_t the term's SVD direction (column t of the components).

A query's projection is q = Σ_t w_t c_t with w_t > 0 (TF-IDF weights over the unit projection norm),
so every row x of group g has x · q = Σ_t w_t (x · c_t) ≤ Σ_t w_t B[t, g]: a group whose bound is
below the query's semantic boundary holds no candidate and is never read (service/free_text.py).

The products are computed in float32 (|error| ≤ dims · 2⁻²⁴ · |x| · |c_t|); twice the largest such
error is added before the bounds are rounded up to float16, so a bound holds for the real-valued
product. Any grouping gives valid bounds; tighter groups only mean fewer rows read.
"""

from __future__ import annotations

import math

import numpy as np

from movierec.artifacts.search import TextGroups

from .config import SearchConfig

TERMS_PER_PASS = 1024                        # bounds computed for this many terms at a time (~45 MB of products)


def build_text_groups(block: np.ndarray, components: np.ndarray, config: SearchConfig) -> TextGroups:
    """Groups of the rows of `block` (n × dims text vectors) and their bounds for every column of
    `components` (dims × V)."""
    block = np.ascontiguousarray(block, dtype=np.float32)
    components = np.asarray(components, dtype=np.float32)
    if block.ndim != 2 or components.ndim != 2 or block.shape[1] != components.shape[0]:
        raise ValueError(f"text block {block.shape} and SVD components {components.shape} do not fit together")
    labels = _group_labels(block, config)
    order = np.argsort(labels, kind="stable").astype(np.int32)
    sizes = np.bincount(labels)
    indptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    grouped = block[order]
    starts = indptr[:-1]
    largest = float(np.linalg.norm(block, axis=1).max(initial=0.0)
                    * np.linalg.norm(components, axis=0).max(initial=0.0))
    margin = 2.0 * block.shape[1] * 2.0 ** -24 * largest
    bounds = np.empty((components.shape[1], len(sizes)), dtype=np.float16)
    for first in range(0, components.shape[1], TERMS_PER_PASS):
        products = grouped @ components[:, first:first + TERMS_PER_PASS]          # rows × terms
        highest = np.maximum.reduceat(products, starts, axis=0).T.astype(np.float64) + margin
        bounds[first:first + TERMS_PER_PASS] = round_up_float16(highest)
    return TextGroups(order=order, indptr=indptr, bounds=bounds)


def round_up_float16(values: np.ndarray) -> np.ndarray:
    """The smallest float16 ≥ each value (numpy rounds to nearest)."""
    rounded = values.astype(np.float16)
    below = rounded.astype(np.float64) < values
    rounded[below] = np.nextafter(rounded[below], np.float16(np.inf))
    return rounded


def _group_labels(block: np.ndarray, config: SearchConfig) -> np.ndarray:
    """k-means labels 0..G−1 with no empty group."""
    n = len(block)
    groups = max(1, min(config.text_groups, n // max(1, config.min_group_rows)))
    if groups == 1:
        return np.zeros(n, dtype=np.int64)
    import faiss

    kmeans = faiss.Kmeans(block.shape[1], groups, niter=config.group_iterations, seed=config.seed, spherical=True,
                          min_points_per_centroid=1, max_points_per_centroid=max(256, math.ceil(n / groups)))
    kmeans.train(block)
    _, nearest = kmeans.index.search(block, 1)
    _, labels = np.unique(nearest[:, 0], return_inverse=True)  # renumbered: empty groups dropped
    return labels.astype(np.int64)


__all__ = ["build_text_groups", "round_up_float16"]
