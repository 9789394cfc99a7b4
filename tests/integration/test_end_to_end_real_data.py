"""The whole path on the real MovieLens + TMDB data: train, serve, ask through the CLI."""

import dataclasses

import pytest

from movierec.client.cli import main
from movierec.trainer.config import TrainConfig
from movierec.trainer.pipeline import train
from tests.conftest import SHARED_DATA, RunningServer

# Training the full model on the real data takes ~2-4 minutes on 2 cores; the fixture counts toward the timeout.
pytestmark = [pytest.mark.realdata, pytest.mark.integration, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def real_server(tmp_path_factory):
    if not (SHARED_DATA / "ml-latest-small" / "ratings.csv").is_file():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    config = dataclasses.replace(TrainConfig(), data_dir=SHARED_DATA, registry_dir=tmp_path_factory.mktemp("real"))
    result = train(config, progress=lambda _: None)
    running = RunningServer(config.registry_dir)
    try:
        running.wait_serving()
        yield running, result
    finally:
        running.stop()


def test_toy_story_neighbours_include_its_sequels(real_server, capsys):
    running, _ = real_server
    assert main(["--target", running.target, "similar", "--title", "Toy Story"]) == 0
    out = capsys.readouterr().out
    rows = out.splitlines()[3:]
    assert len(rows) == 10
    assert "Toy Story 2" in out and "Toy Story 3" in out


def test_manifest_records_the_training_report(real_server):
    _, result = real_server
    metrics = result.manifest["metrics"]
    assert metrics["movies"] > 10_000
    assert metrics["silhouette"] >= 0.05  # the promotion gate
    for scope in ("cluster", "multi_probe", "global"):
        assert 0.0 < metrics[f"recall@10_{scope}"] <= 1.0
    assert result.manifest["timings"]["content_model"] > 0
