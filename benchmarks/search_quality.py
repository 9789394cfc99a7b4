"""Search quality and in-process latency on the real catalog (shared/EVALUATION.md §4).

    python -m benchmarks.search_quality                       # trains on ../shared/data into a temp registry
    python -m benchmarks.search_quality --registry registry   # or scores an existing registry's production
    make search-eval

Every query goes through `SearchEngine.search` with all four fields (what a search box sends)
and k=10. Seeded: the same seed gives the same queries.

Title queries: catalog rows sampled uniformly (titles of 4+ characters), each perturbed
one way:

    movielens_style   "Matrix, The (1999)": leading article moved to the end, year in parentheses
    case              every letter's case flipped with probability 1/2 ("tHe MaTRix")
    dropped_article   the leading "The"/"A"/"An" removed ("Matrix"); only titles that have one
    missing_year      the display title alone ("The Matrix")
    typo              one letter replaced by another random letter ("The Matrux")
    transposition     two adjacent, different characters swapped ("The Mtarix")
    prefix60          the first 60% of the display title, rounded up ("The Ma") — autocomplete

Correctness: a hit is correct when it is the target movie, or another catalog row with the
same normalised title (`artifacts.search.title_search_key`) and — when the query names a year —
the same year. Rationale: the catalog holds some movies twice (a MovieLens row and an
unlinked TMDB row of the same film) and remakes share titles; a query without a year cannot
tell "Heat" (1995) from "Heat" (1986), so either is an acceptable answer, while a query
with a year must find that year's film. A *different* title that happens to share a
prefix (prefix60) is always wrong, which is why prefix60 is the hardest row.

Person queries: people sampled uniformly among directors and the first five billed actors
of each movie (the people a user searches for; extras with one uncredited role are not),
queried by their exact name and with one letter replaced. Success@10: the person's most
popular movie (by the search popularity prior) is in the top 10.

Latency: `SearchEngine.search` per query after a warm-up, in 3 passes over the queries with the stem
and trigram caches emptied before each (so every run is a first run): wall time in the first pass
(what a caller sees), the per-query minimum over the passes (the code's own cost when other jobs
share the machine: they only add time) and thread CPU time, with the 1-minute load average beside
them — for the title and person queries above, every keystroke prefix of 100 titles (what an
autocomplete box sends), and free-text queries. Beside Search's p99/p50, the machine's: a fixed
workload (`Reference`) timed after every query, whose spread is the VM's alone. Load:
`SearchEngine.load` repeated.
Writes benchmarks/results/search_quality.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import random
import statistics
import string
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from movierec.artifacts.search import normalize, title_search_key
from movierec.artifacts.text import stem
from movierec.artifacts.titles import split_year
from movierec.service.model import LoadedModel, load_model
from movierec.service.name_match import query_trigrams
from movierec.service.search import SearchEngine

RESULTS = Path(__file__).resolve().parent / "results" / "search_quality.json"
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
K = 10
ARTICLES = ("The ", "A ", "An ")
PERTURBATIONS = ("movielens_style", "case", "dropped_article", "missing_year", "typo", "transposition", "prefix60")
TEXT_QUERIES = ("toys come to life", "heist in las vegas", "a boy wizard goes to school", "haunted house",
                "space station crew", "serial killer detective", "road trip comedy", "world war two soldiers",
                "love story in paris", "zombie apocalypse", "time travel paradox", "shark attack")
PASSES = 3                                   # latency: every query timed once per pass
TARGETS = {"title_mrr@10": 0.95, "title_success@1": 0.90, "person_success@10": 0.95, "latency_p99_ms": 2.0}


# ----------------------------------------------------------------------------- perturbations


def movielens_style(title: str, year: int, rng: random.Random) -> str:
    for article in ARTICLES:
        if title.startswith(article) and len(title) > len(article):
            title = f"{title[len(article):]}, {article.strip()}"
            break
    return f"{title} ({year})" if year else title


def flip_case(title: str, rng: random.Random) -> str:
    return "".join(c.swapcase() if c.isalpha() and rng.random() < 0.5 else c for c in title)


def drop_article(title: str, rng: random.Random) -> str | None:
    for article in ARTICLES:
        if title.startswith(article) and len(title) > len(article) + 2:
            return title[len(article):]
    return None


def typo(text: str, rng: random.Random) -> str | None:
    letters = [i for i, c in enumerate(text) if c.isascii() and c.isalpha()]
    if not letters:
        return None
    i = rng.choice(letters)
    replacement = rng.choice([c for c in string.ascii_lowercase if c != text[i].lower()])
    return text[:i] + (replacement.upper() if text[i].isupper() else replacement) + text[i + 1:]


def transpose(title: str, rng: random.Random) -> str | None:
    pairs = [i for i in range(len(title) - 1)
             if title[i].isalnum() and title[i + 1].isalnum() and title[i].lower() != title[i + 1].lower()]
    if not pairs:
        return None
    i = rng.choice(pairs)
    return title[:i] + title[i + 1] + title[i] + title[i + 2:]


def prefix60(title: str, rng: random.Random) -> str:
    return title[:math.ceil(0.6 * len(title))]


def perturb(kind: str, title: str, year: int, rng: random.Random) -> tuple[str | None, bool]:
    """(query, names_a_year) for one perturbation of a display title; None when not applicable."""
    if kind == "movielens_style":
        return movielens_style(title, year, rng), bool(year)
    makers: dict[str, Callable[[str, random.Random], str | None]] = {
        "case": flip_case, "dropped_article": drop_article, "missing_year": lambda t, r: t,
        "typo": typo, "transposition": transpose, "prefix60": prefix60,
    }
    return makers[kind](title, rng), False


# ----------------------------------------------------------------------------- evaluation


@dataclasses.dataclass
class Ranked:
    reciprocal_rank: float
    success_at_1: bool
    success_at_10: bool


def rank_of(rows: list[int], correct: Callable[[int], bool]) -> Ranked:
    for position, row in enumerate(rows[:K], 1):
        if correct(row):
            return Ranked(1.0 / position, position == 1, True)
    return Ranked(0.0, False, False)


def title_queries(model: LoadedModel, per_kind: int, seed: int) -> list[dict[str, Any]]:
    catalog = model.catalog
    titles = [str(t) for t in np.asarray(catalog.title)]
    years = np.asarray(catalog.year).astype(int)
    usable = [row for row, t in enumerate(titles) if len(split_year(t)[0]) >= 4]
    with_article = [row for row in usable if any(titles[row].startswith(a) for a in ARTICLES)]
    queries = []
    for kind in PERTURBATIONS:
        rng = random.Random(f"{seed}-{kind}")
        pool = with_article if kind == "dropped_article" else usable
        rows = rng.sample(pool, min(per_kind, len(pool)))
        for row in rows:
            query, has_year = perturb(kind, titles[row], int(years[row]), rng)
            if query and query.strip():
                queries.append({"kind": kind, "row": row, "query": query, "has_year": has_year})
    return queries


def keystroke_queries(model: LoadedModel, seed: int, titles: int = 100) -> list[str]:
    """Every prefix of `titles` sampled display titles: what an autocomplete box sends, keystroke by keystroke."""
    rng = random.Random(f"{seed}-keystrokes")
    typed = [str(t) for t in rng.sample(list(np.asarray(model.catalog.title)), titles)]
    return [t[:i] for t in typed for i in range(1, len(t) + 1) if t[:i].strip()]


def score_titles(model: LoadedModel, engine: SearchEngine, queries: list[dict[str, Any]]) -> tuple[dict, list]:
    titles = [str(t) for t in np.asarray(model.catalog.title)]
    years = np.asarray(model.catalog.year).astype(int)
    keys = [title_search_key(t) for t in titles]
    by_kind: dict[str, list[Ranked]] = {k: [] for k in PERTURBATIONS}
    misses = []
    for q in queries:
        target = q["row"]

        def correct(row: int, target: int = target, has_year: bool = q["has_year"]) -> bool:
            return row == target or (keys[row] == keys[target] and (not has_year or years[row] == years[target]))

        hits = engine.search(q["query"], K)
        ranked = rank_of([h.row for h in hits], correct)
        by_kind[q["kind"]].append(ranked)
        if not ranked.success_at_1 and len(misses) < 400:
            misses.append({"kind": q["kind"], "query": q["query"], "target": f"{titles[target]} ({years[target]})",
                           "got": [f"{titles[h.row]} ({years[h.row]}) {h.score:.3f}" for h in hits[:3]]})
    report = {}
    for kind, ranks in by_kind.items():
        report[kind] = summary(ranks)
    report["overall"] = summary([r for ranks in by_kind.values() for r in ranks])
    return report, misses


def summary(ranks: list[Ranked]) -> dict[str, float]:
    n = len(ranks)
    return {
        "queries": n,
        "mrr@10": round(sum(r.reciprocal_rank for r in ranks) / n, 4) if n else float("nan"),
        "success@1": round(sum(r.success_at_1 for r in ranks) / n, 4) if n else float("nan"),
        "success@10": round(sum(r.success_at_10 for r in ranks) / n, 4) if n else float("nan"),
    }


def person_queries(model: LoadedModel, engine: SearchEngine, n: int, seed: int) -> list[dict[str, Any]]:
    catalog = model.catalog
    people: dict[str, str] = {}
    for row in range(len(catalog)):
        record = catalog.details(row)
        for name in (record.get("directors") or []) + (record.get("cast") or [])[:5]:
            if name and normalize(name):
                people.setdefault(normalize(name), name)
    rng = random.Random(f"{seed}-people")
    chosen = rng.sample(sorted(people), min(n, len(people)))
    table = engine.tables.people
    keys = table.keys
    queries = []
    for key in chosen:
        import bisect

        key_id = bisect.bisect_left(keys, key)
        best_row = int(table.rows[table.indptr[key_id]])  # postings are most popular first
        name = people[key]
        queries.append({"kind": "exact_name", "query": name, "best_row": best_row, "name": name})
        misspelt = typo(name, rng)
        if misspelt:
            queries.append({"kind": "name_typo", "query": misspelt, "best_row": best_row, "name": name})
    return queries


def score_people(model: LoadedModel, engine: SearchEngine, queries: list[dict[str, Any]]) -> tuple[dict, list]:
    titles = [str(t) for t in np.asarray(model.catalog.title)]
    by_kind: dict[str, list[Ranked]] = {"exact_name": [], "name_typo": []}
    misses = []
    for q in queries:
        hits = engine.search(q["query"], K)
        ranked = rank_of([h.row for h in hits], lambda row, best=q["best_row"]: row == best)
        by_kind[q["kind"]].append(ranked)
        if not ranked.success_at_10 and len(misses) < 200:
            misses.append({"kind": q["kind"], "query": q["query"], "person": q["name"],
                           "their_top_movie": titles[q["best_row"]],
                           "got": [f"{titles[h.row]} [{h.matched}] {h.score:.3f}" for h in hits[:3]]})
    report = {kind: summary(ranks) for kind, ranks in by_kind.items()}
    report["overall"] = summary([r for ranks in by_kind.values() for r in ranks])
    return report, misses


class Reference:
    """A fixed workload timed after every query: identical work each time, so its spread is the machine's.

    The shared VM has slow phases (another tenant, a busy sibling hyperthread) in which the same work
    takes up to about twice as long, for stretches longer than a query. Search's p99/p50 in a run is
    its own spread times that; the reference's p99/p50, timed interleaved in the same run, shows how
    much of it the machine accounts for (numbers are compared as ratios within one run). About 0.2 ms
    of Python arithmetic and dict lookups over a few kilobytes: small enough not to push the engine's
    data out of the caches (a 1 MB reference made the queries ~20% slower; this one ~1%), so it sees
    the CPU's speed but not contention for the shared L3 and memory bandwidth.
    """

    def __init__(self, size: int = 256):
        self.table = {f"w{i}": i for i in range(size)}
        self.keys = [f"w{(i * 7919) % (2 * size)}" for i in range(size)]

    def run(self) -> int:
        total = 0
        for _ in range(6):
            for key in self.keys:
                total += self.table.get(key, 1) * 3 % 7
        return total

    def time_ms(self) -> float:
        started = time.perf_counter()
        self.run()
        return (time.perf_counter() - started) * 1000.0


def latency(engine: SearchEngine, queries: list[str], repeat: int = 1, passes: int = PASSES) -> dict[str, float]:
    """Per query and pass: wall and CPU time of a first run (the caches are emptied before every pass).

    p50/p99 of the first pass are what a caller would have seen. The per-query minimum over the passes
    estimates the code's own cost: the machine only adds time, and its slow phases last seconds, longer
    than back-to-back runs of one query (the best of 3 consecutive runs, reported until session 4, still
    fell into them) but rarely as long as the passes, which run seconds apart. `Reference` is timed
    after each query: the machine's own p50 and p99/p50 in the same run.
    """
    reference = Reference()
    for query in queries[:50]:
        engine.search(query, K)  # warm-up: page in the mapped arrays
    wall = np.zeros((passes, repeat * len(queries)))
    cpu, machine = [], []
    for p in range(passes):
        # Forget stems and trigrams (the quality pass and earlier passes ran these queries), so a first
        # run costs what a never-seen query costs (words shared with earlier queries of the pass stay cached).
        stem.cache_clear()
        query_trigrams.cache_clear()
        for i, query in enumerate(queries * repeat):
            started, started_cpu = time.perf_counter(), time.thread_time()
            engine.search(query, K)
            wall[p, i] = (time.perf_counter() - started) * 1000.0
            if p == 0:
                cpu.append((time.thread_time() - started_cpu) * 1000.0)
            machine.append(reference.time_ms())
    first, best = wall[0].tolist(), wall.min(axis=0).tolist()
    reference_p50, reference_p99 = percentile(machine, 50), percentile(machine, 99)
    return {"queries": len(first), "passes": passes,
            "p50_ms": round(percentile(first, 50), 3), "p99_ms": round(percentile(first, 99), 3),
            "max_ms": round(max(first), 3), "mean_ms": round(statistics.fmean(first), 3),
            "best_of_passes_p50_ms": round(percentile(best, 50), 3),
            "best_of_passes_p99_ms": round(percentile(best, 99), 3),
            "cpu_p50_ms": round(percentile(cpu, 50), 3), "cpu_p99_ms": round(percentile(cpu, 99), 3),
            "p99_over_p50": round(percentile(first, 99) / percentile(first, 50), 2),
            "reference_p50_ms": round(reference_p50, 3), "reference_p99_ms": round(reference_p99, 3),
            "reference_p99_over_p50": round(reference_p99 / reference_p50, 2),
            "load_average_1m": round(os.getloadavg()[0], 2)}


def percentile(values: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(values), p)) if values else float("nan")


def load_times(model: LoadedModel, runs: int = 5) -> dict[str, float]:
    from movierec.artifacts import registry as registry_module

    path = registry_module.open_version(model_registry(model), model.version, verify=False).path
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        SearchEngine.load(path, vectors=model.vectors, years=model.catalog.year,
                          manifest=model.manifest)
        seconds.append((time.perf_counter() - started) * 1000.0)
    return {"runs": runs, "median_ms": round(statistics.median(seconds), 1), "max_ms": round(max(seconds), 1),
            "at_server_start_ms": round(model.extras["search"].load_seconds * 1000.0, 1)}


_REGISTRY: dict[str, Path] = {}


def model_registry(model: LoadedModel) -> Path:
    return _REGISTRY[model.version]


# ----------------------------------------------------------------------------- main


def train_registry(data_dir: Path, registry_dir: Path) -> None:
    from movierec.trainer.config import TrainConfig
    from movierec.trainer.pipeline import train

    config = dataclasses.replace(TrainConfig(), data_dir=data_dir, registry_dir=registry_dir, promote=True)
    train(config, progress=lambda text: print(text, file=sys.stderr))


def table(rows: list[list[Any]], headers: list[str]) -> str:
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--registry", type=Path, help="score this registry's production version (default: train)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seed", type=int, default=20240604)
    parser.add_argument("--titles", type=int, default=300, help="queries per title perturbation")
    parser.add_argument("--people", type=int, default=300, help="people sampled (each queried twice)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="search-eval-") as scratch:
        registry_dir = args.registry
        if registry_dir is None:
            registry_dir = Path(scratch) / "registry"
            train_registry(args.data_dir, registry_dir)
        model = load_model(registry_dir, verify=False)
        _REGISTRY[model.version] = registry_dir
        engine = model.extras.get("search")
        if engine is None:
            print(f"version {model.version} has no search structures; retrain", file=sys.stderr)
            return 2
        titles = title_queries(model, args.titles, args.seed)
        people = person_queries(model, engine, args.people, args.seed)
        title_report, title_misses = score_titles(model, engine, titles)
        person_report, person_misses = score_people(model, engine, people)
        keystrokes = keystroke_queries(model, args.seed)
        latencies = {
            "title_and_person_queries": latency(engine, [q["query"] for q in titles + people]),
            "keystroke_prefixes": latency(engine, keystrokes),
            "free_text": latency(engine, list(TEXT_QUERIES), repeat=20),
        }
        load = load_times(model)

    all_latency = [v["p99_ms"] for v in latencies.values()]
    result = {
        "model_version": model.version,
        "movies": len(model.catalog),
        "seed": args.seed,
        "k": K,
        "correctness": "target row, or a row with the same normalised title (and the same year when the query "
                       "names one); people: their most popular movie in the top 10",
        "title": title_report,
        "person": person_report,
        "latency_ms": latencies,
        "load_ms": load,
        "targets": TARGETS,
        "meets_targets": {
            "title_mrr@10": title_report["overall"]["mrr@10"] >= TARGETS["title_mrr@10"],
            "title_success@1": title_report["overall"]["success@1"] >= TARGETS["title_success@1"],
            "person_success@10": person_report["overall"]["success@10"] >= TARGETS["person_success@10"],
            "latency_p99_ms": max(all_latency) <= TARGETS["latency_p99_ms"],
            "latency_best_of_passes_p99_ms": max(v["best_of_passes_p99_ms"] for v in latencies.values())
            <= TARGETS["latency_p99_ms"],
        },
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "examples_of_misses": {"title": title_misses[:60], "person": person_misses[:40]},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False))

    rows = [[kind, v["queries"], f"{v['mrr@10']:.4f}", f"{v['success@1']:.4f}", f"{v['success@10']:.4f}"]
            for kind, v in title_report.items()]
    rows += [[f"person:{kind}", v["queries"], f"{v['mrr@10']:.4f}", f"{v['success@1']:.4f}",
              f"{v['success@10']:.4f}"] for kind, v in person_report.items()]
    print(f"search quality — model {model.version}, {len(model.catalog)} movies, seed {args.seed}, k={K}")
    print(table(rows, ["queries", "n", "MRR@10", "success@1", "success@10"]))
    print()
    columns = ("queries", "p50_ms", "p99_ms", "max_ms", "best_of_passes_p50_ms", "best_of_passes_p99_ms", "cpu_p50_ms",
               "cpu_p99_ms", "p99_over_p50", "reference_p50_ms", "reference_p99_over_p50", "load_average_1m")
    print(table([[name, *(v[c] for c in columns)] for name, v in latencies.items()],
                ["latency (in-process, ms)", "n", "p50", "p99", "max", "best p50", "best p99", "cpu p50", "cpu p99",
                 "p99/p50", "ref p50", "ref p99/p50", "loadavg"]))
    print(f"p50/p99/max: first pass (what a caller sees); best: per-query minimum of {PASSES} passes (the code's cost)")
    print("ref: the same fixed workload timed after every query (Reference): identical work, so its p50 is the\n"
          "machine's speed in this run (~1.5x apart between runs on the shared VM), its p99/p50 the machine's spread")
    print(f"\nsearch structures load: median {load['median_ms']} ms, max {load['max_ms']} ms "
          f"(at server start {load['at_server_start_ms']} ms)")
    print("targets met: " + ", ".join(f"{k}={'yes' if v else 'NO'}" for k, v in result["meets_targets"].items()))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
