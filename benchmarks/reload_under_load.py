"""Hot reload under load: a real server, a bounded load generator, N model swaps through Admin/Reload.

    python -m benchmarks.reload_under_load --registry registry [--seconds 20] [--swaps 10] [--concurrency 8]

The registry's production version is copied into a temporary registry together with a
second version (the same artifacts under another name, so every swap really loads, verifies
and smoke-tests a whole version). A server starts on free localhost ports; the load
generator (asyncio, `concurrency` callers, SimilarMovies / GetMovie / Search /
RecommendForUser with a 2 s deadline each) runs for `seconds/2` without reloads, then for
`seconds/2` while Admin/Reload alternates the two versions `swaps` times. Every failed
call is counted with its status. Prints and writes JSON (benchmarks/results/reload_under_load.json):
calls, failures, p50/p99/max latency per phase, swaps done and the versions answers came from.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import grpc
import numpy as np

from movierec.artifacts import registry
from movierec.v1 import admin_pb2, admin_pb2_grpc
from movierec.v1 import recommender_pb2 as pb
from movierec.v1 import recommender_pb2_grpc as pb_grpc

RESULTS = Path(__file__).resolve().parent / "results" / "reload_under_load.json"
CALL_TIMEOUT = 2.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def two_version_registry(source: Path, target: Path) -> tuple[str, str]:
    """Copy source's production version into `target` plus a twin named `<version>-twin`."""
    found = registry.production_version(source, verify=False)
    target.mkdir(parents=True, exist_ok=True)
    shutil.copytree(found.path, target / found.name)
    twin = found.name + "-twin"
    shutil.copytree(found.path, target / twin)
    manifest = json.loads((target / twin / registry.MANIFEST).read_text())
    manifest["version"] = twin
    (target / twin / registry.MANIFEST).write_text(json.dumps(manifest, indent=2))
    registry.set_pointer(target, found.name)
    return found.name, twin


def start_server(registry_dir: Path, port: int, admin_port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "movierec.service", "--registry", str(registry_dir), "--host", "127.0.0.1",
         "--port", str(port), "--admin-port", str(admin_port), "--metrics-port", "0", "--reload-poll", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})


async def wait_serving(target: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    deadline = time.monotonic() + timeout
    async with grpc.aio.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}: {process.stdout.read()}")
            try:
                reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1.0)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError(f"{target} not SERVING after {timeout}s")


async def sample_requests(stub: pb_grpc.RecommenderStub) -> list[tuple[str, Any]]:
    """A fixed mix of realistic requests built from the served catalog."""
    first = await stub.Search(pb.SearchRequest(query="movie", k=20), timeout=5)
    refs = [pb.MovieRef(tmdb_id=h.movie.tmdb_id) if h.movie.HasField("tmdb_id")
            else pb.MovieRef(movielens_id=h.movie.movielens_id) for h in first.hits] or [pb.MovieRef(movielens_id=1)]
    titles = [h.movie.title for h in first.hits] or ["movie"]
    mix: list[tuple[str, Any]] = []
    for i, ref in enumerate(refs[:8]):
        mix.append(("SimilarMovies", pb.SimilarMoviesRequest(movie=ref, k=10)))
        mix.append(("GetMovie", pb.GetMovieRequest(movie=ref)))
        mix.append(("Search", pb.SearchRequest(query=titles[i % len(titles)][:12], k=10)))
    history = pb.History(ratings=[pb.RatedMovie(movie=r, rating=4.5) for r in refs[:3]])
    mix.append(("RecommendForUser", pb.RecommendForUserRequest(history=history, k=10)))
    return mix


class Load:
    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = {"steady": [], "reloading": []}
        self.failures: Counter[str] = Counter()
        self.failure_examples: list[str] = []
        self.versions: Counter[str] = Counter()
        self.phase = "steady"
        self.running = True

    async def caller(self, stub: pb_grpc.RecommenderStub, mix: list[tuple[str, Any]], offset: int) -> None:
        i = offset
        while self.running:
            method, request = mix[i % len(mix)]
            i += 1
            phase = self.phase
            started = time.perf_counter()
            try:
                reply = await getattr(stub, method)(request, timeout=CALL_TIMEOUT)
            except grpc.aio.AioRpcError as exc:
                self.failures[f"{method}:{exc.code().name}"] += 1
                if len(self.failure_examples) < 5:
                    self.failure_examples.append(f"{method}: {exc.code().name} {exc.details()}")
                continue
            self.latencies[phase].append(time.perf_counter() - started)
            self.versions[reply.model_version] += 1


def summary(latencies: list[float]) -> dict[str, float]:
    if not latencies:
        return {"calls": 0}
    ms = np.asarray(latencies) * 1000
    return {"calls": int(len(ms)), "p50_ms": round(float(np.percentile(ms, 50)), 3),
            "p99_ms": round(float(np.percentile(ms, 99)), 3), "max_ms": round(float(ms.max()), 3)}


async def run(registry_dir: Path, seconds: float = 20.0, swaps: int = 10, concurrency: int = 8) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="movierec-reload-") as scratch:
        a, b = two_version_registry(registry_dir, Path(scratch) / "registry")
        port, admin_port = free_port(), free_port()
        process = start_server(Path(scratch) / "registry", port, admin_port)
        target = f"127.0.0.1:{port}"
        try:
            await wait_serving(target, process)
            async with grpc.aio.insecure_channel(target) as channel, \
                    grpc.aio.insecure_channel(f"127.0.0.1:{admin_port}") as admin_channel:
                stub, admin = pb_grpc.RecommenderStub(channel), admin_pb2_grpc.AdminStub(admin_channel)
                mix = await sample_requests(stub)
                load = Load()
                callers = [asyncio.create_task(load.caller(stub, mix, i * 3)) for i in range(concurrency)]
                await asyncio.sleep(seconds / 2)
                load.phase = "reloading"
                reload_seconds, done = [], 0
                gap = (seconds / 2) / swaps
                for n in range(swaps):
                    version = b if n % 2 == 0 else a
                    started = time.perf_counter()
                    reply = await admin.Reload(admin_pb2.ReloadRequest(version=version), timeout=60)
                    reload_seconds.append(time.perf_counter() - started)
                    done += int(reply.changed)
                    await asyncio.sleep(max(0.0, gap - reload_seconds[-1]))
                load.running = False
                await asyncio.gather(*callers)
                info = await admin.GetModelInfo(admin_pb2.GetModelInfoRequest(), timeout=5)
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    calls = sum(len(v) for v in load.latencies.values()) + sum(load.failures.values())
    return {
        "seconds": seconds, "concurrency": concurrency, "swaps_requested": swaps, "swaps_done": done,
        "calls": calls, "failures": sum(load.failures.values()), "failures_by_status": dict(load.failures),
        "failure_examples": load.failure_examples,
        "without_reloads": summary(load.latencies["steady"]), "during_reloads": summary(load.latencies["reloading"]),
        "reload_rpc_seconds": {"median": round(float(np.median(reload_seconds)), 3),
                               "max": round(float(max(reload_seconds)), 3)},
        "answers_by_version": dict(load.versions), "served_at_end": info.version,
        "catalog_size": info.catalog_size, "cpus": os.cpu_count(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--registry", type=Path, default=Path("registry"))
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--swaps", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.registry, args.seconds, args.swaps, args.concurrency))
    text = json.dumps(result, indent=2)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    return 0 if result["failures"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
