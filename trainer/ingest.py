"""Typed, validated loaders for the MovieLens and TMDB input files.

Everything downstream (catalog, features, evaluation) trusts these frames: ids are
integers of a fixed width, ratings are in range, JSON columns are already Python
lists. So the checks live here, once, and a bad file fails the run before any
training time is spent, with a `DataError` naming file, line and column.

Files are read as plain strings first and converted column by column with vectorised
pandas operations; only when a check fails do we go back to the file to find the
line a person would see in an editor (quoted fields may span several lines).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal, NoReturn

import numpy as np
import pandas as pd

from movierec.trainer.errors import HEADER_LINE, DataError

ML_DIR = "ml-latest-small"
TMDB_DIR = "tmdb-5000"
ML_MOVIES = f"{ML_DIR}/movies.csv"
ML_RATINGS = f"{ML_DIR}/ratings.csv"
ML_TAGS = f"{ML_DIR}/tags.csv"
ML_LINKS = f"{ML_DIR}/links.csv"
TMDB_MOVIES = f"{TMDB_DIR}/tmdb_5000_movies.csv"
# The shared copy is gzipped; a plain download from Kaggle is not. Either will do.
TMDB_CREDITS_CHOICES = (
    f"{TMDB_DIR}/tmdb_5000_credits.csv.gz",
    f"{TMDB_DIR}/tmdb_5000_credits.csv",
)

FETCH_HINT = "run `make data` to download the MovieLens and TMDB datasets"

RATING_MIN = 0.5
RATING_MAX = 5.0
VOTE_AVERAGE_MIN = 0.0
VOTE_AVERAGE_MAX = 10.0
ID_MIN = 1
INT32_MAX = int(np.iinfo(np.int32).max)
INT64_MAX = int(np.iinfo(np.int64).max)
ML_GENRE_SEPARATOR = "|"
DATE_FORMAT = "%Y-%m-%d"
FIRST_DATA_LINE = HEADER_LINE + 1
HASH_CHUNK_BYTES = 1 << 20
JSON_CONTEXT_CHARS = 20  # text shown either side of a JSON syntax error
_FIELD_COUNT_ERROR = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")

MOVIES_COLUMNS = ("movieId", "title", "genres")
RATINGS_COLUMNS = ("userId", "movieId", "rating", "timestamp")
TAGS_COLUMNS = ("userId", "movieId", "tag", "timestamp")
LINKS_COLUMNS = ("movieId", "imdbId", "tmdbId")
TMDB_MOVIES_COLUMNS = (
    "id", "title", "original_title", "overview", "tagline", "release_date",
    "genres", "keywords", "budget", "revenue", "popularity", "runtime",
    "vote_average", "vote_count",
)
TMDB_CREDITS_COLUMNS = ("movie_id", "title", "cast", "crew")
DIRECTOR_JOB = "Director"


@dataclass(frozen=True, eq=False)
class MovieLens:
    """The four MovieLens tables, in file order.

    movies: movieId int32, title str (raw, e.g. "Matrix, The (1999)"), genres list[str]
    ratings: userId int32, movieId int32, rating float32, timestamp int64
    tags: userId int32, movieId int32, tag str (stripped), timestamp int64
    links: movieId int32, imdbId string (7 digits, leading zeros kept), tmdbId Int64
    """

    movies: pd.DataFrame
    ratings: pd.DataFrame
    tags: pd.DataFrame
    links: pd.DataFrame


@dataclass(frozen=True, eq=False)
class Tmdb:
    """The TMDB 5000 tables with their JSON columns already parsed.

    movies: id int64, title/original_title/overview/tagline str ("" when missing),
        release_date datetime64 (NaT when missing), genres list[str], keywords list[str],
        budget int64, revenue int64, popularity float64, runtime float64 (NaN allowed),
        vote_average float64, vote_count int64
    credits: movie_id int64, title str, cast list[tuple[name, character]] in billing
        order, directors list[str]
    """

    movies: pd.DataFrame
    credits: pd.DataFrame


# --------------------------------------------------------------------------- public


def load_movielens(data_dir: Path) -> MovieLens:
    """Load and cross-check the MovieLens files under `<data_dir>/ml-latest-small`."""
    data_dir = Path(data_dir)
    movies = _load_ml_movies(_require(data_dir, ML_MOVIES))
    known = movies["movieId"]
    ratings = _load_ml_ratings(_require(data_dir, ML_RATINGS), known)
    tags = _load_ml_tags(_require(data_dir, ML_TAGS), known)
    links = _load_ml_links(_require(data_dir, ML_LINKS), known)
    return MovieLens(movies=movies, ratings=ratings, tags=tags, links=links)


def load_tmdb(data_dir: Path) -> Tmdb:
    """Load the TMDB movies and credits under `<data_dir>/tmdb-5000`."""
    data_dir = Path(data_dir)
    movies = _load_tmdb_movies(_require(data_dir, TMDB_MOVIES))
    credits = _load_tmdb_credits(_credits_path(data_dir), movies["id"])
    return Tmdb(movies=movies, credits=credits)


def input_files(data_dir: Path) -> list[Path]:
    """The files the loaders read, so a manifest can pin exactly those."""
    data_dir = Path(data_dir)
    fixed = [ML_MOVIES, ML_RATINGS, ML_TAGS, ML_LINKS, TMDB_MOVIES]
    return [_require(data_dir, rel) for rel in fixed] + [_credits_path(data_dir)]


def file_checksums(data_dir: Path) -> dict[str, str]:
    """sha256 of every input file, keyed by its path relative to `data_dir`.

    Recorded in the model manifest so a version can be traced to the exact bytes
    it was trained on (the gz is hashed as stored, not its decompressed content).
    """
    data_dir = Path(data_dir)
    return {
        path.relative_to(data_dir).as_posix(): _sha256(path)
        for path in input_files(data_dir)
    }


# ------------------------------------------------------------------ file handling


def _require(data_dir: Path, relative: str) -> Path:
    path = data_dir / relative
    if not path.is_file():
        raise DataError(path, f"file not found (expected at {path}); {FETCH_HINT}")
    return path


def _credits_path(data_dir: Path) -> Path:
    for relative in TMDB_CREDITS_CHOICES:
        if (data_dir / relative).is_file():
            return data_dir / relative
    expected = " or ".join(str(data_dir / rel) for rel in TMDB_CREDITS_CHOICES)
    raise DataError(
        data_dir / TMDB_CREDITS_CHOICES[0],
        f"file not found (expected {expected}); {FETCH_HINT}",
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(HASH_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_strings(path: Path, required: Sequence[str]) -> pd.DataFrame:
    """Read the required columns as untouched strings ("" for empty cells).

    Reading as text keeps every value inspectable: a typed read would turn "abc" in
    a number column into a parser exception without a line, or silently into NaN.
    """
    try:
        # No `usecols`: with it pandas silently drops surplus fields, so a stray comma
        # in an unquoted title would shift values instead of failing.
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8")
    except pd.errors.EmptyDataError:
        raise DataError(
            path, f"file is empty; expected a header with {', '.join(required)}",
            row=HEADER_LINE,
        ) from None
    except pd.errors.ParserError as exc:
        raise _parser_error(path, exc) from None
    except UnicodeDecodeError as exc:
        raise DataError(path, f"not UTF-8 text: {exc}") from None
    except (OSError, EOFError) as exc:  # e.g. a truncated or corrupt .gz
        raise DataError(path, f"cannot read file: {exc}") from None
    _check_columns(path, frame, required)
    return frame[list(required)]


def _parser_error(path: Path, exc: pd.errors.ParserError) -> DataError:
    """Translate pandas' record count ("line 4" = 4th record) into an editor line."""
    match = _FIELD_COUNT_ERROR.search(str(exc))
    if not match:
        return DataError(path, f"not a readable CSV file: {exc}")
    expected, record, found = (int(group) for group in match.groups())
    return DataError(
        path,
        f"expected {expected} fields, found {found} (a stray comma or an unclosed quote?)",
        row=_line_of(path, record - FIRST_DATA_LINE),
    )


def _check_columns(path: Path, frame: pd.DataFrame, required: Sequence[str]) -> None:
    missing = [name for name in required if name not in frame.columns]
    if missing:
        found = ", ".join(map(str, frame.columns))
        raise DataError(
            path, f"required column missing (header has: {found})",
            row=HEADER_LINE, column=missing[0],
        )


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


def _record_start_lines(path: Path) -> Iterator[int]:
    """Yield the first physical line of each data record, as pandas counts records.

    pandas skips blank lines and lets quoted fields span lines, so record i is not
    always on line i + 2. Only called after a check failed, so speed does not matter.
    """
    # TMDB crew cells run past csv's default 128 kB field limit; raising it is harmless.
    csv.field_size_limit(max(csv.field_size_limit(), INT32_MAX))
    with _open_text(path) as handle:
        reader = csv.reader(handle)
        header_seen = False
        while True:
            start = reader.line_num + 1
            try:
                record = next(reader)
            except StopIteration:
                return
            if not record:  # blank line: pandas skips it
                continue
            if header_seen:
                yield start
            header_seen = True


def _line_of(path: Path, index: int) -> int:
    """The editor line of the data record at 0-based position `index`."""
    for position, line in enumerate(_record_start_lines(path)):
        if position == index:
            return line
    return index + FIRST_DATA_LINE


def _fail(path: Path, position: int, column: str, message: str) -> NoReturn:
    """Raise a DataError for the record at 0-based `position` (file order)."""
    raise DataError(path, message, row=_line_of(path, position), column=column)


def _first(mask: pd.Series | np.ndarray) -> int | None:
    hits = np.flatnonzero(np.asarray(mask))
    return int(hits[0]) if hits.size else None


# ----------------------------------------------------------------- value parsers


def _describe_range(kind: str, minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f"{kind} from {minimum} to {maximum}"
    if minimum is not None:
        return f"{kind} >= {minimum}"
    return kind


def _parse_number(
    path: Path,
    frame: pd.DataFrame,
    column: str,
    *,
    integer: bool,
    minimum: float | None = None,
    maximum: float | None = None,
    nullable: bool = False,
) -> pd.Series:
    """Convert a text column to numbers, failing on the first value that is not one.

    Returns float64 (NaN for empty cells when `nullable`) or int64 when every value
    is present; the caller narrows the dtype once the values are known to fit.
    """
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce").astype("float64")
    ok = np.isfinite(values)
    if integer:
        ok &= values == np.floor(values)
    if minimum is not None:
        ok &= values >= minimum
    if maximum is not None:
        ok &= values <= maximum
    if nullable:
        ok |= raw.str.strip() == ""
    bad = _first(~ok)
    if bad is not None:
        kind = "an integer" if integer else "a number"
        expected = _describe_range(kind, minimum, maximum)
        if nullable:
            expected += " or empty"
        _fail(path, bad, column, f"expected {expected}, got {raw.iloc[bad]!r}")
    if integer and not nullable:
        # Re-parse exactly: float64 loses digits above 2**53 (e.g. large timestamps).
        return pd.to_numeric(raw).astype("int64")
    return values


def _parse_id(path: Path, frame: pd.DataFrame, column: str, width: Literal["int32", "int64"]) -> pd.Series:
    maximum = INT32_MAX if width == "int32" else INT64_MAX
    values = _parse_number(path, frame, column, integer=True, minimum=ID_MIN, maximum=maximum)
    return values.astype(width)


def _parse_nullable_id(path: Path, frame: pd.DataFrame, column: str) -> pd.Series:
    values = _parse_number(
        path, frame, column, integer=True, minimum=ID_MIN, maximum=INT64_MAX, nullable=True
    )
    return values.astype("Int64")


def _parse_date(path: Path, frame: pd.DataFrame, column: str) -> pd.Series:
    raw = frame[column]
    dates = pd.to_datetime(raw, format=DATE_FORMAT, errors="coerce")
    bad = _first(dates.isna() & (raw.str.strip() != ""))
    if bad is not None:
        _fail(path, bad, column,
              f"expected a date like 2009-12-10 or empty, got {raw.iloc[bad]!r}")
    return dates


def _require_text(path: Path, frame: pd.DataFrame, column: str) -> pd.Series:
    values = frame[column].str.strip()
    bad = _first(values == "")
    if bad is not None:
        _fail(path, bad, column, "expected a non-empty value, got ''")
    return frame[column]


def _check_unique(path: Path, frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    """Fail on the second occurrence of a key, pointing back at the first one."""
    keys = frame[list(columns)]
    bad = _first(keys.duplicated())
    if bad is None:
        return
    duplicate = keys.iloc[bad]
    same = (keys == duplicate).all(axis=1)
    first_line = _line_of(path, _first(same))
    shown = " and ".join(f"{name} {duplicate[name]}" for name in columns)
    _fail(path, bad, ", ".join(columns),
          f"duplicate {what}: {shown} already on line {first_line}")


def _check_known(path: Path, column: str, ids: pd.Series, known: pd.Series, source: str) -> None:
    """Every id must point at a row of its parent file: a dangling one means mixed dataset versions."""
    bad = _first(~ids.isin(known))
    if bad is not None:
        _fail(path, bad, column, f"{column} {ids.iloc[bad]} is not in {source}")


# ------------------------------------------------------------------ JSON columns


class _ShapeError(ValueError):
    """Valid JSON, but not the structure the column is documented to hold."""


def _parse_json_column(
    path: Path, frame: pd.DataFrame, column: str, convert: Callable[[list[Any]], Any]
) -> list[Any]:
    """json.loads every cell and convert it; an empty cell counts as an empty array.

    This is the one per-row Python loop in ingest: JSON has no vectorised parser in
    pandas, and the credits file (~40 MB of JSON) is the slowest part of the load.
    """
    out: list[Any] = []
    for position, text in enumerate(frame[column]):
        try:
            parsed = json.loads(text) if text.strip() else []
            if not isinstance(parsed, list):
                raise _ShapeError(f"expected a JSON array, got {type(parsed).__name__}")
            out.append(convert(parsed))
        except json.JSONDecodeError as exc:
            snippet = text[max(exc.pos - JSON_CONTEXT_CHARS, 0): exc.pos + JSON_CONTEXT_CHARS]
            _fail(path, position, column,
                  f"invalid JSON ({exc.msg} at character {exc.pos}, near {snippet!r})")
        except _ShapeError as exc:
            _fail(path, position, column, str(exc))
    return out


def _field(item: Any, key: str, *, required: bool = True, default: Any = "") -> Any:
    if not isinstance(item, dict):
        raise _ShapeError(f"expected JSON objects in the array, got {type(item).__name__}")
    if key not in item:
        if required:
            raise _ShapeError(f"expected every object in the array to have {key!r}")
        return default
    return item[key]


def _text_field(item: Any, key: str, *, required: bool = True) -> str:
    value = _field(item, key, required=required)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _ShapeError(f"expected {key!r} to be a string, got {value!r}")
    return value


def _names(items: list[Any]) -> list[str]:
    return [_text_field(item, "name") for item in items]


def _cast(items: list[Any]) -> list[tuple[str, str]]:
    """(name, character) in billing order; `order` missing falls back to file order."""
    ranked = []
    for position, item in enumerate(items):
        order = _field(item, "order", required=False, default=position)
        if not isinstance(order, (int, float)) or isinstance(order, bool):
            raise _ShapeError(f"expected 'order' to be a number, got {order!r}")
        entry = (_text_field(item, "name"), _text_field(item, "character", required=False))
        ranked.append((order, position, entry))
    ranked.sort(key=lambda ranked_item: ranked_item[:2])
    return [entry for _, _, entry in ranked]


def _directors(items: list[Any]) -> list[str]:
    return [
        _text_field(item, "name")
        for item in items
        if _text_field(item, "job", required=False) == DIRECTOR_JOB
    ]


# --------------------------------------------------------------- MovieLens files


def _load_ml_movies(path: Path) -> pd.DataFrame:
    raw = _read_strings(path, MOVIES_COLUMNS)
    movie_id = _parse_id(path, raw, "movieId", "int32")
    _check_unique(path, raw, ["movieId"], "movie")
    title = _require_text(path, raw, "title")
    genres = [
        [name for name in text.split(ML_GENRE_SEPARATOR) if name] for text in raw["genres"]
    ]
    return pd.DataFrame(
        {"movieId": movie_id, "title": title.astype(object), "genres": genres}
    )


def _load_ml_ratings(path: Path, known: pd.Series) -> pd.DataFrame:
    raw = _read_strings(path, RATINGS_COLUMNS)
    user_id = _parse_id(path, raw, "userId", "int32")
    movie_id = _parse_id(path, raw, "movieId", "int32")
    rating = _parse_number(
        path, raw, "rating", integer=False, minimum=RATING_MIN, maximum=RATING_MAX
    )
    timestamp = _parse_number(path, raw, "timestamp", integer=True, minimum=0)
    ratings = pd.DataFrame({
        "userId": user_id,
        "movieId": movie_id,
        "rating": rating.astype("float32"),
        "timestamp": timestamp.astype("int64"),
    })
    _check_unique(path, ratings, ["userId", "movieId"], "rating")
    _check_known(path, "movieId", movie_id, known, ML_MOVIES)
    return ratings


def _load_ml_tags(path: Path, known: pd.Series) -> pd.DataFrame:
    raw = _read_strings(path, TAGS_COLUMNS)
    user_id = _parse_id(path, raw, "userId", "int32")
    movie_id = _parse_id(path, raw, "movieId", "int32")
    tag = _require_text(path, raw, "tag").str.strip()
    timestamp = _parse_number(path, raw, "timestamp", integer=True, minimum=0)
    _check_known(path, "movieId", movie_id, known, ML_MOVIES)
    return pd.DataFrame({
        "userId": user_id,
        "movieId": movie_id,
        "tag": tag.astype(object),
        "timestamp": timestamp.astype("int64"),
    })


def _load_ml_links(path: Path, known: pd.Series) -> pd.DataFrame:
    raw = _read_strings(path, LINKS_COLUMNS)
    movie_id = _parse_id(path, raw, "movieId", "int32")
    _check_unique(path, raw, ["movieId"], "link")
    _check_known(path, "movieId", movie_id, known, ML_MOVIES)
    imdb = raw["imdbId"].str.strip()
    bad = _first(~imdb.str.fullmatch(r"\d+") & (imdb != ""))
    if bad is not None:
        _fail(path, bad, "imdbId",
              f"expected digits like 0114709 or empty, got {raw['imdbId'].iloc[bad]!r}")
    return pd.DataFrame({
        "movieId": movie_id,
        "imdbId": imdb.astype("string"),
        "tmdbId": _parse_nullable_id(path, raw, "tmdbId"),
    })


# -------------------------------------------------------------------- TMDB files


def _load_tmdb_movies(path: Path) -> pd.DataFrame:
    raw = _read_strings(path, TMDB_MOVIES_COLUMNS)
    movie_id = _parse_id(path, raw, "id", "int64")
    _check_unique(path, raw, ["id"], "movie")
    counts = {
        name: _parse_number(path, raw, name, integer=True, minimum=0).astype("int64")
        for name in ("budget", "revenue", "vote_count")
    }
    return pd.DataFrame({
        "id": movie_id,
        "title": _require_text(path, raw, "title").astype(object),
        "original_title": raw["original_title"].astype(object),
        "overview": raw["overview"].astype(object),
        "tagline": raw["tagline"].astype(object),
        "release_date": _parse_date(path, raw, "release_date"),
        "genres": _parse_json_column(path, raw, "genres", _names),
        "keywords": _parse_json_column(path, raw, "keywords", _names),
        "budget": counts["budget"],
        "revenue": counts["revenue"],
        "popularity": _parse_number(path, raw, "popularity", integer=False, minimum=0),
        "runtime": _parse_number(
            path, raw, "runtime", integer=False, minimum=0, nullable=True
        ),
        "vote_average": _parse_number(
            path, raw, "vote_average", integer=False,
            minimum=VOTE_AVERAGE_MIN, maximum=VOTE_AVERAGE_MAX,
        ),
        "vote_count": counts["vote_count"],
    })


def _load_tmdb_credits(path: Path, known: pd.Series) -> pd.DataFrame:
    raw = _read_strings(path, TMDB_CREDITS_COLUMNS)
    movie_id = _parse_id(path, raw, "movie_id", "int64")
    _check_unique(path, raw, ["movie_id"], "credits row")
    _check_known(path, "movie_id", movie_id, known, TMDB_MOVIES)
    return pd.DataFrame({
        "movie_id": movie_id,
        "title": raw["title"].astype(object),
        "cast": _parse_json_column(path, raw, "cast", _cast),
        "directors": _parse_json_column(path, raw, "crew", _directors),
    })


def _main() -> None:  # pragma: no cover - manual smoke run: python -m movierec.trainer.ingest
    data_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("data")
    ml, tmdb = load_movielens(data_dir), load_tmdb(data_dir)
    for name, frame in [("movies", ml.movies), ("ratings", ml.ratings), ("tags", ml.tags),
                        ("links", ml.links), ("tmdb.movies", tmdb.movies),
                        ("tmdb.credits", tmdb.credits)]:
        print(f"{name}: {len(frame)} rows; {dict(frame.dtypes.astype(str))}")


if __name__ == "__main__":  # pragma: no cover
    _main()
