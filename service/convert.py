"""Internal rows → the proto messages callers see (every id the movie has, never the row)."""

from __future__ import annotations

import math

from movierec.artifacts.catalog import MISSING_ID, CatalogArrays
from movierec.v1 import recommender_pb2 as pb


def movie_message(catalog: CatalogArrays, row: int) -> pb.Movie:
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
