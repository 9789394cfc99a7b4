"""The Recommender gRPC service: validate, call the scoring code, convert. Nothing else."""

from __future__ import annotations

import grpc

from movierec.v1 import recommender_pb2 as pb
from movierec.v1 import recommender_pb2_grpc as pb_grpc

from .config import ServeConfig
from .convert import details_message, movie_message
from .deadlines import check_deadline
from .errors import InvalidArgument, Unavailable, rpc_errors
from .model import LoadedModel
from .personal import predict_ratings, profile_of, reason_text, recommend
from .personal_requests import personal_of, read_movies, read_user
from .requests import read_filters, read_k, read_query, read_search_fields, resolve_movie
from .search import engine_of
from .similar import DEFAULT_SCOPE, SCOPE_MESSAGES, SCOPES, default_probes, similar_rows


class ModelHolder:
    """The model currently served. Swapped as a whole so a call sees one version throughout."""

    def __init__(self) -> None:
        self._model: LoadedModel | None = None

    def set(self, model: LoadedModel) -> None:
        self._model = model

    def get(self) -> LoadedModel:
        if self._model is None:
            raise Unavailable("", "the model is still loading; retry shortly")
        return self._model

    @property
    def loaded(self) -> bool:
        return self._model is not None


class RecommenderService(pb_grpc.RecommenderServicer):
    def __init__(self, holder: ModelHolder, config: ServeConfig):
        self._holder = holder
        self._config = config

    @rpc_errors
    async def SimilarMovies(self, request: pb.SimilarMoviesRequest, context: grpc.aio.ServicerContext
                            ) -> pb.SimilarMoviesResponse:
        model = self._holder.get()
        config = self._config
        if not request.HasField("movie"):
            raise InvalidArgument("movie", "is required: set one of movielens_id, tmdb_id, imdb_id or title")
        k = read_k(request.HasField("k"), request.k, config.default_k, config.max_k)
        if request.scope not in SCOPES and request.scope != pb.SCOPE_UNSPECIFIED:
            raise InvalidArgument("scope", f"unknown scope {request.scope}")
        row = resolve_movie(model, request.movie, "movie")
        scope = request.scope or DEFAULT_SCOPE
        probes = default_probes(model)
        if request.HasField("probes"):
            probes = read_k(True, request.probes, probes, min(config.max_probes, model.index.n_clusters), "probes")
        row_filter = read_filters(model, request.filters, config.max_exclude)
        check_deadline(context, "ann_search")
        rows, scores, searched = similar_rows(model, row, k, SCOPES[scope], probes, row_filter)
        catalog, index = model.catalog, model.index
        return pb.SimilarMoviesResponse(
            query=movie_message(catalog, row),
            query_cluster_id=index.cluster_of(row),
            results=[pb.ScoredMovie(movie=movie_message(catalog, r), score=float(s), cluster_id=index.cluster_of(r))
                     for r, s in zip(rows.tolist(), scores.tolist())],
            scope=SCOPE_MESSAGES[searched],
            model_version=model.version,
        )

    @rpc_errors
    async def GetMovie(self, request: pb.GetMovieRequest, context: grpc.aio.ServicerContext) -> pb.GetMovieResponse:
        model = self._holder.get()
        if not request.HasField("movie"):
            raise InvalidArgument("movie", "is required: set one of movielens_id, tmdb_id, imdb_id or title")
        row = resolve_movie(model, request.movie, "movie")
        return pb.GetMovieResponse(
            movie=details_message(model.catalog, row, model.index.cluster_of(row)),
            model_version=model.version,
        )

    @rpc_errors
    async def Search(self, request: pb.SearchRequest, context: grpc.aio.ServicerContext) -> pb.SearchResponse:
        model = self._holder.get()
        config = self._config
        query = read_query(request.query)
        fields = read_search_fields(request.fields)
        k = read_k(request.HasField("k"), request.k, config.default_k, config.max_k)
        row_filter = read_filters(model, request.filters, config.max_exclude)
        engine = engine_of(model)
        if engine is None:
            raise Unavailable("", f"model {model.version} was trained without search structures; retrain to search")
        check_deadline(context, "search")
        catalog = model.catalog
        return pb.SearchResponse(
            hits=[pb.SearchHit(movie=movie_message(catalog, hit.row), score=hit.score, field=hit.field,
                               matched=hit.matched, detail=hit.detail)
                  for hit in engine.search(query, k, fields, row_filter)],
            model_version=model.version,
        )

    @rpc_errors
    async def RecommendForUser(self, request: pb.RecommendForUserRequest, context: grpc.aio.ServicerContext
                               ) -> pb.RecommendForUserResponse:
        model = self._holder.get()
        config = self._config
        rows, ratings = read_user(model, request)
        k = read_k(request.HasField("k"), request.k, config.default_k, config.max_k)
        row_filter = read_filters(model, request.filters, config.max_exclude)
        exclude_seen = request.exclude_seen if request.HasField("exclude_seen") else True
        personal = personal_of(model)
        check_deadline(context, "recommend")
        found = recommend(personal, profile_of(personal, rows, ratings), k, row_filter.allowed, row_filter.excluded,
                          exclude_seen)
        catalog = model.catalog
        return pb.RecommendForUserResponse(
            results=[pb.Recommendation(movie=movie_message(catalog, r), score=s, like_probability=p,
                                       predicted_rating=q, reason=reason_text(catalog, why))
                     for r, s, p, q, why in zip(found.rows.tolist(), found.scores.tolist(),
                                                found.like_probability.tolist(), found.predicted_rating.tolist(),
                                                found.reason_rows.tolist())],
            user_cluster_id=found.rating_cluster,
            model_version=model.version,
        )

    @rpc_errors
    async def PredictRatings(self, request: pb.PredictRatingsRequest, context: grpc.aio.ServicerContext
                             ) -> pb.PredictRatingsResponse:
        model = self._holder.get()
        rows, ratings = read_user(model, request)
        movies = read_movies(model, request.movies)
        personal = personal_of(model)
        check_deadline(context, "predict")
        predicted, like = predict_ratings(personal, profile_of(personal, rows, ratings), movies)
        catalog = model.catalog
        return pb.PredictRatingsResponse(
            predictions=[pb.RatingPrediction(movie=movie_message(catalog, r), predicted_rating=q, like_probability=p)
                         for r, q, p in zip(movies.tolist(), predicted.tolist(), like.tolist())],
            model_version=model.version,
        )
