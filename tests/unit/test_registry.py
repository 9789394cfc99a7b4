import json

import pytest

from movierec.artifacts import registry


def publish(root, name, files=None):
    with registry.writing_version(root, name) as scratch:
        for relative, content in (files or {"a.bin": b"hello"}).items():
            (scratch / relative).write_bytes(content)
        registry.write_manifest(scratch, {"version": name})
    return root / name


def test_published_version_lists_every_file_with_its_sha256(tmp_path):
    path = publish(tmp_path, "v1", {"a.bin": b"hello"})
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["files"]["a.bin"]["sha256"] == registry.sha256_file(path / "a.bin")
    assert manifest["files"]["a.bin"]["bytes"] == 5


def test_failed_write_publishes_nothing(tmp_path):
    with pytest.raises(RuntimeError), registry.writing_version(tmp_path, "v1") as scratch:
        (scratch / "a.bin").write_bytes(b"x")
        raise RuntimeError("trainer crashed")
    assert list(tmp_path.iterdir()) == []


def test_version_without_manifest_is_not_published(tmp_path):
    with pytest.raises(registry.RegistryError, match="manifest"), registry.writing_version(tmp_path, "v1"):
        pass
    assert registry.list_versions(tmp_path) == []


def test_corrupted_file_is_refused(tmp_path):
    path = publish(tmp_path, "v1", {"a.bin": b"hello"})
    (path / "a.bin").write_bytes(b"jello")
    with pytest.raises(registry.RegistryError, match="a.bin fails its sha256"):
        registry.open_version(tmp_path, "v1")


def test_of_several_corrupted_files_the_first_listed_is_named(tmp_path):
    """Files are hashed on several threads; the error still names the manifest's first bad file."""
    files = {f"f{i:02d}.bin": bytes([i]) * 5000 for i in range(12)}
    path = publish(tmp_path, "v1", files)
    listed = list(json.loads((path / "manifest.json").read_text())["files"])
    for relative in listed[3:]:
        (path / relative).write_bytes(b"\xff" * 5000)
    with pytest.raises(registry.RegistryError, match=f"{listed[3]} fails its sha256"):
        registry.open_version(tmp_path, "v1")


def test_truncated_file_is_refused(tmp_path):
    path = publish(tmp_path, "v1", {"a.bin": b"hello"})
    (path / "a.bin").write_bytes(b"hel")
    with pytest.raises(registry.RegistryError, match="3 bytes"):
        registry.open_version(tmp_path, "v1")


def test_missing_file_is_refused(tmp_path):
    path = publish(tmp_path, "v1", {"a.bin": b"hello"})
    (path / "a.bin").unlink()
    with pytest.raises(registry.RegistryError, match="missing file a.bin"):
        registry.open_version(tmp_path, "v1")


def test_production_pointer_names_the_served_version(tmp_path):
    publish(tmp_path, "v1")
    publish(tmp_path, "v2")
    registry.set_pointer(tmp_path, "v1")
    assert registry.production_version(tmp_path).name == "v1"
    registry.set_pointer(tmp_path, "v2")
    assert registry.production_version(tmp_path).name == "v2"


def test_pointer_to_unknown_version_is_refused(tmp_path):
    with pytest.raises(registry.RegistryError, match="no such version"):
        registry.set_pointer(tmp_path, "nope")


def test_empty_registry_says_to_train(tmp_path):
    with pytest.raises(registry.RegistryError, match="make train"):
        registry.production_version(tmp_path)


def test_versions_are_listed_oldest_first_without_scratch_dirs(tmp_path):
    publish(tmp_path, "20260101T000000Z")
    publish(tmp_path, "20250101T000000Z")
    (tmp_path / ".incoming-x").mkdir()
    assert [v.name for v in registry.list_versions(tmp_path)] == ["20250101T000000Z", "20260101T000000Z"]
