"""SimilarMovies through the real server and the Python client, on the synthetic model."""

import grpc
import pytest

from movierec.client import MovieRecError, movie_ref
from movierec.v1 import recommender_pb2 as pb

pytestmark = pytest.mark.integration

QUERY = {"tmdb_id": 100_001}  # a synthetic movie with TMDB metadata


def status_of(call) -> MovieRecError:
    with pytest.raises(MovieRecError) as caught:
        call()
    return caught.value


def test_default_k_returns_ten_movies_best_first(client):
    results = client.similar(**QUERY).results
    assert len(results) == 10
    scores = [r.score for r in results]
    assert scores == sorted(scores, reverse=True)


def test_query_movie_is_not_among_its_neighbours(client):
    response = client.similar(**QUERY, k=50)
    assert response.query.tmdb_id not in {r.movie.tmdb_id for r in response.results}


def test_every_result_carries_its_ids_title_and_version(client):
    response = client.similar(**QUERY, k=5)
    assert response.model_version
    for result in response.results:
        assert result.movie.title
        assert result.movie.HasField("movielens_id") or result.movie.HasField("tmdb_id")


def test_movie_can_be_named_by_any_id(client):
    by_tmdb = client.similar(**QUERY).query
    for ref in (movie_ref(movielens_id=by_tmdb.movielens_id), movie_ref(imdb_id=by_tmdb.imdb_id),
                movie_ref(title=by_tmdb.title)):
        assert client.similar(ref).query.tmdb_id == by_tmdb.tmdb_id


def test_cluster_scope_stays_in_the_query_cluster(client):
    response = client.similar(**QUERY, k=20, scope="cluster")
    assert response.scope == pb.SCOPE_CLUSTER
    assert {r.cluster_id for r in response.results} == {response.query_cluster_id}


def test_global_scope_is_exact_and_at_least_as_good(client):
    exact = client.similar(**QUERY, k=10, scope="global").results
    probed = client.similar(**QUERY, k=10, scope="probe", probes=1).results
    assert exact[0].score >= probed[0].score


def test_genre_filter_keeps_only_matching_movies(client):
    results = client.similar(**QUERY, k=20, genres=["comedy"]).results
    assert results and all("Comedy" in r.movie.genres for r in results)


def test_year_range_filter_is_inclusive(client):
    results = client.similar(**QUERY, k=20, min_year=1980, max_year=1990).results
    assert results and all(1980 <= r.movie.year <= 1990 for r in results)


def test_excluded_movies_never_come_back(client):
    first = client.similar(**QUERY, k=3).results
    excluded = [movie_ref(movielens_id=r.movie.movielens_id) for r in first if r.movie.HasField("movielens_id")]
    again = client.similar(**QUERY, k=10, exclude=excluded).results
    assert not {e.movielens_id for e in excluded} & {r.movie.movielens_id for r in again}


@pytest.mark.parametrize("k", [0, -1, 101, 1000])
def test_k_out_of_range_is_invalid_argument_naming_k(client, k):
    error = status_of(lambda: client.similar(**QUERY, k=k))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details.startswith("k:")


def test_unknown_tmdb_id_is_not_found_naming_the_field(client):
    error = status_of(lambda: client.similar(tmdb_id=987_654_321))
    assert error.code == grpc.StatusCode.NOT_FOUND
    assert "movie.tmdb_id" in error.details


def test_empty_movie_ref_is_invalid_argument_naming_movie(client):
    error = status_of(lambda: client.similar(pb.MovieRef()))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details.startswith("movie")


def test_missing_movie_is_invalid_argument(client):
    stub_call = client._stub.SimilarMovies
    with pytest.raises(grpc.RpcError) as caught:
        stub_call(pb.SimilarMoviesRequest(), timeout=5)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "movie" in caught.value.details()


def test_unknown_genre_is_invalid_argument_listing_known_genres(client):
    error = status_of(lambda: client.similar(**QUERY, genres=["Cowboy Opera"]))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "filters.genres[0]" in error.details and "Comedy" in error.details


def test_inverted_year_range_is_invalid_argument(client):
    error = status_of(lambda: client.similar(**QUERY, min_year=2000, max_year=1990))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "filters.min_year" in error.details


def test_malformed_imdb_id_is_invalid_argument(client):
    error = status_of(lambda: client.similar(imdb_id="not-an-id"))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "movie.imdb_id" in error.details


def test_probes_out_of_range_is_invalid_argument(client):
    error = status_of(lambda: client.similar(**QUERY, scope="probe", probes=0))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details.startswith("probes")


def test_filter_that_empties_the_cluster_widens_to_global(client):
    response = client.similar(**QUERY, k=5, scope="cluster", genres=["Horror"])
    assert len(response.results) == 5
    assert all("Horror" in r.movie.genres for r in response.results)
    if any(r.cluster_id != response.query_cluster_id for r in response.results):
        assert response.scope == pb.SCOPE_GLOBAL
