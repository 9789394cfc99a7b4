"""Property-based fuzzing of every RPC through a real server (hypothesis).

    python -m benchmarks.fuzz --registry registry --requests 10000     # `make fuzz`

Each Recommender RPC gets generated requests mixing plausible values (ids the catalog
has, real titles, genres) with hostile ones (negative and huge ids, empty / long / odd
Unicode strings, NaN and infinite ratings, unknown enum values, thousands of repeated
items); the Admin and Health services get theirs, and a share of the calls send raw random
bytes as the serialised request. The property: no call is ever answered UNKNOWN or INTERNAL
(nor does any hang past its deadline), and the server still reports SERVING at the end.
Prints a summary: requests per RPC and status-code counts.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from movierec.v1 import admin_pb2
from movierec.v1 import recommender_pb2 as pb

FORBIDDEN = {"UNKNOWN", "INTERNAL"}
CALL_TIMEOUT = 10.0
INT64 = st.integers(min_value=-(2 ** 63), max_value=2 ** 63 - 1)
INT32 = st.integers(min_value=-(2 ** 31), max_value=2 ** 31 - 1)
GENRES = ["Action", "Comedy", "Drama", "Animation", "Science Fiction", "Sci-Fi", "action", " Drama ", "Nope", ""]
WORDS = ["toy", "story", "synthetic", "movie", "the", "heat", "1995", "hanks", "space", "love"]


def text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=40),
        st.sampled_from(WORDS + ["Synthetic Movie 1 (1990)", "Toy Story (1995)", "", " ", "%", "\x00", "\u202e"]),
        st.lists(st.sampled_from(WORDS), max_size=6).map(" ".join),
        st.text(min_size=200, max_size=3000),
    )


def movie_refs() -> st.SearchStrategy[pb.MovieRef]:
    return st.one_of(
        st.builds(lambda v: pb.MovieRef(movielens_id=v), st.one_of(st.integers(0, 400), INT64)),
        st.builds(lambda v: pb.MovieRef(tmdb_id=v), st.one_of(st.integers(99_990, 100_330), st.integers(0, 300_000),
                                                               INT64)),
        st.builds(lambda v: pb.MovieRef(imdb_id=v), st.one_of(
            st.integers(8_999_990, 9_000_400).map(lambda n: f"tt{n:07d}"), st.integers(0, 10 ** 9).map(str),
            text())),
        st.builds(lambda v: pb.MovieRef(title=v), st.one_of(
            st.integers(1, 320).map(lambda n: f"Synthetic Movie {n}"), text())),
        st.just(pb.MovieRef()),
    )


def optional_int(message: Any, field: str, values: st.SearchStrategy[int | None]) -> st.SearchStrategy[Any]:
    def put(value: int | None) -> Any:
        if value is not None:
            setattr(message, field, value)
        return message
    return values.map(put)


def filters() -> st.SearchStrategy[pb.Filters]:
    def build(genres, low, high, exclude):
        message = pb.Filters(genres=genres, exclude=exclude)
        if low is not None:
            message.min_year = low
        if high is not None:
            message.max_year = high
        return message
    year = st.one_of(st.none(), st.integers(1900, 2030), INT32)
    return st.builds(build, st.lists(st.one_of(st.sampled_from(GENRES), text()), max_size=4), year, year,
                     st.one_of(st.lists(movie_refs(), max_size=5), st.lists(movie_refs(), min_size=900, max_size=1100)))


def small_k() -> st.SearchStrategy[int | None]:
    return st.one_of(st.none(), st.integers(1, 20), st.integers(-3, 120), INT32)


def some_filters() -> st.SearchStrategy[pb.Filters]:
    """Mostly none (so valid requests reach the scoring code), sometimes hostile."""
    return st.one_of(st.just(pb.Filters()), st.just(pb.Filters(genres=["Drama"])), filters())


def _with(message: Any, **optional: Any) -> Any:
    for name, value in optional.items():
        if value is not None:
            setattr(message, name, value)
    return message


def similar_requests() -> st.SearchStrategy[pb.SimilarMoviesRequest]:
    return st.builds(
        lambda movie, k, f, scope, probes: _with(pb.SimilarMoviesRequest(movie=movie, filters=f, scope=scope),
                                                 k=k, probes=probes),
        st.one_of(movie_refs(), st.none()), small_k(), some_filters(),
        st.one_of(st.integers(0, 3), st.integers(-9, 99)),
        st.one_of(st.none(), st.integers(-2, 100), INT32))


def history() -> st.SearchStrategy[pb.History]:
    rating = st.one_of(st.sampled_from([0.5, 1.0, 3.0, 4.5, 5.0]), st.floats(width=32))
    rated = st.builds(lambda m, r: pb.RatedMovie(movie=m, rating=r), movie_refs(), rating)
    return st.builds(lambda items: pb.History(ratings=items),
                     st.one_of(st.lists(rated, max_size=8), st.lists(rated, min_size=500, max_size=2500)))


def recommend_requests() -> st.SearchStrategy[pb.RecommendForUserRequest]:
    def build(user, given_history, k, f, exclude_seen):
        message = pb.RecommendForUserRequest(filters=f)
        if user is not None:
            message.user_id = user
        elif given_history is not None:
            message.history.CopyFrom(given_history)
        return _with(message, k=k, exclude_seen=exclude_seen)
    return st.builds(build, st.one_of(st.none(), st.integers(-1, 70), INT64), st.one_of(st.none(), history()),
                     small_k(), some_filters(), st.one_of(st.none(), st.booleans()))


def predict_requests() -> st.SearchStrategy[pb.PredictRatingsRequest]:
    def build(user, given_history, movies):
        message = pb.PredictRatingsRequest(movies=movies)
        if user is not None:
            message.user_id = user
        elif given_history is not None:
            message.history.CopyFrom(given_history)
        return message
    return st.builds(build, st.one_of(st.none(), st.integers(-1, 70), INT64), st.one_of(st.none(), history()),
                     st.one_of(st.lists(movie_refs(), max_size=10), st.lists(movie_refs(), min_size=900,
                                                                             max_size=1500)))


def search_requests() -> st.SearchStrategy[pb.SearchRequest]:
    return st.builds(lambda q, fields, k, f: _with(pb.SearchRequest(query=q, fields=fields, filters=f), k=k),
                     text(), st.lists(st.one_of(st.integers(0, 4), INT32), max_size=5), small_k(), some_filters())


def get_movie_requests() -> st.SearchStrategy[pb.GetMovieRequest]:
    return st.builds(lambda m: pb.GetMovieRequest(movie=m) if m is not None else pb.GetMovieRequest(),
                     st.one_of(movie_refs(), st.none()))


RPCS: dict[str, tuple[str, Any, Any]] = {
    # name: (full method path, request strategy factory, response class)
    "SimilarMovies": ("/movierec.v1.Recommender/SimilarMovies", similar_requests, pb.SimilarMoviesResponse),
    "GetMovie": ("/movierec.v1.Recommender/GetMovie", get_movie_requests, pb.GetMovieResponse),
    "Search": ("/movierec.v1.Recommender/Search", search_requests, pb.SearchResponse),
    "RecommendForUser": ("/movierec.v1.Recommender/RecommendForUser", recommend_requests, pb.RecommendForUserResponse),
    "PredictRatings": ("/movierec.v1.Recommender/PredictRatings", predict_requests, pb.PredictRatingsResponse),
}
ADMIN_RPCS = {
    "Admin/GetModelInfo": ("/movierec.v1.Admin/GetModelInfo",
                           lambda: st.just(admin_pb2.GetModelInfoRequest()), admin_pb2.ModelInfo),
    "Admin/Reload": ("/movierec.v1.Admin/Reload", lambda: st.builds(
        lambda v: admin_pb2.ReloadRequest(version=v),
        st.one_of(text(), st.sampled_from(["../etc", ".incoming-x", "/tmp", "nope", "production"]))),
        admin_pb2.ReloadResponse),
}


class Fuzzer:
    def __init__(self, target: str, admin_target: str | None = None):
        self.channel = grpc.insecure_channel(target, options=[("grpc.max_send_message_length", 8 << 20)])
        self.admin_channel = grpc.insecure_channel(admin_target) if admin_target else None
        self.statuses: dict[str, Counter[str]] = defaultdict(Counter)
        self.bad: list[str] = []
        self.slowest = 0.0

    def close(self) -> None:
        self.channel.close()
        if self.admin_channel is not None:
            self.admin_channel.close()

    def call(self, name: str, channel: grpc.Channel, path: str, payload: bytes, response: Any) -> None:
        method = channel.unary_unary(path, request_serializer=None, response_deserializer=response.FromString)
        started = time.perf_counter()
        try:
            method(payload, timeout=CALL_TIMEOUT)
            code, details = "OK", ""
        except grpc.RpcError as exc:
            code, details = exc.code().name, exc.details() or ""
        self.slowest = max(self.slowest, time.perf_counter() - started)
        self.statuses[name][code] += 1
        if code in FORBIDDEN or code == "DEADLINE_EXCEEDED":
            self.bad.append(f"{name} → {code}: {details} (request {payload[:200]!r})")

    def run(self, name: str, path: str, strategy: st.SearchStrategy[Any], response: Any, examples: int,
            channel: grpc.Channel, raw_share: float = 0.1) -> None:
        @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
                  suppress_health_check=list(HealthCheck))
        @given(st.one_of(strategy.map(lambda m: m.SerializeToString()),
                         st.binary(max_size=256)) if raw_share else strategy.map(lambda m: m.SerializeToString()))
        def property_holds(payload: bytes) -> None:
            self.call(name, channel, path, payload, response)

        property_holds()

    def fuzz(self, per_rpc: int, admin_per_rpc: int = 0) -> None:
        for name, (path, strategy, response) in RPCS.items():
            self.run(name, path, strategy(), response, per_rpc, self.channel)
        if self.admin_channel is not None and admin_per_rpc:
            for name, (path, strategy, response) in ADMIN_RPCS.items():
                self.run(name, path, strategy(), response, admin_per_rpc, self.admin_channel)

    def health(self) -> str:
        reply = health_pb2_grpc.HealthStub(self.channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)

    def summary(self) -> dict[str, Any]:
        return {"requests": sum(sum(c.values()) for c in self.statuses.values()),
                "per_rpc": {name: dict(sorted(c.items())) for name, c in self.statuses.items()},
                "forbidden": len(self.bad), "examples_of_forbidden": self.bad[:10],
                "slowest_call_seconds": round(self.slowest, 3)}


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--registry", type=Path, default=Path("registry"))
    parser.add_argument("--requests", type=int, default=10_000, help="total requests (split over the RPCs)")
    args = parser.parse_args(argv)
    port, admin_port = free_port(), free_port()
    log = tempfile.NamedTemporaryFile(prefix="movierec-fuzz-", suffix=".log", delete=False)
    process = subprocess.Popen(
        [sys.executable, "-m", "movierec.service", "--registry", str(args.registry), "--host", "127.0.0.1",
         "--port", str(port), "--admin-port", str(admin_port), "--metrics-port", "0", "--reload-poll", "0"],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    fuzzer = Fuzzer(f"127.0.0.1:{port}", f"127.0.0.1:{admin_port}")
    try:
        grpc.channel_ready_future(fuzzer.channel).result(timeout=60)
        deadline = time.monotonic() + 120
        while fuzzer.health() != "SERVING" and time.monotonic() < deadline:
            time.sleep(0.2)
        started = time.perf_counter()
        admin_each = max(1, args.requests // 50)
        fuzzer.fuzz(per_rpc=(args.requests - 2 * admin_each) // len(RPCS), admin_per_rpc=admin_each)
        result = {**fuzzer.summary(), "seconds": round(time.perf_counter() - started, 1),
                  "health_after": fuzzer.health(), "server_log": log.name}
    finally:
        fuzzer.close()
        process.terminate()
        process.wait(timeout=30)
    print(json.dumps(result, indent=2))
    ok = result["forbidden"] == 0 and result["health_after"] == "SERVING"
    print("fuzz: OK" if ok else "fuzz: FAILED", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
