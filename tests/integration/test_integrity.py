"""A corrupted, truncated, missing or mis-shaped artifact is never served: the server refuses to start."""

import json
import shutil
import time

import numpy as np
import pytest

from movierec.artifacts import registry
from tests.conftest import RunningServer
from tests.registry_tools import largest_file

pytestmark = pytest.mark.integration


def copy_registry(trained, tmp_path):
    target = tmp_path / "registry"
    target.mkdir()
    shutil.copytree(trained.path, target / trained.version)
    registry.set_pointer(target, trained.version)
    return target, target / trained.version


def exit_and_output(registry_dir, timeout=60.0):
    running = RunningServer(registry_dir)
    deadline = time.monotonic() + timeout
    while running.process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    if running.process.poll() is None:
        running.stop()
        pytest.fail("server kept running on a damaged version")
    return running.process.returncode, running.process.stdout.read()


def corrupt(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def truncate(path):
    with open(path, "r+b") as handle:
        handle.truncate(path.stat().st_size // 2)


def remove(path):
    path.unlink()


@pytest.mark.parametrize(("damage", "message"), [
    (corrupt, "fails its sha256 check"),
    (truncate, "bytes, manifest says"),
    (remove, "missing file"),
])
def test_damaged_artifact_stops_startup_with_a_clear_error(trained, tmp_path, damage, message):
    registry_dir, version_dir = copy_registry(trained, tmp_path)
    victim = largest_file(version_dir)
    damage(victim)
    code, output = exit_and_output(registry_dir)
    assert code == 2
    assert "cannot serve" in output and message in output
    assert victim.relative_to(version_dir).as_posix() in output


def test_artifacts_that_do_not_belong_together_stop_startup(trained, tmp_path):
    """Checksums match (the manifest was rewritten) but the vectors have the wrong number of rows."""
    registry_dir, version_dir = copy_registry(trained, tmp_path)
    vectors = version_dir / "content" / "vectors.npy"
    np.save(vectors, np.load(vectors)[:-1])
    manifest = json.loads((version_dir / registry.MANIFEST).read_text())
    manifest.pop("files")
    registry.write_manifest(version_dir, manifest)
    code, output = exit_and_output(registry_dir)
    assert code == 2
    assert "do not belong together" in output


def test_production_pointing_at_a_missing_version_stops_startup(trained, tmp_path):
    registry_dir, _ = copy_registry(trained, tmp_path)
    (registry_dir / registry.PRODUCTION).write_text("20990101T000000000000Z\n")
    code, output = exit_and_output(registry_dir)
    assert code == 2
    assert "20990101T000000000000Z" in output
