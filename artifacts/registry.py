"""Versioned model registry on a plain directory.

Layout::

    <registry>/
      production            # text file naming the served version (atomic replace)
      <version>/manifest.json
      <version>/...files

A version is written under a temporary name and renamed when complete, so a reader
never sees half a version; the manifest records a sha256 per file so a truncated or
corrupted artifact is refused rather than served.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
PRODUCTION = "production"
STAGING_PREFIX = ".incoming-"
_CHUNK = 1 << 20
HASH_THREADS = 4                             # files hashed at once when a version is verified


class RegistryError(RuntimeError):
    """The registry or a version in it cannot be used; the message says why and where."""


@dataclass(frozen=True)
class Version:
    path: Path
    manifest: dict[str, Any]

    @property
    def name(self) -> str:
        return self.manifest["version"]

    def file(self, relative: str) -> Path:
        return self.path / relative


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def new_version_name(now: dt.datetime | None = None) -> str:
    """Sortable, unique enough for one trainer at a time: 20261121T051500Z."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return now.strftime("%Y%m%dT%H%M%S%fZ")


@contextmanager
def writing_version(registry: Path, version: str) -> Iterator[Path]:
    """Yield a scratch directory; on clean exit it becomes `<registry>/<version>`.

    The caller writes files and finally calls `write_manifest` inside the block.
    On an exception the scratch directory is removed and nothing is published.
    """
    registry.mkdir(parents=True, exist_ok=True)
    final = registry / version
    if final.exists():
        raise RegistryError(f"version {version} already exists in {registry}")
    scratch = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX + version + "-", dir=registry))
    try:
        yield scratch
        if not (scratch / MANIFEST).exists():
            raise RegistryError(f"version {version} was not given a manifest")
        os.chmod(scratch, 0o755)
        os.rename(scratch, final)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise


def write_manifest(directory: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Checksum every file already in `directory` and write the manifest beside them."""
    files = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file() and p.name != MANIFEST):
        relative = path.relative_to(directory).as_posix()
        files[relative] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    complete = {**manifest, "files": files}
    complete.setdefault("created", dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    (directory / MANIFEST).write_text(json.dumps(complete, indent=2, sort_keys=False, default=_json_default))
    return complete


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def list_versions(registry: Path) -> list[Version]:
    """Complete versions, oldest first (scratch directories are not versions)."""
    if not registry.is_dir():
        return []
    versions = []
    for child in sorted(registry.iterdir()):
        if child.is_dir() and not child.name.startswith(".") and (child / MANIFEST).is_file():
            versions.append(open_version(registry, child.name, verify=False))
    return versions


def open_version(registry: Path, version: str, *, verify: bool = True) -> Version:
    """Read a version's manifest; with `verify`, refuse it unless every file checks out."""
    path = registry / version
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise RegistryError(f"version {version!r} has no {MANIFEST} in {path}")
    try:
        manifest = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as exc:
        raise RegistryError(f"{manifest_path} is not valid JSON: {exc}") from exc
    found = Version(path=path, manifest=manifest)
    if verify:
        verify_files(found)
    return found


def verify_files(version: Version) -> None:
    """Every file the manifest lists exists with its recorded size and sha256.

    The hashing runs on a few threads (hashlib and file reads release the GIL): it is most of a
    server's model load, ~100 MB per version, and the machine has cores idle while it starts.
    """
    files = version.manifest.get("files", {})
    for relative, expected in files.items():
        path = version.path / relative
        if not path.is_file():
            raise RegistryError(f"version {version.name}: missing file {relative}")
        size = path.stat().st_size
        if size != expected["bytes"]:
            raise RegistryError(
                f"version {version.name}: {relative} has {size} bytes, manifest says {expected['bytes']}"
            )
    with ThreadPoolExecutor(max_workers=min(HASH_THREADS, os.cpu_count() or 1)) as pool:
        digests = pool.map(sha256_file, [version.path / relative for relative in files])
        for (relative, expected), digest in zip(files.items(), digests, strict=True):
            if digest != expected["sha256"]:
                raise RegistryError(f"version {version.name}: {relative} fails its sha256 check")


def read_pointer(registry: Path, pointer: str = PRODUCTION) -> str | None:
    path = registry / pointer
    if not path.is_file():
        return None
    name = path.read_text().strip()
    return name or None


def set_pointer(registry: Path, version: str, pointer: str = PRODUCTION) -> None:
    """Atomically point `pointer` at `version` (write a temp file, then rename over)."""
    if not (registry / version / MANIFEST).is_file():
        raise RegistryError(f"cannot point {pointer} at {version!r}: no such version in {registry}")
    fd, tmp = tempfile.mkstemp(prefix=f".{pointer}-", dir=registry)
    with os.fdopen(fd, "w") as handle:
        handle.write(version + "\n")
    os.replace(tmp, registry / pointer)


def production_version(registry: Path, *, verify: bool = True) -> Version:
    """The version the `production` pointer names, checked, or a RegistryError saying what to do."""
    name = read_pointer(registry)
    if name is None:
        raise RegistryError(f"no production model in {registry}: run `make train` first")
    return open_version(registry, name, verify=verify)
