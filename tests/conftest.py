"""Shared fixtures: a synthetic dataset trained through the real pipeline, and real servers."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from movierec.trainer.config import ClusterConfig, ContentConfig, TrainConfig
from movierec.trainer.pipeline import TrainResult, train
from movierec.trainer.synthetic_files import write_synthetic_dataset

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
STARTUP_TIMEOUT = 60.0


def small_config(data_dir: Path, registry_dir: Path) -> TrainConfig:
    """A configuration that trains in seconds on the synthetic dataset."""
    return dataclasses.replace(
        TrainConfig(),
        data_dir=data_dir,
        registry_dir=registry_dir,
        content=dataclasses.replace(ContentConfig(), svd_components=16, tfidf_min_df=1, tfidf_max_df=1.0),
        cluster=dataclasses.replace(ClusterConfig(), k_min=2, k_max=8, k_step=1, micro_clusters=100),
    )


@pytest.fixture(scope="session")
def synthetic_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_dataset(tmp_path_factory.mktemp("synthetic-data"))


@pytest.fixture(scope="session")
def trained(synthetic_data: Path, tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    registry_dir = tmp_path_factory.mktemp("registry")
    return train(small_config(synthetic_data, registry_dir), progress=lambda _: None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RunningServer:
    """A `python -m movierec.service` child process on a free localhost port.

    `metrics=True` also serves Prometheus /metrics on another free port (`metrics_url`);
    otherwise metrics are off (--metrics-port 0), so servers never contend for 9464.
    The server's output goes to `process.stdout`, or to the file `log` (readable while it runs).
    """

    def __init__(self, registry_dir: Path, *extra: str, metrics: bool = False, log: Path | None = None):
        self.port = free_port()
        self.target = f"127.0.0.1:{self.port}"
        self.metrics_port = free_port() if metrics else 0
        self.metrics_url = f"http://127.0.0.1:{self.metrics_port}/metrics" if metrics else ""
        self.log = log
        with open(log, "w") if log is not None else contextlib.nullcontext(subprocess.PIPE) as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "movierec.service", "--registry", str(registry_dir), "--host", "127.0.0.1",
                 "--port", str(self.port), "--metrics-port", str(self.metrics_port), *extra],
                stdout=output, stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )

    def output(self) -> str:
        return self.log.read_text() if self.log is not None else self.process.stdout.read()

    def wait_serving(self, timeout: float = STARTUP_TIMEOUT) -> None:
        from movierec.service.healthcheck import check

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}: {self.output()}")
            if check(self.target, timeout=1.0) == "SERVING":
                return
            time.sleep(0.1)
        raise TimeoutError(f"server at {self.target} not SERVING after {timeout}s")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@pytest.fixture(scope="session")
def server(trained: TrainResult) -> Iterator[RunningServer]:
    running = RunningServer(trained.path.parent, metrics=True)
    try:
        running.wait_serving()
        yield running
    finally:
        running.stop()


@pytest.fixture()
def client(server: RunningServer):
    from movierec.client import MovieRecClient

    with MovieRecClient(server.target, timeout=10.0) as connected:
        yield connected
