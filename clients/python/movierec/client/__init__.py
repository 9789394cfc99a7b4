"""Python client for the movierec gRPC service."""

from .client import MovieRecClient, MovieRecError, history, movie_ref, parse_movie
from .retry import SERVICE_CONFIG_JSON, channel_options

__all__ = ["SERVICE_CONFIG_JSON", "MovieRecClient", "MovieRecError", "channel_options", "history", "movie_ref",
           "parse_movie"]
