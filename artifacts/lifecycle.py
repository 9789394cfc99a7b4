"""Model lifecycle on top of the registry: staging, promotion history, rollback.

A version's manifest is immutable (it is what the checksums hang off), so lifecycle state
lives beside the versions, at the registry root:

    <registry>/production      pointer: the served version (atomic replace, registry.set_pointer)
    <registry>/staging         pointer: the newest candidate that is not (yet) production
    <registry>/history.jsonl   append-only events, one JSON object a line:
        {"time", "event": "staged" | "promoted" | "rejected" | "rollback", "version", "previous", "checks", "by"}
        {"time", "event": "tracked", "version", "mlflow_run_id", "mlflow_experiment_id", "tracking_uri"}
    ("tracked" is not a lifecycle step: it says where the version's training run is recorded.)

`production` stays the single source of truth for what is served; the history records how it
got there and is what `rollback` replays. Appends are single `write` calls on an O_APPEND file,
so two writers do not interleave within a line.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import registry

STAGING = "staging"
HISTORY = "history.jsonl"
TRACKED = "tracked"


@dataclass(frozen=True)
class VersionStatus:
    name: str
    status: str                 # production | staging (a candidate, gate failed or pending) | retired | registered
    created: str
    metrics: dict[str, Any]
    last_event: dict[str, Any] | None          # the last lifecycle event ("tracked" is not one)
    mlflow_run_id: str | None = None


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def append_event(registry_dir: Path, event: str, version: str, **fields: Any) -> dict[str, Any]:
    record = {"time": now(), "event": event, "version": version, **fields}
    line = (json.dumps(record, sort_keys=False, default=str) + "\n").encode()
    fd = os.open(registry_dir / HISTORY, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    return record


def read_history(registry_dir: Path) -> list[dict[str, Any]]:
    path = registry_dir / HISTORY
    if not path.is_file():
        return []
    events = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise registry.RegistryError(f"{path}:{number} is not valid JSON: {exc}") from exc
    return events


def stage(registry_dir: Path, version: str) -> None:
    """Record a freshly written version as a candidate and point `staging` at it."""
    registry.set_pointer(registry_dir, version, STAGING)
    append_event(registry_dir, "staged", version)


def reject(registry_dir: Path, version: str, checks: list[dict[str, Any]]) -> None:
    """The gate refused `version`: it stays in staging, the failing checks are on record."""
    append_event(registry_dir, "rejected", version, checks=checks)


def promote(registry_dir: Path, version: str, *, checks: list[dict[str, Any]] | None = None,
            by: str = "gate", verify: bool = True) -> str | None:
    """Point production at `version` (verified first); returns the previous production version."""
    registry.open_version(registry_dir, version, verify=verify)
    previous = registry.read_pointer(registry_dir)
    registry.set_pointer(registry_dir, version)
    if registry.read_pointer(registry_dir, STAGING) == version:
        (registry_dir / STAGING).unlink(missing_ok=True)
    append_event(registry_dir, "promoted", version, previous=previous, checks=checks or [], by=by)
    return previous


def record_tracking(registry_dir: Path, version: str, *, run_id: str, experiment_id: str,
                    uri: str) -> dict[str, Any]:
    """Note the MLflow run that recorded `version`'s training, so the registry leads to it (and back:
    the run carries the version as a tag). `uri` must already be free of credentials."""
    return append_event(registry_dir, TRACKED, version, mlflow_run_id=run_id, mlflow_experiment_id=experiment_id,
                        tracking_uri=uri)


def production_stack(registry_dir: Path) -> list[str]:
    """Production versions in the order they were served, as the history tells (rollbacks pop)."""
    stack: list[str] = []
    for record in read_history(registry_dir):
        if record.get("event") == "promoted":
            if not stack and record.get("previous"):
                stack.append(record["previous"])  # production set before the history began
            stack.append(record["version"])
        elif record.get("event") == "rollback" and stack:
            stack.pop()
            if not stack or stack[-1] != record["version"]:
                stack.append(record["version"])
    current = registry.read_pointer(registry_dir)
    if current is not None and (not stack or stack[-1] != current):
        stack.append(current)  # the pointer was moved by something that kept no history
    return stack


def rollback_target(registry_dir: Path) -> tuple[str, str]:
    """(current, previous) production versions, or a RegistryError saying why there is none."""
    stack = production_stack(registry_dir)
    if not stack:
        raise registry.RegistryError(f"no production model in {registry_dir}: nothing to roll back")
    current = stack[-1]
    for candidate in reversed(stack[:-1]):
        if candidate != current and (registry_dir / candidate / registry.MANIFEST).is_file():
            return current, candidate
    raise registry.RegistryError(f"production is {current} and there is no earlier production version to go back to")


def rollback(registry_dir: Path, *, verify: bool = True) -> tuple[str, str]:
    """Point production at the version served before the current one; returns (from, to)."""
    current, target = rollback_target(registry_dir)
    registry.open_version(registry_dir, target, verify=verify)
    registry.set_pointer(registry_dir, target)
    append_event(registry_dir, "rollback", target, previous=current, by="operator")
    return current, target


def statuses(registry_dir: Path) -> list[VersionStatus]:
    """Every complete version with its lifecycle status, oldest first."""
    production = registry.read_pointer(registry_dir)
    staging = registry.read_pointer(registry_dir, STAGING)
    last: dict[str, dict[str, Any]] = {}
    served: set[str] = set()
    runs: dict[str, str] = {}
    for record in read_history(registry_dir):
        if record.get("event") == TRACKED:
            runs[record["version"]] = str(record.get("mlflow_run_id", ""))
            continue
        last[record["version"]] = record
        if record.get("event") in ("promoted", "rollback"):
            served.add(record["version"])
        if record.get("previous"):
            served.add(record["previous"])
    found = []
    for version in registry.list_versions(registry_dir):
        event = last.get(version.name)
        if version.name == production:
            status = "production"
        elif version.name in served:
            status = "retired"
        elif version.name == staging or (event is not None and event.get("event") in ("staged", "rejected")):
            status = "staging"
        else:
            status = "registered"
        found.append(VersionStatus(version.name, status, str(version.manifest.get("created", "")),
                                   dict(version.manifest.get("metrics", {})), event, runs.get(version.name)))
    return found
