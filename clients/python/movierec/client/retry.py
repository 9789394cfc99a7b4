"""The retry policy every movierec caller should use, as a gRPC service config.

Why a client-side policy: when a server process stops (rolling restart, scale-in), grpc core
cancels the calls it has received but not yet handed to the application, and the calls that
cross its GOAWAY on the wire; a process that is starting answers UNAVAILABLE until its model is
loaded. Nothing the server does can stop a client that keeps sending on an open connection
from hitting that window, but every Recommender method is an idempotent read, so retrying is
always safe: with this policy a rolling restart under load fails no call
(tests/integration/test_robustness.py).

Retried: UNAVAILABLE (nobody listening yet, loading, connection lost) and CANCELLED sent by the
server (the shutdown window; a call the caller cancels itself is never retried). Not retried:
RESOURCE_EXHAUSTED (an overloaded server needs less traffic, not more) and DEADLINE_EXCEEDED
(the caller's deadline covers all attempts). The Admin service is not covered: promote and
rollback are not idempotent.

Other languages: pass `SERVICE_CONFIG_JSON` as the channel's default service config
(e.g. Go `grpc.WithDefaultServiceConfig`, Java `defaultServiceConfig`).
"""

from __future__ import annotations

import json
from typing import Any

from movierec.v1 import recommender_pb2

RECOMMENDER_SERVICE = recommender_pb2.DESCRIPTOR.services_by_name["Recommender"].full_name

MAX_ATTEMPTS = 5  # gRPC caps attempts at 5; with the backoff below they span about 1.5 s at most
INITIAL_BACKOFF_SECONDS = 0.05
MAX_BACKOFF_SECONDS = 1.0
BACKOFF_MULTIPLIER = 2
RETRYABLE_STATUS_CODES = ("UNAVAILABLE", "CANCELLED")

SERVICE_CONFIG: dict[str, Any] = {
    "methodConfig": [{
        "name": [{"service": RECOMMENDER_SERVICE}],
        "retryPolicy": {
            "maxAttempts": MAX_ATTEMPTS,
            "initialBackoff": f"{INITIAL_BACKOFF_SECONDS}s",
            "maxBackoff": f"{MAX_BACKOFF_SECONDS}s",
            "backoffMultiplier": BACKOFF_MULTIPLIER,
            "retryableStatusCodes": list(RETRYABLE_STATUS_CODES),
        },
    }],
}
SERVICE_CONFIG_JSON = json.dumps(SERVICE_CONFIG)


def channel_options() -> list[tuple[str, Any]]:
    """Channel options (sync or grpc.aio) that turn the retry policy on."""
    return [("grpc.service_config", SERVICE_CONFIG_JSON), ("grpc.enable_retries", 1)]
