"""The gRPC ceiling: a server that answers every Recommender RPC with a fixed 10-movie reply.

    python -m benchmarks.hello_server --port 50052 [--host 127.0.0.1] [--workers N]

Same grpc.aio server, options, health service and process model as movierec.service, and
no work at all in the handler (the reply message is built once and only serialised per
call), so its latency and throughput are what Python gRPC on this machine can do. The
bench reports each real RPC as a ratio to this server measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from movierec.v1 import recommender_pb2 as pb
from movierec.v1 import recommender_pb2_grpc as pb_grpc


def fixed_movies(n: int = 10) -> list[pb.ScoredMovie]:
    return [pb.ScoredMovie(movie=pb.Movie(movielens_id=i, tmdb_id=1000 + i, imdb_id=f"tt{1000000 + i}",
                                          title=f"Hello Movie {i}", year=1990 + i, genres=["Drama", "Comedy"]),
                           score=1.0 - i / 100, cluster_id=i % 4)
            for i in range(1, n + 1)]


class Hello(pb_grpc.RecommenderServicer):
    """Every RPC returns one prebuilt response of 10 movies."""

    def __init__(self) -> None:
        movies = fixed_movies()
        self._similar = pb.SimilarMoviesResponse(query=movies[0].movie, results=movies, model_version="hello")
        self._movie = pb.GetMovieResponse(movie=pb.MovieDetails(movie=movies[0].movie), model_version="hello")
        self._recommend = pb.RecommendForUserResponse(
            results=[pb.Recommendation(movie=m.movie, score=m.score) for m in movies], model_version="hello")
        self._predict = pb.PredictRatingsResponse(
            predictions=[pb.RatingPrediction(movie=m.movie, predicted_rating=4.0) for m in movies],
            model_version="hello")
        self._search = pb.SearchResponse(hits=[pb.SearchHit(movie=m.movie, score=m.score) for m in movies],
                                         model_version="hello")

    async def SimilarMovies(self, request, context):  # noqa: N802 - gRPC method names
        return self._similar

    async def GetMovie(self, request, context):  # noqa: N802
        return self._movie

    async def RecommendForUser(self, request, context):  # noqa: N802
        return self._recommend

    async def PredictRatings(self, request, context):  # noqa: N802
        return self._predict

    async def Search(self, request, context):  # noqa: N802
        return self._search


async def serve(host: str, port: int, reuseport: bool) -> int:
    server = grpc.aio.server(options=[("grpc.so_reuseport", 1)] if reuseport else [])
    pb_grpc.add_RecommenderServicer_to_server(Hello(), server)
    checker = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(checker, server)
    server.add_insecure_port(f"{host}:{port}")
    await server.start()
    await checker.set("", health_pb2.HealthCheckResponse.SERVING)
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stopping.set)
    await stopping.wait()
    await server.stop(1.0)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    if args.workers <= 1:
        return asyncio.run(serve(args.host, args.port, False))
    children = []
    for _ in range(args.workers):  # fork before any gRPC object exists, as service/workers.py
        pid = os.fork()
        if pid == 0:
            os._exit(asyncio.run(serve(args.host, args.port, True)))
        children.append(pid)

    def forward(signum, _frame):
        for pid in children:
            os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for pid in children:
        os.waitpid(pid, 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
