"""A small typed client: one channel reused for every call, a deadline on every call.

    with MovieRecClient("localhost:50051") as client:
        for hit in client.similar(title="Toy Story", k=5).results:
            print(hit.movie.title, hit.score)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import grpc

from movierec.v1 import recommender_pb2 as pb
from movierec.v1 import recommender_pb2_grpc as pb_grpc

from .retry import channel_options

DEFAULT_TARGET = "localhost:50051"
DEFAULT_TIMEOUT = 5.0

SCOPES = {"default": pb.SCOPE_UNSPECIFIED, "cluster": pb.SCOPE_CLUSTER,
          "probe": pb.SCOPE_MULTI_PROBE, "global": pb.SCOPE_GLOBAL}
SEARCH_FIELDS = {"title": pb.SEARCH_FIELD_TITLE, "person": pb.SEARCH_FIELD_PERSON,
                 "keyword": pb.SEARCH_FIELD_KEYWORD, "text": pb.SEARCH_FIELD_TEXT}


class MovieRecError(Exception):
    """A call failed; `code` is the gRPC status, `details` the server's message."""

    def __init__(self, code: grpc.StatusCode, details: str):
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details


def movie_ref(*, movielens_id: int | None = None, tmdb_id: int | None = None,
              imdb_id: str | None = None, title: str | None = None) -> pb.MovieRef:
    """Exactly one of the ids; raises ValueError otherwise."""
    given = {k: v for k, v in dict(movielens_id=movielens_id, tmdb_id=tmdb_id, imdb_id=imdb_id,
                                    title=title).items() if v is not None}
    if len(given) != 1:
        raise ValueError(f"name a movie by exactly one of movielens_id, tmdb_id, imdb_id, title; got {sorted(given)}")
    return pb.MovieRef(**given)


def filters(genres: Sequence[str] = (), min_year: int | None = None, max_year: int | None = None,
            exclude: Iterable[pb.MovieRef] = ()) -> pb.Filters:
    message = pb.Filters(genres=list(genres), exclude=list(exclude))
    if min_year is not None:
        message.min_year = min_year
    if max_year is not None:
        message.max_year = max_year
    return message


REF_PREFIXES = {"ml": "movielens_id", "movielens": "movielens_id", "tmdb": "tmdb_id", "imdb": "imdb_id",
                "title": "title"}


def parse_movie(text: str) -> pb.MovieRef:
    """'tmdb:862', 'ml:1', 'imdb:tt0114709' (or a bare 'tt0114709'), 'title:Toy Story' → MovieRef."""
    text = text.strip()
    if text.lower().startswith("tt") and text[2:].isdigit():
        return pb.MovieRef(imdb_id=text)
    prefix, sep, value = text.partition(":")
    kind = REF_PREFIXES.get(prefix.strip().lower()) if sep else None
    if kind is None or not value.strip():
        raise ValueError(f"cannot read movie {text!r}: use ml:ID, tmdb:ID, imdb:tt..., or title:TEXT")
    value = value.strip()
    if kind in ("movielens_id", "tmdb_id"):
        if not value.isdigit():
            raise ValueError(f"cannot read movie {text!r}: {prefix} needs a number")
        return pb.MovieRef(**{kind: int(value)})
    return pb.MovieRef(**{kind: value})


def history(ratings: Iterable[tuple[pb.MovieRef | str, float]] | dict[Any, float]) -> pb.History:
    """An anonymous rating history from (movie, rating) pairs; movies as MovieRef or 'tmdb:862'-style text."""
    pairs = ratings.items() if isinstance(ratings, dict) else ratings
    return pb.History(ratings=[pb.RatedMovie(movie=parse_movie(m) if isinstance(m, str) else m, rating=float(r))
                               for m, r in pairs])


class MovieRecClient:
    def __init__(self, target: str = DEFAULT_TARGET, *, timeout: float = DEFAULT_TIMEOUT,
                 channel: grpc.Channel | None = None, options: Sequence[tuple[str, Any]] = (),
                 root_certificates: bytes | None = None, private_key: bytes | None = None,
                 certificate_chain: bytes | None = None, retries: bool = True):
        """TLS when `root_certificates` (PEM CA bytes) is given; mutual TLS when the client's own
        `private_key` and `certificate_chain` (PEM bytes) are given too. Plaintext otherwise.
        `retries` applies movierec's retry policy (client/retry.py) so restarts of the server fail
        no call; `options` given here win over it (gRPC takes the first value of a repeated key)."""
        if channel is None:
            options = [*options, *(channel_options() if retries else [])]
            if root_certificates is not None or private_key is not None or certificate_chain is not None:
                credentials = grpc.ssl_channel_credentials(root_certificates=root_certificates,
                                                           private_key=private_key,
                                                           certificate_chain=certificate_chain)
                channel = grpc.secure_channel(target, credentials, options=list(options))
            else:
                channel = grpc.insecure_channel(target, options=list(options))
        self._channel = channel
        self._stub = pb_grpc.RecommenderStub(self._channel)
        self.timeout = timeout

    def __enter__(self) -> MovieRecClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def wait_ready(self, timeout: float = 10.0) -> None:
        grpc.channel_ready_future(self._channel).result(timeout=timeout)

    def _call(self, method: Any, request: Any, timeout: float | None) -> Any:
        try:
            return method(request, timeout=self.timeout if timeout is None else timeout)
        except grpc.RpcError as exc:
            raise MovieRecError(exc.code(), exc.details() or "") from exc

    def similar(self, movie: pb.MovieRef | None = None, *, k: int | None = None, scope: str = "default",
                probes: int | None = None, genres: Sequence[str] = (), min_year: int | None = None,
                max_year: int | None = None, exclude: Iterable[pb.MovieRef] = (), timeout: float | None = None,
                **ref: Any) -> pb.SimilarMoviesResponse:
        """Content neighbours; name the movie with `movie=` or one keyword (title=, tmdb_id=…)."""
        request = pb.SimilarMoviesRequest(movie=movie or movie_ref(**ref), scope=SCOPES[scope],
                                          filters=filters(genres, min_year, max_year, exclude))
        if k is not None:
            request.k = k
        if probes is not None:
            request.probes = probes
        return self._call(self._stub.SimilarMovies, request, timeout)

    def movie(self, movie: pb.MovieRef | None = None, *, timeout: float | None = None,
              **ref: Any) -> pb.GetMovieResponse:
        return self._call(self._stub.GetMovie, pb.GetMovieRequest(movie=movie or movie_ref(**ref)), timeout)

    def search(self, query: str, *, fields: Iterable[str | int] = (), k: int | None = None,
               genres: Sequence[str] = (), min_year: int | None = None, max_year: int | None = None,
               exclude: Iterable[pb.MovieRef] = (), timeout: float | None = None) -> pb.SearchResponse:
        """Titles (typo-tolerant), people, keywords and free text; `fields` by name ("title", "person",
        "keyword", "text") or SearchField value, empty for all."""
        request = pb.SearchRequest(query=query, fields=[_search_field(f) for f in fields],
                                   filters=filters(genres, min_year, max_year, exclude))
        if k is not None:
            request.k = k
        return self._call(self._stub.Search, request, timeout)

    def recommend(self, user_id: int | None = None, *, history: pb.History | Iterable[tuple[Any, float]] |
                  dict[Any, float] | None = None, k: int | None = None, genres: Sequence[str] = (),
                  min_year: int | None = None, max_year: int | None = None, exclude: Iterable[pb.MovieRef] = (),
                  exclude_seen: bool | None = None, timeout: float | None = None) -> pb.RecommendForUserResponse:
        """Personalised top-k for a known `user_id`, or for an anonymous `history` of (movie, rating)."""
        request = pb.RecommendForUserRequest(filters=filters(genres, min_year, max_year, exclude))
        self._set_user(request, user_id, history)
        if k is not None:
            request.k = k
        if exclude_seen is not None:
            request.exclude_seen = exclude_seen
        return self._call(self._stub.RecommendForUser, request, timeout)

    def predict(self, movies: Iterable[pb.MovieRef | str], *, user_id: int | None = None,
                history: pb.History | Iterable[tuple[Any, float]] | dict[Any, float] | None = None,
                timeout: float | None = None) -> pb.PredictRatingsResponse:
        """Predicted rating and like probability per movie, in the order given."""
        request = pb.PredictRatingsRequest(movies=[parse_movie(m) if isinstance(m, str) else m for m in movies])
        self._set_user(request, user_id, history)
        return self._call(self._stub.PredictRatings, request, timeout)

    @staticmethod
    def _set_user(request: Any, user_id: int | None, given: Any) -> None:
        if (user_id is None) == (given is None):
            raise ValueError("pass exactly one of user_id or history")
        if user_id is not None:
            request.user_id = user_id
        else:
            request.history.CopyFrom(given if isinstance(given, pb.History) else history(given))


def _search_field(value: str | int) -> int:
    if isinstance(value, int):
        return value
    try:
        return SEARCH_FIELDS[value.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown search field {value!r}; use one of {', '.join(SEARCH_FIELDS)}") from None
