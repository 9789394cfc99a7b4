from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Scope(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SCOPE_UNSPECIFIED: _ClassVar[Scope]
    SCOPE_CLUSTER: _ClassVar[Scope]
    SCOPE_MULTI_PROBE: _ClassVar[Scope]
    SCOPE_GLOBAL: _ClassVar[Scope]

class SearchField(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEARCH_FIELD_UNSPECIFIED: _ClassVar[SearchField]
    SEARCH_FIELD_TITLE: _ClassVar[SearchField]
    SEARCH_FIELD_PERSON: _ClassVar[SearchField]
    SEARCH_FIELD_KEYWORD: _ClassVar[SearchField]
    SEARCH_FIELD_TEXT: _ClassVar[SearchField]
SCOPE_UNSPECIFIED: Scope
SCOPE_CLUSTER: Scope
SCOPE_MULTI_PROBE: Scope
SCOPE_GLOBAL: Scope
SEARCH_FIELD_UNSPECIFIED: SearchField
SEARCH_FIELD_TITLE: SearchField
SEARCH_FIELD_PERSON: SearchField
SEARCH_FIELD_KEYWORD: SearchField
SEARCH_FIELD_TEXT: SearchField

class MovieRef(_message.Message):
    __slots__ = ("movielens_id", "tmdb_id", "imdb_id", "title")
    MOVIELENS_ID_FIELD_NUMBER: _ClassVar[int]
    TMDB_ID_FIELD_NUMBER: _ClassVar[int]
    IMDB_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    movielens_id: int
    tmdb_id: int
    imdb_id: str
    title: str
    def __init__(self, movielens_id: _Optional[int] = ..., tmdb_id: _Optional[int] = ..., imdb_id: _Optional[str] = ..., title: _Optional[str] = ...) -> None: ...

class Movie(_message.Message):
    __slots__ = ("movielens_id", "tmdb_id", "imdb_id", "title", "year", "genres")
    MOVIELENS_ID_FIELD_NUMBER: _ClassVar[int]
    TMDB_ID_FIELD_NUMBER: _ClassVar[int]
    IMDB_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    YEAR_FIELD_NUMBER: _ClassVar[int]
    GENRES_FIELD_NUMBER: _ClassVar[int]
    movielens_id: int
    tmdb_id: int
    imdb_id: str
    title: str
    year: int
    genres: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, movielens_id: _Optional[int] = ..., tmdb_id: _Optional[int] = ..., imdb_id: _Optional[str] = ..., title: _Optional[str] = ..., year: _Optional[int] = ..., genres: _Optional[_Iterable[str]] = ...) -> None: ...

class Filters(_message.Message):
    __slots__ = ("genres", "min_year", "max_year", "exclude")
    GENRES_FIELD_NUMBER: _ClassVar[int]
    MIN_YEAR_FIELD_NUMBER: _ClassVar[int]
    MAX_YEAR_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_FIELD_NUMBER: _ClassVar[int]
    genres: _containers.RepeatedScalarFieldContainer[str]
    min_year: int
    max_year: int
    exclude: _containers.RepeatedCompositeFieldContainer[MovieRef]
    def __init__(self, genres: _Optional[_Iterable[str]] = ..., min_year: _Optional[int] = ..., max_year: _Optional[int] = ..., exclude: _Optional[_Iterable[_Union[MovieRef, _Mapping]]] = ...) -> None: ...

class SimilarMoviesRequest(_message.Message):
    __slots__ = ("movie", "k", "filters", "scope", "probes")
    MOVIE_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    PROBES_FIELD_NUMBER: _ClassVar[int]
    movie: MovieRef
    k: int
    filters: Filters
    scope: Scope
    probes: int
    def __init__(self, movie: _Optional[_Union[MovieRef, _Mapping]] = ..., k: _Optional[int] = ..., filters: _Optional[_Union[Filters, _Mapping]] = ..., scope: _Optional[_Union[Scope, str]] = ..., probes: _Optional[int] = ...) -> None: ...

class ScoredMovie(_message.Message):
    __slots__ = ("movie", "score", "cluster_id")
    MOVIE_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    movie: Movie
    score: float
    cluster_id: int
    def __init__(self, movie: _Optional[_Union[Movie, _Mapping]] = ..., score: _Optional[float] = ..., cluster_id: _Optional[int] = ...) -> None: ...

class SimilarMoviesResponse(_message.Message):
    __slots__ = ("query", "query_cluster_id", "results", "scope", "model_version")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    QUERY_CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    query: Movie
    query_cluster_id: int
    results: _containers.RepeatedCompositeFieldContainer[ScoredMovie]
    scope: Scope
    model_version: str
    def __init__(self, query: _Optional[_Union[Movie, _Mapping]] = ..., query_cluster_id: _Optional[int] = ..., results: _Optional[_Iterable[_Union[ScoredMovie, _Mapping]]] = ..., scope: _Optional[_Union[Scope, str]] = ..., model_version: _Optional[str] = ...) -> None: ...

class RatedMovie(_message.Message):
    __slots__ = ("movie", "rating")
    MOVIE_FIELD_NUMBER: _ClassVar[int]
    RATING_FIELD_NUMBER: _ClassVar[int]
    movie: MovieRef
    rating: float
    def __init__(self, movie: _Optional[_Union[MovieRef, _Mapping]] = ..., rating: _Optional[float] = ...) -> None: ...

class History(_message.Message):
    __slots__ = ("ratings",)
    RATINGS_FIELD_NUMBER: _ClassVar[int]
    ratings: _containers.RepeatedCompositeFieldContainer[RatedMovie]
    def __init__(self, ratings: _Optional[_Iterable[_Union[RatedMovie, _Mapping]]] = ...) -> None: ...

class RecommendForUserRequest(_message.Message):
    __slots__ = ("user_id", "history", "k", "filters", "exclude_seen")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_SEEN_FIELD_NUMBER: _ClassVar[int]
    user_id: int
    history: History
    k: int
    filters: Filters
    exclude_seen: bool
    def __init__(self, user_id: _Optional[int] = ..., history: _Optional[_Union[History, _Mapping]] = ..., k: _Optional[int] = ..., filters: _Optional[_Union[Filters, _Mapping]] = ..., exclude_seen: _Optional[bool] = ...) -> None: ...

class Recommendation(_message.Message):
    __slots__ = ("movie", "score", "like_probability", "predicted_rating", "reason")
    MOVIE_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    LIKE_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    PREDICTED_RATING_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    movie: Movie
    score: float
    like_probability: float
    predicted_rating: float
    reason: str
    def __init__(self, movie: _Optional[_Union[Movie, _Mapping]] = ..., score: _Optional[float] = ..., like_probability: _Optional[float] = ..., predicted_rating: _Optional[float] = ..., reason: _Optional[str] = ...) -> None: ...

class RecommendForUserResponse(_message.Message):
    __slots__ = ("results", "user_cluster_id", "model_version")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    USER_CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[Recommendation]
    user_cluster_id: int
    model_version: str
    def __init__(self, results: _Optional[_Iterable[_Union[Recommendation, _Mapping]]] = ..., user_cluster_id: _Optional[int] = ..., model_version: _Optional[str] = ...) -> None: ...

class PredictRatingsRequest(_message.Message):
    __slots__ = ("user_id", "history", "movies")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    MOVIES_FIELD_NUMBER: _ClassVar[int]
    user_id: int
    history: History
    movies: _containers.RepeatedCompositeFieldContainer[MovieRef]
    def __init__(self, user_id: _Optional[int] = ..., history: _Optional[_Union[History, _Mapping]] = ..., movies: _Optional[_Iterable[_Union[MovieRef, _Mapping]]] = ...) -> None: ...

class RatingPrediction(_message.Message):
    __slots__ = ("movie", "predicted_rating", "like_probability")
    MOVIE_FIELD_NUMBER: _ClassVar[int]
    PREDICTED_RATING_FIELD_NUMBER: _ClassVar[int]
    LIKE_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    movie: Movie
    predicted_rating: float
    like_probability: float
    def __init__(self, movie: _Optional[_Union[Movie, _Mapping]] = ..., predicted_rating: _Optional[float] = ..., like_probability: _Optional[float] = ...) -> None: ...

class PredictRatingsResponse(_message.Message):
    __slots__ = ("predictions", "model_version")
    PREDICTIONS_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    predictions: _containers.RepeatedCompositeFieldContainer[RatingPrediction]
    model_version: str
    def __init__(self, predictions: _Optional[_Iterable[_Union[RatingPrediction, _Mapping]]] = ..., model_version: _Optional[str] = ...) -> None: ...

class SearchRequest(_message.Message):
    __slots__ = ("query", "fields", "k", "filters")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    query: str
    fields: _containers.RepeatedScalarFieldContainer[SearchField]
    k: int
    filters: Filters
    def __init__(self, query: _Optional[str] = ..., fields: _Optional[_Iterable[_Union[SearchField, str]]] = ..., k: _Optional[int] = ..., filters: _Optional[_Union[Filters, _Mapping]] = ...) -> None: ...

class SearchHit(_message.Message):
    __slots__ = ("movie", "score", "field", "matched", "detail")
    MOVIE_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    MATCHED_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    movie: Movie
    score: float
    field: SearchField
    matched: str
    detail: str
    def __init__(self, movie: _Optional[_Union[Movie, _Mapping]] = ..., score: _Optional[float] = ..., field: _Optional[_Union[SearchField, str]] = ..., matched: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class SearchResponse(_message.Message):
    __slots__ = ("hits", "model_version")
    HITS_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    hits: _containers.RepeatedCompositeFieldContainer[SearchHit]
    model_version: str
    def __init__(self, hits: _Optional[_Iterable[_Union[SearchHit, _Mapping]]] = ..., model_version: _Optional[str] = ...) -> None: ...

class GetMovieRequest(_message.Message):
    __slots__ = ("movie",)
    MOVIE_FIELD_NUMBER: _ClassVar[int]
    movie: MovieRef
    def __init__(self, movie: _Optional[_Union[MovieRef, _Mapping]] = ...) -> None: ...

class CastMember(_message.Message):
    __slots__ = ("name", "character")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CHARACTER_FIELD_NUMBER: _ClassVar[int]
    name: str
    character: str
    def __init__(self, name: _Optional[str] = ..., character: _Optional[str] = ...) -> None: ...

class MovieDetails(_message.Message):
    __slots__ = ("movie", "original_title", "overview", "tagline", "keywords", "directors", "cast", "runtime_minutes", "budget", "revenue", "popularity", "vote_average", "vote_count", "rating_count", "cluster_id", "tags")
    MOVIE_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_TITLE_FIELD_NUMBER: _ClassVar[int]
    OVERVIEW_FIELD_NUMBER: _ClassVar[int]
    TAGLINE_FIELD_NUMBER: _ClassVar[int]
    KEYWORDS_FIELD_NUMBER: _ClassVar[int]
    DIRECTORS_FIELD_NUMBER: _ClassVar[int]
    CAST_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_MINUTES_FIELD_NUMBER: _ClassVar[int]
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    REVENUE_FIELD_NUMBER: _ClassVar[int]
    POPULARITY_FIELD_NUMBER: _ClassVar[int]
    VOTE_AVERAGE_FIELD_NUMBER: _ClassVar[int]
    VOTE_COUNT_FIELD_NUMBER: _ClassVar[int]
    RATING_COUNT_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    movie: Movie
    original_title: str
    overview: str
    tagline: str
    keywords: _containers.RepeatedScalarFieldContainer[str]
    directors: _containers.RepeatedScalarFieldContainer[str]
    cast: _containers.RepeatedCompositeFieldContainer[CastMember]
    runtime_minutes: float
    budget: float
    revenue: float
    popularity: float
    vote_average: float
    vote_count: int
    rating_count: int
    cluster_id: int
    tags: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, movie: _Optional[_Union[Movie, _Mapping]] = ..., original_title: _Optional[str] = ..., overview: _Optional[str] = ..., tagline: _Optional[str] = ..., keywords: _Optional[_Iterable[str]] = ..., directors: _Optional[_Iterable[str]] = ..., cast: _Optional[_Iterable[_Union[CastMember, _Mapping]]] = ..., runtime_minutes: _Optional[float] = ..., budget: _Optional[float] = ..., revenue: _Optional[float] = ..., popularity: _Optional[float] = ..., vote_average: _Optional[float] = ..., vote_count: _Optional[int] = ..., rating_count: _Optional[int] = ..., cluster_id: _Optional[int] = ..., tags: _Optional[_Iterable[str]] = ...) -> None: ...

class GetMovieResponse(_message.Message):
    __slots__ = ("movie", "model_version")
    MOVIE_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    movie: MovieDetails
    model_version: str
    def __init__(self, movie: _Optional[_Union[MovieDetails, _Mapping]] = ..., model_version: _Optional[str] = ...) -> None: ...
