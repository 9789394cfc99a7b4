"""Validation at the edge: proto request fields → checked Python values, or a caller error.

Every check happens here, once, with a message that names the field as the caller spelled
it; handlers downstream trust what they get.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from movierec.artifacts.titles import split_year, title_key
from movierec.v1 import recommender_pb2 as pb

from .errors import InvalidArgument, NotFound
from .model import LoadedModel

_IMDB = re.compile(r"^(?:tt)?(\d{1,10})$", re.IGNORECASE)
_MAX_TITLE = 512


def resolve_movie(model: LoadedModel, ref: pb.MovieRef, field: str) -> int:
    """The internal row of the movie a MovieRef names."""
    kind = ref.WhichOneof("ref")
    lookups = model.lookups
    if kind is None:
        raise InvalidArgument(field, "set one of movielens_id, tmdb_id, imdb_id or title")
    if kind == "movielens_id":
        return _find(lookups.movielens, ref.movielens_id, f"{field}.movielens_id")
    if kind == "tmdb_id":
        return _find(lookups.tmdb, ref.tmdb_id, f"{field}.tmdb_id")
    if kind == "imdb_id":
        match = _IMDB.match(ref.imdb_id.strip())
        if not match:
            raise InvalidArgument(f"{field}.imdb_id", f"expected an IMDb id like 'tt0114709', got {ref.imdb_id!r}")
        return _find(lookups.imdb, int(match.group(1)), f"{field}.imdb_id", shown=ref.imdb_id)
    return _resolve_title(model, ref.title, f"{field}.title")


def _find(table: dict[int, int], key: int, field: str, shown: object = None) -> int:
    if key <= 0 and shown is None:
        raise InvalidArgument(field, f"must be a positive id, got {key}")
    row = table.get(key)
    if row is None:
        raise NotFound(field, f"no movie with {field.rsplit('.', 1)[-1]} {shown if shown is not None else key}")
    return row


def _resolve_title(model: LoadedModel, raw: str, field: str) -> int:
    if not raw.strip():
        raise InvalidArgument(field, "must not be empty")
    if len(raw) > _MAX_TITLE:
        raise InvalidArgument(field, f"longer than {_MAX_TITLE} characters")
    rows = model.lookups.title.get(title_key(raw))
    year = None
    if rows is None:
        bare, year = split_year(raw)
        rows = model.lookups.title.get(title_key(bare))
    if not rows:
        raise NotFound(field, f"no movie titled {raw!r} (the Search RPC is typo-tolerant)")
    if year is not None:
        rows = [r for r in rows if int(model.catalog.year[r]) == year] or rows
    return rows[0]


def read_k(has_k: bool, k: int, default: int, maximum: int, field: str = "k") -> int:
    if not has_k:
        return default
    if not 1 <= k <= maximum:
        raise InvalidArgument(field, f"must be between 1 and {maximum}, got {k}")
    return k


@dataclass(frozen=True)
class RowFilter:
    """A request's Filters as a boolean mask over catalog rows (None: everything allowed)."""

    allowed: np.ndarray | None
    excluded: frozenset[int]

    @property
    def active(self) -> bool:
        return self.allowed is not None

    def passes(self, rows: np.ndarray) -> np.ndarray:
        """Which of `rows` the filters let through (bool per row)."""
        keep = np.ones(len(rows), dtype=bool) if self.allowed is None else np.asarray(self.allowed)[rows]
        if self.excluded:
            keep &= ~np.isin(rows, np.fromiter(self.excluded, dtype=np.int64))
        return keep


def read_filters(model: LoadedModel, filters: pb.Filters, max_exclude: int, field: str = "filters") -> RowFilter:
    catalog = model.catalog
    allowed: np.ndarray | None = None
    if filters.genres:
        mask = 0
        for position, genre in enumerate(filters.genres):
            bit = model.lookups.genre_bits.get(genre.strip().casefold())
            if bit is None:
                known = ", ".join(catalog.genre_vocabulary)
                raise InvalidArgument(f"{field}.genres[{position}]", f"unknown genre {genre!r}; known genres: {known}")
            mask |= 1 << bit
        allowed = (np.asarray(catalog.genre_mask) & np.uint32(mask)) != 0
    low = filters.min_year if filters.HasField("min_year") else None
    high = filters.max_year if filters.HasField("max_year") else None
    for name, value in (("min_year", low), ("max_year", high)):
        if value is not None and not 1800 <= value <= 2200:
            raise InvalidArgument(f"{field}.{name}", f"must be a year between 1800 and 2200, got {value}")
    if low is not None and high is not None and low > high:
        raise InvalidArgument(f"{field}.min_year", f"{low} is after max_year {high}")
    if low is not None or high is not None:
        years = np.asarray(catalog.year)
        in_range = (years >= (low or 0)) & (years <= (high or 10_000)) & (years > 0)
        allowed = in_range if allowed is None else allowed & in_range
    if len(filters.exclude) > max_exclude:
        raise InvalidArgument(f"{field}.exclude", f"at most {max_exclude} movies, got {len(filters.exclude)}")
    excluded = set()
    for position, ref in enumerate(filters.exclude):
        try:
            excluded.add(resolve_movie(model, ref, f"{field}.exclude[{position}]"))
        except NotFound:
            continue  # excluding a movie we do not have is already satisfied
    return RowFilter(allowed, frozenset(excluded))


MAX_QUERY = 256
SEARCH_FIELDS = (pb.SEARCH_FIELD_TITLE, pb.SEARCH_FIELD_PERSON, pb.SEARCH_FIELD_KEYWORD, pb.SEARCH_FIELD_TEXT)


def read_query(raw: str, field: str = "query") -> str:
    """A search query: 1..MAX_QUERY characters after trimming; any Unicode is fine."""
    text = raw.strip()
    if not text:
        raise InvalidArgument(field, "must not be empty or only whitespace")
    if len(text) > MAX_QUERY:
        raise InvalidArgument(field, f"at most {MAX_QUERY} characters after trimming, got {len(text)}")
    return text


def read_search_fields(values: Sequence[int], field: str = "fields") -> tuple[int, ...]:
    """Requested SearchFields, deduplicated in order; empty means all four."""
    for position, value in enumerate(values):
        if value not in SEARCH_FIELDS:
            raise InvalidArgument(f"{field}[{position}]", f"unknown search field {value}; use "
                                  "SEARCH_FIELD_TITLE, SEARCH_FIELD_PERSON, SEARCH_FIELD_KEYWORD or SEARCH_FIELD_TEXT")
    return tuple(dict.fromkeys(values)) or SEARCH_FIELDS
