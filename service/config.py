"""Serving settings: one object, defaults that work, each overridable by flag or environment.

Environment variables are MOVIEREC_<FIELD> (e.g. MOVIEREC_PORT=6000), so a container or
systemd unit configures the server without a wrapper script; flags win over environment.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

ENV_PREFIX = "MOVIEREC_"


@dataclass(frozen=True)
class ServeConfig:
    registry_dir: Path = Path("registry")
    host: str = "[::]"
    port: int = 50051
    version: str = ""                  # empty: the version `production` points to
    default_k: int = 10
    max_k: int = 100
    max_probes: int = 64
    max_exclude: int = 1000            # movies in Filters.exclude
    blas_threads: int = 1              # per process (service/server.py: limit_blas_threads); 0 = library default
    grace_seconds: float = 10.0        # in-flight calls get this long to finish on SIGTERM
    drain_quiet_seconds: float = 0.3   # on SIGTERM, keep serving until no call started for this long
    drain_max_seconds: float = 3.0     # … but no longer than this (clients on open connections keep calling)
    verify_checksums: bool = True
    log_level: str = "INFO"
    metrics_port: int = 9464           # Prometheus /metrics over HTTP; 0 disables metrics (service/metrics.py)
    workers: int = 1                   # serving processes sharing the port (SO_REUSEPORT; service/workers.py)
    listen_while_loading: bool = False  # open the port before the model loads (NOT_SERVING meanwhile); see server.py
    # Lifecycle and robustness (service/operations.py, reload.py, admin.py, security.py)
    reload_poll_seconds: float = 5.0   # follow the `production` pointer; 0 disables polling (SIGHUP, Admin still work)
    admin_host: str = "127.0.0.1"      # not loopback: a bearer token is required (MOVIEREC_ADMIN_TOKEN or file)
    admin_port: int = 50052            # Admin service (GetModelInfo, Reload); 0 picks a free one, <0 disables
    admin_token_file: str = ""
    max_concurrent_rpcs: int = 256     # more concurrent calls are answered RESOURCE_EXHAUSTED; 0 = unlimited
    max_message_bytes: int = 1 << 20   # largest request or response message accepted
    tls_cert: str = ""                 # PEM chain; with tls_key serves TLS
    tls_key: str = ""
    tls_client_ca: str = ""            # PEM CA bundle: require client certificates from it (mutual TLS)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> ServeConfig:
        """Defaults, then MOVIEREC_* environment, then explicit (non-None) overrides."""
        environ = dict(os.environ if environ is None else environ)
        values: dict[str, object] = {}
        for spec in dataclasses.fields(cls):
            raw = environ.get(ENV_PREFIX + spec.name.upper())
            if raw is not None:
                values[spec.name] = _parse(raw, type(getattr(cls(), spec.name)))
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


def _parse(raw: str, kind: type) -> object:
    if kind is bool:
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if kind is Path:
        return Path(raw)
    return kind(raw)
