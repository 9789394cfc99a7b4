"""The server process: health, reflection, metadata, placeholders, shutdown."""

import signal
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from movierec.client import MovieRecError
from tests.conftest import RunningServer

pytestmark = pytest.mark.integration


def test_health_reports_serving_once_loaded(server):
    with grpc.insecure_channel(server.target) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_the_recommender_service(server):
    with grpc.insecure_channel(server.target) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        replies = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        names = {s.name for reply in replies for s in reply.list_services_response.service}
    assert "movierec.v1.Recommender" in names


def test_get_movie_returns_metadata_with_all_ids(client):
    details = client.movie(tmdb_id=100_001).movie
    assert details.movie.tmdb_id == 100_001
    assert details.movie.imdb_id.startswith("tt")
    assert details.overview and details.directors and details.cast


def test_get_movie_of_unknown_title_is_not_found(client):
    with pytest.raises(MovieRecError) as caught:
        client.movie(title="No Such Film")
    assert caught.value.code == grpc.StatusCode.NOT_FOUND
    assert "movie.title" in caught.value.details


def test_sigterm_exits_zero(trained):
    running = RunningServer(trained.path.parent)
    running.wait_serving()
    running.process.send_signal(signal.SIGTERM)
    assert running.process.wait(timeout=30) == 0


def test_server_with_empty_registry_exits_nonzero_saying_to_train(tmp_path):
    running = RunningServer(tmp_path)
    deadline = time.monotonic() + 30
    while running.process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert running.process.returncode == 2
    assert "make train" in running.process.stdout.read()
