"""The loaders: clean dtypes on good files, and errors that say file, line and column on bad ones."""

from __future__ import annotations

import gzip
import hashlib
import pickle

import numpy as np
import pandas as pd
import pytest

from movierec.trainer.errors import DataError
from movierec.trainer.ingest import file_checksums, load_movielens, load_tmdb
from tests.unit.conftest import CREDITS_CSV, CREDITS_GZ, LINKS, MOVIES, RATINGS, TAGS, TMDB_MOVIES


def load_all(data_dir):
    return load_movielens(data_dir), load_tmdb(data_dir)


def raised(ingest_files, loader=load_all) -> DataError:
    with pytest.raises(DataError) as info:
        loader(ingest_files.write())
    return info.value


# ------------------------------------------------------------------ good files


def test_ratings_have_compact_dtypes(ingest_data_dir):
    ratings = load_movielens(ingest_data_dir).ratings
    assert dict(ratings.dtypes.astype(str)) == {
        "userId": "int32", "movieId": "int32", "rating": "float32", "timestamp": "int64",
    }
    assert ratings["rating"].tolist() == [4.0, 3.5, 5.0, 0.5]


def test_links_keep_imdb_leading_zeros(ingest_data_dir):
    links = load_movielens(ingest_data_dir).links
    assert links["imdbId"].dtype == "string"
    assert links["imdbId"].iloc[0] == "0114709"


def test_links_missing_tmdb_id_is_nullable_int(ingest_data_dir):
    links = load_movielens(ingest_data_dir).links
    assert links["tmdbId"].dtype == "Int64"
    assert links["tmdbId"].isna().tolist() == [False, False, True, False, False, False]


def test_movie_genres_become_lists(ingest_data_dir):
    movies = load_movielens(ingest_data_dir).movies
    assert movies["genres"].iloc[1] == ["Drama", "Sci-Fi"]
    assert movies["movieId"].dtype == np.int32


def test_tags_are_stripped(ingest_data_dir):
    assert load_movielens(ingest_data_dir).tags["tag"].tolist() == ["pixar", "Pixar", "funny"]


def test_tmdb_genres_and_keywords_become_name_lists(ingest_data_dir):
    toy_story = load_tmdb(ingest_data_dir).movies.iloc[0]
    assert toy_story["genres"] == ["Animation", "Comedy", "Family"]
    assert toy_story["keywords"] == ["toy", "friendship"]


def test_cast_follows_billing_order_not_file_order(ingest_data_dir):
    cast = load_tmdb(ingest_data_dir).credits.set_index("movie_id").loc[862, "cast"]
    assert cast == [("Tom Hanks", "Woody (voice)"), ("Tim Allen", "Buzz Lightyear (voice)")]


def test_directors_are_the_crew_with_director_job(ingest_data_dir):
    directors = load_tmdb(ingest_data_dir).credits.set_index("movie_id")["directors"]
    assert directors[862] == ["John Lasseter"]
    assert directors[902] == ["Marc Caro", "Jean-Pierre Jeunet"]


def test_tmdb_missing_runtime_is_nan_and_missing_text_is_empty(ingest_data_dir):
    avatar = load_tmdb(ingest_data_dir).movies.set_index("id").loc[19995]
    assert np.isnan(avatar["runtime"])
    assert avatar["overview"] == ""


def test_tmdb_release_date_is_a_datetime(ingest_data_dir):
    movies = load_tmdb(ingest_data_dir).movies
    assert movies["release_date"].dtype.kind == "M"
    assert movies["release_date"].iloc[0] == pd.Timestamp("1995-10-30")


def test_plain_csv_credits_are_read_like_gz(ingest_files):
    ingest_files.use_plain_credits()
    credits = load_tmdb(ingest_files.write()).credits
    assert credits["directors"].iloc[0] == ["John Lasseter"]


def test_gz_credits_are_read(ingest_data_dir):
    assert (ingest_data_dir / CREDITS_GZ).exists()
    assert len(load_tmdb(ingest_data_dir).credits) == 5


def test_file_checksums_are_sha256_of_every_input(ingest_data_dir):
    sums = file_checksums(ingest_data_dir)
    assert sorted(sums) == sorted([MOVIES, RATINGS, TAGS, LINKS, TMDB_MOVIES, CREDITS_GZ])
    expected = hashlib.sha256((ingest_data_dir / RATINGS).read_bytes()).hexdigest()
    assert sums[RATINGS] == expected


# ------------------------------------------------------------------- DataError


def test_data_error_message_names_file_line_and_column():
    error = DataError("/x/ratings.csv", "expected a number from 0.5 to 5.0, got 'abc'", row=17, column="rating")
    assert str(error) == "ratings.csv line 17, column 'rating': expected a number from 0.5 to 5.0, got 'abc'"
    assert isinstance(error, ValueError)


def test_data_error_survives_pickling():
    error = DataError("/x/ratings.csv", "bad", row=3, column="rating")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.path, copy.row, copy.column, str(copy)) == (error.path, 3, "rating", str(error))


# ------------------------------------------------------------------- bad files


def test_missing_file_names_expected_path_and_make_data(ingest_files):
    path = ingest_files.write() / RATINGS
    path.unlink()
    with pytest.raises(DataError) as info:
        load_movielens(ingest_files.dir)
    assert str(path) in str(info.value)
    assert "make data" in str(info.value)
    assert info.value.path == path


def test_missing_credits_names_gz_and_plain_choices(ingest_files):
    (ingest_files.write() / CREDITS_GZ).unlink()
    with pytest.raises(DataError) as info:
        load_tmdb(ingest_files.dir)
    error = info.value
    assert f"{ingest_files.dir / CREDITS_GZ} or {ingest_files.dir / CREDITS_CSV})" in str(error)


def test_missing_column_points_at_header_line(ingest_files):
    ingest_files.drop_column(RATINGS, "rating")
    error = raised(ingest_files)
    assert (error.path.name, error.row, error.column) == ("ratings.csv", 1, "rating")
    assert str(error).startswith("ratings.csv line 1, column 'rating': required column missing")


def test_unparsable_rating_names_file_line_and_column(ingest_files):
    ingest_files.set_cell(RATINGS, line=3, column="rating", value="abc")
    assert str(raised(ingest_files)) == (
        "ratings.csv line 3, column 'rating': expected a number from 0.5 to 5.0, got 'abc'"
    )


def test_out_of_range_rating_is_rejected(ingest_files):
    ingest_files.set_cell(RATINGS, line=4, column="rating", value="5.5")
    error = raised(ingest_files)
    assert (error.row, error.column) == (4, "rating")
    assert "got '5.5'" in str(error)


def test_empty_rating_is_rejected(ingest_files):
    ingest_files.set_cell(RATINGS, line=2, column="rating", value="")
    error = raised(ingest_files)
    assert (error.row, error.column) == (2, "rating")


def test_fractional_user_id_is_rejected(ingest_files):
    ingest_files.set_cell(RATINGS, line=5, column="userId", value="2.5")
    error = raised(ingest_files)
    assert (error.path.name, error.row, error.column) == ("ratings.csv", 5, "userId")
    assert "expected an integer" in str(error)


def test_unparsable_tmdb_id_in_links(ingest_files):
    ingest_files.set_cell(LINKS, line=3, column="tmdbId", value="n/a")
    error = raised(ingest_files)
    assert (error.path.name, error.row, error.column) == ("links.csv", 3, "tmdbId")


def test_duplicate_rating_pair_names_both_lines(ingest_files):
    line = ingest_files.append_row(RATINGS, ["2", "1", "3.0", "964990000"])
    error = raised(ingest_files)
    assert (error.path.name, error.row, error.column) == ("ratings.csv", line, "userId, movieId")
    assert "already on line 4" in str(error)


def test_duplicate_movie_id_is_rejected(ingest_files):
    line = ingest_files.append_row(MOVIES, ["3", "Again (2001)", "Drama"])
    error = raised(ingest_files)
    assert (error.path.name, error.row, error.column) == ("movies.csv", line, "movieId")


def test_rating_for_unknown_movie_is_rejected(ingest_files):
    ingest_files.set_cell(RATINGS, line=3, column="movieId", value="999")
    error = raised(ingest_files)
    assert (error.path.name, error.row, error.column) == ("ratings.csv", 3, "movieId")
    assert "999 is not in" in str(error)


def test_invalid_json_names_file_line_and_column(ingest_files):
    ingest_files.set_cell(TMDB_MOVIES, line=4, column="genres", value='[{"id": 1, "name": "Drama"')
    error = raised(ingest_files)
    assert (error.path.name, error.row, error.column) == ("tmdb_5000_movies.csv", 4, "genres")
    assert "invalid JSON" in str(error)


def test_json_object_instead_of_array_is_rejected(ingest_files):
    ingest_files.set_cell(TMDB_MOVIES, line=2, column="keywords", value='{"name": "toy"}')
    error = raised(ingest_files)
    assert (error.row, error.column) == (2, "keywords")
    assert "expected a JSON array" in str(error)


def test_invalid_json_in_gz_credits_names_the_gz_file(ingest_files):
    ingest_files.set_cell(CREDITS_GZ, line=3, column="crew", value="[{")
    error = raised(ingest_files)
    assert (error.path.name, error.row, error.column) == ("tmdb_5000_credits.csv.gz", 3, "crew")


def test_cast_entry_without_name_is_rejected(ingest_files):
    ingest_files.set_cell(CREDITS_GZ, line=5, column="cast", value='[{"character": "Jake", "order": 0}]')
    error = raised(ingest_files)
    assert (error.row, error.column) == (5, "cast")
    assert "'name'" in str(error)


def test_bad_release_date_is_rejected(ingest_files):
    ingest_files.set_cell(TMDB_MOVIES, line=3, column="release_date", value="16/05/1995")
    error = raised(ingest_files)
    assert (error.path.name, error.row, error.column) == ("tmdb_5000_movies.csv", 3, "release_date")


def test_line_numbers_count_quoted_newlines(ingest_files):
    """An overview spanning three lines pushes later rows down, as an editor shows them."""
    ingest_files.set_cell(TMDB_MOVIES, line=2, column="overview", value="one\ntwo\nthree")
    ingest_files.set_cell(TMDB_MOVIES, line=3, column="vote_average", value="eleven")
    error = raised(ingest_files)
    assert (error.row, error.column) == (5, "vote_average")


def test_line_numbers_count_blank_lines(ingest_files):
    path = ingest_files.write() / RATINGS
    lines = path.read_bytes().split(b"\r\n")
    lines.insert(2, b"")                          # blank line 3; pandas skips it
    lines[4] = b"2,1,9.0,964982224"               # the third data row, now on line 5
    path.write_bytes(b"\r\n".join(lines))
    with pytest.raises(DataError) as info:
        load_movielens(ingest_files.dir)
    assert (info.value.row, info.value.column) == (5, "rating")


def test_truncated_gz_is_a_data_error(ingest_files):
    path = ingest_files.write() / CREDITS_GZ
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(DataError) as info:
        load_tmdb(ingest_files.dir)
    assert info.value.path.name == "tmdb_5000_credits.csv.gz"


def test_extra_field_names_the_editor_line(ingest_files):
    ingest_files.set_cell(TMDB_MOVIES, line=2, column="overview", value="one\ntwo")
    ingest_files.tables[TMDB_MOVIES][3].append("surplus")   # third data row, on line 5
    error = raised(ingest_files)
    assert (error.path.name, error.row) == ("tmdb_5000_movies.csv", 5)
    assert "expected 20 fields, found 21" in str(error)


def test_credits_for_unknown_movie_are_rejected(ingest_files):
    line = ingest_files.append_row(CREDITS_GZ, ["5", "Nobody", "[]", "[]"])
    error = raised(ingest_files)
    assert (error.row, error.column) == (line, "movie_id")


def test_gzip_helper_writes_real_gzip(ingest_data_dir):
    """Guards the fixture itself: the credits must really be compressed, like the shared copy."""
    assert gzip.decompress((ingest_data_dir / CREDITS_GZ).read_bytes()).startswith(b"movie_id,")
    assert not (ingest_data_dir / CREDITS_CSV).exists()
