"""Search structures and scoring on tiny synthetic catalogs: one behaviour per test."""

from __future__ import annotations

import numpy as np
import pytest

from movierec.artifacts.search import normalize, read_search, title_search_key
from movierec.service.requests import RowFilter
from movierec.service.search import KEYWORD, PERSON, TEXT, TITLE, SearchEngine, title_variants
from movierec.trainer.search import build_search_tables, popularity_prior

MOVIES = [
    {"title": "The Matrix", "year": 1999, "cast": ["Keanu Reeves"], "characters": ["Neo"],
     "directors": ["Lana Wachowski"], "keywords": ["virtual reality"], "popularity": 90},
    {"title": "Heat", "year": 1995, "cast": ["Al Pacino", "Robert De Niro"], "characters": ["Vincent", "Neil"],
     "directors": ["Michael Mann"], "keywords": ["heist"], "popularity": 40},
    {"title": "Heat", "year": 1986, "cast": ["Burt Reynolds"], "characters": ["Nick"], "popularity": 5},
    {"title": "Toy Story", "year": 1995, "cast": ["Tom Hanks", "Tim Allen"], "characters": ["Woody", "Buzz"],
     "directors": ["John Lasseter"], "keywords": ["toy comes to life"], "tags": ["pixar"], "popularity": 70},
    {"title": "Toy Story 2", "year": 1999, "cast": ["Tom Hanks"], "characters": ["Woody"],
     "keywords": ["toy comes to life"], "popularity": 50},
    {"title": "Forrest Gump", "year": 1994, "cast": ["Tom Hanks"], "characters": ["Forrest Gump"],
     "popularity": 95},
    {"title": "Amélie", "original_title": "Le Fabuleux Destin d'Amélie Poulain", "year": 2001,
     "alt_titles": ["Amelie from Montmartre"], "cast": ["Audrey Tautou"], "characters": ["Amélie"],
     "popularity": 30},
    {"title": "Star Wars", "year": 1977, "keywords": ["space opera"], "popularity": 99},
    {"title": "Star Trek", "year": 2009, "keywords": ["space opera"], "popularity": 60},
    {"title": "Stardust", "year": 2007, "popularity": 20},
    {"title": "Hanks", "year": 2010, "popularity": 1},
]
ROW = {(m["title"], m["year"]): row for row, m in enumerate(MOVIES)}


def make_engine(movies=MOVIES) -> SearchEngine:
    prior = popularity_prior([m.get("popularity", 0) for m in movies], [0] * len(movies))
    return SearchEngine(build_search_tables(movies, prior), years=np.array([m["year"] for m in movies]))


@pytest.fixture(scope="module")
def engine() -> SearchEngine:
    return make_engine()


def top(engine: SearchEngine, query: str, **kwargs) -> int:
    hits = engine.search(query, **kwargs)
    assert hits, f"no hits for {query!r}"
    return hits[0].row


def test_normalize_folds_case_accents_and_punctuation():
    assert normalize("  Amélie: Le Fabuleux  Destin!! ") == "amelie le fabuleux destin"
    assert normalize("Schindler's List") == "schindlers list"
    assert normalize("Fast & Furious") == "fast and furious"


def test_title_key_moves_the_movielens_article_and_drops_the_year():
    assert title_search_key("Matrix, The (1999)") == "the matrix"


def test_exact_title_is_the_first_hit(engine):
    assert top(engine, "Toy Story") == ROW["Toy Story", 1995]


def test_movielens_style_title_with_year_matches(engine):
    hit = engine.search("Matrix, The (1999)")[0]
    assert hit.row == ROW["The Matrix", 1999] and hit.field == TITLE and hit.score == pytest.approx(1.0)


def test_title_search_is_case_and_accent_insensitive(engine):
    assert top(engine, "AMELIE") == ROW["Amélie", 2001]
    assert top(engine, "toy STORY") == ROW["Toy Story", 1995]


def test_one_character_typo_still_finds_the_title(engine):
    assert top(engine, "toy stiry") == ROW["Toy Story", 1995]


def test_transposed_characters_still_find_the_title(engine):
    assert top(engine, "toy stroy") == ROW["Toy Story", 1995]


def test_dropped_leading_article_finds_the_title(engine):
    assert top(engine, "matrix") == ROW["The Matrix", 1999]


def test_prefix_autocompletes_most_popular_first(engine):
    hits = engine.search("sta", fields=[TITLE])
    assert [h.row for h in hits[:3]] == [ROW["Star Wars", 1977], ROW["Star Trek", 2009], ROW["Stardust", 2007]]


def test_year_in_the_query_picks_between_remakes(engine):
    assert top(engine, "heat 1986") == ROW["Heat", 1986]
    assert top(engine, "Heat (1995)") == ROW["Heat", 1995]


def test_without_a_year_remakes_rank_by_popularity(engine):
    assert [h.row for h in engine.search("heat", fields=[TITLE])[:2]] == [ROW["Heat", 1995], ROW["Heat", 1986]]


def test_original_and_alternate_titles_match_and_are_shown(engine):
    hit = engine.search("le fabuleux destin d amelie poulain")[0]
    assert hit.row == ROW["Amélie", 2001] and hit.matched == "Le Fabuleux Destin d'Amélie Poulain"
    assert top(engine, "amelie from montmartre") == ROW["Amélie", 2001]


def test_person_returns_their_movies_by_popularity_with_roles(engine):
    hits = engine.search("tom hanks", fields=[PERSON])
    assert [h.row for h in hits] == [ROW["Forrest Gump", 1994], ROW["Toy Story", 1995], ROW["Toy Story 2", 1999]]
    assert {h.matched for h in hits} == {"Tom Hanks"}
    assert hits[1].detail == "Cast: Woody"


def test_director_detail_says_director(engine):
    hit = engine.search("michael mann", fields=[PERSON])[0]
    assert hit.row == ROW["Heat", 1995] and hit.detail == "Director"


def test_person_name_with_a_typo_still_matches(engine):
    hits = engine.search("tom hnaks", fields=[PERSON])
    assert hits and all(h.matched == "Tom Hanks" for h in hits)


def test_keywords_and_tags_are_searchable(engine):
    assert {h.row for h in engine.search("toy comes to life", fields=[KEYWORD])} == {
        ROW["Toy Story", 1995], ROW["Toy Story 2", 1999]}
    assert top(engine, "pixar", fields=[KEYWORD]) == ROW["Toy Story", 1995]


def test_exact_title_outranks_exact_person_name(engine):
    hits = engine.search("hanks")
    assert hits[0].row == ROW["Hanks", 2010] and hits[0].field == TITLE


def test_one_hit_per_movie_keeps_its_best_field(engine):
    rows = [h.row for h in engine.search("toy story", k=20)]
    assert len(rows) == len(set(rows))


def test_fields_restrict_what_is_searched(engine):
    assert all(h.field == KEYWORD for h in engine.search("space opera", fields=[KEYWORD]))
    assert engine.search("space opera", fields=[PERSON]) == []


def test_k_caps_the_number_of_hits(engine):
    assert len(engine.search("s", k=2)) == 2


def test_filters_drop_excluded_and_disallowed_movies(engine):
    allowed = np.ones(len(MOVIES), dtype=bool)
    allowed[ROW["Star Wars", 1977]] = False
    row_filter = RowFilter(allowed, frozenset({ROW["Star Trek", 2009]}))
    rows = {h.row for h in engine.search("star", row_filter=row_filter)}
    assert ROW["Star Wars", 1977] not in rows and ROW["Star Trek", 2009] not in rows
    assert ROW["Stardust", 2007] in rows


def test_text_field_without_a_content_model_returns_nothing(engine):
    assert engine.search("toys come to life", fields=[TEXT]) == []


@pytest.mark.parametrize("query", ["😀🎬", "שלום עולם", "e\u0301\u0301\u0301", "!!!", "\u200f\u200e", "x" * 256,
                                   "中文电影", "a"])
def test_any_unicode_is_answered_without_error(engine, query):
    assert isinstance(engine.search(query), list)


def test_query_years_are_tried_with_and_without_the_year():
    assert title_variants("heat 1995") == [("heat 1995", None), ("heat", 1995)]
    assert title_variants("1917") == [("1917", None)]


def test_tables_survive_a_write_and_read(tmp_path, engine):
    engine.tables.write(tmp_path)
    loaded = SearchEngine(read_search(tmp_path), years=engine.years)
    for query in ("tom hanks", "toy stroy", "sta", "pixar"):
        assert loaded.search(query) == engine.search(query)


def test_display_names_and_details_read_back_line_by_line(tmp_path, engine):
    engine.tables.write(tmp_path)
    people = read_search(tmp_path).people
    assert list(people.display) == list(engine.tables.people.display)
    assert [people.display[i] for i in range(len(people))] == list(engine.tables.people.display)
    assert people.display[-1] == engine.tables.people.display[-1] and people.display[:2] == people.display[0:2]
    assert [people.detail(p) for p in range(people.postings)] == \
        [engine.tables.people.detail(p) for p in range(people.postings)]


@pytest.mark.parametrize("lines", [[], ["only"], ["Amélie", "", "Cast: Woody (voice)"]])
def test_lines_read_what_was_written(tmp_path, lines):
    from movierec.artifacts.search import Lines

    data = "\n".join(lines).encode("utf-8")
    read = Lines(data)
    assert len(read) == len(lines) and list(read) == lines and [read[i] for i in range(len(read))] == lines


def test_popularity_prior_takes_the_better_known_source():
    prior = popularity_prior([0, 10, 20, 0], [5, 0, 0, 0])
    assert prior[3] == 0 and prior[0] == 1.0 and prior[2] == 1.0 and prior[1] == 0.5


def test_bm25_postings_score_movies_with_the_query_terms():
    from movierec.artifacts.text import analyze
    from movierec.trainer.search import term_postings

    soups = ["toys come alive in a bedroom", "a heist in las vegas", "toys toys toys", "a quiet drama"]
    vocabulary = sorted({t for soup in soups for t in analyze(soup)})
    postings = term_postings(soups, vocabulary)
    column = {t: i for i, t in enumerate(vocabulary)}
    scores = postings.scores([column["toy"]], len(soups))
    assert scores[2] > scores[0] > 0 and scores[1] == scores[3] == 0
    both = postings.scores([column["toy"], column["heist"]], len(soups))
    assert both[1] > 0 and both[0] == scores[0]


def test_known_words_are_the_soup_words_whose_term_is_in_the_vocabulary():
    from movierec.trainer.search import known_words

    soups = ["Toys come alive tomhanks", "the toy heist"]
    vocabulary = ["aliv", "toy", "tomhank"]  # "come" and "heist" left out, as min_df might
    known = known_words(soups, vocabulary)
    assert known.terms(vocabulary) == {"alive": "aliv", "tomhanks": "tomhank", "toy": "toy", "toys": "toy"}
    assert known.words == sorted(known.words)


def test_known_words_survive_a_write_and_read(tmp_path, engine):
    from movierec.trainer.search import known_words

    engine.tables.known_words = known_words(["toys come alive"], ["toy", "aliv"])
    try:
        engine.tables.write(tmp_path)
    finally:
        engine.tables.known_words = None
    loaded = read_search(tmp_path).known_words
    assert loaded.terms(["toy", "aliv"]) == {"toys": "toy", "alive": "aliv"}


def test_skipping_fuzzy_that_cannot_reach_the_top_k_changes_nothing(monkeypatch):
    from movierec.service import search as search_module

    movies = [{"title": f"Star {word}", "year": 2000 + i, "keywords": [f"starz {word}", "stare", "start"],
               "cast": [f"Stan {word}"], "popularity": i}
              for i, word in enumerate(["alpha", "beta", "gamma", "delta", "omega", "nova", "dust", "gate", "ship",
                                        "trek", "wars", "light", "fall", "born", "child", "struck"])]
    engine = make_engine(movies)
    queries = ["star", "stars", "starz", "star w", "stan", "stare", "star trek", "sta"]
    skipping = {(q, k): engine.search(q, k=k) for q in queries for k in (3, 10, 20)}
    monkeypatch.setattr(search_module, "_fuzzy_may_count", lambda *args: True)
    assert {(q, k): engine.search(q, k=k) for q in queries for k in (3, 10, 20)} == skipping


def test_a_key_s_movies_past_the_first_k_change_nothing(monkeypatch):
    from movierec.service import search as search_module

    movies = [{"title": f"Film {i}", "year": 1990 + i % 30, "cast": ["Tom Hanks"] + (["Tom Hardy"] if i % 3 else []),
               "keywords": ["time travel", "time loop"] if i % 2 else ["time travel"], "popularity": (i * 37) % 101}
              for i in range(60)]
    engine = make_engine(movies)
    queries = ["tom hanks", "tom", "tom ha", "time", "time travel", "tim hanks"]
    truncated = {(q, k): engine.search(q, k=k) for q in queries for k in (1, 5, 10, 30)}
    monkeypatch.setattr(search_module, "_postings_per_key", lambda *args: search_module.POSTINGS_PER_KEY)
    assert {(q, k): engine.search(q, k=k) for q in queries for k in (1, 5, 10, 30)} == truncated


def test_fields_with_few_postings_rank_in_python_exactly_as_numpy_does(monkeypatch):
    from movierec.service import search as search_module

    movies = [{"title": ["Heat", "Heat 2", "The Heat", "Heist"][i % 4], "year": 1980 + i % 7,
               "cast": ["Tom Hanks"] if i % 3 else ["Tim Hanks"], "keywords": ["heist"] if i % 2 else ["heat wave"],
               "original_title": "Chaleur" if i % 5 == 0 else None, "popularity": (i * 37) % 11}
              for i in range(24)]
    engine = make_engine(movies)
    allowed = np.arange(len(movies)) % 4 != 1
    queries = ["heat", "heat 1983", "Heat (1985)", "the heat", "haet", "tom hanks", "tim", "heist", "chaleur", "he"]
    filters = [None, RowFilter(allowed, frozenset({2, 7}))]

    def everything():
        return [engine.search(q, k=k, row_filter=f) for q in queries for k in (1, 3, 10) for f in filters]

    monkeypatch.setattr(search_module, "FEW_POSTINGS", -1)  # numpy for every field
    with_numpy = everything()
    monkeypatch.setattr(search_module, "FEW_POSTINGS", 10 ** 6)  # Python for every field
    assert everything() == with_numpy


def test_round_score_is_numpy_s_rounding_to_four_decimals():
    from movierec.service.ranking import round_score

    rng = np.random.default_rng(0)
    values = np.concatenate([rng.random(20_000), (np.arange(2_000) + 0.5) / 10_000,  # halfway cases
                             rng.random(2_000) * 0.98 * 0.95 * 0.9])
    assert [round_score(v) for v in values.tolist()] == np.round(values, 4).tolist()
