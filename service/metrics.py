"""Prometheus metrics: go-grpc-prometheus names for every RPC, per-stage timers, model facts.

    grpc_server_started_total{grpc_type,grpc_service,grpc_method}
    grpc_server_handled_total{grpc_type,grpc_service,grpc_method,grpc_code}
    grpc_server_handling_seconds{grpc_type,grpc_service,grpc_method}   histogram, 100 µs … 1 s
    movierec_grpc_inflight_calls{grpc_service,grpc_method}
    movierec_stage_seconds{stage}                                      histogram, 10 µs … 1 s
    movierec_model_info{version} 1, movierec_model_created_timestamp_seconds,
    movierec_model_load_seconds, movierec_catalog_movies, movierec_users

The names and labels are those of go-grpc-prometheus (with its histogram enabled), so
dashboards and alerts written for Go gRPC services work unchanged. No label ever holds a
user or movie id: label values are method, service, status code, stage and model version.

`MetricsInterceptor` (a grpc.aio server interceptor) records every RPC the server knows,
health and reflection included, with the status the caller sees: OK, the code a handler
passed to context.abort() or context.set_code(), Canceled, or Unknown for an exception.
Codes are spelled as Go spells them (OK, NotFound, InvalidArgument, ResourceExhausted, …),
the grpc_code values go-grpc-prometheus dashboards and alerts match on.

Scoring code times its parts with `stage`:

    from movierec.service.metrics import stage
    with stage("ann_search"):
        ...

A stage costs ~1 µs and works with or without a metrics endpoint (then it just records
into the process registry nobody scrapes). Stage names are a small fixed set; never
build one from request data.

Multi-process serving (`serve --workers N`, service/workers.py) sets PROMETHEUS_MULTIPROC_DIR
before forking; the metric objects are created lazily, in the worker, so they write to the
shared directory and the parent's /metrics sums them.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import grpc

log = logging.getLogger(__name__)

DEFAULT_PORT = 9464  # the port OpenTelemetry's Prometheus exporter uses by convention
# go-grpc-prometheus' default buckets are 5 ms … 10 s; this service answers in well under a
# millisecond, so the buckets start at 100 µs and end at 1 s (slower is an outage anyway).
HANDLING_BUCKETS = (0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1,
                    0.25, 0.5, 1.0)
STAGE_BUCKETS = (0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                 0.1, 0.25, 0.5, 1.0)
# Stages the service times (others may be added; keep the set small and fixed).
STAGES = ("ann_search", "feature_building", "xgboost_predict", "search_lookup")

_perf = time.perf_counter


class _Metrics:
    """Every metric object of the process, created once on first use (see module doc)."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram, values

        # The value class (in-memory or mmap-backed files) is chosen when prometheus_client is
        # imported; a worker forked after PROMETHEUS_MULTIPROC_DIR was set must choose again.
        values.ValueClass = values.get_value_class()
        grpc_labels = ("grpc_type", "grpc_service", "grpc_method")
        self.started = Counter("grpc_server_started_total", "RPCs started on the server.", grpc_labels)
        self.handled = Counter("grpc_server_handled_total", "RPCs completed on the server, by status code.",
                               (*grpc_labels, "grpc_code"))
        self.handling = Histogram("grpc_server_handling_seconds",
                                  "Time from receiving an RPC to its status, seconds.", grpc_labels,
                                  buckets=HANDLING_BUCKETS)
        self.inflight = Gauge("movierec_grpc_inflight_calls", "RPCs being handled now.",
                              ("grpc_service", "grpc_method"), multiprocess_mode="livesum")
        self.stage = Histogram("movierec_stage_seconds", "Time spent in one stage of a handler, seconds.",
                               ("stage",), buckets=STAGE_BUCKETS)
        self.model_info = Gauge("movierec_model_info", "1 for the model version being served.", ("version",),
                                multiprocess_mode="livemax")
        self.model_created = Gauge("movierec_model_created_timestamp_seconds",
                                   "Creation time of the served model (Unix seconds).",
                                   multiprocess_mode="livemostrecent")
        self.model_load = Gauge("movierec_model_load_seconds", "Time the served model took to load, seconds.",
                                multiprocess_mode="livemostrecent")
        self.movies = Gauge("movierec_catalog_movies", "Movies in the served catalog.",
                            multiprocess_mode="livemostrecent")
        self.users = Gauge("movierec_users", "Users known to the served model (0: no personal model).",
                           multiprocess_mode="livemostrecent")
        self.stage_children = {name: self.stage.labels(name) for name in STAGES}
        self.served_version = ""


_metrics: _Metrics | None = None
_lock = threading.Lock()


def metrics() -> _Metrics:
    global _metrics
    if _metrics is None:
        with _lock:
            if _metrics is None:
                _metrics = _Metrics()
    return _metrics


# ---------------------------------------------------------------------------------- stages


class _StageTimer:
    __slots__ = ("_child", "_start")

    def __init__(self, child: Any) -> None:
        self._child = child

    def __enter__(self) -> _StageTimer:
        self._start = _perf()
        return self

    def __exit__(self, *exc: object) -> None:
        self._child.observe(_perf() - self._start)


def stage(name: str) -> _StageTimer:
    """A context manager timing one stage into movierec_stage_seconds{stage=name}."""
    m = _metrics or metrics()
    child = m.stage_children.get(name)
    if child is None:
        child = m.stage_children.setdefault(name, m.stage.labels(name))
    return _StageTimer(child)


# ---------------------------------------------------------------------------------- model facts


def observe_model(model: Any) -> None:
    """Export the facts of a newly served model (call on every load or reload)."""
    m = metrics()
    if m.served_version and m.served_version != model.version:
        m.model_info.labels(m.served_version).set(0)
    m.served_version = model.version
    m.model_info.labels(model.version).set(1)
    m.model_created.set(_timestamp(model.manifest.get("created")))
    m.model_load.set(float(model.load_seconds))
    m.movies.set(len(model.catalog))
    personal = getattr(model, "personal", None)
    m.users.set(_user_count(personal))


def _timestamp(created: Any) -> float:
    from datetime import datetime

    if isinstance(created, (int, float)):
        return float(created)
    try:
        return datetime.fromisoformat(str(created).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def _user_count(personal: Any) -> int:
    if personal is None:
        return 0
    for name in ("n_users", "user_count"):
        value = getattr(personal, name, None)
        if isinstance(value, int):
            return value
    for name in ("user_index", "user_ids", "users"):
        value = getattr(personal, name, None)
        if value is not None and hasattr(value, "__len__"):
            return len(value)
    return 0


# ---------------------------------------------------------------------------------- interceptor


def _grpc_type(handler: grpc.RpcMethodHandler) -> str:
    if handler.request_streaming:
        return "bidi_stream" if handler.response_streaming else "client_stream"
    return "server_stream" if handler.response_streaming else "unary"


def _code_name(context: Any, default: str = "OK") -> str:
    try:
        code = context.code()
    except Exception:  # noqa: BLE001 - an old grpc without code(): report what we know
        return default
    if code is None:
        return default
    if isinstance(code, grpc.StatusCode):
        return GO_NAMES[code]
    return _CODE_NAMES.get(code, default)


def _go_name(code: grpc.StatusCode) -> str:
    """The code as Go's codes.Code.String() spells it, the grpc_code values dashboards match."""
    if code is grpc.StatusCode.OK:
        return "OK"
    if code is grpc.StatusCode.CANCELLED:
        return "Canceled"
    return "".join(part.capitalize() for part in code.name.split("_"))


GO_NAMES = {code: _go_name(code) for code in grpc.StatusCode}
_CODE_NAMES = {c.value[0]: GO_NAMES[c] for c in grpc.StatusCode}


class _Method:
    """Pre-bound metric children of one method, so a call pays no label lookups."""

    __slots__ = ("labels", "started", "handling", "inflight", "handled")

    def __init__(self, m: _Metrics, grpc_type: str, service: str, method: str) -> None:
        self.labels = (grpc_type, service, method)
        self.started = m.started.labels(*self.labels)
        self.handling = m.handling.labels(*self.labels)
        self.inflight = m.inflight.labels(service, method)
        self.handled: dict[str, Any] = {"OK": m.handled.labels(*self.labels, "OK")}

    def done(self, code: str, elapsed: float) -> None:
        child = self.handled.get(code)
        if child is None:
            child = self.handled.setdefault(code, metrics().handled.labels(*self.labels, code))
        child.inc()
        self.handling.observe(elapsed)
        self.inflight.dec()


def _status_of_exception(exc: BaseException, context: Any) -> str:
    if isinstance(exc, asyncio.CancelledError):
        return "Canceled"
    if isinstance(exc, grpc.aio.AbortError):
        return _code_name(context, "Unknown")
    return "Unknown"  # grpc answers an escaped exception with UNKNOWN


def _wrap_unary_response(inner: Callable[..., Any], rec: _Method) -> Callable[..., Any]:
    async def behavior(request: Any, context: Any) -> Any:
        rec.started.inc()
        rec.inflight.inc()
        start = _perf()
        try:
            result = inner(request, context)
            if inspect.isawaitable(result):
                result = await result
        except BaseException as exc:
            rec.done(_status_of_exception(exc, context), _perf() - start)
            raise
        rec.done(_code_name(context), _perf() - start)
        return result

    return behavior


def _wrap_stream_response(inner: Callable[..., Any], rec: _Method) -> Callable[..., Any]:
    async def behavior(request: Any, context: Any) -> Any:
        rec.started.inc()
        rec.inflight.inc()
        start = _perf()
        try:
            result = inner(request, context)
            if hasattr(result, "__aiter__"):
                async for item in result:
                    yield item
            elif inspect.isawaitable(result):
                await result  # a handler that writes with context.write()
            else:
                for item in result:
                    yield item
        except BaseException as exc:
            rec.done(_status_of_exception(exc, context), _perf() - start)
            raise
        rec.done(_code_name(context), _perf() - start)

    return behavior


class MetricsInterceptor(grpc.aio.ServerInterceptor):
    """Counts and times every RPC with go-grpc-prometheus metrics (see module doc)."""

    def __init__(self) -> None:
        self._handlers: dict[str, grpc.RpcMethodHandler | None] = {}
        metrics()

    async def intercept_service(self, continuation: Callable[..., Any],
                                handler_call_details: grpc.HandlerCallDetails) -> Any:
        path = handler_call_details.method
        try:
            return self._handlers[path]
        except KeyError:
            pass
        handler = await continuation(handler_call_details)
        wrapped = self._wrap(path, handler)
        if handler is not None:
            self._handlers[path] = wrapped  # unknown methods are not cached: the path is caller-chosen
        return wrapped

    @staticmethod
    def _wrap(path: str, handler: grpc.RpcMethodHandler | None) -> grpc.RpcMethodHandler | None:
        if handler is None:
            return None
        service, _, method = path.lstrip("/").rpartition("/")
        grpc_type = _grpc_type(handler)
        rec = _Method(metrics(), grpc_type, service, method)
        if grpc_type == "unary":
            return handler._replace(unary_unary=_wrap_unary_response(handler.unary_unary, rec))
        if grpc_type == "client_stream":
            return handler._replace(stream_unary=_wrap_unary_response(handler.stream_unary, rec))
        if grpc_type == "server_stream":
            return handler._replace(unary_stream=_wrap_stream_response(handler.unary_stream, rec))
        return handler._replace(stream_stream=_wrap_stream_response(handler.stream_stream, rec))


# ---------------------------------------------------------------------------------- HTTP endpoint


def start_http(port: int, host: str = "", multiprocess_dir: str | None = None) -> int:
    """Serve /metrics on `port` (0 picks a free one, returned) from a daemon thread.

    With `multiprocess_dir`, the endpoint sums the workers' files (MultiProcessCollector)
    instead of reporting this process.
    """
    from prometheus_client import REGISTRY, CollectorRegistry, start_http_server

    registry = REGISTRY
    if multiprocess_dir is not None:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=multiprocess_dir)
    addr = (host or "0.0.0.0").strip("[]")
    server, _thread = start_http_server(port, addr=addr, registry=registry)
    return int(server.server_address[1])


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir")
