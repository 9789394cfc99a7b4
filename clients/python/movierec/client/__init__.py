"""Python client for the movierec gRPC service."""

from .client import MovieRecClient, MovieRecError, movie_ref

__all__ = ["MovieRecClient", "MovieRecError", "movie_ref"]
