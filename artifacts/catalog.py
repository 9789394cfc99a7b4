"""The served catalog as files: columns the hot path needs as memory-mapped arrays,
and per-movie details (overview, cast…) as JSON lines read one record at a time.

Nothing is parsed at server start beyond building id lookups, which keeps cold start
small and lets several worker processes share the same pages.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DIRECTORY = "catalog"
MISSING_ID = -1
MAX_GENRES = 32  # genres are a uint32 bitmask per movie

_ARRAYS = ("movielens_id", "tmdb_id", "imdb_id", "year", "genre_mask", "popularity", "rating_count", "title")
_DETAILS = "details.jsonl"
_DETAILS_OFFSETS = "details_offsets.npy"
_GENRES = "genres.json"


@dataclass(frozen=True)
class CatalogArrays:
    """One row per movie; row numbers are internal and never leave the process.

    Ids use MISSING_ID (-1) when absent; imdb_id holds the digits of "tt0114709" as an int;
    year 0 means unknown.
    """

    movielens_id: np.ndarray  # int64
    tmdb_id: np.ndarray       # int64
    imdb_id: np.ndarray       # int64
    year: np.ndarray          # int16
    genre_mask: np.ndarray    # uint32
    popularity: np.ndarray    # float32
    rating_count: np.ndarray  # int32
    title: np.ndarray         # unicode
    genre_vocabulary: tuple[str, ...]
    details_path: Path | None = None
    details_offsets: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.movielens_id)

    def genres_of(self, row: int) -> list[str]:
        mask = int(self.genre_mask[row])
        return [g for bit, g in enumerate(self.genre_vocabulary) if mask >> bit & 1]

    def details(self, row: int) -> dict[str, Any]:
        """The row's full record (overview, cast, crew…), read from disk on demand."""
        if self.details_path is None or self.details_offsets is None:
            raise LookupError("this catalog was loaded without details")
        start, end = int(self.details_offsets[row]), int(self.details_offsets[row + 1])
        with open(self.details_path, "rb") as handle:
            handle.seek(start)
            return json.loads(handle.read(end - start))


def genre_mask(genres: Sequence[str], vocabulary: Sequence[str]) -> int:
    position = {g: i for i, g in enumerate(vocabulary)}
    mask = 0
    for genre in genres:
        mask |= 1 << position[genre]
    return mask


def write_catalog(directory: Path, arrays: dict[str, np.ndarray], genre_vocabulary: Sequence[str],
                  details: Sequence[dict[str, Any]]) -> None:
    """Write the catalog under `directory/catalog/`; `arrays` keys are CatalogArrays columns."""
    if len(genre_vocabulary) > MAX_GENRES:
        raise ValueError(f"{len(genre_vocabulary)} genres do not fit a {MAX_GENRES}-bit mask")
    target = directory / DIRECTORY
    target.mkdir(parents=True, exist_ok=True)
    lengths = {name: len(arrays[name]) for name in _ARRAYS}
    if len(set(lengths.values())) != 1 or len(details) != lengths["title"]:
        raise ValueError(f"catalog columns differ in length: {lengths}, details {len(details)}")
    for name in _ARRAYS:
        np.save(target / f"{name}.npy", np.ascontiguousarray(arrays[name]))
    (target / _GENRES).write_text(json.dumps(list(genre_vocabulary)))
    offsets = [0]
    with open(target / _DETAILS, "wb") as handle:
        for record in details:
            line = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
            handle.write(line)
            offsets.append(offsets[-1] + len(line))
    np.save(target / _DETAILS_OFFSETS, np.asarray(offsets, dtype=np.int64))


def read_catalog(directory: Path) -> CatalogArrays:
    """Map the catalog written by `write_catalog` (arrays are read-only views of the files)."""
    source = directory / DIRECTORY
    columns = {name: np.load(source / f"{name}.npy", mmap_mode="r") for name in _ARRAYS}
    lengths = {name: len(column) for name, column in columns.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"catalog columns in {source} differ in length: {lengths}")
    offsets = np.load(source / _DETAILS_OFFSETS, mmap_mode="r")
    if len(offsets) != lengths["title"] + 1:
        raise ValueError(f"{source / _DETAILS_OFFSETS} has {len(offsets)} offsets for {lengths['title']} movies")
    vocabulary = tuple(json.loads((source / _GENRES).read_text()))
    return CatalogArrays(**columns, genre_vocabulary=vocabulary,
                         details_path=source / _DETAILS, details_offsets=offsets)
