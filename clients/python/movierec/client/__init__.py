"""Python client for the movierec gRPC service."""

from .client import MovieRecClient, MovieRecError, history, movie_ref, parse_movie

__all__ = ["MovieRecClient", "MovieRecError", "history", "movie_ref", "parse_movie"]
