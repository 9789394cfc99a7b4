"""movierec-client: call the service from a terminal; a table for people, --json for scripts."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from google.protobuf.json_format import MessageToDict

from movierec.v1 import recommender_pb2 as pb

from .client import (
    DEFAULT_TARGET,
    SCOPES,
    SEARCH_FIELDS,
    MovieRecClient,
    MovieRecError,
    history,
    movie_ref,
    parse_movie,
)


def _add_movie_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--title", help='exact title, e.g. "Toy Story" or "Heat (1995)"')
    group.add_argument("--tmdb", type=int, dest="tmdb_id", help="TMDB id")
    group.add_argument("--movielens", type=int, dest="movielens_id", help="MovieLens movieId")
    group.add_argument("--imdb", dest="imdb_id", help="IMDb id, e.g. tt0114709")


def _ref(args: argparse.Namespace) -> pb.MovieRef:
    return movie_ref(title=args.title, tmdb_id=args.tmdb_id, movielens_id=args.movielens_id, imdb_id=args.imdb_id)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="movierec-client", description="Call the movierec gRPC service.")
    parser.add_argument("--target", default=DEFAULT_TARGET, help=f"host:port (default {DEFAULT_TARGET})")
    parser.add_argument("--timeout", type=float, default=5.0, help="deadline per call in seconds")
    parser.add_argument("--json", action="store_true", help="print the response as JSON")
    parser.add_argument("--tls-ca", help="PEM CA that signed the server's certificate: connect with TLS")
    parser.add_argument("--tls-cert", help="PEM client certificate chain (mutual TLS; with --tls-key)")
    parser.add_argument("--tls-key", help="PEM client private key (mutual TLS)")
    commands = parser.add_subparsers(dest="command", required=True)

    similar = commands.add_parser("similar", help="movies like this one")
    _add_movie_arguments(similar)
    similar.add_argument("-k", type=int, default=None, help="how many (1-100, default 10)")
    similar.add_argument("--scope", choices=sorted(SCOPES), default="default")
    similar.add_argument("--probes", type=int, default=None, help="clusters visited by --scope probe")
    similar.add_argument("--genre", action="append", default=[], help="keep movies of any of these genres")
    similar.add_argument("--min-year", type=int)
    similar.add_argument("--max-year", type=int)

    movie = commands.add_parser("movie", help="one movie's metadata")
    _add_movie_arguments(movie)

    search = commands.add_parser("search", help="titles (typo-tolerant), people, keywords, free text")
    search.add_argument("query", help='what was typed, e.g. "toy stroy", "tom hanks", "toys come to life"')
    search.add_argument("--fields", type=_fields, default=(),
                        help=f"comma-separated, any of {','.join(SEARCH_FIELDS)} (default: all)")
    search.add_argument("-k", type=int, default=None, help="how many (1-100, default 10)")
    search.add_argument("--genre", action="append", default=[], help="keep movies of any of these genres")
    search.add_argument("--min-year", type=int)
    search.add_argument("--max-year", type=int)
    search.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print the response as JSON")

    recommend = commands.add_parser("recommend", help="personalised recommendations for a user or a history")
    _add_user_arguments(recommend)
    recommend.add_argument("-k", type=int, default=None, help="how many (1-100, default 10)")
    recommend.add_argument("--genre", action="append", default=[], help="keep movies of any of these genres")
    recommend.add_argument("--min-year", type=int)
    recommend.add_argument("--max-year", type=int)
    recommend.add_argument("--include-seen", action="store_true", help="also return movies the user has rated")
    recommend.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print the response as JSON")

    predict = commands.add_parser("predict", help="predicted rating and like probability per movie")
    _add_user_arguments(predict)
    predict.add_argument("--movies", required=True, type=_movies, help='comma-separated, e.g. "tmdb:862,ml:2"')
    predict.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print the response as JSON")
    return parser


def _add_user_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--user", type=int, dest="user_id", help="a MovieLens userId the model knows")
    group.add_argument("--history", type=_history,
                       help='rated movies, e.g. "tmdb:862=5,ml:2=3.5,imdb:tt0114709=4,title:Heat (1995)=4.5"')


def _movies(text: str) -> list[pb.MovieRef]:
    try:
        return [parse_movie(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _history(text: str) -> pb.History:
    pairs = []
    for part in (p for p in text.split(",") if p.strip()):
        movie, sep, rating = part.rpartition("=")
        try:
            if not sep:
                raise ValueError(f"{part!r} has no '=RATING'")
            pairs.append((parse_movie(movie), float(rating)))
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"cannot read history item {part!r}: {exc}") from None
    return history(pairs)


def _fields(text: str) -> list[str]:
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in SEARCH_FIELDS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown field {unknown[0]!r}; choose from {', '.join(SEARCH_FIELDS)}")
    return names


def _ids(movie: pb.Movie) -> str:
    parts = []
    if movie.HasField("movielens_id"):
        parts.append(f"ml:{movie.movielens_id}")
    if movie.HasField("tmdb_id"):
        parts.append(f"tmdb:{movie.tmdb_id}")
    if movie.HasField("imdb_id"):
        parts.append(movie.imdb_id)
    return " ".join(parts)


def _label(movie: pb.Movie) -> str:
    return f"{movie.title} ({movie.year})" if movie.HasField("year") else movie.title


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    body = ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells]
    return "\n".join([line, "  ".join("-" * w for w in widths), *body])


def show_similar(response: pb.SimilarMoviesResponse) -> str:
    head = (f"Movies like {_label(response.query)} [{_ids(response.query)}], cluster {response.query_cluster_id}, "
            f"scope {pb.Scope.Name(response.scope)}, model {response.model_version}")
    rows = [(i, _label(r.movie), f"{r.score:.3f}", r.cluster_id, ", ".join(r.movie.genres), _ids(r.movie))
            for i, r in enumerate(response.results, 1)]
    return head + "\n" + _table(["#", "title", "score", "cluster", "genres", "ids"], rows)


def show_movie(response: pb.GetMovieResponse) -> str:
    details = response.movie
    lines = [f"{_label(details.movie)}  [{_ids(details.movie)}]", f"genres: {', '.join(details.movie.genres)}"]
    if details.directors:
        lines.append(f"directed by: {', '.join(details.directors)}")
    if details.cast:
        lines.append("cast: " + ", ".join(c.name for c in details.cast[:5]))
    if details.overview:
        lines.append(details.overview)
    lines.append(f"ratings: {details.rating_count}   cluster: {details.cluster_id}   model: {response.model_version}")
    return "\n".join(lines)


def show_search(query: str, response: pb.SearchResponse) -> str:
    head = f"Search {query!r}: {len(response.hits)} hits, model {response.model_version}"
    rows = [(i, _label(h.movie), f"{h.score:.3f}", pb.SearchField.Name(h.field).removeprefix("SEARCH_FIELD_").lower(),
             h.matched, h.detail, _ids(h.movie)) for i, h in enumerate(response.hits, 1)]
    return head + "\n" + _table(["#", "title", "score", "field", "matched", "detail", "ids"], rows)


def show_recommend(response: pb.RecommendForUserResponse) -> str:
    head = f"Recommendations (user cluster {response.user_cluster_id}, model {response.model_version})"
    rows = [(i, _label(r.movie), f"{r.score:.3f}", f"{r.like_probability:.2f}", f"{r.predicted_rating:.1f}",
             r.reason, _ids(r.movie)) for i, r in enumerate(response.results, 1)]
    return head + "\n" + _table(["#", "title", "score", "P(like)", "rating", "reason", "ids"], rows)


def show_predict(response: pb.PredictRatingsResponse) -> str:
    head = f"Predictions (model {response.model_version})"
    rows = [(i, _label(p.movie), f"{p.predicted_rating:.2f}", f"{p.like_probability:.2f}", _ids(p.movie))
            for i, p in enumerate(response.predictions, 1)]
    return head + "\n" + _table(["#", "title", "rating", "P(like)", "ids"], rows)


def run(args: argparse.Namespace, client: MovieRecClient) -> tuple[Any, str]:
    if args.command == "recommend":
        response = client.recommend(args.user_id, history=args.history, k=args.k, genres=args.genre,
                                    min_year=args.min_year, max_year=args.max_year,
                                    exclude_seen=False if args.include_seen else None)
        return response, show_recommend(response)
    if args.command == "predict":
        response = client.predict(args.movies, user_id=args.user_id, history=args.history)
        return response, show_predict(response)
    if args.command == "similar":
        response = client.similar(_ref(args), k=args.k, scope=args.scope, probes=args.probes, genres=args.genre,
                                  min_year=args.min_year, max_year=args.max_year)
        return response, show_similar(response)
    if args.command == "search":
        response = client.search(args.query, fields=args.fields, k=args.k, genres=args.genre,
                                 min_year=args.min_year, max_year=args.max_year)
        return response, show_search(args.query, response)
    response = client.movie(_ref(args))
    return response, show_movie(response)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        tls = {name: open(path, "rb").read() for name, path in (("root_certificates", args.tls_ca),
                                                                ("certificate_chain", args.tls_cert),
                                                                ("private_key", args.tls_key)) if path}
    except OSError as exc:
        parser.error(f"cannot read {exc.filename}: {exc.strerror}")
    if tls and "root_certificates" not in tls:
        tls["root_certificates"] = None  # TLS with the system's trusted CAs
    with MovieRecClient(args.target, timeout=args.timeout, **tls) as client:
        try:
            response, text = run(args, client)
        except MovieRecError as exc:
            print(f"error: {exc.code.name}: {exc.details}", file=sys.stderr)
            return 1
    print(json.dumps(MessageToDict(response), indent=2) if args.json else text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
