"""Did a Search change change any answer? Record result lists before and after, then compare.

    python -m benchmarks.search_equivalence record before.json --registry registry   # on the old code
    python -m benchmarks.search_equivalence record after.json --registry registry    # on the new code
    python -m benchmarks.search_equivalence compare before.json after.json           # exit 1 if any differ
    python -m benchmarks.search_equivalence compare before.json after.json --tolerance 1e-6

A speed-up of Search should not move a single hit. The queries are the quality benchmark's
(perturbed titles, people), every keystroke prefix of 100 titles and the free-text queries; each
is searched with all fields at k=10, and every third one also at k=50, with a filter (years from
1990 on, six movies excluded) and with each field alone: ~12,700 result lists on the real catalog.
A hit is compared as (row, score, field, matched, detail); scores bit for bit, or within
`--tolerance` for a change of arithmetic alone (the same hits in the same order, scores a
rounding apart).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.search_quality import TEXT_QUERIES, keystroke_queries, person_queries, title_queries
from movierec.service.model import load_model
from movierec.service.requests import RowFilter
from movierec.service.search import ALL_FIELDS

SEED = 20240604
EXCLUDED = frozenset(range(6))
SHOWN_DIFFERENCES = 5


def queries(model: Any, engine: Any) -> list[str]:
    named = title_queries(model, 300, SEED) + person_queries(model, engine, 300, SEED)
    return [q["query"] for q in named] + keystroke_queries(model, SEED) + list(TEXT_QUERIES)


def record(registry: Path) -> dict[str, Any]:
    model = load_model(registry, verify=False)
    engine = model.extras.get("search")
    if engine is None:
        raise SystemExit(f"version {model.version} has no search structures")
    row_filter = RowFilter(allowed=np.asarray(model.catalog.year) >= 1990, excluded=EXCLUDED)
    texts = queries(model, engine)
    results: dict[str, list[list[Any]]] = {}

    def keep(tag: str, hits: list[Any]) -> None:
        results[tag] = [[h.row, h.score, h.field, h.matched, h.detail] for h in hits]

    for i, query in enumerate(texts):
        keep(f"{i}|all", engine.search(query, 10))
        if i % 3 == 0:
            keep(f"{i}|k50", engine.search(query, 50))
            keep(f"{i}|filter", engine.search(query, 10, row_filter=row_filter))
            for field in ALL_FIELDS:
                keep(f"{i}|field{field}", engine.search(query, 10, fields=(field,)))
    return {"model_version": model.version, "queries": texts, "results": results}


def compare(before: dict[str, Any], after: dict[str, Any], tolerance: float = 0.0) -> list[str]:
    """One line per result list that differs (empty: every answer is the same)."""
    if before["queries"] != after["queries"]:
        return ["the two recordings searched different queries (another registry or benchmark version?)"]
    differences = []
    for tag, old in before["results"].items():
        new = after["results"].get(tag)
        if not _same(old, new, tolerance):
            query = before["queries"][int(tag.split("|")[0])]
            differences.append(f"{tag} {query!r}: {old[:3]} -> {(new or [])[:3]}")
    return differences


def _same(old: list[list[Any]], new: list[list[Any]] | None, tolerance: float) -> bool:
    if new is None or len(new) != len(old):
        return False
    return all(a[:1] + a[2:] == b[:1] + b[2:] and (a[1] == b[1] or abs(a[1] - b[1]) <= tolerance)
               for a, b in zip(old, new, strict=True))


def max_score_change(before: dict[str, Any], after: dict[str, Any]) -> float:
    """Largest |score difference| between hits at the same place of the same list."""
    return max((abs(a[1] - b[1]) for tag, old in before["results"].items()
                for a, b in zip(old, after["results"].get(tag, []), strict=False)), default=0.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    rec = commands.add_parser("record", help="search every query, write the result lists")
    rec.add_argument("out", type=Path)
    rec.add_argument("--registry", type=Path, default=Path("registry"))
    cmp = commands.add_parser("compare", help="compare two recordings; exit 1 when any list differs")
    cmp.add_argument("before", type=Path)
    cmp.add_argument("after", type=Path)
    cmp.add_argument("--tolerance", type=float, default=0.0,
                     help="scores this close count as equal (default 0: bit for bit)")
    args = parser.parse_args(argv)
    if args.command == "record":
        recording = record(args.registry)
        args.out.write_text(json.dumps(recording))
        print(f"{len(recording['results'])} result lists of model {recording['model_version']} -> {args.out}")
        return 0
    before, after = (json.loads(path.read_text()) for path in (args.before, args.after))
    differences = compare(before, after, args.tolerance)
    for line in differences[:SHOWN_DIFFERENCES]:
        print(line)
    exact = len(compare(before, after)) if args.tolerance else len(differences)
    print(f"{len(before['results'])} result lists; {len(differences)} differ"
          + (f" beyond {args.tolerance:g} ({exact} bit for bit)" if args.tolerance else "")
          + f"; largest score change {max_score_change(before, after):.3g}")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
