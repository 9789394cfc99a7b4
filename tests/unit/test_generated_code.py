"""The committed gRPC stubs are exactly what `make proto` generates from proto/."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GENERATED = REPO / "clients" / "python" / "movierec" / "v1"
PROTOS = sorted((REPO / "proto" / "movierec" / "v1").glob("*.proto"))


def test_committed_stubs_match_the_protos(tmp_path):
    pytest.importorskip("grpc_tools")
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{REPO / 'proto'}", f"--python_out={tmp_path}",
         f"--grpc_python_out={tmp_path}", f"--pyi_out={tmp_path}", *map(str, PROTOS)],
        check=True,
    )
    fresh = {p.name: p.read_text() for p in (tmp_path / "movierec" / "v1").iterdir() if p.is_file()}
    committed = {name: (GENERATED / name).read_text() for name in fresh if (GENERATED / name).exists()}
    assert fresh.keys() == committed.keys(), "run `make proto`: a generated file is missing"
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"run `make proto`: {stale} differ from what proto/ generates"
