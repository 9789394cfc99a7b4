"""Test helpers: cheap extra registry versions (a copy of a trained one under a new name) and damage."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from movierec.artifacts import registry


def clone_version(registry_dir: Path, source: str, name: str, **metrics: Any) -> Path:
    """Copy version `source` to `name` (same artifacts, so checksums still hold), overriding metrics."""
    target = registry_dir / name
    shutil.copytree(registry_dir / source, target)
    manifest_path = target / registry.MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest["version"] = name
    manifest["metrics"] = {**manifest.get("metrics", {}), **metrics}
    manifest_path.write_text(json.dumps(manifest, indent=2))
    return target


def largest_file(version_dir: Path, suffix: str = ".npy") -> Path:
    return max((p for p in version_dir.rglob(f"*{suffix}")), key=lambda p: p.stat().st_size)
