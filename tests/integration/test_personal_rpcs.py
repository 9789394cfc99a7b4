"""RecommendForUser and PredictRatings through the real server and the Python client (synthetic model)."""

import json
import math

import grpc
import pandas as pd
import pytest

from movierec.client import MovieRecError, movie_ref
from movierec.client.cli import main
from movierec.v1 import recommender_pb2 as pb

pytestmark = pytest.mark.integration

USER = 1                                     # a synthetic user with 40 ratings
HISTORY = {"tmdb:100001": 5.0, "ml:3": 4.5, "ml:10": 1.0}


def error_of(call) -> MovieRecError:
    with pytest.raises(MovieRecError) as caught:
        call()
    return caught.value


def test_known_user_gets_ten_results_best_first(client):
    response = client.recommend(USER)
    scores = [r.score for r in response.results]
    assert len(scores) == 10
    assert scores == sorted(scores, reverse=True)
    assert response.model_version


def test_every_recommendation_carries_probability_rating_and_reason(client):
    for result in client.recommend(USER, k=5).results:
        assert 0.0 <= result.like_probability <= 1.0
        assert 0.5 <= result.predicted_rating <= 5.0
        assert result.reason.startswith("because you liked ") or result.reason == "popular with viewers like you"


def test_anonymous_history_gets_recommendations_without_its_own_movies(client):
    results = client.recommend(history=HISTORY, k=20).results
    assert len(results) == 20
    returned = {r.movie.movielens_id for r in results}
    assert not returned & {3, 10}
    assert 100_001 not in {r.movie.tmdb_id for r in results}


def test_a_history_equal_to_a_known_users_ratings_gets_the_same_answer(client, synthetic_data):
    """The stored user and the same ratings sent as a history go through one code path."""
    ratings = pd.read_csv(synthetic_data / "ml-latest-small" / "ratings.csv")
    mine = ratings[ratings["userId"] == USER]
    as_history = {f"ml:{m}": r for m, r in zip(mine["movieId"], mine["rating"], strict=False)}
    known = client.recommend(USER).results
    anonymous = client.recommend(history=as_history).results
    assert [r.movie.movielens_id for r in anonymous] == [r.movie.movielens_id for r in known]


def test_genre_filter_keeps_only_matching_movies(client):
    results = client.recommend(USER, k=10, genres=["Comedy"]).results
    assert results and all("Comedy" in r.movie.genres for r in results)


def test_excluded_movies_never_come_back(client):
    first = client.recommend(USER, k=3).results
    again = client.recommend(USER, k=10, exclude=[movie_ref(movielens_id=r.movie.movielens_id) for r in first])
    assert not {r.movie.movielens_id for r in first} & {r.movie.movielens_id for r in again.results}


def test_unknown_user_is_not_found_and_suggests_a_history(client):
    error = error_of(lambda: client.recommend(999_999))
    assert error.code == grpc.StatusCode.NOT_FOUND
    assert error.details.startswith("user_id:") and "history" in error.details


def test_empty_history_is_invalid_argument(client):
    error = error_of(lambda: client.recommend(history=pb.History()))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details.startswith("history.ratings:")


@pytest.mark.parametrize("rating", [0.0, 0.4, 5.5, -1.0, math.nan])
def test_rating_outside_half_to_five_stars_is_invalid_argument_naming_it(client, rating):
    error = error_of(lambda: client.recommend(history={"ml:1": 4.0, "ml:2": rating}))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details.startswith("history.ratings[1].rating:")


def test_unknown_movie_in_history_is_not_found_naming_its_position(client):
    error = error_of(lambda: client.recommend(history={"ml:1": 4.0, "tmdb:1": 3.0}))
    assert error.code == grpc.StatusCode.NOT_FOUND
    assert error.details.startswith("history.ratings[1].movie")


@pytest.mark.parametrize("k", [0, -1, 101])
def test_k_out_of_range_is_invalid_argument(client, k):
    error = error_of(lambda: client.recommend(USER, k=k))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details.startswith("k:")


def test_predictions_come_back_in_request_order(client):
    asked = ["ml:5", "tmdb:100001", "ml:1"]
    predictions = client.predict(asked, user_id=USER).predictions
    assert [p.movie.movielens_id for p in predictions] == [5, 2, 1]
    for p in predictions:
        assert 0.5 <= p.predicted_rating <= 5.0 and 0.0 <= p.like_probability <= 1.0


def test_predict_works_for_an_anonymous_history(client):
    predictions = client.predict(["ml:7", "ml:8"], history=HISTORY).predictions
    assert len(predictions) == 2


def test_predict_without_movies_is_invalid_argument(client):
    error = error_of(lambda: client.predict([], user_id=USER))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details.startswith("movies:")


def test_predict_more_than_a_thousand_movies_is_invalid_argument(client):
    error = error_of(lambda: client.predict(["ml:1"] * 1001, user_id=USER))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details.startswith("movies:")


def test_predict_for_an_unknown_user_is_not_found(client):
    assert error_of(lambda: client.predict(["ml:1"], user_id=999_999)).code == grpc.StatusCode.NOT_FOUND


def test_cli_recommend_prints_a_table_with_reasons(server, capsys):
    assert main(["--target", server.target, "recommend", "--user", str(USER), "-k", "5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Recommendations")
    assert len(lines) == 3 + 5 and "reason" in lines[1]


def test_cli_recommend_reads_a_history_with_any_id_kind(server, capsys):
    history = "tmdb:100001=5,ml:3=4.5,imdb:tt9000009=2,title:Synthetic Movie 5=4"
    assert main(["--target", server.target, "--json", "recommend", "--history", history, "-k", "3"]) == 0
    assert len(json.loads(capsys.readouterr().out)["results"]) == 3


def test_cli_predict_prints_one_row_per_movie(server, capsys):
    assert main(["--target", server.target, "predict", "--user", str(USER), "--movies", "tmdb:100001,ml:2"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3 + 2
