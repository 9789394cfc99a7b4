"""Scale benchmark of the production clustering on SYNTHETIC vectors.

    python -m benchmarks.cluster_scale --n 100000 --d 128
    python benchmarks/cluster_scale.py --n 100000 --d 128

Generates a gaussian mixture on the sphere (`trainer.synthetic.synthetic_vectors`), runs
`trainer.clustering.cluster_vectors` with the default ClusterConfig, and reports the
chosen k, silhouette, time per stage and peak memory, next to what exact Ward's condensed
distance matrix alone would need. Writes benchmarks/results/cluster_scale.json.

Peak memory is measured three ways: tracemalloc's peak (numpy/Python allocations made by
the clustering; faiss's C++ buffers are invisible to it), the process's peak RSS during
clustering (Linux VmHWM, reset just before via /proc/self/clear_refs when the kernel
allows it), and getrusage's ru_maxrss (peak RSS of the whole run, data generation
included).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import resource
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import adjusted_rand_score

from movierec.trainer.clustering import cluster_vectors
from movierec.trainer.config import ClusterConfig
from movierec.trainer.synthetic import synthetic_vectors

RESULTS = Path(__file__).resolve().parent / "results" / "cluster_scale.json"
MIB = 1024 * 1024


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="synthetic items")
    parser.add_argument("--d", type=int, default=128, help="vector dimension")
    parser.add_argument("--topics", type=int, default=24, help="true mixture components")
    parser.add_argument("--noise", type=float, default=0.6, help="noise norm around a topic centre")
    parser.add_argument("--seed", type=int, default=ClusterConfig().seed)
    parser.add_argument("--output", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def exact_ward_bytes(n: int) -> int:
    """Bytes of the float64 condensed distance matrix exact Ward (scipy linkage) needs."""
    return n * (n - 1) // 2 * 8


def _status_kib(field_name: str) -> int | None:
    """A 'VmRSS'/'VmHWM' line of /proc/self/status in KiB, or None off Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux ≥ 4.0); False if not permitted."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Generate, cluster and measure; returns the JSON-ready result."""
    config = ClusterConfig()
    clock = time.perf_counter()
    vectors, topics = synthetic_vectors(args.n, args.d, args.topics, args.seed, noise=args.noise)
    generate_seconds = time.perf_counter() - clock

    rss_before_kib = _status_kib("VmRSS")
    peak_reset = _reset_peak_rss()
    tracemalloc.start()
    result = cluster_vectors(vectors, config)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    hwm_kib = _status_kib("VmHWM") if peak_reset else None

    return {
        "synthetic": True,
        "n": args.n, "d": args.d, "true_topics": args.topics, "noise": args.noise, "seed": args.seed,
        "config": dataclasses.asdict(config),
        "k": result.k,
        "silhouette": result.silhouette,
        "silhouette_by_k": {str(k): v for k, v in result.silhouette_by_k.items()},
        "silhouette_items": result.silhouette_items,
        "adjusted_rand_vs_topics": float(adjusted_rand_score(topics, result.labels)),
        "ward_leaves": result.ward_leaves,
        "used_micro_clusters": result.used_micro_clusters,
        "timings_seconds": {"generate": generate_seconds, **result.timings},
        "memory_mib": {
            "input_vectors": vectors.nbytes / MIB,
            "tracemalloc_peak_clustering": traced_peak / MIB,
            "rss_before_clustering": rss_before_kib / 1024 if rss_before_kib else None,
            "peak_rss_during_clustering": hwm_kib / 1024 if hwm_kib else None,
            "peak_rss_whole_run_ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "exact_ward_condensed_distances": exact_ward_bytes(args.n) / MIB,
        },
        "platform": {"python": sys.version.split()[0], "machine": platform.machine(),
                     "numpy": np.__version__},
    }


def format_table(report: dict[str, Any]) -> str:
    """Human-readable summary of `run`'s result."""
    t, m = report["timings_seconds"], report["memory_mib"]

    def mib(value: float | None) -> str:
        return "n/a" if value is None else f"{value:,.1f} MiB"

    rows = [
        ("items (synthetic) × dim", f"{report['n']:,} × {report['d']}"),
        ("true topics / k chosen", f"{report['true_topics']} / {report['k']}"),
        ("silhouette (chosen k)", f"{report['silhouette']:.4f} on {report['silhouette_items']:,} items"),
        ("adjusted Rand vs topics", f"{report['adjusted_rand_vs_topics']:.4f}"),
        ("Ward leaves", f"{report['ward_leaves']:,} (micro-clusters: {report['used_micro_clusters']})"),
        ("time: generate data", f"{t['generate']:.2f} s"),
        ("time: k-means micro-clusters", f"{t['kmeans_seconds']:.2f} s"),
        ("time: Ward + cuts", f"{t['ward_seconds']:.2f} s"),
        ("time: silhouette (all k)", f"{t['silhouette_seconds']:.2f} s"),
        ("time: clustering total", f"{t['total_seconds']:.2f} s"),
        ("input vectors", mib(m["input_vectors"])),
        ("tracemalloc peak (clustering)", mib(m["tracemalloc_peak_clustering"])),
        ("RSS before clustering", mib(m["rss_before_clustering"])),
        ("peak RSS during clustering", mib(m["peak_rss_during_clustering"])),
        ("peak RSS whole run (ru_maxrss)", mib(m["peak_rss_whole_run_ru_maxrss"])),
        ("exact Ward distance matrix would need", mib(m["exact_ward_condensed_distances"])),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"{name:<{width}}  {value}" for name, value in rows]
    lines.append("silhouette by k: " + ", ".join(f"{k}:{v:.4f}" for k, v in report["silhouette_by_k"].items()))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    report = run(args)
    print(format_table(report))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
