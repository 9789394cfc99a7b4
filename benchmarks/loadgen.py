"""Asyncio gRPC load generator, run as its own process by benchmarks/bench.py.

    python -m benchmarks.loadgen plan.pickle results.json

The plan holds a list of runs, each with its target and server pids (for their CPU time), an
an RPC path, pre-serialised request messages and a mode: closed loop at a concurrency
(that many callers, each sending its next call when the last returns) or open loop at a
fixed rate (calls start on a schedule whatever the replies do; latency is measured from the
scheduled start, so a stalled server is not hidden by coordinated omission).

Requests and replies stay bytes (no protobuf work in the client), the same for every RPC
and for the hello-world ceiling, so the client's cost is the same everywhere. Calls are
spread over several channels, each its own TCP connection, so SO_REUSEPORT workers all
get traffic.
"""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import resource
import sys
import time
from typing import Any

import grpc
import numpy as np

CHANNELS = 4
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of the processes (and their reaped children)."""
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in fields[11:15]) / TICK  # utime stime cutime cstime
    return total


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def summarise(latencies: list[float], errors: dict[str, int], wall: float) -> dict[str, Any]:
    lat = np.asarray(latencies) * 1000.0
    stats: dict[str, Any] = {"calls": int(len(lat)), "errors": sum(errors.values()), "error_codes": errors,
                             "seconds": round(wall, 3), "qps": round(len(lat) / wall, 1) if wall else 0.0}
    if len(lat):
        for name, q in (("p50", 50), ("p90", 90), ("p99", 99), ("p999", 99.9)):
            stats[name + "_ms"] = round(float(np.percentile(lat, q)), 4)
        stats["mean_ms"] = round(float(lat.mean()), 4)
    return stats


async def closed_loop(calls: list, requests: list[bytes], concurrency: int, duration: float,
                      errors: dict[str, int]) -> tuple[list[float], float]:
    latencies: list[float] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + duration

    async def caller(i: int) -> None:
        call = calls[i % len(calls)]
        n = i
        while loop.time() < end:
            request = requests[n % len(requests)]
            n += concurrency
            start = time.perf_counter()
            try:
                await call(request, timeout=10)
            except grpc.aio.AioRpcError as exc:
                errors[exc.code().name] = errors.get(exc.code().name, 0) + 1
                continue
            latencies.append(time.perf_counter() - start)

    started = time.perf_counter()
    await asyncio.gather(*(caller(i) for i in range(concurrency)))
    return latencies, time.perf_counter() - started


async def open_loop(calls: list, requests: list[bytes], rate: float, duration: float,
                    errors: dict[str, int]) -> tuple[list[float], float]:
    latencies: list[float] = []
    total = max(1, int(rate * duration))
    base = time.perf_counter() + 0.01

    async def one(i: int) -> None:
        scheduled = base + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            await calls[i % len(calls)](requests[i % len(requests)], timeout=10)
        except grpc.aio.AioRpcError as exc:
            errors[exc.code().name] = errors.get(exc.code().name, 0) + 1
            return
        latencies.append(time.perf_counter() - scheduled)

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(total)))
    return latencies, time.perf_counter() - started


async def run_plan(plan: dict[str, Any]) -> list[dict[str, Any]]:
    pools: dict[str, list[grpc.aio.Channel]] = {}  # target → channels, opened on first use
    results: list[dict[str, Any]] = []
    try:
        for run in plan["runs"]:
            target, pids = run["target"], run["server_pids"]
            if target not in pools:
                pools[target] = [grpc.aio.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)])
                                 for _ in range(CHANNELS)]
            calls = [ch.unary_unary(run["method"]) for ch in pools[target]]  # bytes in, bytes out
            requests = run["requests"]
            errors: dict[str, int] = {}
            if run.get("warmup", 0) > 0:
                await closed_loop(calls, requests, max(run.get("concurrency", 1), 1), run["warmup"], {})
            server_before, client_before = cpu_seconds(pids), own_cpu()
            if run["mode"] == "closed":
                latencies, wall = await closed_loop(calls, requests, run["concurrency"], run["duration"], errors)
            else:
                if "rate_fraction" in run:  # a fraction of the best closed-loop QPS of this method so far
                    best = max((r["qps"] for r in results if r["method"] == run["method"]
                                and r["target"] == target), default=100.0)
                    run = {**run, "rate": max(1.0, round(run["rate_fraction"] * best, 1))}
                latencies, wall = await open_loop(calls, requests, run["rate"], run["duration"], errors)
            stats = summarise(latencies, errors, wall)
            stats["server_cpu_pct"] = round(100 * (cpu_seconds(pids) - server_before) / wall, 1)
            stats["client_cpu_pct"] = round(100 * (own_cpu() - client_before) / wall, 1)
            results.append({**{k: v for k, v in run.items() if k != "requests"}, **stats})
    finally:
        for channels in pools.values():
            for ch in channels:
                await ch.close()
    return results


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    with open(argv[0], "rb") as f:
        plan = pickle.load(f)
    results = asyncio.run(run_plan(plan))
    with open(argv[1], "w") as f:
        json.dump(results, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
