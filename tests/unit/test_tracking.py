"""MLflow tracking is opt-in and free when off; a missing extra is reported before training starts.

None of these needs mlflow installed (tests/integration/test_tracking.py covers real runs).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from movierec.trainer import __main__ as cli
from movierec.trainer import tracking

REPO = Path(__file__).resolve().parents[2]


def test_no_tracking_uri_means_no_tracker_and_mlflow_never_imported(tmp_path):
    # A fresh interpreter: this test process may have imported mlflow for other tests.
    script = textwrap.dedent("""
        import sys
        from types import SimpleNamespace
        from movierec.trainer import __main__ as cli

        seen = []
        def fake_train(config):
            seen.append(sorted(m for m in sys.modules if m.split(".")[0] == "mlflow"))
            return SimpleNamespace(version="v", gate=None)
        cli.train = fake_train
        code = cli.main(["--data-dir", sys.argv[1], "--registry", sys.argv[2]])
        after = sorted(m for m in sys.modules if m.split(".")[0] == "mlflow")
        print(code, seen, after)
        sys.exit(0 if code == 0 and seen == [[]] and after == [] else 1)
    """)
    env = {k: v for k, v in os.environ.items() if k != tracking.TRACKING_URI_ENV}
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "data"), str(tmp_path / "registry")],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert tracking.from_environment({}) is None
    assert tracking.from_environment({tracking.TRACKING_URI_ENV: "  "}) is None


def test_tracking_uri_without_the_extra_stops_before_training(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "mlflow", None)        # what `import mlflow` meets when it is not installed
    monkeypatch.setenv(tracking.TRACKING_URI_ENV, f"sqlite:///{tmp_path}/mlflow.db")

    def must_not_train(config):
        raise AssertionError("training started although tracking cannot work")

    monkeypatch.setattr(cli, "train", must_not_train)
    assert cli.main(["--data-dir", str(tmp_path / "data"), "--registry", str(tmp_path / "registry")]) == 2
    err = capsys.readouterr().err
    assert "training not started" in err
    assert "MLFLOW_TRACKING_URI is set" in err
    assert "pip install 'movierec[mlflow]'" in err
    assert not (tmp_path / "registry").exists()


def test_bad_artifact_mode_is_refused_up_front():
    with pytest.raises(tracking.TrackingError, match="MOVIEREC_MLFLOW_ARTIFACTS='everything'"):
        tracking.from_environment({tracking.TRACKING_URI_ENV: "sqlite:///x.db",
                                   tracking.ARTIFACTS_ENV: "everything"})


def test_names_values_and_uris_are_made_safe_for_mlflow():
    assert tracking.metric_name("recall@10_multi_probe") == "recall_at_10_multi_probe"
    assert tracking.metric_name("ranker_validation_ndcg@10") == "ranker_validation_ndcg_at_10"
    assert tracking.metric_name("timing_seconds.index_build") == "timing_seconds.index_build"
    assert tracking.flatten({"cluster": {"k_min": 2, "seed": 42}, "personal": {"cluster_k": [4, 6]},
                             "promote": True, "data_dir": "data"}) == {
        "cluster.k_min": "2", "cluster.seed": "42", "personal.cluster_k": "[4, 6]",
        "promote": "True", "data_dir": "data"}
    assert tracking.numeric_metrics({"silhouette": 0.4, "clusters": 8, "missing": float("nan"), "note": "x",
                                     "flag": True, "none": None}) == {"silhouette": 0.4, "clusters": 8.0}
    assert tracking.redact("https://alice:s3cret@mlflow.example:5000/") == "https://***@mlflow.example:5000/"
    assert tracking.redact("sqlite:////tmp/mlflow.db") == "sqlite:////tmp/mlflow.db"
