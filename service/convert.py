"""Internal rows → the proto messages callers see (every id the movie has, never the row)."""

from __future__ import annotations

import math

from movierec.artifacts.catalog import MISSING_ID, CatalogArrays
from movierec.v1 import recommender_pb2 as pb

# Movie messages built once per (catalog, row): building one from the arrays costs ~15 µs
# (numpy scalar reads, genre bits, string formatting), copying a built one into a reply ~3 µs,
# and every RPC returns 10+ movies. Only the current catalog is cached, so after a hot reload
# the previous version's memory is not kept alive by this cache.
_movie_cache: tuple[CatalogArrays | None, list[pb.Movie | None]] = (None, [])


def movie_message(catalog: CatalogArrays, row: int) -> pb.Movie:
    """The Movie message of `row`, shared: pass it into a reply's constructor (which copies it),
    never change it in place."""
    global _movie_cache
    cached_catalog, movies = _movie_cache
    if cached_catalog is not catalog:
        movies = [None] * len(catalog)
        _movie_cache = (catalog, movies)
    movie = movies[row]
    if movie is None:
        movie = movies[row] = _build_movie(catalog, row)
    return movie


def _build_movie(catalog: CatalogArrays, row: int) -> pb.Movie:
    movie = pb.Movie(title=str(catalog.title[row]), genres=catalog.genres_of(row))
    movielens, tmdb, imdb = int(catalog.movielens_id[row]), int(catalog.tmdb_id[row]), int(catalog.imdb_id[row])
    if movielens != MISSING_ID:
        movie.movielens_id = movielens
    if tmdb != MISSING_ID:
        movie.tmdb_id = tmdb
    if imdb != MISSING_ID:
        movie.imdb_id = f"tt{imdb:07d}"
    year = int(catalog.year[row])
    if year:
        movie.year = year
    return movie


def details_message(catalog: CatalogArrays, row: int, cluster_id: int) -> pb.MovieDetails:
    record = catalog.details(row)
    details = pb.MovieDetails(
        movie=movie_message(catalog, row),
        original_title=record.get("original_title") or "",
        overview=record.get("overview") or "",
        tagline=record.get("tagline") or "",
        keywords=record.get("keywords") or [],
        directors=record.get("directors") or [],
        cast=[pb.CastMember(name=n, character=c or "")
              for n, c in zip(record.get("cast") or [], record.get("characters") or [])],
        vote_count=int(record.get("vote_count") or 0),
        rating_count=int(catalog.rating_count[row]),
        cluster_id=cluster_id,
        tags=record.get("tags") or [],
    )
    for name, key in (("runtime_minutes", "runtime"), ("budget", "budget"), ("revenue", "revenue"),
                      ("popularity", "popularity"), ("vote_average", "vote_average")):
        value = record.get(key)
        if value is not None and not (isinstance(value, float) and math.isnan(value)):
            setattr(details, name, value)
    return details
