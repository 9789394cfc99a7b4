"""Search through the real server on the synthetic dataset ("Synthetic Movie N", "Synth Person3x1")."""

from __future__ import annotations

import grpc
import pytest

from movierec.client import MovieRecError
from movierec.client.cli import main
from movierec.v1 import recommender_pb2 as pb

pytestmark = pytest.mark.integration


def test_exact_title_comes_first_with_every_id(client):
    hit = client.search("Synthetic Movie 12").hits[0]
    assert hit.movie.title == "Synthetic Movie 12"
    assert hit.field == pb.SEARCH_FIELD_TITLE and hit.matched == "Synthetic Movie 12"
    assert hit.movie.HasField("movielens_id") and hit.movie.HasField("year") and hit.movie.genres


def test_title_with_a_typo_finds_the_movie(client):
    assert client.search("synthetci movie 12").hits[0].movie.title == "Synthetic Movie 12"


def test_movielens_style_title_with_year_finds_the_movie(client):
    target = client.movie(movielens_id=12).movie.movie
    hit = client.search(f"{target.title} ({target.year})").hits[0]
    assert hit.movie.movielens_id == 12


def test_person_search_returns_their_movies_with_roles(client):
    response = client.search("synth person3x1", fields=["person"], k=100)
    assert response.hits and response.model_version
    exact = [h for h in response.hits if h.matched == "Synth Person3x1"]
    assert exact and response.hits[:len(exact)] == exact  # the person's own movies first, similar names after
    assert all(h.detail == "Director" or h.detail.startswith("Cast: Role") for h in exact)


def test_person_with_a_typo_still_matches(client):
    assert client.search("synth persn3x1", fields=["person"]).hits[0].matched == "Synth Person3x1"


def test_keyword_search_finds_tmdb_keywords(client):
    hits = client.search("t2kw1", fields=["keyword"]).hits
    assert hits and all(h.field == pb.SEARCH_FIELD_KEYWORD and h.matched == "t2kw1" for h in hits)


def test_free_text_is_answered_from_the_embedding(client):
    hits = client.search("t4word1 t4word2 t4word3", fields=["text"], k=5).hits
    assert len(hits) == 5
    assert all(h.field == pb.SEARCH_FIELD_TEXT and h.matched == "t4word1 t4word2 t4word3" for h in hits)
    assert hits[0].score >= hits[-1].score > 0


def test_k_and_filters_apply(client):
    hits = client.search("synthetic movie", k=3, min_year=2000).hits
    assert len(hits) == 3 and all(h.movie.year >= 2000 for h in hits)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"query": ""}, "query"),
    ({"query": "   \t "}, "query"),
    ({"query": "x" * 257}, "query"),
    ({"query": "toy", "k": 0}, "k"),
    ({"query": "toy", "k": 101}, "k"),
    ({"query": "toy", "fields": [99]}, "fields[0]"),
    ({"query": "toy", "fields": [pb.SEARCH_FIELD_TITLE, pb.SEARCH_FIELD_UNSPECIFIED]}, "fields[1]"),
    ({"query": "toy", "genres": ["Nope"]}, "filters.genres[0]"),
])
def test_bad_input_is_invalid_argument_naming_the_field(client, kwargs, field):
    with pytest.raises(MovieRecError) as caught:
        client.search(**kwargs)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details.startswith(f"{field}:")


@pytest.mark.parametrize("query", ["😀🎬🍿", "فيلم جميل", "e\u0301\u0301 s\u0308", " " + "é" * 256 + " ", "\u202e"])
def test_any_unicode_query_is_answered(client, query):
    assert client.search(query).model_version


def test_cli_search_prints_a_table(server, capsys):
    assert main(["--target", server.target, "search", "--fields", "title,person", "synthetic movie 7", "-k", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Search 'synthetic movie 7'") and len(lines) == 3 + 3
    assert "Synthetic Movie 7" in lines[3]


def test_cli_search_json(server, capsys):
    import json

    assert main(["--target", server.target, "search", "--json", "synth person1x2", "-k", "2"]) == 0
    assert len(json.loads(capsys.readouterr().out)["hits"]) == 2
