"""The catalog: title normalisation, the MovieLens-TMDB join, genre vocabulary, and the build report."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from movierec.trainer.catalog import (
    CANONICAL_GENRES,
    GENRE_MAP,
    OUTPUT_COLUMNS,
    build_catalog,
    canonical_genres,
    normalise_title,
    parse_title,
)
from movierec.trainer.ingest import load_movielens, load_tmdb

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture()
def catalog(ingest_data_dir):
    return build_catalog(load_movielens(ingest_data_dir), load_tmdb(ingest_data_dir))


def row(catalog, *, movielens_id=None, tmdb_id=None):
    movies = catalog.movies
    if movielens_id is not None:
        found = movies[movies["movielens_id"] == movielens_id]
    else:
        found = movies[(movies["tmdb_id"] == tmdb_id) & movies["movielens_id"].isna()]
    assert len(found) == 1
    return found.iloc[0]


# ------------------------------------------------------------------------ titles


@pytest.mark.parametrize(("raw", "expected"), [
    ("Matrix, The (1999)", ("The Matrix", 1999)),
    ("American President, The (1995)", ("The American President", 1995)),
    ("Midsummer Night's Dream, A (1935)", ("A Midsummer Night's Dream", 1935)),
    ("Andalusian Dog, An (Chien andalou, Un) (1929)", ("An Andalusian Dog", 1929)),
    ("Misérables, Les (1995)", ("Les Misérables", 1995)),
    ("Strada, La (1954)", ("La Strada", 1954)),
    ("Samouraï, Le (Godson, The) (1967)", ("Le Samouraï", 1967)),
    ("Postino, Il (1994)", ("Il Postino", 1994)),
    ("Boot, Das (Boat, The) (1981)", ("Das Boot", 1981)),
    ("Mariachi, El (1992)", ("El Mariachi", 1992)),
], ids=["the", "the-long", "a", "an", "les", "la", "le", "il", "das", "el"])
def test_trailing_article_moves_to_front(raw, expected):
    assert normalise_title(raw) == expected


def test_elided_article_joins_without_space():
    assert normalise_title("Atalante, L' (1934)") == ("L'Atalante", 1934)


def test_alternate_title_in_parentheses_is_split_off():
    assert normalise_title("City of Lost Children, The (Cité des enfants perdus, La) (1995)") == (
        "The City of Lost Children", 1995,
    )


def test_alternate_titles_are_normalised_and_kept():
    parsed = parse_title("City of Lost Children, The (Cité des enfants perdus, La) (1995)")
    assert parsed.alt_titles == ["La Cité des enfants perdus"]


def test_aka_prefix_is_dropped_from_alternates():
    parsed = parse_title("Seven (a.k.a. Se7en) (1995)")
    assert (parsed.title, parsed.alt_titles) == ("Seven", ["Se7en"])


def test_year_range_takes_first_year():
    assert normalise_title("Death Note: Desu nôto (2006–2007)") == ("Death Note: Desu nôto", 2006)


def test_missing_year_is_none():
    assert normalise_title("Babylon 5") == ("Babylon 5", None)


def test_trailing_whitespace_is_ignored():
    assert normalise_title("Blind Side, The  (2009) ") == ("The Blind Side", 2009)


def test_article_before_subtitle_moves_to_front():
    assert normalise_title("Crow, The: Wicked Prayer (2005)") == ("The Crow: Wicked Prayer", 2005)


def test_comma_inside_title_is_not_an_article():
    assert normalise_title("Good, the Bad, the Weird, The (2008)") == ("The Good, the Bad, the Weird", 2008)


def test_leading_parenthesis_is_part_of_title():
    assert normalise_title("(500) Days of Summer (2009)") == ("(500) Days of Summer", 2009)


# ------------------------------------------------------------------------ genres


def test_genre_synonyms_map_to_one_name():
    assert canonical_genres(["Sci-Fi", "Science Fiction", "Children", "Family"]) == ["Family", "Science Fiction"]


def test_non_genres_are_dropped():
    assert canonical_genres(["(no genres listed)", "IMAX", "Foreign"]) == []


def test_unknown_genre_is_kept_after_known_ones():
    assert canonical_genres(["Zombie", "Drama"]) == ["Drama", "Zombie"]


def test_every_mapped_genre_is_canonical():
    assert {g for g in GENRE_MAP.values() if g} == set(CANONICAL_GENRES)


# ------------------------------------------------------------------------- join


def test_columns_are_the_documented_ones(catalog):
    assert list(catalog.movies.columns) == list(OUTPUT_COLUMNS)


def test_movielens_movies_come_first_then_tmdb_only_by_id(catalog):
    movies = catalog.movies
    assert movies["movielens_id"].tolist()[:6] == [1, 2, 3, 4, 5, 6]
    assert movies["tmdb_id"].tolist()[6:] == [100, 19995]
    assert movies["movielens_id"].iloc[6:].isna().all()


def test_joined_movie_takes_tmdb_metadata(catalog):
    toy = row(catalog, movielens_id=1)
    assert (toy["tmdb_id"], toy["imdb_id"], toy["has_tmdb"]) == (862, "tt0114709", True)
    assert toy["overview"] == "Led by Woody, Andy's toys live happily."
    assert toy["cast"] == ["Tom Hanks", "Tim Allen"]
    assert toy["characters"] == ["Woody (voice)", "Buzz Lightyear (voice)"]
    assert toy["directors"] == ["John Lasseter"]
    assert toy["keywords"] == ["toy", "friendship"]
    assert (toy["budget"], toy["runtime"], toy["vote_count"]) == (30_000_000, 81.0, 5269)


def test_joined_movie_genres_are_the_union_of_both_sources(catalog):
    assert row(catalog, movielens_id=1)["genres"] == ["Adventure", "Animation", "Comedy", "Family", "Fantasy"]


def test_joined_movie_uses_tmdb_title_and_keeps_movielens_names(catalog):
    city = row(catalog, movielens_id=2)
    assert city["title"] == "The City of Lost Children"
    assert city["original_title"] == "La Cité des enfants perdus"
    assert city["alt_titles"] == ["La Cité des enfants perdus"]
    assert city["year"] == 1995


def test_movie_without_tmdb_link_keeps_movielens_fields(catalog):
    obscure = row(catalog, movielens_id=3)
    assert (obscure["title"], obscure["year"], obscure["imdb_id"]) == ("Obscure Film", 2001, "tt0999999")
    assert not obscure["has_tmdb"]
    assert pd.isna(obscure["tmdb_id"])
    assert obscure["genres"] == [] and obscure["cast"] == [] and obscure["overview"] == ""
    assert math.isnan(obscure["budget"]) and math.isnan(obscure["popularity"])


def test_link_outside_tmdb_keeps_tmdb_id_without_metadata(catalog):
    babylon = row(catalog, movielens_id=6)
    assert (babylon["tmdb_id"], bool(babylon["has_tmdb"])) == (70000, False)
    assert pd.isna(babylon["year"])


def test_tmdb_only_movie_is_appended(catalog):
    avatar = row(catalog, tmdb_id=19995)
    assert (avatar["title"], avatar["year"], avatar["imdb_id"]) == ("Avatar", 2009, "")
    assert avatar["tagline"] == "Enter the World of Pandora."
    assert avatar["cast"] == ["Sam Worthington"] and avatar["directors"] == ["James Cameron"]
    assert (avatar["rating_count"], avatar["tags"], bool(avatar["has_tmdb"])) == (0, [], True)


def test_tmdb_only_genres_are_mapped(catalog):
    assert row(catalog, tmdb_id=19995)["genres"] == ["Action", "Science Fiction"]


def test_zero_budget_and_revenue_are_unknown(catalog):
    confessions = row(catalog, movielens_id=4)
    assert math.isnan(confessions["budget"]) and math.isnan(confessions["revenue"])


def test_vote_average_without_votes_is_unknown(catalog):
    assert math.isnan(row(catalog, tmdb_id=19995)["vote_average"])


def test_missing_runtime_is_nan(catalog):
    assert math.isnan(row(catalog, tmdb_id=19995)["runtime"])


def test_rating_count_counts_movielens_ratings(catalog):
    assert catalog.movies["rating_count"].tolist()[:6] == [2, 1, 0, 1, 0, 0]


def test_tags_are_deduplicated_case_insensitively(catalog):
    assert row(catalog, movielens_id=1)["tags"] == ["pixar", "funny"]


def test_year_falls_back_to_tmdb_release_date(ingest_files):
    ingest_files.set_cell("ml-latest-small/movies.csv", line=2, column="title", value="Toy Story")
    data_dir = ingest_files.write()
    built = build_catalog(load_movielens(data_dir), load_tmdb(data_dir))
    assert row(built, movielens_id=1)["year"] == 1995


# ----------------------------------------------------------------------- report


def test_report_counts_each_part_of_the_join(catalog):
    counts = {key: value for key, value in catalog.report.items() if isinstance(value, int)}
    assert counts == {
        "movielens_movies": 6,
        "tmdb_movies": 5,
        "joined": 4,
        "tmdb_movies_joined": 3,
        "movielens_without_tmdb_link": 1,
        "movielens_link_outside_tmdb": 1,
        "tmdb_only": 2,
        "catalog_rows": 8,
    }


def test_movielens_movies_sharing_a_tmdb_id_are_reported(catalog):
    shared = catalog.report["duplicates"]["movielens_sharing_tmdb_id"]
    assert shared["count"] == 1
    assert shared["examples"][0]["tmdb_id"] == 4912
    assert shared["examples"][0]["movielens_ids"] == [4, 5]
    assert "resolution" in shared


def test_movies_sharing_a_tmdb_id_both_keep_their_rows(catalog):
    assert catalog.movies.loc[catalog.movies["tmdb_id"] == 4912, "movielens_id"].tolist() == [4, 5]


def test_repeated_title_and_year_is_reported(catalog):
    repeated = catalog.report["duplicates"]["same_title_and_year"]
    assert repeated["count"] == 1
    assert repeated["examples"][0]["title"] == "Confessions of a Dangerous Mind"
    assert repeated["examples"][0]["year"] == 2002


def test_dropped_genres_are_reported(catalog):
    assert catalog.report["genres"]["dropped"] == {"(no genres listed)": 1, "Foreign": 1}


def test_report_is_json_serialisable(catalog):
    assert json.loads(json.dumps(catalog.report)) == catalog.report


# -------------------------------------------------------------------- real data


@pytest.mark.realdata
@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"real data not found at {SHARED_DATA}")
def test_real_catalog_joins_movielens_and_tmdb():
    built = build_catalog(load_movielens(SHARED_DATA), load_tmdb(SHARED_DATA))
    movies = built.movies
    assert 10_500 <= len(movies) <= 11_500
    assert movies["movielens_id"].notna().sum() == 9742
    assert (movies["movielens_id"].notna() & movies["has_tmdb"]).sum() >= 3537
    toy = movies[movies["movielens_id"] == 1].iloc[0]
    assert (toy["title"], toy["tmdb_id"], toy["imdb_id"]) == ("Toy Story", 862, "tt0114709")
    assert built.report["catalog_rows"] == len(movies)
