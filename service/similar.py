"""SimilarMovies' scoring, callable in-process (benchmarks, evaluation) without any RPC."""

from __future__ import annotations

import numpy as np

from movierec.index import Scope
from movierec.v1 import recommender_pb2 as pb

from .metrics import stage
from .model import LoadedModel
from .requests import RowFilter

DEFAULT_PROBES = 3

SCOPES = {
    pb.SCOPE_CLUSTER: Scope.CLUSTER,
    pb.SCOPE_MULTI_PROBE: Scope.PROBE,
    pb.SCOPE_GLOBAL: Scope.GLOBAL,
}
SCOPE_MESSAGES = {scope: message for message, scope in SCOPES.items()}
DEFAULT_SCOPE = pb.SCOPE_MULTI_PROBE


def default_probes(model: LoadedModel) -> int:
    """The probe count the trainer measured recall for, so served fidelity matches the manifest."""
    parameters = model.manifest.get("parameters", {})
    return int(parameters.get("index", {}).get("default_probes", DEFAULT_PROBES))


def similar_rows(model: LoadedModel, row: int, k: int, scope: Scope, probes: int,
                 row_filter: RowFilter) -> tuple[np.ndarray, np.ndarray, Scope]:
    """Top-k content neighbours of `row` (itself and excluded movies left out), best first.

    When filters leave fewer than k movies in the requested scope, the search widens to
    the global index rather than answer short; the scope actually searched is returned.
    """
    query = np.asarray(model.vectors[row], dtype=np.float32)
    cluster = model.index.cluster_of(row)
    if row_filter.allowed is None and not row_filter.excluded:
        # The common unfiltered call: ask for one more and drop the movie itself, instead of an
        # exclusion filter (a FAISS ID selector built per call, ~15% of the search). Same answer:
        # both rank by (score, row) and the movie itself is one of the k+1 best or not at all.
        with stage("ann_search"):
            rows, scores = model.index.search(query, k + 1, scope, cluster=cluster, probes=probes)
        keep = rows != row
        return rows[keep][:k], scores[keep][:k], scope
    exclude = row_filter.excluded | {row}
    with stage("ann_search"):
        rows, scores = model.index.search(query, k, scope, cluster=cluster, probes=probes,
                                          allowed=row_filter.allowed, exclude=exclude)
        if len(rows) < k and row_filter.active and scope is not Scope.GLOBAL:
            scope = Scope.GLOBAL
            rows, scores = model.index.search(query, k, scope, allowed=row_filter.allowed, exclude=exclude)
    return rows, scores, scope
