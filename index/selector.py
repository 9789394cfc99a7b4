"""The caller's row filter (an allowed mask, rows to exclude) in the form FAISS search needs.

An allowed mask becomes an IDSelectorBitmap, so FAISS skips rejected rows during the scan
and top-k is taken among the rows that pass: a filtered search is never silently short
while enough allowed rows exist. One selector over *global* rows serves the global index
and every cluster index alike (IndexIDMap translates it to its local ids). Verified with
faiss 1.15 on IndexFlatIP, IndexIDMap(IndexFlatIP / IndexHNSWFlat) and IndexIVFFlat,
memory-mapped or not.

A bare exclusion list (typically just the query movie) is handled by fetching that many
extra results and dropping them instead: exact, since each excluded row can displace at
most one result, and cheaper than a selector (building IDSelectorNot(IDSelectorBatch) and
the selector-aware scan cost ~2x a plain search on a 370-row cluster).
"""

from __future__ import annotations

from collections.abc import Iterable

import faiss
import numpy as np

# Up to this many rows, testing membership by direct comparison beats np.isin's setup cost.
SMALL_SET = 16
# faiss' IDSelectorBitmap reads bit i as (bitmap[i >> 3] >> (i & 7)) & 1: least significant first.
BITMAP_BIT_ORDER = "little"


def as_rows(rows: Iterable[int] | np.ndarray, ntotal: int) -> np.ndarray:
    """Rows as a unique int64 array, dropping any outside 0..ntotal-1 (they match nothing)."""
    if not isinstance(rows, np.ndarray):
        rows = list(rows)
    array = np.asarray(rows, dtype=np.int64).ravel()
    array = array[(array >= 0) & (array < ntotal)]
    return array if len(array) < 2 else np.unique(array)


def not_in(rows: np.ndarray, dropped: np.ndarray) -> np.ndarray:
    """Bool per row: not one of `dropped` (the hot path has one or two dropped rows)."""
    if len(dropped) > SMALL_SET:
        return ~np.isin(rows, dropped)
    keep = np.ones(len(rows), dtype=bool)
    for row in dropped:
        keep &= rows != row
    return keep


class RowFilter:
    """Rows a search may return.

    `selector` (None when no mask was given) goes to FAISS; `dropped` rows are fetched
    `extra` more and removed afterwards. Holds the selector's bitmap while the search runs.
    """

    def __init__(
        self, ntotal: int, allowed: np.ndarray | None, exclude: Iterable[int] | np.ndarray
    ) -> None:
        excluded = as_rows(exclude, ntotal)
        self.allowed: np.ndarray | None = None
        self.selector: faiss.IDSelector | None = None
        self.dropped = excluded
        if allowed is not None:
            mask = np.asarray(allowed)
            if mask.dtype != np.bool_ or mask.shape != (ntotal,):
                raise ValueError(f"allowed must be a bool mask of shape ({ntotal},)")
            if excluded.size:  # fold the exclusions into the mask: one selector, nothing to drop
                mask = mask.copy()
                mask[excluded] = False
                self.dropped = excluded[:0]
            self.allowed = mask
            self.selector = faiss.IDSelectorBitmap(np.packbits(mask, bitorder=BITMAP_BIT_ORDER))

    @property
    def extra(self) -> int:
        """Additional results to fetch so that dropping `dropped` still leaves k."""
        return len(self.dropped)

    def passing(self, rows: np.ndarray) -> np.ndarray:
        """Bool per row in `rows`: does it pass the filter (used to count what a scope holds)."""
        ok = self.allowed[rows] if self.allowed is not None else np.ones(len(rows), dtype=bool)
        if self.dropped.size:
            ok &= not_in(rows, self.dropped)
        return ok
