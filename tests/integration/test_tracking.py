"""With the `mlflow` extra and MLFLOW_TRACKING_URI, each training run is an MLflow run (issue 6).

Runs against local stores under tmp_path and reads back through MLflow's client API: sqlite (MLflow 3's
local backend), and the file store behind its MLFLOW_ALLOW_FILE_STORE opt-out.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from movierec.artifacts import lifecycle, registry
from movierec.trainer import __main__ as cli
from movierec.trainer import tracking
from movierec.trainer.config import TrainConfig
from tests.conftest import free_port, small_config

mlflow = pytest.importorskip("mlflow")
from mlflow.tracking import MlflowClient  # noqa: E402

# tests.conftest.small_config as command-line overrides (checked below, so the two cannot drift apart).
SMALL = ["content.svd_components=16", "content.tfidf_min_df=1", "content.tfidf_max_df=1.0",
         "cluster.k_min=2", "cluster.k_max=8", "cluster.k_step=1", "cluster.micro_clusters=100"]


def only_run(uri: str, experiment: str = tracking.DEFAULT_EXPERIMENT):
    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    assert len(runs) == 1, runs
    return client, runs[0]


def artifact_paths(client: MlflowClient, run_id: str, path: str | None = None) -> set[str]:
    return {item.path for item in client.list_artifacts(run_id, path)}


@pytest.fixture()
def local_store(tmp_path, monkeypatch) -> str:
    """A sqlite store in tmp_path; the cwd moves there too because MLflow puts its artifacts in ./mlruns."""
    monkeypatch.chdir(tmp_path)
    for name in (tracking.EXPERIMENT_ENV, tracking.ARTIFACTS_ENV, "MLFLOW_ALLOW_FILE_STORE"):
        monkeypatch.delenv(name, raising=False)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv(tracking.TRACKING_URI_ENV, uri)
    return uri


def test_a_training_run_logs_params_metrics_gate_and_artifacts(local_store, synthetic_data, tmp_path, capsys):
    registry_dir = tmp_path / "registry"
    flags = [part for item in SMALL for part in ("--set", item)]
    assert cli.with_overrides(TrainConfig(), SMALL) == small_config(TrainConfig.data_dir, TrainConfig.registry_dir)

    assert cli.main(["--data-dir", str(synthetic_data), "--registry", str(registry_dir), *flags]) == 0
    assert "logged to MLflow" in capsys.readouterr().out

    version = registry.read_pointer(registry_dir)
    manifest = registry.open_version(registry_dir, version).manifest
    client, run = only_run(local_store)
    assert run.info.run_name == version
    assert run.info.status == "FINISHED"
    assert run.info.end_time - run.info.start_time >= 1000 * manifest["timings"]["personal"] * 0.9

    params = run.data.params
    assert params["cluster.k_min"] == "2"
    assert params["content.svd_components"] == "16"
    assert params["personal.cluster_k"] == "[4, 6, 8, 12]"
    assert params["gate.min_classifier_auc"] == "0.7"
    assert len(params) == len(tracking.flatten(manifest["parameters"]))

    metrics = run.data.metrics
    for key in ("silhouette", "svd_explained_variance", "classifier_auc", "regressor_rmse", "movies"):
        assert metrics[key] == pytest.approx(manifest["metrics"][key])
    assert metrics["ranker_validation_ndcg_at_10"] == pytest.approx(manifest["metrics"]["ranker_validation_ndcg@10"])
    assert metrics["recall_at_10_cluster"] == pytest.approx(manifest["metrics"]["recall@10_cluster"])
    assert metrics["timing_seconds.personal"] == pytest.approx(manifest["timings"]["personal"])
    assert metrics["gate_passed"] == 1.0

    tags = run.data.tags
    assert tags["movierec.version"] == version
    assert tags["movierec.gate"] == "passed"
    assert tags["movierec.gate.silhouette"] == "pass"
    assert tags["movierec.gate.ndcg_vs_production"] == "skip"   # the first version has nothing to compare with
    assert tags["movierec.promoted"] == "true"
    assert tags["movierec.registry"] == str(registry_dir.resolve())
    assert f"trained version {version}" in tags["mlflow.note.content"]

    assert artifact_paths(client, run.info.run_id) == {"manifest.json", "gate.json", "report.txt"}
    downloaded = Path(client.download_artifacts(run.info.run_id, "manifest.json", str(tmp_path)))
    assert downloaded.read_bytes() == (registry_dir / version / registry.MANIFEST).read_bytes()
    gate = json.loads(Path(client.download_artifacts(run.info.run_id, "gate.json", str(tmp_path))).read_text())
    assert gate["passed"] is True and {c["name"] for c in gate["checks"]} >= {"silhouette", "classifier_auc"}

    # and the registry leads back to the run
    noted = [e for e in lifecycle.read_history(registry_dir) if e["event"] == lifecycle.TRACKED]
    assert [(e["version"], e["mlflow_run_id"], e["tracking_uri"]) for e in noted] == [
        (version, run.info.run_id, local_store)]
    assert {s.name: s.mlflow_run_id for s in lifecycle.statuses(registry_dir)} == {version: run.info.run_id}


def test_a_run_that_stops_on_bad_data_is_a_failed_mlflow_run(local_store, tmp_path, capsys):
    empty = tmp_path / "no-data"
    empty.mkdir()
    assert cli.main(["--data-dir", str(empty), "--registry", str(tmp_path / "registry")]) == 2
    err = capsys.readouterr().err
    assert "training failed" in err and "logged the failed run to MLflow" in err
    _, run = only_run(local_store)
    assert run.info.status == "FAILED" and run.info.run_name == "failed"
    assert str(empty) in run.data.tags["movierec.error"]
    assert run.data.params["data_dir"] == str(empty)
    assert run.data.params["cluster.k_min"] == str(TrainConfig().cluster.k_min)
    assert not (tmp_path / "registry").exists() or not registry.list_versions(tmp_path / "registry")


def test_file_store_with_its_opt_out_and_the_whole_version_directory(trained, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")   # MLflow 3 keeps the file store behind this switch
    uri = (tmp_path / "mlruns").as_uri()
    tracker = tracking.from_environment({tracking.TRACKING_URI_ENV: uri, tracking.ARTIFACTS_ENV: "version",
                                         tracking.EXPERIMENT_ENV: "movierec-tests"})
    run_id = tracker.log_version(trained)

    client, run = only_run(uri, "movierec-tests")
    assert run.info.run_id == run_id and run.info.run_name == trained.version
    assert run.data.metrics["silhouette"] == pytest.approx(trained.manifest["metrics"]["silhouette"])
    assert run.data.params["cluster.micro_clusters"] == "100"
    assert artifact_paths(client, run_id) == {"manifest.json", "gate.json", "report.txt", "version"}
    logged = {p.rsplit("/", 1)[-1] for p in artifact_paths(client, run_id, "version")}
    assert logged == {p.name for p in trained.path.iterdir()}     # manifest.json, catalog, content, index, …


def test_file_store_without_its_opt_out_is_reported_before_training(tmp_path, monkeypatch):
    """MLflow ≥ 3.x refuses the file store unless MLFLOW_ALLOW_FILE_STORE=true; say so up front, not later."""
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    try:
        tracker = tracking.from_environment({tracking.TRACKING_URI_ENV: (tmp_path / "mlruns").as_uri()})
    except tracking.TrackingError as exc:
        assert "MLFLOW_ALLOW_FILE_STORE" in str(exc)
    else:  # an MLflow that still accepts the file store (with a deprecation warning)
        assert tracker is not None


def test_a_tracking_failure_after_training_keeps_the_version_and_exits_4(trained, local_store, monkeypatch,
                                                                         capsys):
    monkeypatch.setattr(cli, "train", lambda config: trained)    # the registered version a real run returns

    def store_gone(*args, **kwargs):
        raise mlflow.exceptions.MlflowException("tracking store went away")

    monkeypatch.setattr(MlflowClient, "log_batch", store_gone)
    assert cli.main(["--data-dir", "unused", "--registry", str(trained.path.parent)]) == 4
    err = capsys.readouterr().err
    assert f"version {trained.version} is registered in {trained.path.parent}" in err
    assert "MLflow tracking failed" in err and "tracking store went away" in err

    registry.open_version(trained.path.parent, trained.version, verify=True)    # untouched, checksums hold
    _, run = only_run(local_store)
    assert run.info.status == "FAILED" and run.info.run_name == trained.version


def test_an_unreachable_tracking_server_is_reported_in_seconds_not_minutes(monkeypatch):
    for name in tracking._PREFLIGHT_HTTP:
        monkeypatch.delenv(name, raising=False)
    started = time.monotonic()
    with pytest.raises(tracking.TrackingError, match="cannot be used"):
        tracking.from_environment({tracking.TRACKING_URI_ENV: f"http://127.0.0.1:{free_port()}"})
    assert time.monotonic() - started < 30          # MLflow's own retry defaults take ~4 minutes
    assert not any(name in os.environ for name in tracking._PREFLIGHT_HTTP)
