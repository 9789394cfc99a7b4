"""The client's retry policy: which failures it hides and which it lets through."""

from concurrent import futures

import grpc
import pytest

from movierec.client import MovieRecClient, MovieRecError
from movierec.v1 import recommender_pb2 as pb
from movierec.v1 import recommender_pb2_grpc as pb_grpc


class FailingFirst(pb_grpc.RecommenderServicer):
    """GetMovie fails with the given codes in turn, then answers."""

    def __init__(self, *codes: grpc.StatusCode):
        self.codes = list(codes)
        self.calls = 0

    def GetMovie(self, request, context):
        self.calls += 1
        if self.codes:
            context.abort(self.codes.pop(0), "scripted failure")
        movie = pb.Movie(tmdb_id=request.movie.tmdb_id, title="Toy Story")
        return pb.GetMovieResponse(movie=pb.MovieDetails(movie=movie))


@pytest.fixture()
def serve():
    servers = []

    def start(servicer: FailingFirst) -> str:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        pb_grpc.add_RecommenderServicer_to_server(servicer, server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        servers.append(server)
        return f"127.0.0.1:{port}"
    yield start
    for server in servers:
        server.stop(0)


@pytest.mark.parametrize("code", [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED])
def test_restart_failures_are_retried_until_the_call_succeeds(serve, code):
    servicer = FailingFirst(code, code)
    with MovieRecClient(serve(servicer), timeout=5) as client:
        assert client.movie(tmdb_id=862).movie.movie.title == "Toy Story"
    assert servicer.calls == 3


@pytest.mark.parametrize("code", [grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.INVALID_ARGUMENT])
def test_overload_and_caller_errors_are_not_retried(serve, code):
    servicer = FailingFirst(code)
    with MovieRecClient(serve(servicer), timeout=5) as client, pytest.raises(MovieRecError) as caught:
        client.movie(tmdb_id=862)
    assert caught.value.code == code and servicer.calls == 1


def test_retries_can_be_turned_off(serve):
    servicer = FailingFirst(grpc.StatusCode.UNAVAILABLE)
    with MovieRecClient(serve(servicer), timeout=5, retries=False) as client, pytest.raises(MovieRecError):
        client.movie(tmdb_id=862)
    assert servicer.calls == 1


def test_caller_options_override_the_retry_policy(serve):
    servicer = FailingFirst(grpc.StatusCode.UNAVAILABLE)
    with MovieRecClient(serve(servicer), timeout=5, options=[("grpc.enable_retries", 0)]) as client, \
            pytest.raises(MovieRecError):
        client.movie(tmdb_id=862)
    assert servicer.calls == 1
