"""One movie catalog out of MovieLens and TMDB.

The recommender needs a single row per movie whatever its source: MovieLens movies
carry the ratings, TMDB movies carry the text (overview, keywords, cast) the content
model learns from. MovieLens' links.csv joins the two where it can. MovieLens movies
come first, in movieId order, then the TMDB movies MovieLens does not link to, in
TMDB id order, so the row order is stable from one build to the next.

Nothing is dropped silently: every oddity found on the way (two MovieLens movies
linked to one TMDB movie, repeated titles, genres outside the vocabulary) is counted
in the build report, with examples, and the report says how it was resolved.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from movierec.artifacts.titles import TITLE_ARTICLES
from movierec.trainer.ingest import MovieLens, Tmdb

# ------------------------------------------------------------------ vocabulary

# Source genre name -> canonical genre; None drops it. MovieLens and TMDB name the same
# genre differently, and the content model must see one token per genre, not two.
GENRE_MAP: dict[str, str | None] = {
    # shared by both sources
    "Action": "Action",
    "Adventure": "Adventure",
    "Animation": "Animation",
    "Comedy": "Comedy",
    "Crime": "Crime",
    "Documentary": "Documentary",
    "Drama": "Drama",
    "Fantasy": "Fantasy",
    "Horror": "Horror",
    "Mystery": "Mystery",
    "Romance": "Romance",
    "Thriller": "Thriller",
    "War": "War",
    "Western": "Western",
    # MovieLens names
    "Sci-Fi": "Science Fiction",
    "Children": "Family",
    "Musical": "Music",          # TMDB files musicals under Music
    "Film-Noir": "Film-Noir",    # MovieLens only; TMDB has no counterpart
    "IMAX": None,                # a screening format, not a genre
    "(no genres listed)": None,  # MovieLens' placeholder for "unknown"
    # TMDB names
    "Science Fiction": "Science Fiction",
    "Family": "Family",
    "Music": "Music",
    "History": "History",
    "TV Movie": "TV Movie",
    "Foreign": None,             # means "not American", says nothing about the film
}
CANONICAL_GENRES: tuple[str, ...] = tuple(sorted({g for g in GENRE_MAP.values() if g}))
_GENRE_RANK = {name: rank for rank, name in enumerate(CANONICAL_GENRES)}

IMDB_PREFIX = "tt"
MAX_EXAMPLES = 5
UNKNOWN_AMOUNT = 0  # TMDB writes 0 for an unknown budget, revenue or runtime

_SPACES = re.compile(r"\s+")
_YEAR_SUFFIX = re.compile(r"\s*\((?P<year>\d{4})(?:\s*[-–]\s*(?:\d{4})?)?\)$")
_TRAILING_GROUP = re.compile(r"^(?P<head>.*\S)\s*\((?P<inner>[^()]*)\)$")
_AKA = re.compile(r"^(?:a\.k\.a\.|aka)\s+", re.IGNORECASE)
_article_pattern = "|".join(re.escape(a) for a in sorted(TITLE_ARTICLES, key=len, reverse=True))
_TRAILING_ARTICLE = re.compile(
    rf"^(?P<body>.+?),\s+(?P<article>{_article_pattern})(?P<rest>:\s.*)?$"
)

OUTPUT_COLUMNS = (
    "movielens_id", "tmdb_id", "imdb_id", "title", "original_title", "alt_titles", "year",
    "genres", "overview", "tagline", "keywords", "cast", "characters", "directors", "tags",
    "budget", "revenue", "popularity", "runtime", "vote_average", "vote_count",
    "rating_count", "has_tmdb",
)


# ------------------------------------------------------------------------ titles


class ParsedTitle(NamedTuple):
    title: str
    year: int | None
    alt_titles: list[str]


def _front_article(text: str) -> str:
    """'Matrix, The' -> 'The Matrix'; 'Crow, The: Wicked Prayer' -> 'The Crow: Wicked Prayer'."""
    match = _TRAILING_ARTICLE.match(text)
    if not match:
        return text
    article = match["article"]
    joiner = "" if article.endswith("'") else " "
    return f"{article}{joiner}{match['body']}{match['rest'] or ''}"


def parse_title(raw: str) -> ParsedTitle:
    """Split a MovieLens title into display title, year and alternate titles.

    MovieLens packs all three into one string, "City of Lost Children, The (Cité des
    enfants perdus, La) (1995)": year last, then alternate titles in parentheses,
    with articles moved to the end so the list sorts alphabetically.
    """
    text = _SPACES.sub(" ", raw).strip()
    year: int | None = None
    year_match = _YEAR_SUFFIX.search(text)
    if year_match:
        year = int(year_match["year"])
        text = text[: year_match.start()].strip()
    alternates: list[str] = []
    while (group := _TRAILING_GROUP.match(text)) and group["inner"].strip():
        alternates.insert(0, _front_article(_AKA.sub("", group["inner"].strip())))
        text = group["head"]
    title = _front_article(text) if text else raw.strip()
    return ParsedTitle(title, year, alternates)


def normalise_title(raw: str) -> tuple[str, int | None]:
    """'Matrix, The (1999)' -> ('The Matrix', 1999): the title people would type."""
    parsed = parse_title(raw)
    return parsed.title, parsed.year


# ----------------------------------------------------------------------- catalog


@dataclass(frozen=True, eq=False)
class CatalogBuild:
    """The catalog (columns in OUTPUT_COLUMNS order) and a JSON-ready build report.

    report: integer counts at the top level (movielens_movies, tmdb_movies, joined,
    tmdb_movies_joined, movielens_without_tmdb_link, movielens_link_outside_tmdb,
    tmdb_only, catalog_rows), then "duplicates" (each kind with count, movies,
    examples and resolution) and "genres" (canonical list, dropped and unmapped names).
    """

    movies: pd.DataFrame
    report: dict[str, Any]


def build_catalog(ml: MovieLens, tmdb: Tmdb) -> CatalogBuild:
    """Join MovieLens to TMDB and append the TMDB movies MovieLens does not know."""
    tmdb_rows = _tmdb_with_credits(tmdb)
    ml_rows = _movielens_rows(ml)
    joined = ml_rows.merge(
        tmdb_rows, how="left", left_on="tmdbId", right_on="id", validate="many_to_one"
    )
    linked_ids = set(ml_rows["tmdbId"].dropna().astype("int64"))
    tmdb_only = tmdb_rows[~tmdb_rows["id"].isin(linked_ids)].sort_values("id", kind="stable")
    combined = pd.concat([joined, tmdb_only], ignore_index=True)
    movies = _output_columns(combined)
    report = _report(ml, tmdb, ml_rows, movies)
    return CatalogBuild(movies=movies, report=report)


def _tmdb_with_credits(tmdb: Tmdb) -> pd.DataFrame:
    credits = tmdb.credits.drop(columns=["title"]).rename(columns={"movie_id": "id"})
    return tmdb.movies.merge(credits, how="left", on="id", validate="one_to_one").rename(
        columns={"title": "tmdb_title", "genres": "tmdb_genres"}
    )


def _movielens_rows(ml: MovieLens) -> pd.DataFrame:
    """MovieLens movies in movieId order with their link, title parts, tags and counts."""
    movies = ml.movies.sort_values("movieId", kind="stable").reset_index(drop=True)
    parsed = [parse_title(title) for title in movies["title"]]
    movies = movies.rename(columns={"genres": "ml_genres"}).assign(
        ml_title=[p.title for p in parsed],
        ml_year=pd.array([p.year for p in parsed], dtype="Int64"),
        ml_alt_titles=[p.alt_titles for p in parsed],
    )
    movies = movies.merge(ml.links, how="left", on="movieId", validate="one_to_one")
    counts = ml.ratings["movieId"].value_counts()
    movies["rating_count"] = movies["movieId"].map(counts).fillna(0).astype("int64")
    movies["ml_tags"] = movies["movieId"].map(_tags_by_movie(ml.tags))
    return movies


def _tags_by_movie(tags: pd.DataFrame) -> pd.Series:
    """Tags per movie, first spelling kept: "Funny" and "funny" are one tag."""
    keyed = tags.assign(key=tags["tag"].str.casefold())
    unique = keyed.drop_duplicates(["movieId", "key"], keep="first")
    return unique.groupby("movieId", sort=False)["tag"].agg(list)


# ----------------------------------------------------------------- output columns


def _lists(values: Iterable[Any]) -> list[list[Any]]:
    """A column of lists where rows without a source hold NaN: NaN becomes []."""
    return [value if isinstance(value, list) else [] for value in values]


def _clean_spaces(values: pd.Series) -> pd.Series:
    """TMDB titles are clean but for the odd double space ("Barbershop 2:  Back in Business")."""
    return values.str.replace(_SPACES, " ", regex=True).str.strip()


def _texts(values: pd.Series) -> pd.Series:
    return values.fillna("").astype(object)


def _unknown_if_zero(values: pd.Series) -> pd.Series:
    numbers = values.astype("float64")
    return numbers.where(numbers != UNKNOWN_AMOUNT)


def canonical_genres(names: Iterable[str]) -> list[str]:
    """Map source genre names to the canonical vocabulary, deduplicated, in a fixed order.

    A name missing from GENRE_MAP is kept as it is (and reported by build_catalog), so a
    new TMDB genre shows up in the model instead of vanishing.
    """
    mapped = {GENRE_MAP.get(name, name) for name in names}
    mapped.discard(None)
    return sorted(mapped, key=lambda name: (_GENRE_RANK.get(name, len(_GENRE_RANK)), name))


def _alt_titles(display: str, ml_title: Any, ml_alternates: Any) -> list[str]:
    """Other names a user may search by: MovieLens' own title and its alternates."""
    seen = {display.casefold()}
    out: list[str] = []
    candidates = ([ml_title] if isinstance(ml_title, str) else []) + _lists([ml_alternates])[0]
    for name in candidates:
        if name and name.casefold() not in seen:
            seen.add(name.casefold())
            out.append(name)
    return out


def _output_columns(rows: pd.DataFrame) -> pd.DataFrame:
    """Derive every catalog column from the joined rows (ML-only, joined, TMDB-only)."""
    has_tmdb = rows["tmdb_title"].notna().to_numpy()
    has_ml = rows["movieId"].notna()
    title = _clean_spaces(rows["tmdb_title"]).where(has_tmdb, rows["ml_title"]).astype(object)
    tmdb_id = rows["tmdbId"].astype("Int64").where(has_ml, rows["id"].astype("Int64"))
    imdb = rows["imdbId"].fillna("").astype(object)
    vote_count = rows["vote_count"].astype("float64")
    cast = _lists(rows["cast"])
    return pd.DataFrame({
        "movielens_id": rows["movieId"].astype("Int64"),
        "tmdb_id": tmdb_id,
        "imdb_id": [f"{IMDB_PREFIX}{value}" if value else "" for value in imdb],
        "title": title,
        "original_title": rows["original_title"].where(has_tmdb, title).astype(object),
        "alt_titles": [
            _alt_titles(*values)
            for values in zip(title, rows["ml_title"], rows["ml_alt_titles"], strict=True)
        ],
        "year": rows["ml_year"].astype("Int64").fillna(
            rows["release_date"].dt.year.astype("Int64")
        ),
        "genres": [
            canonical_genres(ml + tm)
            for ml, tm in zip(_lists(rows["ml_genres"]), _lists(rows["tmdb_genres"]), strict=True)
        ],
        "overview": _texts(rows["overview"]),
        "tagline": _texts(rows["tagline"]),
        "keywords": _lists(rows["keywords"]),
        "cast": [[name for name, _ in people] for people in cast],
        "characters": [[character for _, character in people] for people in cast],
        "directors": _lists(rows["directors"]),
        "tags": _lists(rows["ml_tags"]),
        "budget": _unknown_if_zero(rows["budget"]),
        "revenue": _unknown_if_zero(rows["revenue"]),
        "popularity": rows["popularity"].astype("float64"),
        "runtime": _unknown_if_zero(rows["runtime"]),
        # TMDB writes an average of 0 for a movie nobody voted on: that is "unknown".
        "vote_average": rows["vote_average"].astype("float64").where(vote_count > 0),
        "vote_count": vote_count,
        "rating_count": rows["rating_count"].fillna(0).astype("int64"),
        "has_tmdb": has_tmdb,
    }, columns=list(OUTPUT_COLUMNS))


# ------------------------------------------------------------------------ report


def _plain(value: Any) -> Any:
    """numpy / pandas scalars -> Python, so the report serialises to JSON as is."""
    if value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _shared_link_groups(ml_rows: pd.DataFrame, column: str, label: str) -> dict[str, Any]:
    """MovieLens movies whose link points at the same external movie."""
    linked = ml_rows[ml_rows[column].notna() & (ml_rows[column].astype(str) != "")]
    shared = linked[linked[column].duplicated(keep=False)]
    groups = shared.groupby(column, sort=True)
    examples = [
        {
            label: _plain(key),
            "movielens_ids": [int(x) for x in group["movieId"]],
            "titles": list(group["title"]),
            "rating_counts": [int(x) for x in group["rating_count"]],
        }
        for key, group in list(groups)[:MAX_EXAMPLES]
    ]
    return {"count": int(groups.ngroups), "movies": len(shared), "examples": examples}


def _title_year_groups(movies: pd.DataFrame) -> dict[str, Any]:
    """Catalog rows that share a display title and year: double entries or remakes."""
    key = pd.DataFrame({
        "title": movies["title"].str.casefold(),
        "year": movies["year"].fillna(-1),
    })
    repeated = movies[key.duplicated(keep=False)].assign(_key=key["title"] + "|" + key["year"].astype(str))
    groups = repeated.groupby("_key", sort=True)
    examples = [
        {
            "title": group["title"].iloc[0],
            "year": _plain(group["year"].iloc[0]),
            "movielens_ids": [_plain(x) for x in group["movielens_id"]],
            "tmdb_ids": [_plain(x) for x in group["tmdb_id"]],
        }
        for _, group in list(groups)[:MAX_EXAMPLES]
    ]
    return {"count": int(groups.ngroups), "movies": len(repeated), "examples": examples}


def _genre_report(ml: MovieLens, tmdb: Tmdb) -> dict[str, Any]:
    names = pd.Series(
        [name for names in (*ml.movies["genres"], *tmdb.movies["genres"]) for name in names],
        dtype=object,
    )
    counts = names.value_counts()
    dropped = {name: int(counts[name]) for name, target in GENRE_MAP.items()
               if target is None and name in counts}
    unmapped = {str(name): int(n) for name, n in counts.items() if name not in GENRE_MAP}
    return {"canonical": list(CANONICAL_GENRES), "dropped": dropped, "unmapped_kept": unmapped}


def _report(ml: MovieLens, tmdb: Tmdb, ml_rows: pd.DataFrame, movies: pd.DataFrame) -> dict[str, Any]:
    from_ml = movies["movielens_id"].notna()
    tmdb_ids = set(tmdb.movies["id"])
    linked = ml_rows["tmdbId"].notna()
    in_tmdb = ml_rows["tmdbId"].isin(tmdb_ids).to_numpy(dtype=bool)
    joined = movies[from_ml & movies["has_tmdb"]]
    shared_tmdb = _shared_link_groups(ml_rows, "tmdbId", "tmdb_id")
    shared_tmdb["resolution"] = (
        "kept every MovieLens movie (each has its own ratings); each gets the TMDB "
        "metadata, so tmdb_id repeats on these rows"
    )
    shared_imdb = _shared_link_groups(ml_rows, "imdbId", "imdb_id")
    shared_imdb["resolution"] = "kept every MovieLens movie; reported only"
    title_year = _title_year_groups(movies)
    title_year["resolution"] = (
        "kept all rows: different ids may be different films (remakes, TV versions) "
        "or MovieLens double entries; reported only"
    )
    return {
        # flat counts first, so a summary line can print every number at the top level
        "movielens_movies": len(ml.movies),
        "tmdb_movies": len(tmdb.movies),
        "joined": len(joined),
        "tmdb_movies_joined": int(joined["tmdb_id"].nunique()),
        "movielens_without_tmdb_link": int((~linked).sum()),
        "movielens_link_outside_tmdb": int((linked.to_numpy(dtype=bool) & ~in_tmdb).sum()),
        "tmdb_only": int((~from_ml).sum()),
        "catalog_rows": len(movies),
        "duplicates": {
            "movielens_sharing_tmdb_id": shared_tmdb,
            "movielens_sharing_imdb_id": shared_imdb,
            "same_title_and_year": title_year,
        },
        "genres": _genre_report(ml, tmdb),
    }
