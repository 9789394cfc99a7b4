"""The promotion gate: decide from manifests alone whether a candidate may replace production.

Checks (thresholds in config.GateConfig):
  silhouette       candidate's Ward silhouette ≥ min_silhouette
  classifier_auc   candidate's like/dislike classifier AUC ≥ min_classifier_auc
  ndcg_vs_production  candidate's NDCG@10 ≥ production's − max_ndcg_drop
A check whose metric is absent (or NaN) is *skipped* and says so; with no production
version the comparison is skipped too. The gate passes when no check fails.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from movierec.artifacts import lifecycle, registry

from .config import GateConfig

PASS, FAIL, SKIP = "pass", "fail", "skip"


@dataclass(frozen=True)
class Check:
    name: str
    outcome: str          # pass | fail | skip
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class GateResult:
    version: str
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        return all(check.outcome != FAIL for check in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [check for check in self.checks if check.outcome == FAIL]

    def text(self) -> str:
        head = f"promotion gate for {self.version}: " + ("PASSED" if self.passed else
                                                         "FAILED (" + ", ".join(c.name for c in self.failed) + ")")
        return "\n".join([head, *(f"  [{c.outcome}] {c.name}: {c.detail}" for c in self.checks)])


def _metric(manifest: dict[str, Any] | None, key: str) -> float | None:
    if manifest is None:
        return None
    value = manifest.get("metrics", {}).get(key)
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _at_least(name: str, key: str, value: float | None, minimum: float) -> Check:
    if value is None:
        return Check(name, SKIP, f"metric {key!r} is not in the manifest; check skipped")
    ok = value >= minimum
    return Check(name, PASS if ok else FAIL, f"{key}={value:.4f} {'≥' if ok else '<'} {minimum:.4f}")


def evaluate(candidate: dict[str, Any], production: dict[str, Any] | None, config: GateConfig) -> GateResult:
    checks = [
        _at_least("silhouette", config.silhouette_metric, _metric(candidate, config.silhouette_metric),
                  config.min_silhouette),
        _at_least("classifier_auc", config.auc_metric, _metric(candidate, config.auc_metric),
                  config.min_classifier_auc),
    ]
    key = config.ndcg_metric
    mine, theirs = _metric(candidate, key), _metric(production, key)
    if production is None:
        checks.append(Check("ndcg_vs_production", SKIP, "no production version to compare with; check skipped"))
    elif production.get("version") == candidate.get("version"):
        checks.append(Check("ndcg_vs_production", SKIP, "candidate is the production version; check skipped"))
    elif mine is None or theirs is None:
        missing = "candidate" if mine is None else f"production {production.get('version')}"
        checks.append(Check("ndcg_vs_production", SKIP, f"metric {key!r} missing in the {missing}; check skipped"))
    else:
        floor = theirs - config.max_ndcg_drop
        ok = mine >= floor
        checks.append(Check("ndcg_vs_production", PASS if ok else FAIL,
                            f"{key}={mine:.4f} {'≥' if ok else '<'} {floor:.4f} (production "
                            f"{production.get('version')} {theirs:.4f} − tolerance {config.max_ndcg_drop})"))
    return GateResult(str(candidate.get("version", "")), tuple(checks))


def production_manifest(registry_dir: Path) -> dict[str, Any] | None:
    name = registry.read_pointer(registry_dir)
    if name is None or not (registry_dir / name / registry.MANIFEST).is_file():
        return None
    return registry.open_version(registry_dir, name, verify=False).manifest


def gate_and_promote(registry_dir: Path, version: str, config: GateConfig, *, promote: bool = True) -> GateResult:
    """Stage `version`, run the gate against current production, promote if it passes (and `promote`)."""
    candidate = registry.open_version(registry_dir, version, verify=False).manifest
    lifecycle.stage(registry_dir, version)
    result = evaluate(candidate, production_manifest(registry_dir), config)
    checks = [c.to_dict() for c in result.checks]
    if not result.passed:
        lifecycle.reject(registry_dir, version, checks)
    elif promote:
        lifecycle.promote(registry_dir, version, checks=checks, by="gate")
    return result
