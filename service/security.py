"""TLS / mutual TLS for the gRPC ports, and the Admin bearer token.

    --tls-cert server.pem --tls-key server.key             TLS
    --tls-client-ca clients-ca.pem  (with the two above)   mutual TLS: clients must present a cert from this CA

The Admin service binds 127.0.0.1 by default and needs no token there. Bound to any
other address it refuses to start unless a token is configured (MOVIEREC_ADMIN_TOKEN, or
`--admin-token-file`); with a token configured every Admin call must carry
`authorization: Bearer <token>`. The token is never logged, and it is kept out of ServeConfig
so no repr of the configuration can print it.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import grpc

from .config import ServeConfig

TOKEN_ENV = "MOVIEREC_ADMIN_TOKEN"


class SecurityError(ValueError):
    """A TLS or Admin-token setting is unusable; the message says which (never the secret itself)."""


def _read(path: str, what: str) -> bytes:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SecurityError(f"cannot read {what} {path}: {exc.strerror}") from exc
    if not data.strip():
        raise SecurityError(f"{what} {path} is empty")
    return data


def server_credentials(config: ServeConfig) -> grpc.ServerCredentials | None:
    """TLS credentials from the flags, None for plaintext; mutual TLS when a client CA is given."""
    if not (config.tls_cert or config.tls_key or config.tls_client_ca):
        return None
    if not (config.tls_cert and config.tls_key):
        raise SecurityError("TLS needs both --tls-cert and --tls-key")
    pair = (_read(config.tls_key, "TLS key"), _read(config.tls_cert, "TLS certificate"))
    client_ca = _read(config.tls_client_ca, "client CA") if config.tls_client_ca else None
    return grpc.ssl_server_credentials([pair], root_certificates=client_ca, require_client_auth=client_ca is not None)


def bind(server: grpc.aio.Server, address: str, credentials: grpc.ServerCredentials | None) -> int:
    return server.add_secure_port(address, credentials) if credentials else server.add_insecure_port(address)


def is_loopback(host: str) -> bool:
    name = host.strip().strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def admin_token(config: ServeConfig, environ: dict[str, str] | None = None) -> str | None:
    """The configured Admin token (file wins over environment), or None."""
    environ = os.environ if environ is None else environ
    if config.admin_token_file:
        token = _read(config.admin_token_file, "admin token file").decode().strip()
    else:
        token = environ.get(TOKEN_ENV, "").strip()
    if not token:
        if config.admin_token_file:
            raise SecurityError(f"admin token file {config.admin_token_file} is empty")
        return None
    if len(token) < 16:
        raise SecurityError("the admin token is too short: use at least 16 characters")
    return token
