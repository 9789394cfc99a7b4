"""Registry lifecycle (staging, promotion history, rollback), the promotion gate and the `movierec models` CLI."""

import dataclasses
import json

import pytest

from movierec.artifacts import lifecycle, registry
from movierec.trainer import gate
from movierec.trainer.__main__ import with_overrides
from movierec.trainer.config import GateConfig, TrainConfig
from movierec.trainer.models_cli import main as models_main

GOOD = {"silhouette": 0.3, "classifier_auc": 0.85, "ranker_validation_ndcg@10": 0.30}


def publish(root, name, **metrics):
    with registry.writing_version(root, name) as scratch:
        (scratch / "a.bin").write_bytes(name.encode())
        registry.write_manifest(scratch, {"version": name, "metrics": {**GOOD, **metrics}})
    return root / name


def manifest(**metrics):
    return {"version": "cand", "metrics": {**GOOD, **metrics}}


def outcomes(result):
    return {c.name: c.outcome for c in result.checks}


def test_gate_passes_a_good_first_version_and_skips_the_comparison():
    result = gate.evaluate(manifest(), None, GateConfig())
    assert result.passed
    assert outcomes(result) == {"silhouette": "pass", "classifier_auc": "pass", "ndcg_vs_production": "skip"}


def test_gate_names_the_failing_check():
    result = gate.evaluate(manifest(silhouette=0.01), None, GateConfig())
    assert not result.passed and [c.name for c in result.failed] == ["silhouette"]
    assert "silhouette=0.0100 < 0.0500" in result.text()


def test_gate_fails_low_auc_and_an_ndcg_regression_beyond_tolerance():
    production = {"version": "prod", "metrics": {**GOOD, "ranker_validation_ndcg@10": 0.40}}
    result = gate.evaluate(manifest(classifier_auc=0.55), production, GateConfig(max_ndcg_drop=0.05))
    assert outcomes(result) == {"silhouette": "pass", "classifier_auc": "fail", "ndcg_vs_production": "fail"}
    within = gate.evaluate(manifest(), production, GateConfig(max_ndcg_drop=0.15))
    assert within.passed


def test_gate_skips_a_check_whose_metric_is_absent_and_says_so():
    candidate = {"version": "cand", "metrics": {"silhouette": 0.3}}
    result = gate.evaluate(candidate, {"version": "prod", "metrics": GOOD}, GateConfig())
    assert result.passed
    assert outcomes(result) == {"silhouette": "pass", "classifier_auc": "skip", "ndcg_vs_production": "skip"}
    assert "not in the manifest" in result.text()


def test_training_flow_stages_then_promotes_only_through_the_gate(tmp_path):
    publish(tmp_path, "v1")
    assert gate.gate_and_promote(tmp_path, "v1", GateConfig()).passed
    assert registry.read_pointer(tmp_path) == "v1"
    publish(tmp_path, "v2", silhouette=0.01)
    result = gate.gate_and_promote(tmp_path, "v2", GateConfig())
    assert not result.passed
    assert registry.read_pointer(tmp_path) == "v1"
    assert registry.read_pointer(tmp_path, lifecycle.STAGING) == "v2"
    status = {s.name: s.status for s in lifecycle.statuses(tmp_path)}
    assert status == {"v1": "production", "v2": "staging"}
    assert lifecycle.read_history(tmp_path)[-1]["event"] == "rejected"


def test_rollback_walks_back_through_production_history(tmp_path):
    for name in ("v1", "v2", "v3"):
        publish(tmp_path, name)
        lifecycle.promote(tmp_path, name)
    assert lifecycle.rollback(tmp_path) == ("v3", "v2")
    assert registry.read_pointer(tmp_path) == "v2"
    assert lifecycle.rollback(tmp_path) == ("v2", "v1")
    with pytest.raises(registry.RegistryError, match="no earlier production"):
        lifecycle.rollback(tmp_path)
    assert registry.read_pointer(tmp_path) == "v1"


def test_a_tracked_run_is_noted_without_changing_status_or_rollback(tmp_path, capsys):
    for name in ("v1", "v2"):
        publish(tmp_path, name)
        lifecycle.promote(tmp_path, name)
    lifecycle.record_tracking(tmp_path, "v2", run_id="abc123", experiment_id="7", uri="sqlite:///m.db")
    listed = {s.name: s for s in lifecycle.statuses(tmp_path)}
    assert listed["v2"].status == "production" and listed["v2"].last_event["event"] == "promoted"
    assert listed["v2"].mlflow_run_id == "abc123" and listed["v1"].mlflow_run_id is None
    assert models_main(["models", "--registry", str(tmp_path), "show", "v2"]) == 0
    assert "mlflow: run abc123 (experiment 7 at sqlite:///m.db)" in capsys.readouterr().out
    assert lifecycle.rollback(tmp_path) == ("v2", "v1")


def test_promote_refuses_a_corrupted_version(tmp_path):
    publish(tmp_path, "v1")
    lifecycle.promote(tmp_path, "v1")
    (publish(tmp_path, "v2") / "a.bin").write_bytes(b"xx")
    with pytest.raises(registry.RegistryError, match="a.bin"):
        lifecycle.promote(tmp_path, "v2")
    assert registry.read_pointer(tmp_path) == "v1"


def test_cli_list_promote_gate_and_rollback(tmp_path, capsys):
    publish(tmp_path, "v1")
    publish(tmp_path, "v2", silhouette=0.01)
    publish(tmp_path, "v3")
    reg = ["models", "--registry", str(tmp_path)]
    assert models_main([*reg, "promote", "v1"]) == 0
    assert models_main([*reg, "promote", "v2"]) == 1
    assert "gate failed (silhouette)" in capsys.readouterr().err
    assert registry.read_pointer(tmp_path) == "v1"
    assert models_main([*reg, "promote", "v3"]) == 0
    assert models_main([*reg, "rollback"]) == 0
    assert registry.read_pointer(tmp_path) == "v1"
    capsys.readouterr()
    assert models_main([*reg, "--json", "list"]) == 0
    listed = {row["version"]: row["status"] for row in json.loads(capsys.readouterr().out)}
    assert listed == {"v1": "production", "v2": "registered", "v3": "retired"}
    assert models_main([*reg, "show", "v2"]) == 0
    assert "FAILED (silhouette)" in capsys.readouterr().out
    assert models_main([*reg, "promote", "v2", "--force"]) == 0
    assert registry.read_pointer(tmp_path) == "v2"


def test_train_overrides_are_typed():
    config = with_overrides(TrainConfig(), ["cluster.k_min=3", "gate.min_silhouette=0.2", "personal.cluster_k=4,6",
                                            "promote=false"])
    assert config.cluster.k_min == 3 and config.gate.min_silhouette == 0.2
    assert config.personal.cluster_k == (4, 6) and config.promote is False
    with pytest.raises(ValueError, match="no field"):
        with_overrides(TrainConfig(), ["cluster.nope=1"])
    assert dataclasses.asdict(TrainConfig())["gate"]["min_silhouette"] == 0.05
