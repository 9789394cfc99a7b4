"""Which part of the catalog a similarity search looks at.

The scopes trade fidelity for latency: a cluster holds a few hundred movies, the global
index all of them. The trainer measures each scope's recall against GLOBAL (which is
exact) and records it, so the service can pick a scope knowing what it gives up.
"""

from __future__ import annotations

from enum import Enum


class Scope(str, Enum):
    """A search scope; the string values are stable (manifests and the API use them)."""

    CLUSTER = "cluster"  # one cluster: the given one, else the centroid nearest the query
    PROBE = "probe"      # the `probes` clusters nearest the query (+ the given one)
    GLOBAL = "global"    # every row, exact
