"""Serving benchmark against the gRPC ceiling: `make bench` / `python -m benchmarks.bench`.

    python -m benchmarks.bench [--registry registry] [--duration 2.5] [--quick]

1. Starts the real server (`python -m movierec.service`, metrics on) from the registry's
   production version, and a hello-world server (benchmarks/hello_server.py: same grpc.aio
   server, a fixed 10-movie reply, no work), both on 127.0.0.1 ports picked here. Time from
   process start to SERVING and resident memory are recorded (cold start).
2. A load generator in its own process (benchmarks/loadgen.py) runs every RPC the server
   implements (UNIMPLEMENTED ones are skipped) with requests drawn from the catalog and the
   model's users: closed loop at concurrency 1, 8 and 32, then open loop at a fixed rate
   (60% of that RPC's best closed-loop QPS). The ceiling's runs use its SimilarMovies, whose
   reply is the same size as a real one.
3. Reports QPS, p50/p90/p99/p99.9, errors, server and client CPU, and per RPC the ratio to
   hello-world at the same concurrency from the same run.
4. In process, without RPC: each handler end to end (validation, scoring, reply message)
   and its scoring function alone; the metrics interceptor's and a stage timer's cost.
5. `--workers 2` against 1 (SimilarMovies and the ceiling at concurrency 1 and 32).
6. What dominates cold start: `python -X importtime` of the server module, top packages.

Writes benchmarks/results/bench.json and bench.png (latency vs concurrency). Bounded: about
3 minutes on 2 busy cores. Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pickle
import platform
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parents[1]
SERVICE = "/movierec.v1.Recommender/"
RPCS = ("SimilarMovies", "GetMovie", "RecommendForUser", "PredictRatings", "Search")
CEILING = "hello"
MIB = 1024 * 1024


# ------------------------------------------------------------------------------ processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def memory_of(pid: int) -> dict[str, float]:
    """RSS (anonymous and file-backed) and PSS in MiB: PSS splits shared pages among sharers."""
    out: dict[str, float] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                out[key.lower() + "_mib"] = round(int(rest.split()[0]) / 1024, 1)
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                out["pss_mib"] = round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return out


class Served:
    """A server child process started by the bench; cold start measured to SERVING."""

    def __init__(self, name: str, argv: list[str], port: int, workers: int = 1):
        self.name, self.port, self.workers = name, port, workers
        self.target = f"127.0.0.1:{port}"
        self.log = tempfile.NamedTemporaryFile(prefix=f"bench-{name}-", suffix=".log", delete=False)
        started = time.perf_counter()
        self.process = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, cwd=REPO,
                                        env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.cold_start_s = self._wait_serving(started)
        time.sleep(0.2)
        self.pids = [self.process.pid, *children_of(self.process.pid)]

    def _wait_serving(self, started: float, timeout: float = 120.0) -> float:
        import grpc
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        # Fast reconnects: the port is refused until the server has imported its modules, and
        # gRPC's default reconnect backoff (1 s, x1.6, jittered) would otherwise add up to
        # ~1 s to the measured cold start, in steps.
        fast_reconnect = [("grpc.initial_reconnect_backoff_ms", 10), ("grpc.min_reconnect_backoff_ms", 10),
                          ("grpc.max_reconnect_backoff_ms", 20)]
        with grpc.insecure_channel(self.target, options=fast_reconnect) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while time.perf_counter() - started < timeout:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited: {Path(self.log.name).read_text()[-2000:]}")
                try:
                    reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=0.5)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return time.perf_counter() - started
                except grpc.RpcError:
                    pass
                time.sleep(0.01)
        raise TimeoutError(f"{self.name} not SERVING after {timeout}s")

    def facts(self) -> dict[str, Any]:
        text = Path(self.log.name).read_text()
        loaded = re.search(r"loaded model \S+: .* in ([0-9.]+)s", text)
        workers = [p for p in self.pids if p != self.process.pid] or [self.process.pid]
        return {"cold_start_s": round(self.cold_start_s, 3),
                "model_load_s": float(loaded.group(1)) if loaded else None,
                "workers": self.workers,
                "memory_per_worker": [memory_of(p) for p in workers]}

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        os.unlink(self.log.name)
        return self.process.returncode


def movierec_server(registry: Path, workers: int = 1) -> Served:
    port = free_port()
    argv = [sys.executable, "-m", "movierec.service", "--registry", str(registry), "--host", "127.0.0.1",
            "--port", str(port), "--metrics-port", str(free_port()), "--workers", str(workers), "--admin-port", "0"]
    return Served(f"movierec-w{workers}", argv, port, workers)


def hello_server(workers: int = 1) -> Served:
    port = free_port()
    return Served(f"hello-w{workers}", [sys.executable, "-m", "benchmarks.hello_server", "--port", str(port),
                                        "--workers", str(workers)], port, workers)


# ------------------------------------------------------------------------------ requests


def build_requests(model: Any, n: int, seed: int = 7) -> dict[str, list[Any]]:
    """Realistic request messages per RPC, drawn from the catalog and the model's users."""
    import numpy as np

    from movierec.artifacts.catalog import MISSING_ID
    from movierec.v1 import recommender_pb2 as pb

    rng = random.Random(seed)
    catalog = model.catalog
    ml = np.asarray(catalog.movielens_id)
    tmdb = np.asarray(catalog.tmdb_id)
    titles = np.asarray(catalog.title)
    known = np.flatnonzero(ml != MISSING_ID)
    with_tmdb = np.flatnonzero(tmdb != MISSING_ID)
    genres = list(catalog.genre_vocabulary)

    def ref(row: int) -> pb.MovieRef:
        choice = rng.random()
        if choice < 0.5 and ml[row] != MISSING_ID:
            return pb.MovieRef(movielens_id=int(ml[row]))
        if choice < 0.9 and tmdb[row] != MISSING_ID:
            return pb.MovieRef(tmdb_id=int(tmdb[row]))
        return pb.MovieRef(movielens_id=int(ml[row])) if ml[row] != MISSING_ID else pb.MovieRef(
            tmdb_id=int(tmdb[row]))

    rows = [int(rng.choice(known if len(known) else with_tmdb)) for _ in range(n)]
    similar = []
    for row in rows:
        request = pb.SimilarMoviesRequest(movie=ref(row), k=10)
        if rng.random() < 0.1 and genres:
            request.filters.genres.append(rng.choice(genres))
        similar.append(request)
    requests: dict[str, list[Any]] = {
        "SimilarMovies": similar,
        "GetMovie": [pb.GetMovieRequest(movie=ref(row)) for row in rows],
    }
    personal = getattr(model, "personal", None)
    users = list(getattr(personal, "user_index", {}) or {})
    if users:
        requests["RecommendForUser"] = [pb.RecommendForUserRequest(user_id=int(rng.choice(users)), k=10)
                                        for _ in range(n)]
        requests["PredictRatings"] = [
            pb.PredictRatingsRequest(user_id=int(rng.choice(users)),
                                     movies=[ref(int(rng.choice(known))) for _ in range(10)])
            for _ in range(n)]
    queries = []
    for row in rows:
        title = re.sub(r"\s*\(\d{4}\)$", "", str(titles[row])).strip() or "toy story"
        if rng.random() < 0.5 and len(title) > 4:  # a typo: one letter dropped
            i = rng.randrange(1, len(title) - 1)
            title = title[:i] + title[i + 1:]
        queries.append(pb.SearchRequest(query=title.lower(), k=10))
    requests["Search"] = queries
    return requests


def probe(target: str, requests: dict[str, list[Any]]) -> dict[str, str]:
    """'ok' per RPC that answers, else the status code name (UNIMPLEMENTED → skipped)."""
    import grpc

    status = {}
    with grpc.insecure_channel(target) as channel:
        for rpc, messages in requests.items():
            call = channel.unary_unary(SERVICE + rpc)
            codes = []
            for message in messages[:5]:
                try:
                    call(message.SerializeToString(), timeout=10)
                    codes.append("ok")
                except grpc.RpcError as exc:
                    codes.append(exc.code().name)
            status[rpc] = "ok" if "ok" in codes else codes[0]
    return status


# ------------------------------------------------------------------------------ load


def run_load(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        plan_path, out_path = Path(tmp) / "plan.pickle", Path(tmp) / "out.json"
        with open(plan_path, "wb") as f:
            pickle.dump({"runs": runs}, f)
        subprocess.run([sys.executable, "-m", "benchmarks.loadgen", str(plan_path), str(out_path)], check=True,
                       cwd=REPO, timeout=600)
        return json.loads(out_path.read_text())


def run_spec(server: Served, label: str, rpc: str, payloads: list[bytes], mode: str, duration: float,
             concurrency: int = 0, warmup: float = 0.0) -> dict[str, Any]:
    run = {"label": label, "rpc": rpc, "method": SERVICE + rpc, "requests": payloads, "mode": mode,
           "concurrency": concurrency, "duration": duration, "warmup": warmup,
           "target": server.target, "server_pids": server.pids}
    if mode == "open":
        run["rate_fraction"] = 0.6  # of this RPC's best closed-loop QPS in the same plan
    return run


# ------------------------------------------------------------------------------ in process


class _Context:
    """Enough of grpc.aio.ServicerContext for a handler called without RPC."""

    async def abort(self, code: Any, details: str = "") -> None:
        raise RuntimeError(f"{code}: {details}")

    def code(self) -> None:
        return None

    def time_remaining(self) -> None:
        return None

    def cancelled(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:  # anything else a handler may ask: a no-op
        return lambda *args, **kwargs: None


def _time_calls(fn: Any, args_list: list[Any], budget: float = 0.6) -> dict[str, float]:
    import numpy as np

    times = []
    end = time.perf_counter() + budget
    i = 0
    while time.perf_counter() < end or i < 20:
        args = args_list[i % len(args_list)]
        start = time.perf_counter()
        fn(args)
        times.append(time.perf_counter() - start)
        i += 1
    us = np.asarray(times) * 1e6
    return {"calls": len(us), "p50_us": round(float(np.percentile(us, 50)), 1),
            "p99_us": round(float(np.percentile(us, 99)), 1), "mean_us": round(float(us.mean()), 1)}


def in_process(model: Any, requests: dict[str, list[Any]]) -> dict[str, Any]:
    """Per RPC: the handler without RPC, and its scoring function alone."""
    from movierec.artifacts.text import warm_up_stemmer
    from movierec.service.config import ServeConfig
    from movierec.service.recommender import ModelHolder, RecommenderService

    # As the server does once SERVING: otherwise `import nltk` (~0.5-2 s) lands in whichever timed
    # Search call first stems a word new to the catalog (the warm-up call's words may all be known).
    warm_up_stemmer()
    holder = ModelHolder()
    holder.set(model)
    service = RecommenderService(holder, ServeConfig())
    loop = asyncio.new_event_loop()
    context = _Context()
    out: dict[str, Any] = {}
    for rpc, messages in requests.items():
        handler = getattr(service, rpc)
        entry: dict[str, Any] = {}
        try:
            loop.run_until_complete(handler(messages[0], context))
            entry["handler"] = _time_calls(lambda m, h=handler: _drive(h(m, context)), messages)
        except Exception as exc:  # noqa: BLE001 - a benchmark reports, it does not fail
            entry["handler"] = {"error": str(exc)[:200]}
        try:
            scoring = _scoring(rpc, model, messages)
            if scoring is not None:
                entry["scoring"] = _time_calls(scoring[0], scoring[1])
                entry["scoring_function"] = scoring[2]
        except Exception as exc:  # noqa: BLE001
            entry["scoring"] = {"error": str(exc)[:200]}
        out[rpc] = entry
    loop.close()
    return out


def _drive(coroutine: Any) -> Any:
    """Run a coroutine that never suspends (handlers do not) without an event loop round trip."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("handler suspended")


def _scoring(rpc: str, model: Any, messages: list[Any]) -> tuple[Any, list[Any], str] | None:
    from movierec.service.requests import read_filters, resolve_movie

    config_exclude = 1000
    if rpc == "SimilarMovies":
        from movierec.service.similar import DEFAULT_SCOPE, SCOPES, default_probes, similar_rows

        probes = default_probes(model)
        args = [(resolve_movie(model, m.movie, "movie"), read_filters(model, m.filters, config_exclude))
                for m in messages]
        return (lambda a: similar_rows(model, a[0], 10, SCOPES[DEFAULT_SCOPE], probes, a[1]), args,
                "service.similar.similar_rows")
    if rpc == "GetMovie":
        from movierec.service.convert import details_message

        rows = [resolve_movie(model, m.movie, "movie") for m in messages]
        return (lambda r: details_message(model.catalog, r, model.index.cluster_of(r)), rows,
                "service.convert.details_message")
    if rpc in ("RecommendForUser", "PredictRatings"):
        from movierec.service.personal import predict_ratings, profile_of, recommend
        from movierec.service.personal_requests import personal_of, read_movies, read_user

        personal = personal_of(model)
        if rpc == "RecommendForUser":
            args = [read_user(model, m) for m in messages]
            return (lambda a: recommend(personal, profile_of(personal, a[0], a[1]), 10), args,
                    "service.personal.recommend(profile_of(...))")
        args = [(read_user(model, m), read_movies(model, m.movies)) for m in messages]
        return (lambda a: predict_ratings(personal, profile_of(personal, *a[0]), a[1]), args,
                "service.personal.predict_ratings(profile_of(...))")
    if rpc == "Search":
        from movierec.service.search import engine_of

        engine = engine_of(model)
        if engine is None:
            return None
        return (lambda m: engine.search(m.query, 10), messages, "service.search.SearchEngine.search")
    return None


def metrics_overhead() -> dict[str, float]:
    """Per-call cost of the metrics interceptor's wrapper and of one stage timer, in µs."""
    import grpc

    from movierec.service.metrics import MetricsInterceptor, stage

    async def handler(request: Any, context: Any) -> Any:
        return request

    plain = grpc.unary_unary_rpc_method_handler(handler)
    wrapped = MetricsInterceptor._wrap("/bench.Overhead/Call", plain)
    context = _Context()
    n = 20000

    def per_call(fn: Any) -> float:
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(n):
                fn()
            best = min(best, (time.perf_counter() - start) / n * 1e6)
        return best

    bare = per_call(lambda: _drive(plain.unary_unary(1, context)))
    with_metrics = per_call(lambda: _drive(wrapped.unary_unary(1, context)))

    def timed_stage() -> None:
        with stage("ann_search"):
            pass

    return {"interceptor_us": round(with_metrics - bare, 2), "stage_timer_us": round(per_call(timed_stage), 2)}


# ------------------------------------------------------------------------------ cold start


def import_breakdown(top: int = 10) -> dict[str, Any]:
    """Wall time to import the server module in a fresh interpreter, and the packages that dominate."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", "import movierec.service.server"],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    wall = time.perf_counter() - started
    packages: dict[str, int] = {}
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if match:  # a package's outermost import has its largest cumulative time (deps it pulled in included)
            name = match.group(4).split(".")[0]
            if name not in ("movierec", "site", "encodings"):
                packages[name] = max(packages.get(name, 0), int(match.group(2)))
    ranked = sorted(packages.items(), key=lambda kv: -kv[1])[:top]
    return {"interpreter_plus_imports_s": round(wall, 3),
            "top_imports_ms": {name: round(us / 1000, 1) for name, us in ranked}}


# ------------------------------------------------------------------------------ report


def table(rows: list[dict[str, Any]], ceiling: dict[tuple[int, str], dict[str, Any]]) -> str:
    head = (f"{'rpc':<17}{'mode':<9}{'qps':>8}{'p50ms':>8}{'p90ms':>8}{'p99ms':>8}{'p99.9':>8}{'err':>5}"
            f"{'srvCPU%':>8}{'cliCPU%':>8}{'p50/hw':>8}{'qps/hw':>8}")
    lines = [head, "-" * len(head)]
    order = [CEILING, *RPCS]
    for r in sorted(rows, key=lambda r: (order.index(r["label"]) if r["label"] in order else len(order),
                                         r["mode"] == "open", r["concurrency"])):
        mode = f"c={r['concurrency']}" if r["mode"] == "closed" else f"{r['rate']:.0f}/s"
        base = ceiling.get((r["concurrency"], r["mode"])) if r["label"] != CEILING else None
        ratio_p50 = (f"{r.get('p50_ms', 0) / base['p50_ms']:.2f}"
                     if base and base.get("p50_ms") and r["mode"] == "closed" else "")
        ratio_qps = f"{r['qps'] / base['qps']:.2f}" if base and base.get("qps") and r["mode"] == "closed" else ""
        name = r["rpc"] if r["label"] != CEILING else "hello-world"
        lines.append(f"{name:<17}{mode:<9}{r['qps']:>8.0f}{r.get('p50_ms', 0):>8.3f}{r.get('p90_ms', 0):>8.3f}"
                     f"{r.get('p99_ms', 0):>8.3f}{r.get('p999_ms', 0):>8.3f}{r['errors']:>5}"
                     f"{r['server_cpu_pct']:>8.0f}{r['client_cpu_pct']:>8.0f}{ratio_p50:>8}{ratio_qps:>8}")
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    series: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r["mode"] == "closed":
            series.setdefault("hello-world" if r["label"] == CEILING else r["rpc"], []).append(r)
    for i, (name, points) in enumerate(series.items()):
        points = sorted(points, key=lambda p: p["concurrency"])
        xs = [p["concurrency"] for p in points]
        color = "black" if name == "hello-world" else f"C{i}"
        style = "--" if name == "hello-world" else "-o"
        ax1.plot(xs, [p["p50_ms"] for p in points], style, color=color, label=f"{name} p50")
        ax1.plot(xs, [p["p99_ms"] for p in points], style, color=color, alpha=0.3)
        ax2.plot(xs, [p["qps"] for p in points], style, color=color, label=name)
    for ax, title, unit in ((ax1, "latency vs concurrency (p50; faint: p99)", "ms"),
                            (ax2, "throughput vs concurrency", "calls/s")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("concurrent callers (closed loop)")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(alpha=0.3)
    ax1.set_yscale("log")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


# ------------------------------------------------------------------------------ main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registry", type=Path, default=Path("registry"))
    parser.add_argument("--duration", type=float, default=2.5, help="seconds per load run")
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--requests", type=int, default=2000, help="distinct requests per RPC")
    parser.add_argument("--quick", action="store_true", help="1 s runs, no workers comparison (smoke test)")
    parser.add_argument("--output", type=Path, default=RESULTS / "bench.json")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    begun = time.perf_counter()
    duration = 1.0 if args.quick else args.duration
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    registry = args.registry.resolve()
    if not (registry / "production").exists():
        print(f"no production model in {registry}: run `make train` first", file=sys.stderr)
        return 2
    print(f"bench: registry {registry}, {duration}s per run, concurrency {concurrencies}", flush=True)

    from movierec.service.model import load_model

    model = load_model(registry)
    requests = build_requests(model, args.requests)
    results: dict[str, Any] = {
        "host": {"python": platform.python_version(), "cpus": os.cpu_count(), "machine": platform.machine(),
                 "loadavg_at_start": os.getloadavg()},
        "model_version": model.version, "catalog_movies": len(model.catalog), "duration_s": duration,
    }
    print("in-process costs …", flush=True)
    results["in_process"] = in_process(model, requests)
    results["metrics_overhead"] = metrics_overhead()
    payloads = {rpc: [m.SerializeToString() for m in messages] for rpc, messages in requests.items()}
    del model

    # Both servers run side by side and the runs interleave (at each concurrency: the ceiling, then
    # every RPC), so a shared host's drifting load hits the ceiling and the RPCs alike.
    server = movierec_server(registry)
    hello = None
    try:
        results["server"] = server.facts()
        print(f"movierec SERVING after {server.cold_start_s:.2f}s", flush=True)
        hello = hello_server()
        results["hello_server"] = hello.facts()
        available = probe(server.target, requests)
        results["rpc_status"] = available
        rpcs = [rpc for rpc in RPCS if available.get(rpc) == "ok"]
        for rpc in RPCS:
            if rpc not in rpcs:
                print(f"skipping {rpc}: {available.get(rpc)}", flush=True)
        runs = []
        for i, c in enumerate(concurrencies):
            warm = 0.3 if i == 0 else 0.0
            runs.append(run_spec(hello, CEILING, "SimilarMovies", payloads["SimilarMovies"], "closed", duration, c,
                                 warm))
            runs += [run_spec(server, rpc, rpc, payloads[rpc], "closed", duration, c, warm) for rpc in rpcs]
        runs.append(run_spec(hello, CEILING, "SimilarMovies", payloads["SimilarMovies"], "open", duration))
        runs += [run_spec(server, rpc, rpc, payloads[rpc], "open", duration) for rpc in rpcs]
        print(f"load: {len(runs)} runs of {duration}s …", flush=True)
        rows = run_load(runs)
    finally:
        server.stop()
        if hello is not None:
            hello.stop()
    ceiling = {(r["concurrency"], r["mode"]): r for r in rows if r["label"] == CEILING}
    for r in rows:
        base = ceiling.get((r["concurrency"], r["mode"]))
        if r["label"] != CEILING and base and base.get("p50_ms") and r["mode"] == "closed":
            r["p50_vs_hello"] = round(r["p50_ms"] / base["p50_ms"], 3)
            r["qps_vs_hello"] = round(r["qps"] / base["qps"], 3)
    results["load"] = rows

    if not args.quick:
        print("workers: 2 against 1 …", flush=True)
        results["workers"] = workers_comparison(registry, payloads, duration, rows)

    results["cold_start"] = {"movierec": results["server"], "hello": results["hello_server"],
                             **import_breakdown()}
    results["targets"] = targets(rows, results)
    results["bench_seconds"] = round(time.perf_counter() - begun, 1)

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    png = args.output.with_suffix(".png")
    plotted = plot(rows, png)
    print()
    print(table(rows, ceiling))
    print()
    print(report(results))
    print(f"\nwrote {args.output}" + (f" and {png}" if plotted else " (no plot: pip install matplotlib)"))
    return 0


def workers_comparison(registry: Path, payloads: dict[str, list[bytes]], duration: float,
                       rows: list[dict[str, Any]]) -> dict[str, Any]:
    server = movierec_server(registry, workers=2)
    try:
        facts = server.facts()
        got = run_load([run_spec(server, "workers2", "SimilarMovies", payloads["SimilarMovies"], "closed", duration,
                                 c, 0.3 if c == 1 else 0.0) for c in (1, 32)])
    finally:
        server.stop()
    one = {r["concurrency"]: r for r in rows if r["label"] == "SimilarMovies" and r["mode"] == "closed"}
    return {"server": facts, "runs": got,
            "qps_ratio_2_vs_1": {c: round(r["qps"] / one[c]["qps"], 3) for c in (1, 32)
                                 for r in got if r["concurrency"] == c and c in one}}


def targets(rows: list[dict[str, Any]], results: dict[str, Any]) -> dict[str, Any]:
    def find(rpc: str, c: int) -> dict[str, Any] | None:
        return next((r for r in rows if r["label"] == rpc and r["mode"] == "closed" and r["concurrency"] == c),
                    None)

    out: dict[str, Any] = {}
    similar1, similar32, rec1 = find("SimilarMovies", 1), find("SimilarMovies", 32), find("RecommendForUser", 1)
    if similar1 and "p50_vs_hello" in similar1:
        out["SimilarMovies p50 <= 1.3x hello @c=1"] = {"value": similar1["p50_vs_hello"],
                                                        "met": similar1["p50_vs_hello"] <= 1.3}
    if similar32 and "qps_vs_hello" in similar32:
        out["SimilarMovies qps >= 0.8x hello @c=32"] = {"value": similar32["qps_vs_hello"],
                                                         "met": similar32["qps_vs_hello"] >= 0.8}
    if rec1 and "p50_vs_hello" in rec1:
        out["RecommendForUser p50 <= 2x hello @c=1"] = {"value": rec1["p50_vs_hello"],
                                                         "met": rec1["p50_vs_hello"] <= 2.0}
    cold = results["server"]["cold_start_s"]
    out["cold start <= 1 s"] = {"value": cold, "met": cold <= 1.0}
    return out


def report(results: dict[str, Any]) -> str:
    lines = ["targets:"]
    for name, t in results["targets"].items():
        lines.append(f"  {'MET ' if t['met'] else 'MISS'} {name}: {t['value']}")
    lines.append("in-process (no RPC), p50 µs: handler / scoring function")
    for rpc, entry in results["in_process"].items():
        handler, scoring = entry.get("handler", {}), entry.get("scoring", {})
        lines.append(f"  {rpc:<17} {handler.get('p50_us', handler.get('error', '-'))!s:>10} / "
                     f"{scoring.get('p50_us', scoring.get('error', '-'))!s:>10}  {entry.get('scoring_function', '')}")
    m = results["metrics_overhead"]
    lines.append(f"metrics: interceptor {m['interceptor_us']} µs/call, stage timer {m['stage_timer_us']} µs")
    cold = results["cold_start"]
    mem = cold["movierec"]["memory_per_worker"][0] if cold["movierec"]["memory_per_worker"] else {}
    lines.append(f"cold start: movierec {cold['movierec']['cold_start_s']} s to SERVING "
                 f"(model load {cold['movierec']['model_load_s']} s), hello {cold['hello']['cold_start_s']} s; "
                 f"RSS {mem.get('vmrss_mib')} MiB (anon {mem.get('rssanon_mib')}, file {mem.get('rssfile_mib')}), "
                 f"PSS {mem.get('pss_mib')} MiB")
    lines.append(f"  python + imports {cold['interpreter_plus_imports_s']} s; top imports (ms): "
                 + ", ".join(f"{k} {v}" for k, v in cold["top_imports_ms"].items()))
    if "workers" in results:
        w = results["workers"]
        pss = [m.get("pss_mib") for m in w["server"]["memory_per_worker"]]
        lines.append(f"workers=2 vs 1 (SimilarMovies QPS ratio by concurrency): {w['qps_ratio_2_vs_1']}; "
                     f"cold start {w['server']['cold_start_s']} s; PSS per worker {pss} MiB")
    lines.append(f"load average at start {tuple(round(x, 2) for x in results['host']['loadavg_at_start'])} "
                 f"on {results['host']['cpus']} CPUs; bench took {results.get('bench_seconds')} s")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
