"""`serve --workers N`: N server processes sharing one port, one /metrics for all of them.

Python serves one core per process, so several processes are how a host's cores get used.
This follows gRPC's multiprocessing pattern: the parent reserves the port with an
SO_REUSEPORT socket and forks *before* any gRPC server, channel, thread or event loop
exists in it; each child then builds its own grpc.aio server bound to the same port with
("grpc.so_reuseport", 1), and the kernel spreads new connections across them. Every child
memory-maps the same artifact files, so the catalog and indexes live once in the page cache.

Metrics: the parent points PROMETHEUS_MULTIPROC_DIR at a fresh temporary directory before
forking; the children's metrics write there (service/metrics.py creates them lazily, after
the fork), and the parent alone serves /metrics through a MultiProcessCollector, so a
scrape sees the sum over workers. The directory is removed on exit.

Signals: SIGTERM or SIGINT to the parent is forwarded to every child, each drains its
in-flight calls (health NOT_SERVING, grace period) and the parent exits 0 once all are
gone. SIGHUP (reload) is forwarded too; only worker 0 serves the Admin port. A child that
exits on its own (e.g. nothing to serve) stops the rest and the parent exits with its
status. Children ask the kernel for SIGTERM if the parent dies.
"""

from __future__ import annotations

import asyncio
import ctypes
import dataclasses
import logging
import os
import shutil
import signal
import socket
import tempfile

from .config import ServeConfig

log = logging.getLogger("movierec.service.workers")

PR_SET_PDEATHSIG = 1


def reserve_port(host: str, port: int) -> socket.socket:
    """Bind (not listen) an SO_REUSEPORT socket on host:port, so port 0 resolves to one port
    all workers share, and no other program takes it while they start."""
    addr = host.strip("[]") or "::"
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((addr, port))
    return sock


def _die_with_parent() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the worker just outlives a killed parent
        pass


def _child(config: ServeConfig, reserved: socket.socket) -> int:
    from .server import serve

    reserved.close()
    _die_with_parent()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # until the server's own handler is installed
    return asyncio.run(serve(config))


def _worker_config(config: ServeConfig, number: int) -> ServeConfig:
    """Worker 0 alone opens the Admin port (one address cannot name N processes); the others
    reload by polling `production` or on SIGHUP, which the parent forwards to every worker."""
    if number == 0 or not hasattr(config, "admin_port"):
        return config
    return dataclasses.replace(config, admin_port=-1)


def run_workers(config: ServeConfig) -> int:
    """Fork `config.workers` servers on one port; return the exit status for the parent."""
    metrics_dir = tempfile.mkdtemp(prefix="movierec-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    reserved = reserve_port(config.host, config.port)
    port = reserved.getsockname()[1]
    child_config = dataclasses.replace(config, port=port)
    children: dict[int, int] = {}  # pid → worker number
    stopping = False

    def stop_all(signum: int = signal.SIGTERM, _frame: object = None) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def forward_hup(signum: int = signal.SIGHUP, _frame: object = None) -> None:
        for pid in list(children):  # SIGHUP = check for a new production model, in every worker
            try:
                os.kill(pid, signal.SIGHUP)
            except ProcessLookupError:
                pass

    status = 0
    try:
        for number in range(config.workers):
            pid = os.fork()
            if pid == 0:  # child
                code = 1
                try:
                    code = _child(_worker_config(child_config, number), reserved)
                finally:
                    os._exit(code)
            children[pid] = number
        # Only now threads and signal handlers: nothing of them must be inherited by a child.
        signal.signal(signal.SIGTERM, stop_all)
        signal.signal(signal.SIGINT, stop_all)
        signal.signal(signal.SIGHUP, forward_hup)
        log.info("%d workers on %s:%d: %s", config.workers, config.host, port, sorted(children))
        if config.metrics_port:
            from .metrics import start_http

            try:
                metrics_port = start_http(config.metrics_port, config.host, multiprocess_dir=metrics_dir)
                log.info("metrics of all workers on http://%s:%d/metrics", config.host, metrics_port)
            except OSError as exc:
                log.error("cannot serve metrics on port %d: %s; serving gRPC without them",
                          config.metrics_port, exc)
        while children:
            try:
                pid, wait_status = os.wait()
            except ChildProcessError:
                break
            number = children.pop(pid, None)
            if number is None:
                continue
            code = os.waitstatus_to_exitcode(wait_status)
            _mark_dead(pid, metrics_dir)
            if not stopping:
                log.error("worker %d (pid %d) exited with %d; stopping the others", number, pid, code)
                status = code if code > 0 else 1
                stop_all()
            elif code != 0 and status == 0:
                status = code if code > 0 else 1
    finally:
        if children:
            stop_all()
            for pid in list(children):
                os.waitpid(pid, 0)
        reserved.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return status


def _mark_dead(pid: int, metrics_dir: str) -> None:
    """Drop a dead worker's live gauges (in-flight calls, model info) from the sum."""
    try:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, metrics_dir)
    except OSError:
        pass
