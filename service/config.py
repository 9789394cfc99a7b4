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
    grace_seconds: float = 10.0        # in-flight calls get this long to finish on SIGTERM
    verify_checksums: bool = True
    log_level: str = "INFO"
    metrics_port: int = 9464           # Prometheus /metrics over HTTP; 0 disables metrics (service/metrics.py)
    workers: int = 1                   # serving processes sharing the port (SO_REUSEPORT; service/workers.py)

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
