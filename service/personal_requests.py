"""Validation of RecommendForUser / PredictRatings requests: who the user is, which movies.

A user is either a known `user_id` (their training ratings are the history) or an anonymous
`history` of (movie, rating). Ratings may be any value in 0.5..5.0 (MovieLens stars; the
models treat them as continuous, so 4.2 from another scale is accepted, not rounded).
A movie rated twice in a history counts once, with its last rating.
"""

from __future__ import annotations

import math

import numpy as np

from movierec.v1 import recommender_pb2 as pb

from .errors import InvalidArgument, NotFound, Unavailable
from .model import LoadedModel
from .personal import PersonalArtifacts
from .requests import resolve_movie

MIN_RATING, MAX_RATING = 0.5, 5.0
MAX_HISTORY = 5000
MAX_PREDICT_MOVIES = 1000


def personal_of(model: LoadedModel) -> PersonalArtifacts:
    if model.personal is None:
        raise Unavailable("", f"model {model.version} was trained without personalisation; retrain to serve it")
    return model.personal


def read_user(model: LoadedModel, request: pb.RecommendForUserRequest | pb.PredictRatingsRequest
              ) -> tuple[np.ndarray, np.ndarray]:
    """The user's history as (catalog rows, ratings)."""
    personal = personal_of(model)
    kind = request.WhichOneof("user")
    if kind is None:
        raise InvalidArgument("user", "set user_id, or history with the movies the user has rated")
    if kind == "user_id":
        if request.user_id <= 0:
            raise InvalidArgument("user_id", f"must be a positive id, got {request.user_id}")
        found = personal.history(request.user_id)
        if found is None:
            raise NotFound("user_id", f"no user {request.user_id} in model {model.version}; "
                                      "send a history of rated movies instead for a new user")
        return found
    return read_history(model, request.history)


def read_history(model: LoadedModel, history: pb.History) -> tuple[np.ndarray, np.ndarray]:
    ratings = history.ratings
    if not ratings:
        raise InvalidArgument("history.ratings", "must not be empty: rate at least one movie")
    if len(ratings) > MAX_HISTORY:
        raise InvalidArgument("history.ratings", f"at most {MAX_HISTORY} movies, got {len(ratings)}")
    by_row: dict[int, float] = {}
    for i, rated in enumerate(ratings):
        field = f"history.ratings[{i}]"
        if not math.isfinite(rated.rating) or not MIN_RATING <= rated.rating <= MAX_RATING:
            raise InvalidArgument(f"{field}.rating", f"must be between {MIN_RATING} and {MAX_RATING}, "
                                                     f"got {rated.rating:g}")
        if not rated.HasField("movie"):
            raise InvalidArgument(f"{field}.movie", "is required: set one of movielens_id, tmdb_id, imdb_id or title")
        by_row[resolve_movie(model, rated.movie, f"{field}.movie")] = float(rated.rating)
    rows = np.fromiter(by_row.keys(), dtype=np.int64, count=len(by_row))
    return rows, np.fromiter(by_row.values(), dtype=np.float32, count=len(by_row))


def read_movies(model: LoadedModel, movies: list[pb.MovieRef]) -> np.ndarray:
    if not movies:
        raise InvalidArgument("movies", "must name at least one movie")
    if len(movies) > MAX_PREDICT_MOVIES:
        raise InvalidArgument("movies", f"at most {MAX_PREDICT_MOVIES} movies, got {len(movies)}")
    return np.array([resolve_movie(model, ref, f"movies[{i}]") for i, ref in enumerate(movies)], dtype=np.int64)
