"""How the rows of one cluster are indexed: an exact flat scan, or HNSW / IVF for big catalogs.

Every cluster index answers in *global row ids* (IVF stores ids natively, flat and HNSW are
wrapped in an IndexIDMap), so searching and merging in clustered.py is the same for every
kind and a row filter over global rows applies unchanged (IndexIDMap translates it). Only
building and the per-query parameters depend on the kind, and both live here.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any

import faiss
import numpy as np

# IVF k-means wants this many training points per list (faiss warns below it); a cluster too
# small to get two such lists gains nothing from IVF and is indexed flat instead.
IVF_MIN_POINTS_PER_LIST = 39
# Automatic list count ≈ this × √(cluster size), the usual IVF rule of thumb.
IVF_LISTS_PER_SQRT = 4


class Kind(str, Enum):
    """Index structure inside a cluster. FLAT is exact; the others are approximate."""

    FLAT = "flat"
    HNSW = "hnsw"
    IVF = "ivf"


@dataclass(frozen=True)
class IndexSpec:
    """The kind of the per-cluster indexes and its knobs; saved with the index.

    The global index is always flat: it is the exact reference the scopes are measured
    against, and the fallback that keeps filtered approximate searches complete.
    """

    kind: Kind = Kind.FLAT
    hnsw_m: int = 32                 # graph degree
    hnsw_ef_construction: int = 80
    hnsw_ef_search: int = 64         # raised to k when k is larger
    ivf_nlist: int = 0               # lists per cluster; 0 = IVF_LISTS_PER_SQRT·√size
    ivf_nprobe: int = 8              # lists visited per query

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", Kind(self.kind))
        for name in ("hnsw_m", "hnsw_ef_construction", "hnsw_ef_search", "ivf_nprobe"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if self.ivf_nlist < 0:
            raise ValueError("ivf_nlist must be >= 0")

    @property
    def exact(self) -> bool:
        return self.kind is Kind.FLAT

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "kind": self.kind.value}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IndexSpec:
        return cls(**data)


def ivf_lists(spec: IndexSpec, size: int) -> int:
    """Lists for an IVF over `size` rows, capped so each list has enough training points."""
    wanted = spec.ivf_nlist or round(IVF_LISTS_PER_SQRT * math.sqrt(size))
    return max(1, min(wanted, size // IVF_MIN_POINTS_PER_LIST))


def build_part(spec: IndexSpec, vectors: np.ndarray, rows: np.ndarray) -> tuple[faiss.Index, Kind]:
    """Index `vectors` (the rows `rows` of the catalog); returns the index and the kind used.

    The kind can differ from the spec: an IVF over a tiny cluster falls back to flat.
    """
    dim = vectors.shape[1]
    kind = spec.kind
    if kind is Kind.IVF and ivf_lists(spec, len(rows)) < 2:
        kind = Kind.FLAT
    if kind is Kind.FLAT:
        index = faiss.IndexIDMap(faiss.IndexFlatIP(dim))
    elif kind is Kind.HNSW:
        graph = faiss.IndexHNSWFlat(dim, spec.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = spec.hnsw_ef_construction
        index = faiss.IndexIDMap(graph)
    else:
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, ivf_lists(spec, len(rows)), faiss.METRIC_INNER_PRODUCT)
        index.train(vectors)
    if len(rows):
        index.add_with_ids(vectors, rows)
    return index, kind


def search_params(
    kind: Kind, spec: IndexSpec, k: int, sel: faiss.IDSelector | None
) -> faiss.SearchParameters | None:
    """Per-query parameters for an index of `kind` (each kind insists on its own class)."""
    params: faiss.SearchParameters
    if kind is Kind.FLAT:
        if sel is None:
            return None
        params = faiss.SearchParameters()
    elif kind is Kind.HNSW:
        params = faiss.SearchParametersHNSW(efSearch=max(spec.hnsw_ef_search, k))
    else:
        params = faiss.SearchParametersIVF(nprobe=spec.ivf_nprobe)
    if sel is not None:
        params.sel = sel
    return params
