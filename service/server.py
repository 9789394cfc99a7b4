"""The gRPC server process: start, load the model, serve, drain on SIGTERM.

The port opens once the model is loaded: processes may share a port (gRPC sets SO_REUSEPORT,
so a rolling restart starts the new process beside the old one), and the kernel hands a
listening process connections it could only answer UNAVAILABLE while loading.
`--listen-while-loading` opens it first instead, with health NOT_SERVING until the model is
loaded, for orchestrators that probe a process on its own port to tell "alive but loading"
from "dead". On SIGTERM/SIGINT health turns NOT_SERVING, in-flight calls get `grace_seconds`
to finish, and the process exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from threadpoolctl import threadpool_limits

from movierec.artifacts.registry import RegistryError
from movierec.artifacts.text import warm_up_stemmer
from movierec.v1 import recommender_pb2, recommender_pb2_grpc

from . import metrics
from .config import ServeConfig
from .drain import CallStarts, wait_until_quiet
from .model import load_model
from .operations import MalformedRequestInterceptor, Operations, server_kwargs
from .recommender import ModelHolder, RecommenderService
from .security import bind

log = logging.getLogger("movierec.service")

RECOMMENDER = recommender_pb2.DESCRIPTOR.services_by_name["Recommender"].full_name
OVERALL = ""  # the health service's name for "the whole server"


class Server:
    """Owns the grpc.aio server, the health servicer and the served model."""

    def __init__(self, config: ServeConfig):
        self.config = config
        self.holder = ModelHolder()
        self.health = health.aio.HealthServicer()
        self.ops = Operations(self.holder, config)  # limits, TLS, hot reload, Admin port (service/operations.py)
        limits = server_kwargs(config)
        self.call_starts = CallStarts()
        self.grpc = grpc.aio.server(
            interceptors=[self.call_starts,
                          *([metrics.MetricsInterceptor()] if config.metrics_port else []),
                          MalformedRequestInterceptor()],  # undecodable bytes → INVALID_ARGUMENT
            options=[*limits.pop("options"),
                     *([("grpc.so_reuseport", 1)] if config.workers > 1 else [])],  # service/workers.py
            **limits,
        )
        recommender_pb2_grpc.add_RecommenderServicer_to_server(RecommenderService(self.holder, config), self.grpc)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.grpc)
        reflection.enable_server_reflection(
            (RECOMMENDER, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME),
            self.grpc,
        )
        self.port = bind(self.grpc, f"{config.host}:{config.port}", self.ops.credentials)
        if self.port == 0:
            raise OSError(f"cannot bind {config.host}:{config.port}")

    async def _set_health(self, status: health_pb2.HealthCheckResponse.ServingStatus.ValueType) -> None:
        for name in (OVERALL, RECOMMENDER):
            await self.health.set(name, status)

    async def start(self) -> None:
        """Load, then listen (see the module docstring); workers of `--workers N` always load first."""
        await self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        listen_first = self.config.listen_while_loading and self.config.workers <= 1
        if listen_first:
            await self._start_listening()
        model = await asyncio.to_thread(
            load_model, self.config.registry_dir, self.config.version, verify=self.config.verify_checksums
        )
        self.holder.set(model)
        metrics.observe_model(model)
        await self._set_health(health_pb2.HealthCheckResponse.SERVING)
        if not listen_first:
            await self._start_listening()
        log.info("SERVING model %s", model.version)
        if "search" in model.extras:  # Search stems its queries: import NLTK now, not in the first call
            threading.Thread(target=warm_up_stemmer, name="warm-up-stemmer", daemon=True).start()
        await self.ops.start(model)

    async def _start_listening(self) -> None:
        await self.grpc.start()
        waiting = "" if self.holder.loaded else " (NOT_SERVING until the model loads)"
        log.info("listening on %s:%d%s", self.config.host, self.port, waiting)

    async def stop(self) -> None:
        await self.health.enter_graceful_shutdown()
        await self.ops.stop(self.config.grace_seconds)
        log.info("draining in-flight calls (up to %.1fs)", self.config.grace_seconds)
        await wait_until_quiet(self.call_starts, self.config.drain_quiet_seconds,
                               min(self.config.drain_max_seconds, self.config.grace_seconds))
        await self.grpc.stop(self.config.grace_seconds)
        log.info("stopped")


def limit_blas_threads(threads: int) -> None:
    """One BLAS thread per serving process by default: parallelism comes from concurrent calls,
    and on a small shared host OpenBLAS's threads stall each other on the tiny matrix products of
    one request (RecommendForUser: ~48 ms p50 with 2 threads, ~10 ms with 1, same ranking;
    predictions can differ from multi-threaded BLAS in the last bits). 0 keeps the library default."""
    if threads > 0:
        global _BLAS_LIMIT
        _BLAS_LIMIT = threadpool_limits(limits=threads, user_api="blas")


_BLAS_LIMIT: threadpool_limits | None = None


async def serve(config: ServeConfig, on_serving: Callable[[], None] | None = None) -> int:
    """Serve until SIGTERM/SIGINT; `on_serving` runs once the model is loaded and the port open
    (a `--workers` parent learns this way that a replacement worker can take traffic)."""
    limit_blas_threads(config.blas_threads)
    try:
        server = Server(config)
    except (OSError, ValueError) as exc:  # unusable TLS files, Admin exposed without a token, port taken
        log.error("cannot serve: %s", exc)
        return 2
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    if config.metrics_port and config.workers <= 1:  # with workers, the parent serves /metrics
        try:
            port = metrics.start_http(config.metrics_port, config.host)
            log.info("metrics on http://%s:%d/metrics", config.host, port)
        except OSError as exc:  # metrics are not worth refusing traffic for
            log.error("cannot serve metrics on port %d: %s; serving gRPC without them", config.metrics_port, exc)
    try:
        await server.start()
    except (RegistryError, OSError, ValueError) as exc:
        log.error("cannot serve: %s", exc)
        await server.grpc.stop(0)
        return 2
    if on_serving is not None:
        on_serving()
    await stopping.wait()
    await server.stop()
    return 0


def parse_args(argv: list[str] | None = None) -> ServeConfig:
    parser = argparse.ArgumentParser(prog="movierec-serve", description="Serve movierec over gRPC.")
    parser.add_argument("--registry", dest="registry_dir", type=Path, help="registry directory (default: registry)")
    parser.add_argument("--host", help="address to bind (default: [::])")
    parser.add_argument("--port", type=int, help="gRPC port (default: 50051; 0 picks a free one)")
    parser.add_argument("--version", help="serve this version instead of production")
    parser.add_argument("--grace", dest="grace_seconds", type=float, help="seconds to drain calls on SIGTERM")
    parser.add_argument("--log-level", dest="log_level")
    parser.add_argument("--metrics-port", type=int, help="Prometheus /metrics HTTP port (default: 9464; 0 disables)")
    parser.add_argument("--workers", type=int, help="serving processes sharing the port (default: 1)")
    parser.add_argument("--listen-while-loading", action="store_true", default=None,
                        help="open the port before the model loads, health NOT_SERVING meanwhile")
    parser.add_argument("--admin-host", help="Admin service address (default: 127.0.0.1; otherwise a token is needed)")
    parser.add_argument("--admin-port", type=int, help="Admin service port (default: 50052; 0 picks one; -1 disables)")
    parser.add_argument("--admin-token-file", help="file holding the Admin bearer token (or MOVIEREC_ADMIN_TOKEN)")
    parser.add_argument("--reload-poll", dest="reload_poll_seconds", type=float,
                        help="seconds between checks of the production pointer (default: 5; 0 disables)")
    parser.add_argument("--max-concurrent-rpcs", type=int, help="beyond this, calls get RESOURCE_EXHAUSTED (256)")
    parser.add_argument("--max-message-bytes", type=int, help="largest accepted message (default: 1 MiB)")
    parser.add_argument("--tls-cert", help="PEM certificate chain: serve TLS (with --tls-key)")
    parser.add_argument("--tls-key", help="PEM private key of --tls-cert")
    parser.add_argument("--tls-client-ca", help="PEM CA: require client certificates signed by it (mutual TLS)")
    args = parser.parse_args(argv)
    return ServeConfig.from_env(**vars(args))


def main(argv: list[str] | None = None) -> None:
    config = parse_args(argv)
    logging.basicConfig(level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if config.workers > 1:
        from .workers import run_workers

        sys.exit(run_workers(config))
    sys.exit(asyncio.run(serve(config)))


if __name__ == "__main__":
    main()
