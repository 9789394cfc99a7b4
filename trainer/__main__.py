"""movierec-train: build a new registry version from the data directory.

Exit codes: 0 trained (and promoted unless --no-promote); 2 not trained (bad data, bad arguments,
or MLFLOW_TRACKING_URI set but tracking unusable); 3 registered but the promotion gate failed;
4 registered (and promoted if the gate passed) but logging it to MLflow (or noting the run in the registry) failed.
With tracking, a run that stops on bad data is logged as a FAILED MLflow run (exit 2 still).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import time
from pathlib import Path

from movierec.artifacts import lifecycle

from .config import TrainConfig
from .errors import DataError
from .pipeline import train
from .tracking import MlflowTracker, TrackingError, from_environment, redact

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="movierec-train", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=TrainConfig.data_dir)
    parser.add_argument("--registry", type=Path, default=TrainConfig.registry_dir)
    parser.add_argument("--no-promote", action="store_true", help="register the version without serving it")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                        help="override a TrainConfig field, e.g. --set cluster.k_min=2 --set gate.min_silhouette=0.1")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = dataclasses.replace(TrainConfig(), data_dir=args.data_dir, registry_dir=args.registry,
                                 promote=not args.no_promote)
    try:
        config = with_overrides(config, args.overrides)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        tracker = from_environment()     # None unless MLFLOW_TRACKING_URI is set; checked before minutes of work
    except TrackingError as exc:
        print(f"training not started: {exc}", file=sys.stderr)
        return 2
    started = time.time()
    try:
        result = train(config)
    except (DataError, FileNotFoundError) as exc:
        print(f"training failed: {exc}", file=sys.stderr)
        if tracker is not None:
            log_failure(tracker, config, exc, started)
        return 2
    tracking_failed = False
    if tracker is not None:
        try:
            run_id = tracker.log_version(result, started=started)
            print(f"logged to MLflow: experiment {tracker.experiment_id}, run {run_id}")
        except Exception as exc:  # the version is registered already; tracking must not make it look lost
            log.info("MLflow tracking traceback", exc_info=True)
            print(f"version {result.version} is registered in {result.path.parent} but MLflow tracking failed: "
                  f"{exc}", file=sys.stderr)
            tracking_failed = True
        else:
            try:
                lifecycle.record_tracking(result.path.parent, result.version, run_id=run_id,
                                          experiment_id=tracker.experiment_id, uri=redact(tracker.uri))
            except OSError as exc:  # the run is logged; only the registry's pointer to it is missing
                print(f"MLflow run {run_id} is logged but could not be noted in the registry's history: {exc}",
                      file=sys.stderr)
                tracking_failed = True
    if result.gate is not None and not result.gate.passed:
        print(f"version {result.version} stays in staging: promotion gate failed "
              f"({', '.join(c.name for c in result.gate.failed)})", file=sys.stderr)
        return 3
    return 4 if tracking_failed else 0


def log_failure(tracker: MlflowTracker, config: TrainConfig, error: BaseException, started: float) -> None:
    """Record a run that stopped on bad data as a FAILED MLflow run; tracking trouble is only reported."""
    try:
        run_id = tracker.log_failure(config.to_dict(), error, started=started)
        print(f"logged the failed run to MLflow: experiment {tracker.experiment_id}, run {run_id}", file=sys.stderr)
    except Exception as exc:
        log.info("MLflow tracking traceback", exc_info=True)
        print(f"the failed run could not be logged to MLflow either: {exc}", file=sys.stderr)


def with_overrides(config: TrainConfig, overrides: list[str]) -> TrainConfig:
    """Apply `section.field=value` (or `field=value` for top-level scalars), typed like the default."""
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ValueError(f"--set {item!r}: expected SECTION.FIELD=VALUE")
        section, _, name = key.strip().rpartition(".")
        owner = getattr(config, section) if section else config
        if not dataclasses.is_dataclass(owner) or name not in {f.name for f in dataclasses.fields(owner)}:
            raise ValueError(f"--set {item!r}: no field {key!r} in the training configuration")
        current = getattr(owner, name)
        if isinstance(current, bool):
            value: object = raw.strip().lower() in {"1", "true", "yes", "on"}
        elif isinstance(current, tuple):
            value = tuple(type(current[0])(v) if current else v for v in raw.split(","))
        elif isinstance(current, (int, float, str, Path)):
            value = type(current)(raw)
        else:
            raise ValueError(f"--set {item!r}: {key} cannot be set from the command line")
        updated = dataclasses.replace(owner, **{name: value})
        config = dataclasses.replace(config, **{section: updated}) if section else updated
    return config


if __name__ == "__main__":
    sys.exit(main())
