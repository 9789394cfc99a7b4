"""What the server process does besides answering Recommender calls: Admin port, hot reload, limits.

`Server` (service/server.py) owns one `Operations`: it builds the gRPC server options
(concurrent-call limit → RESOURCE_EXHAUSTED, message size limits), the TLS credentials, the
reloader and the Admin server, and after the first model loads starts the Admin port, the
production-pointer poller and the SIGHUP handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

import grpc

from .admin import AdminServer
from .config import ServeConfig
from .model import LoadedModel
from .recommender import ModelHolder
from .reload import ModelReloader, ReloadError
from .security import server_credentials

log = logging.getLogger("movierec.service.operations")


def server_kwargs(config: ServeConfig) -> dict[str, Any]:
    """grpc.aio.server keyword arguments for the serving limits (merge other options in)."""
    options = [("grpc.max_receive_message_length", config.max_message_bytes),
               ("grpc.max_send_message_length", config.max_message_bytes)]
    return {"options": options, "maximum_concurrent_rpcs": config.max_concurrent_rpcs or None}


class Operations:
    def __init__(self, holder: ModelHolder, config: ServeConfig):
        self.config = config
        self.credentials: grpc.ServerCredentials | None = server_credentials(config)
        self.reloader = ModelReloader(holder, config)
        self.admin = AdminServer(holder, self.reloader, config, self.credentials)
        self._tasks: set[asyncio.Task] = set()

    async def start(self, model: LoadedModel) -> None:
        """The first model is in the holder: record it, open the Admin port, start following production."""
        self.reloader.loaded_at = self.reloader.loaded_at or _now()
        await self.admin.start()
        self._spawn(self.reloader.poll_forever())
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # no SIGHUP on this platform
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.on_sighup)

    def on_sighup(self) -> None:
        log.info("SIGHUP: reloading the production version")
        self._spawn(self._reload_quietly("SIGHUP"))

    async def _reload_quietly(self, reason: str) -> None:
        with contextlib.suppress(ReloadError):
            await self.reloader.reload(reason=reason)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self, grace: float) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.admin.stop(min(grace, 1.0))


def _now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class MalformedRequestInterceptor(grpc.aio.ServerInterceptor):
    """Bytes that do not parse as the request message → INVALID_ARGUMENT (grpc answers UNKNOWN otherwise).

    The unary handler is re-wrapped to receive the raw bytes and parse them itself, so a
    parse failure becomes a status the caller can act on. Streaming handlers pass through.
    """

    async def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        handler = await continuation(details)
        if handler is None or handler.unary_unary is None or handler.request_deserializer is None:
            return handler
        parse, behavior = handler.request_deserializer, handler.unary_unary
        is_async = asyncio.iscoroutinefunction(behavior)
        method = details.method

        async def guarded(raw: bytes, context: grpc.aio.ServicerContext) -> Any:
            try:
                request = parse(raw)
            except Exception:  # DecodeError and friends: the caller sent bytes that are not this message
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                    f"the request body is not a valid message for {method}")
            return await behavior(request, context) if is_async else behavior(request, context)

        return grpc.unary_unary_rpc_method_handler(guarded, request_deserializer=None,
                                                   response_serializer=handler.response_serializer)
