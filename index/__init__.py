"""FAISS similarity indexes over the movie vectors, searchable per cluster or globally.

Knows FAISS and numpy only. Works in internal row numbers 0..n-1; callers map rows to
movie ids.
"""

from .clustered import DEFAULT_PROBES, ClusteredIndex
from .kinds import IndexSpec, Kind
from .recall import recall_at_k
from .scope import Scope

__all__ = ["DEFAULT_PROBES", "ClusteredIndex", "IndexSpec", "Kind", "Scope", "recall_at_k"]
