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

SIGUSR2 is a rolling restart (Supervisor.rolling_restart): each worker in turn gets a
successor forked beside it, which imports the code now on disk; once the successor reports
SERVING the old worker is sent SIGTERM and drains. The port never closes, so callers with the
client retry policy (movierec.client.retry) see no failed call.
"""

from __future__ import annotations

import asyncio
import ctypes
import dataclasses
import logging
import os
import select
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Callable

from .config import ServeConfig

log = logging.getLogger("movierec.service.workers")

PR_SET_PDEATHSIG = 1
READY = b"S"                    # a worker writes this to its pipe once SERVING
POLL_SECONDS = 0.05             # how often the parent looks for exited workers
STARTUP_TIMEOUT_SECONDS = 120.0  # a replacement not SERVING by then is given up (rolling restart)


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


def _child(config: ServeConfig, reserved: socket.socket, ready_fd: int) -> int:
    from .server import serve

    reserved.close()
    _die_with_parent()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)
    for sig in (signal.SIGHUP, signal.SIGUSR2):
        signal.signal(sig, signal.SIG_IGN)  # SIGHUP until the server's own handler is installed

    def tell_parent_serving() -> None:
        try:
            os.write(ready_fd, READY)
        except BrokenPipeError:  # workers started with the parent: nobody waits for them
            pass
        os.close(ready_fd)
    return asyncio.run(serve(config, on_serving=tell_parent_serving))


def _worker_config(config: ServeConfig, number: int) -> ServeConfig:
    """Worker 0 alone opens the Admin port (one address cannot name N processes); the others
    reload by polling `production` or on SIGHUP, which the parent forwards to every worker."""
    if number == 0 or not hasattr(config, "admin_port"):
        return config
    return dataclasses.replace(config, admin_port=-1)


class Supervisor:
    """The parent: forks the workers, forwards signals, reaps them, replaces them one by one.

    Children report SERVING through a pipe (the parent must not touch gRPC: it forks again for
    a rolling restart). A worker that exits unexpectedly stops the rest; a worker retired by a
    rolling restart exits as planned.
    """

    def __init__(self, config: ServeConfig, reserved: socket.socket, metrics_dir: str):
        self.config = config
        self.reserved = reserved
        self.metrics_dir = metrics_dir
        self.children: dict[int, int] = {}  # pid → worker number, serving (or still loading at start)
        self.starting: dict[int, int] = {}  # replacements not yet SERVING
        self.retiring: set[int] = set()     # replaced workers, draining after SIGTERM
        self.stopping = False
        self.restart_requested = False
        self.status = 0

    def spawn(self, number: int) -> tuple[int, int]:
        """Fork worker `number`; return its pid and the read end of its SERVING pipe."""
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # child
            code = 1
            try:
                os.close(read_fd)
                code = _child(_worker_config(self.config, number), self.reserved, write_fd)
            finally:
                os._exit(code)
        os.close(write_fd)
        return pid, read_fd

    def signal_all(self, signum: int) -> None:
        for pid in [*self.children, *self.starting]:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    def stop_all(self, signum: int = signal.SIGTERM, _frame: object = None) -> None:
        self.stopping = True
        self.signal_all(signal.SIGTERM)

    def forward_hup(self, signum: int = signal.SIGHUP, _frame: object = None) -> None:
        self.signal_all(signal.SIGHUP)  # SIGHUP = check for a new production model, in every worker

    def request_restart(self, signum: int = signal.SIGUSR2, _frame: object = None) -> None:
        self.restart_requested = True

    def reap(self) -> bool:
        """Collect exited children without blocking; False when none had exited."""
        try:
            pid, wait_status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return False
        if pid == 0:
            return False
        code = os.waitstatus_to_exitcode(wait_status)
        _mark_dead(pid, self.metrics_dir)
        if self.starting.pop(pid, None) is not None:
            log.error("replacement worker (pid %d) exited with %d before SERVING", pid, code)
        number = self.children.pop(pid, None)
        if pid in self.retiring:
            self.retiring.discard(pid)
            log.info("replaced worker (pid %d) exited with %d", pid, code)
        elif number is not None and not self.stopping:
            log.error("worker %d (pid %d) exited with %d; stopping the others", number, pid, code)
            self.status = code if code > 0 else 1
            self.stop_all()
        elif number is not None and code != 0 and self.status == 0:
            self.status = code if code > 0 else 1
        return True

    def wait_ready(self, pid: int, read_fd: int, timeout: float) -> bool:
        """True once worker `pid` says it is SERVING; False if it exits, times out or we stop."""
        deadline = time.monotonic() + timeout
        try:
            while not self.stopping and time.monotonic() < deadline and pid in self.starting:
                readable, _, _ = select.select([read_fd], [], [], POLL_SECONDS)
                if readable:
                    return os.read(read_fd, len(READY)) == READY  # b"" = it exited before SERVING
                self.reap()
            return False
        finally:
            os.close(read_fd)

    def rolling_restart(self) -> None:
        """Replace every worker in turn: start its successor on the shared port, wait until it
        is SERVING, then SIGTERM the old one and wait until it has drained. New workers import
        the code on disk, so this upgrades the service without closing the port."""
        log.info("rolling restart of %d workers", len(self.children))
        for old, number in sorted(self.children.items(), key=lambda item: item[1]):
            pid, read_fd = self.spawn(number)
            self.starting[pid] = number
            if not self.wait_ready(pid, read_fd, STARTUP_TIMEOUT_SECONDS):
                if not self.stopping:
                    log.error("replacement of worker %d (pid %d) did not become SERVING; keeping pid %d and "
                              "stopping the rolling restart", number, pid, old)
                if self.starting.pop(pid, None) is not None:  # not reaped yet: stop it and reap it later
                    self.retiring.add(pid)
                    _terminate(pid)
                return
            del self.starting[pid]
            self.children[pid] = number
            del self.children[old]
            self.retiring.add(old)
            _terminate(old)
            log.info("worker %d: pid %d SERVING, pid %d draining", number, pid, old)
            while old in self.retiring and not self.stopping:
                if not self.reap():
                    time.sleep(POLL_SECONDS)
        log.info("rolling restart done: %s", sorted(self.children))

    def run(self, after_fork: Callable[[], None]) -> None:
        """Fork the workers, then `after_fork` (threads may start there), then supervise."""
        for number in range(self.config.workers):
            pid, read_fd = self.spawn(number)
            os.close(read_fd)  # at start the port is new: no caller is waiting on a worker
            self.children[pid] = number
        # Only now signal handlers and threads: a child must inherit neither. (Workers forked by
        # a rolling restart come later; they reset the handlers and never use the threads.)
        signal.signal(signal.SIGTERM, self.stop_all)
        signal.signal(signal.SIGINT, self.stop_all)
        signal.signal(signal.SIGHUP, self.forward_hup)
        signal.signal(signal.SIGUSR2, self.request_restart)
        log.info("%d workers on %s:%d: %s", self.config.workers, self.config.host, self.config.port,
                 sorted(self.children))
        after_fork()
        while self.children or self.retiring:
            if self.restart_requested and not self.stopping:
                self.restart_requested = False
                self.rolling_restart()
            elif not self.reap():
                time.sleep(POLL_SECONDS)


def _terminate(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass


def run_workers(config: ServeConfig) -> int:
    """Fork `config.workers` servers on one port; return the exit status for the parent."""
    metrics_dir = tempfile.mkdtemp(prefix="movierec-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    reserved = reserve_port(config.host, config.port)
    port = reserved.getsockname()[1]
    supervisor = Supervisor(dataclasses.replace(config, port=port), reserved, metrics_dir)

    def serve_metrics() -> None:
        if not config.metrics_port:
            return
        from .metrics import start_http

        try:
            metrics_port = start_http(config.metrics_port, config.host, multiprocess_dir=metrics_dir)
            log.info("metrics of all workers on http://%s:%d/metrics", config.host, metrics_port)
        except OSError as exc:
            log.error("cannot serve metrics on port %d: %s; serving gRPC without them", config.metrics_port, exc)
    try:
        supervisor.run(serve_metrics)
    finally:
        left = [*supervisor.children, *supervisor.starting, *supervisor.retiring]
        if left:
            supervisor.stop_all()
            for pid in left:
                try:
                    os.waitpid(pid, 0)
                except ChildProcessError:  # already reaped
                    pass
        reserved.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return supervisor.status


def _mark_dead(pid: int, metrics_dir: str) -> None:
    """Drop a dead worker's live gauges (in-flight calls, model info) from the sum."""
    try:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, metrics_dir)
    except OSError:
        pass
