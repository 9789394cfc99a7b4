"""Optional MLflow experiment tracking for `movierec-train` (issue 6).

The registry is the source of truth for a trained version; MLflow is a second, searchable view of
the same runs (compare silhouettes or NDCG across weeks of training in a UI). So tracking is:

* opt-in: only when `MLFLOW_TRACKING_URI` is set. Otherwise this module never imports mlflow, and
  training costs exactly what it cost before;
* checked up front: a missing extra or an unusable store is reported before training starts, not
  after the minutes a real run takes;
* never allowed to lose a model: a version is logged after it is registered, and a failure to log
  it leaves that version in the registry untouched (the CLI says so and exits 4).

One MLflow run per registered version, named after it (tag `movierec.version`):
  params     the version's TrainConfig, flattened (`cluster.k_min`, `personal.trees`, …)
  metrics    the manifest's metrics (silhouette, svd_explained_variance, classifier_auc,
             ranker_validation_ndcg@10 → `ranker_validation_ndcg_at_10`, …), stage timings as
             `timing_seconds.<stage>`, and `gate_passed` (1/0)
  tags       `movierec.gate` (passed/failed), `movierec.gate.<check>` (pass/fail/skip), `movierec.promoted`
  artifacts  manifest.json (every parameter, metric, report and each file's sha256: enough to find
             and verify the exact registry version), gate.json and report.txt: 52 KB on the real data.
             The whole version directory (64 MB there, a copy of what the registry already keeps
             immutably) only with `MOVIEREC_MLFLOW_ARTIFACTS=version`.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from movierec.artifacts import registry

from .pipeline import TrainResult, report_text

log = logging.getLogger(__name__)

TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
EXPERIMENT_ENV = "MLFLOW_EXPERIMENT_NAME"        # MLflow's own variable, honoured the same way
ARTIFACTS_ENV = "MOVIEREC_MLFLOW_ARTIFACTS"
DEFAULT_EXPERIMENT = "movierec"
ARTIFACT_MODES = ("manifest", "version")
INSTALL_HINT = "pip install 'movierec[mlflow]'"

_BATCH = 100                                     # MLflow's per-request limit for params and tags
_MAX_TAG_CHARS = 5000                            # MLflow allows 8000; the run description stays well under
_BAD_NAME_CHARS = re.compile(r"[^\w.\- /]")       # what MLflow accepts in metric and param names
# For the check before training only: MLflow's defaults (7 retries, backoff factor 2, 120 s timeout) make an
# unreachable tracking server fail after ~4 minutes; logging after training keeps them, a blip must not cost the run.
_PREFLIGHT_HTTP = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                   "MLFLOW_HTTP_REQUEST_TIMEOUT": "15"}


class TrackingError(RuntimeError):
    """Tracking was asked for (MLFLOW_TRACKING_URI) but cannot work; the message says what to do."""


def redact(uri: str) -> str:
    """The URI without any user:password part, so an error message never prints a credential."""
    parts = urlsplit(uri)
    if parts.username is None and parts.password is None:
        return uri
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc="***@" + netloc))


def metric_name(name: str) -> str:
    """MLflow refuses `@` (and a few more) in names: `recall@10_cluster` → `recall_at_10_cluster`."""
    return _BAD_NAME_CHARS.sub("_", name.replace("@", "_at_"))


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """`{"cluster": {"k_min": 2}}` → `{"cluster.k_min": "2"}`; lists as JSON, so a run's params are its config."""
    flat: dict[str, str] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, name + "."))
        elif isinstance(value, (list, tuple)):
            flat[name] = json.dumps(list(value))
        else:
            flat[name] = str(value)
    return flat


def numeric_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The finite numbers among `metrics`, under MLflow-safe names (a NaN metric means 'not measured')."""
    numbers: dict[str, float] = {}
    for key, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if math.isfinite(float(value)):
            numbers[metric_name(key)] = float(value)
    return numbers


def _chunks(items: list[Any], size: int = _BATCH) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


@dataclass
class MlflowTracker:
    """Logs registered versions to one MLflow experiment; build it with `from_environment()`."""

    uri: str
    experiment_id: str
    artifacts: str
    client: Any                                  # mlflow.tracking.MlflowClient, typed loosely to keep mlflow optional

    def log_version(self, result: TrainResult, *, started: float | None = None) -> str:
        """Record `result` as a FINISHED run named after its version; return the run id.

        `started` (a `time.time()`) is when training began, so the run's duration in MLflow is the
        training time. A failure part-way marks the run FAILED and raises TrackingError; the version
        itself is already in the registry and is not touched.
        """
        from mlflow.entities import Metric

        manifest = result.manifest
        now_ms = int(time.time() * 1000)
        run_id = self._create_run(result.version, self._tags(result), started, f"for version {result.version} ")
        try:
            metrics = {**numeric_metrics(manifest.get("metrics", {})),
                       **{metric_name(f"timing_seconds.{stage}"): float(seconds)
                          for stage, seconds in manifest.get("timings", {}).items()}}
            if result.gate is not None:
                metrics["gate_passed"] = 1.0 if result.gate.passed else 0.0
            metric_rows = [Metric(key, value, now_ms, 0) for key, value in sorted(metrics.items())]
            for chunk in _chunks(metric_rows, 1000):
                self.client.log_batch(run_id, metrics=chunk)
            self._log_params(run_id, manifest.get("parameters", {}))
            self._log_artifacts(run_id, result)
            self.client.set_terminated(run_id, "FINISHED")
        except Exception as exc:
            try:
                self.client.set_terminated(run_id, "FAILED")
            except Exception:  # the store may be the thing that failed; the first error is the one to report
                log.debug("could not mark MLflow run %s FAILED", run_id, exc_info=True)
            raise TrackingError(f"logging version {result.version} to MLflow run {run_id} at "
                                f"{redact(self.uri)} failed: {type(exc).__name__}: {exc}") from exc
        return run_id

    def log_failure(self, parameters: Mapping[str, Any], error: BaseException, *, started: float | None = None) -> str:
        """Record a training run that stopped before registering a version (bad data) as a FAILED run.

        Its params are the configuration it ran with and the error is tag `movierec.error` and the
        run's description, so a failed scheduled retrain shows up where the successful ones do.
        """
        message = f"{type(error).__name__}: {error}"
        tags = {**_context_tags(), "movierec.error": message[:_MAX_TAG_CHARS],
                "mlflow.note.content": f"training failed: {message}"[:_MAX_TAG_CHARS]}
        registry_dir = parameters.get("registry_dir")
        if registry_dir:
            tags["movierec.registry"] = str(Path(str(registry_dir)).resolve())
        run_id = self._create_run("failed", tags, started)
        try:
            self._log_params(run_id, parameters)
        finally:
            self.client.set_terminated(run_id, "FAILED")
        return run_id

    def _create_run(self, name: str, tags: dict[str, str], started: float | None, what: str = "") -> str:
        """A new run (started at `started`, a `time.time()`, or now); TrackingError if the store refuses."""
        start_ms = int((started if started is not None else time.time()) * 1000)
        try:
            run = self.client.create_run(self.experiment_id, start_time=start_ms, tags=tags, run_name=name)
        except Exception as exc:
            raise TrackingError(f"creating an MLflow run {what}at {redact(self.uri)} failed: "
                                f"{type(exc).__name__}: {exc}") from exc
        return run.info.run_id

    def _log_params(self, run_id: str, parameters: Mapping[str, Any]) -> None:
        """The configuration as params, flattened (`cluster.k_min`), in MLflow's batches."""
        from mlflow.entities import Param

        for chunk in _chunks([Param(key, value) for key, value in sorted(flatten(parameters).items())]):
            self.client.log_batch(run_id, params=chunk)

    def _tags(self, result: TrainResult) -> dict[str, str]:
        tags = _context_tags()
        tags.update({
            "movierec.version": result.version,
            "movierec.registry": str(result.path.parent.resolve()),
            "movierec.promoted": str(result.promoted).lower(),
        })
        if result.gate is not None:
            tags["movierec.gate"] = "passed" if result.gate.passed else "failed"
            tags.update({f"movierec.gate.{check.name}": check.outcome for check in result.gate.checks})
        tags["mlflow.note.content"] = _description(result)[:_MAX_TAG_CHARS]  # the run's description in the UI
        return tags

    def _log_artifacts(self, run_id: str, result: TrainResult) -> None:
        with tempfile.TemporaryDirectory(prefix="movierec-mlflow-") as scratch:
            folder = Path(scratch)
            gate = result.gate
            (folder / "gate.json").write_text(json.dumps({
                "version": result.version,
                "passed": None if gate is None else gate.passed,
                "promoted": result.promoted,
                "checks": [] if gate is None else [check.to_dict() for check in gate.checks],
            }, indent=2))
            (folder / "report.txt").write_text(_description(result) + "\n")
            self.client.log_artifacts(run_id, str(folder))
        self.client.log_artifact(run_id, str(result.path / registry.MANIFEST))
        if self.artifacts == "version":
            self.client.log_artifacts(run_id, str(result.path), "version")


def _description(result: TrainResult) -> str:
    """The report `movierec-train` prints: headline numbers, timings and the gate's verdict."""
    text = report_text(result.version, result.manifest, promoted=result.promoted)
    return text if result.gate is None else text + "\n" + result.gate.text()


def _context_tags() -> dict[str, str]:
    """MLflow's usual run context (user, source, git commit), as the fluent API would add it."""
    try:
        from mlflow.tracking.context.registry import resolve_tags

        return {key: str(value) for key, value in resolve_tags().items()}
    except Exception:  # an internal helper: its absence must not cost the run
        log.debug("MLflow context tags unavailable", exc_info=True)
        return {}


@contextmanager
def _quick_http_failure() -> Iterator[None]:
    """Short HTTP retries while the store is checked (variables the user set are left alone)."""
    added = {key: value for key, value in _PREFLIGHT_HTTP.items() if key not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


def from_environment(environ: Mapping[str, str] | None = None) -> MlflowTracker | None:
    """A tracker when `MLFLOW_TRACKING_URI` is set, else None (and mlflow is never imported).

    Called before training: a missing `mlflow` extra, a bad `MOVIEREC_MLFLOW_ARTIFACTS` or a store
    that cannot be opened raises TrackingError now rather than after the training run.
    """
    environ = os.environ if environ is None else environ
    uri = environ.get(TRACKING_URI_ENV, "").strip()
    if not uri:
        return None
    artifacts = environ.get(ARTIFACTS_ENV, "manifest").strip().lower() or "manifest"
    if artifacts not in ARTIFACT_MODES:
        raise TrackingError(f"{ARTIFACTS_ENV}={artifacts!r}: expected one of {', '.join(ARTIFACT_MODES)}")
    try:
        import mlflow.tracking  # not `from mlflow.tracking import …`: that finds a cached submodule
    except ImportError as exc:
        raise TrackingError(
            f"{TRACKING_URI_ENV} is set ({redact(uri)}) but MLflow is not installed: run `{INSTALL_HINT}` "
            f"(or `make install`), or unset {TRACKING_URI_ENV} to train without tracking ({exc})") from exc
    name = environ.get(EXPERIMENT_ENV, "").strip() or DEFAULT_EXPERIMENT
    try:
        with _quick_http_failure():
            client = mlflow.tracking.MlflowClient(tracking_uri=uri)
            experiment = client.get_experiment_by_name(name)
            experiment_id = client.create_experiment(name) if experiment is None else experiment.experiment_id
    except Exception as exc:
        raise TrackingError(f"MLflow tracking store {redact(uri)} cannot be used: {type(exc).__name__}: {exc}") from exc
    if experiment is not None and experiment.lifecycle_stage != "active":
        raise TrackingError(f"MLflow experiment {name!r} at {redact(uri)} is deleted: restore it or set "
                            f"{EXPERIMENT_ENV} to another name")
    log.info("tracking training runs in MLflow experiment %r at %s", name, redact(uri))
    return MlflowTracker(uri=uri, experiment_id=str(experiment_id), artifacts=artifacts, client=client)
