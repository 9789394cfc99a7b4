"""SimilarMovies' scoring, callable in-process (benchmarks, evaluation) without any RPC."""

from __future__ import annotations

import numpy as np

from movierec.index import Scope
from movierec.v1 import recommender_pb2 as pb

from .model import LoadedModel
from .requests import RowFilter

DEFAULT_PROBES = 3

SCOPES = {
    pb.SCOPE_CLUSTER: Scope.CLUSTER,
    pb.SCOPE_MULTI_PROBE: Scope.PROBE,
    pb.SCOPE_GLOBAL: Scope.GLOBAL,
}
DEFAULT_SCOPE = pb.SCOPE_MULTI_PROBE


def default_probes(model: LoadedModel) -> int:
    """The probe count the trainer measured recall for, so served fidelity matches the manifest."""
    parameters = model.manifest.get("parameters", {})
    return int(parameters.get("index", {}).get("default_probes", DEFAULT_PROBES))


def similar_rows(model: LoadedModel, row: int, k: int, scope: Scope, probes: int,
                 row_filter: RowFilter) -> tuple[np.ndarray, np.ndarray]:
    """Top-k content neighbours of `row` (itself and excluded movies left out), best first."""
    query = np.asarray(model.vectors[row], dtype=np.float32)
    return model.index.search(
        query, k, scope,
        cluster=model.index.cluster_of(row),
        probes=probes,
        allowed=row_filter.allowed,
        exclude=row_filter.excluded | {row},
    )
