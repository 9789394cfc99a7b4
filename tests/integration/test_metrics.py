"""Prometheus metrics: every RPC counted with the status the caller saw; workers aggregated."""

from __future__ import annotations

import os
import signal
import time
import urllib.request

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from benchmarks.bench import children_of
from movierec.v1 import recommender_pb2 as pb
from movierec.v1 import recommender_pb2_grpc as pb_grpc
from tests.conftest import RunningServer

pytestmark = pytest.mark.integration

RECOMMENDER = "movierec.v1.Recommender"
HEALTH = "grpc.health.v1.Health"


def scrape(url: str) -> dict[tuple[str, frozenset], float]:
    with urllib.request.urlopen(url, timeout=10) as reply:
        text = reply.read().decode()
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: dict, name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def handled(samples: dict, service: str, method: str, code: str) -> float:
    return value(samples, "grpc_server_handled_total", grpc_service=service, grpc_method=method, grpc_code=code)


def test_rpcs_are_counted_with_their_status_codes(server):
    before = scrape(server.metrics_url)
    with grpc.insecure_channel(server.target) as channel:
        stub = pb_grpc.RecommenderStub(channel)
        stub.SimilarMovies(pb.SimilarMoviesRequest(movie=pb.MovieRef(tmdb_id=100_001), k=3), timeout=10)
        stub.GetMovie(pb.GetMovieRequest(movie=pb.MovieRef(tmdb_id=100_001)), timeout=10)
        with pytest.raises(grpc.RpcError) as missing:
            stub.GetMovie(pb.GetMovieRequest(movie=pb.MovieRef(title="No Such Film")), timeout=10)
        with pytest.raises(grpc.RpcError) as invalid:
            stub.SimilarMovies(pb.SimilarMoviesRequest(), timeout=10)
        health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    after = scrape(server.metrics_url)

    def delta(service: str, method: str, code: str) -> float:
        return handled(after, service, method, code) - handled(before, service, method, code)

    assert delta(RECOMMENDER, "SimilarMovies", "OK") == 1
    assert delta(RECOMMENDER, "SimilarMovies", "InvalidArgument") == 1
    assert delta(RECOMMENDER, "GetMovie", "OK") == 1
    assert delta(RECOMMENDER, "GetMovie", "NotFound") == 1
    assert delta(HEALTH, "Check", "OK") >= 1
    started = (value(after, "grpc_server_started_total", grpc_method="SimilarMovies")
               - value(before, "grpc_server_started_total", grpc_method="SimilarMovies"))
    assert started == 2
    count = (value(after, "grpc_server_handling_seconds_count", grpc_method="GetMovie", grpc_type="unary")
             - value(before, "grpc_server_handling_seconds_count", grpc_method="GetMovie", grpc_type="unary"))
    assert count == 2
    # go-grpc-prometheus' histogram with buckets from 100 µs to 1 s
    buckets = {dict(ls)["le"] for (n, ls) in after if n == "grpc_server_handling_seconds_bucket"}
    assert {"0.0001", "1.0", "+Inf"} <= buckets
    assert value(after, "movierec_stage_seconds_count", stage="ann_search") >= 1
    assert value(after, "movierec_grpc_inflight_calls", grpc_method="GetMovie") == 0
    assert value(after, "movierec_catalog_movies") > 0
    assert [dict(ls)["version"] for (n, ls), v in after.items() if n == "movierec_model_info" and v == 1]


def test_no_label_carries_a_movie_or_user_id(server):
    labels = {key for (_n, ls) in scrape(server.metrics_url) for key, _ in ls}
    assert not labels & {"movie", "movie_id", "user", "user_id", "tmdb_id", "title"}


def test_two_workers_share_the_port_and_one_metrics_endpoint(trained):
    running = RunningServer(trained.path.parent, "--workers", "2", "--admin-port", "0", metrics=True)
    try:
        running.wait_serving()
        workers = children_of(running.process.pid)
        assert len(workers) == 2
        calls = 20
        for _ in range(calls):  # a connection each: SO_REUSEPORT spreads connections, not calls
            with grpc.insecure_channel(running.target) as channel:
                pb_grpc.RecommenderStub(channel).GetMovie(
                    pb.GetMovieRequest(movie=pb.MovieRef(tmdb_id=100_001)), timeout=10)
        deadline = time.monotonic() + 10
        while True:  # both workers must be up (each answers health on its own)
            samples = scrape(running.metrics_url)
            if handled(samples, RECOMMENDER, "GetMovie", "OK") == calls or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert handled(samples, RECOMMENDER, "GetMovie", "OK") == calls
        assert value(samples, "movierec_catalog_movies") > 0
        running.process.send_signal(signal.SIGTERM)
        assert running.process.wait(timeout=30) == 0
        assert not [pid for pid in workers if os.path.exists(f"/proc/{pid}")]  # reaped: drained and gone
    finally:
        running.stop()
