"""A tiny MovieLens + TMDB data directory that tests can break one cell at a time.

The files mirror the real ones (CRLF line endings, quoted JSON columns, credits
gzipped) so the loaders meet the same quirks as in production. Each test edits the
in-memory tables and calls `write()`; line numbers in assertions are editor lines.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

import pytest

MOVIES = "ml-latest-small/movies.csv"
RATINGS = "ml-latest-small/ratings.csv"
TAGS = "ml-latest-small/tags.csv"
LINKS = "ml-latest-small/links.csv"
TMDB_MOVIES = "tmdb-5000/tmdb_5000_movies.csv"
CREDITS_GZ = "tmdb-5000/tmdb_5000_credits.csv.gz"
CREDITS_CSV = "tmdb-5000/tmdb_5000_credits.csv"


def _names(*names: str) -> str:
    return json.dumps([{"id": i, "name": name} for i, name in enumerate(names)])


def _cast(*people: tuple[str, str, int]) -> str:
    return json.dumps([{"name": n, "character": c, "order": o, "gender": 0} for n, c, o in people])


def _crew(*people: tuple[str, str]) -> str:
    return json.dumps([{"name": n, "job": j, "department": "x"} for n, j in people])


TMDB_HEADER = [
    "budget", "genres", "homepage", "id", "keywords", "original_language", "original_title",
    "overview", "popularity", "production_companies", "production_countries", "release_date",
    "revenue", "runtime", "spoken_languages", "status", "tagline", "title", "vote_average",
    "vote_count",
]


def _tmdb_movie(**values: str) -> list[str]:
    defaults = {
        "budget": "0", "genres": "[]", "homepage": "", "keywords": "[]", "original_language": "en",
        "overview": "", "popularity": "1.5", "production_companies": "[]",
        "production_countries": "[]", "release_date": "2000-01-01", "revenue": "0", "runtime": "90.0",
        "spoken_languages": "[]", "status": "Released", "tagline": "", "vote_average": "6.0",
        "vote_count": "10",
    }
    merged = {**defaults, **values}
    merged.setdefault("original_title", merged["title"])
    return [merged[name] for name in TMDB_HEADER]


def default_tables() -> dict[str, list[list[str]]]:
    """Five MovieLens movies (two share a TMDB id, one has no link) and two TMDB-only movies."""
    return {
        MOVIES: [
            ["movieId", "title", "genres"],
            ["1", "Toy Story (1995)", "Adventure|Animation|Children|Comedy|Fantasy"],
            ["2", "City of Lost Children, The (Cité des enfants perdus, La) (1995)", "Drama|Sci-Fi"],
            ["3", "Obscure Film (2001)", "(no genres listed)"],
            ["4", "Confessions of a Dangerous Mind (2002)", "Comedy|Crime"],
            ["5", "Confessions of a Dangerous Mind (2002)", "Comedy|Crime|Romance"],
            ["6", "Babylon 5", "Sci-Fi"],
        ],
        LINKS: [
            ["movieId", "imdbId", "tmdbId"],
            ["1", "0114709", "862"],
            ["2", "0112682", "902"],
            ["3", "0999999", ""],
            ["4", "0270288", "4912"],
            ["5", "0270289", "4912"],
            ["6", "0105946", "70000"],
        ],
        RATINGS: [
            ["userId", "movieId", "rating", "timestamp"],
            ["1", "1", "4.0", "964982703"],
            ["1", "2", "3.5", "964981247"],
            ["2", "1", "5.0", "964982224"],
            ["2", "4", "0.5", "964983815"],
        ],
        TAGS: [
            ["userId", "movieId", "tag", "timestamp"],
            ["1", "1", "pixar", "1445714994"],
            ["2", "1", " Pixar ", "1445714995"],
            ["2", "1", "funny", "1445714996"],
        ],
        TMDB_MOVIES: [
            TMDB_HEADER,
            _tmdb_movie(
                id="862", title="Toy Story", budget="30000000", revenue="373554033",
                genres=_names("Animation", "Comedy", "Family"), keywords=_names("toy", "friendship"),
                overview="Led by Woody, Andy's toys live happily.", release_date="1995-10-30",
                runtime="81.0", vote_average="7.7", vote_count="5269", popularity="73.6",
            ),
            _tmdb_movie(
                id="902", title="The City of Lost Children", original_title="La Cité des enfants perdus",
                genres=_names("Fantasy", "Science Fiction"), release_date="1995-05-16",
            ),
            _tmdb_movie(id="4912", title="Confessions of a Dangerous Mind", release_date="2002-12-30"),
            _tmdb_movie(
                id="19995", title="Avatar", genres=_names("Action", "Science Fiction", "Foreign"),
                tagline="Enter the World of Pandora.", release_date="2009-12-10", runtime="",
                vote_average="0.0", vote_count="0",
            ),
            _tmdb_movie(id="100", title="Lock, Stock and Two Smoking Barrels", release_date="1998-03-05",
                        genres=_names("TV Movie")),
        ],
        CREDITS_GZ: [
            ["movie_id", "title", "cast", "crew"],
            ["862", "Toy Story",
             _cast(("Tim Allen", "Buzz Lightyear (voice)", 1), ("Tom Hanks", "Woody (voice)", 0)),
             _crew(("John Lasseter", "Director"), ("Bonnie Arnold", "Producer"))],
            ["902", "The City of Lost Children", "[]",
             _crew(("Marc Caro", "Director"), ("Jean-Pierre Jeunet", "Director"))],
            ["4912", "Confessions of a Dangerous Mind", "[]", "[]"],
            ["19995", "Avatar", _cast(("Sam Worthington", "Jake Sully", 0)), _crew(("James Cameron", "Director"))],
            ["100", "Lock, Stock and Two Smoking Barrels", "[]", "[]"],
        ],
    }


def to_csv_bytes(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")


class IngestFiles:
    """The synthetic tables plus helpers to damage them the way real files get damaged."""

    def __init__(self, root: Path) -> None:
        self.dir = root
        self.tables = default_tables()

    def header(self, relative: str) -> list[str]:
        return self.tables[relative][0]

    def set_cell(self, relative: str, line: int, column: str, value: str) -> None:
        """Set one cell, addressing the row by editor line (header = 1)."""
        table = self.tables[relative]
        table[line - 1][table[0].index(column)] = value

    def append_row(self, relative: str, row: list[str]) -> int:
        """Append a data row; returns the editor line it lands on."""
        self.tables[relative].append(row)
        return len(self.tables[relative])

    def drop_column(self, relative: str, column: str) -> None:
        index = self.header(relative).index(column)
        self.tables[relative] = [row[:index] + row[index + 1:] for row in self.tables[relative]]

    def use_plain_credits(self) -> None:
        self.tables[CREDITS_CSV] = self.tables.pop(CREDITS_GZ)

    def write(self) -> Path:
        for relative, rows in self.tables.items():
            path = self.dir / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            data = to_csv_bytes(rows)
            path.write_bytes(gzip.compress(data) if relative.endswith(".gz") else data)
        return self.dir


@pytest.fixture()
def ingest_files(tmp_path: Path) -> IngestFiles:
    """Unwritten tables: edit them, then call `.write()` to get the data dir."""
    return IngestFiles(tmp_path / "data")


@pytest.fixture()
def ingest_data_dir(ingest_files: IngestFiles) -> Path:
    """The untouched synthetic dataset, written to disk."""
    return ingest_files.write()
