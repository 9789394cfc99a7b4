"""The Admin service: which model is served (GetModelInfo) and switching it without a restart (Reload).

It listens on its own port (`--admin-port`, default 50052) bound to `--admin-host`
(default 127.0.0.1). Exposed beyond loopback it requires a bearer token (service/security.py);
the check is an interceptor, so no Admin handler runs for an unauthenticated caller.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from movierec.v1 import admin_pb2 as pb
from movierec.v1 import admin_pb2_grpc as pb_grpc

from .config import ServeConfig
from .recommender import ModelHolder
from .reload import ModelReloader, ReloadError
from .security import SecurityError, admin_token, bind, is_loopback

log = logging.getLogger("movierec.service.admin")


class AdminService(pb_grpc.AdminServicer):
    def __init__(self, holder: ModelHolder, reloader: ModelReloader, config: ServeConfig):
        self._holder = holder
        self._reloader = reloader
        self._config = config

    async def GetModelInfo(self, request: pb.GetModelInfoRequest, context: grpc.aio.ServicerContext) -> pb.ModelInfo:
        if not self._holder.loaded:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the model is still loading")
        model = self._holder.get()
        metrics = {k: float(v) for k, v in model.manifest.get("metrics", {}).items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool)}
        users = len(model.personal.user_index) if model.personal is not None else 0
        return pb.ModelInfo(version=model.version, created=model.created, loaded_at=self._reloader.loaded_at,
                            metrics=metrics, catalog_size=len(model.catalog), user_count=users,
                            registry_dir=str(self._config.registry_dir))

    async def Reload(self, request: pb.ReloadRequest, context: grpc.aio.ServicerContext) -> pb.ReloadResponse:
        version = request.version.strip()
        if version and ("/" in version or version.startswith(".") or len(version) > 200):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "version: not a registry version name")
        try:
            outcome = await self._reloader.reload(version, reason="Admin/Reload")
        except ReloadError as exc:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                                f"reload failed, still serving {self._reloader.served_version}: {exc}")
        return pb.ReloadResponse(previous_version=outcome.previous, version=outcome.version, changed=outcome.changed)


class BearerTokenInterceptor(grpc.aio.ServerInterceptor):
    """Every call must carry `authorization: Bearer <token>`; anything else is UNAUTHENTICATED."""

    def __init__(self, token: str):
        self._expected = f"Bearer {token}".encode()

    async def intercept_service(self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
                                details: grpc.HandlerCallDetails) -> Any:
        given = next((value for key, value in details.invocation_metadata or () if key == "authorization"), "")
        given_bytes = given.encode() if isinstance(given, str) else bytes(given)
        if hmac.compare_digest(given_bytes, self._expected):
            return await continuation(details)
        log.warning("Admin call %s refused: %s", details.method, "bad bearer token" if given else "no bearer token")
        return grpc.unary_unary_rpc_method_handler(_unauthenticated)


async def _unauthenticated(request: Any, context: grpc.aio.ServicerContext) -> Any:
    await context.abort(grpc.StatusCode.UNAUTHENTICATED, "Admin calls need `authorization: Bearer <token>`")


class AdminServer:
    """The Admin gRPC server on its own port (negative `admin_port` disables it)."""

    def __init__(self, holder: ModelHolder, reloader: ModelReloader, config: ServeConfig,
                 credentials: grpc.ServerCredentials | None):
        self.config = config
        self.server: grpc.aio.Server | None = None
        self.port = 0
        if config.admin_port < 0:
            return
        token = admin_token(config)
        if token is None and not is_loopback(config.admin_host):
            raise SecurityError(f"the Admin service on {config.admin_host} (not loopback) needs a token: set "
                                "MOVIEREC_ADMIN_TOKEN or --admin-token-file, or bind --admin-host 127.0.0.1")
        self.authenticated = token is not None
        from .operations import MalformedRequestInterceptor

        self.server = grpc.aio.server(interceptors=[*([BearerTokenInterceptor(token)] if token else []),
                                                    MalformedRequestInterceptor()],
                                      maximum_concurrent_rpcs=8)
        pb_grpc.add_AdminServicer_to_server(AdminService(holder, reloader, config), self.server)
        address = f"{config.admin_host}:{config.admin_port}"
        self.port = bind(self.server, address, credentials)
        if self.port == 0:
            raise OSError(f"cannot bind the Admin service to {address}")

    async def start(self) -> None:
        if self.server is not None:
            await self.server.start()
            log.info("Admin service on %s:%d (%s)", self.config.admin_host, self.port,
                     "bearer token required" if self.authenticated else "loopback only, no token")

    async def stop(self, grace: float) -> None:
        if self.server is not None:
            await self.server.stop(grace)
