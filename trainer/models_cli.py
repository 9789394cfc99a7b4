"""movierec models: inspect the registry and move the production pointer.

    movierec models list                 every version, its status and headline metrics
    movierec models show VERSION         manifest summary, checksums verified, gate verdict, history
    movierec models promote VERSION      run the promotion gate, then point production at VERSION
                                         (--force promotes despite a failing gate; checksums always verified)
    movierec models rollback             point production back at the version served before the current one
    movierec models history              the lifecycle events

Every command only reads and writes the registry directory (`--registry`, default `registry`);
a running server notices the new production version by itself (polling, SIGHUP or Admin/Reload).
Exit codes: 0 done, 1 refused (gate failed, nothing to roll back, corrupt version), 2 usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from movierec.artifacts import lifecycle, registry

from .config import GateConfig
from .gate import evaluate, production_manifest

HEADLINE = ("silhouette", "classifier_auc", "ranker_validation_ndcg@10", "movies")


def _number(value: Any) -> str:
    if isinstance(value, (int, float)) and float(value).is_integer() and abs(value) < 1e12:
        return str(int(value))
    return f"{value:.4g}" if isinstance(value, (int, float)) else "-"


def cmd_list(args: argparse.Namespace) -> int:
    found = lifecycle.statuses(args.registry)
    if args.json:
        print(json.dumps([{"version": s.name, "status": s.status, "created": s.created,
                           "metrics": {k: s.metrics.get(k) for k in HEADLINE}, "mlflow_run_id": s.mlflow_run_id}
                          for s in found], indent=2))
        return 0
    if not found:
        print(f"no versions in {args.registry}")
        return 0
    rows = [("version", "status", "created", *HEADLINE, "last event")]
    for s in found:
        event = s.last_event or {}
        note = event.get("event", "")
        if note == "rejected":
            note += ": " + ", ".join(c["name"] for c in event.get("checks", []) if c.get("outcome") == "fail")
        rows.append((s.name, s.status, s.created, *(_number(s.metrics.get(k)) for k in HEADLINE), note))
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    version = registry.open_version(args.registry, args.version, verify=False)
    try:
        registry.verify_files(version)
        integrity = f"ok ({len(version.manifest.get('files', {}))} files match their sha256)"
    except registry.RegistryError as exc:
        integrity = f"FAILED: {exc}"
    status = next((s.status for s in lifecycle.statuses(args.registry) if s.name == args.version), "?")
    events = [e for e in lifecycle.read_history(args.registry) if e.get("version") == version.name]
    tracked = next((e for e in reversed(events) if e.get("event") == lifecycle.TRACKED), None)
    gate = evaluate(version.manifest, production_manifest(args.registry), GateConfig())
    if args.json:
        print(json.dumps({"version": version.name, "status": status, "integrity": integrity,
                          "created": version.manifest.get("created"), "metrics": version.manifest.get("metrics", {}),
                          "gate": [c.to_dict() for c in gate.checks],
                          "mlflow_run_id": tracked.get("mlflow_run_id") if tracked else None}, indent=2))
        return 0
    print(f"version {version.name}  status {status}  created {version.manifest.get('created', '?')}")
    print(f"  path: {version.path}")
    print(f"  integrity: {integrity}")
    if tracked:
        print(f"  mlflow: run {tracked.get('mlflow_run_id')} (experiment {tracked.get('mlflow_experiment_id')} "
              f"at {tracked.get('tracking_uri')})")
    print("  metrics:")
    for key, value in sorted(version.manifest.get("metrics", {}).items()):
        print(f"    {key}: {_number(value) if isinstance(value, (int, float)) else value}")
    print("  " + gate.text().replace("\n", "\n  "))
    if events:
        print("  history:")
        for event in events:
            print(f"    {event['time']} {event['event']}" + (f" (previous {event['previous']})"
                                                            if event.get("previous") else ""))
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    candidate = registry.open_version(args.registry, args.version, verify=True)  # corrupt: refused, always
    current = registry.read_pointer(args.registry)
    if current == args.version:
        print(f"{args.version} is already production")
        return 0
    gate = evaluate(candidate.manifest, production_manifest(args.registry), GateConfig())
    print(gate.text())
    if not gate.passed and not args.force:
        print(f"not promoted: the gate failed ({', '.join(c.name for c in gate.failed)}); "
              "--force promotes anyway", file=sys.stderr)
        return 1
    previous = lifecycle.promote(args.registry, args.version, checks=[c.to_dict() for c in gate.checks],
                                 by="operator" + (" --force" if args.force and not gate.passed else ""),
                                 verify=False)
    print(f"production: {previous or '(none)'} → {args.version}")
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    current, target = lifecycle.rollback(args.registry)
    print(f"production: {current} → {target} (rolled back)")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    for event in lifecycle.read_history(args.registry):
        print(json.dumps(event) if args.json else
              f"{event['time']}  {event['event']:<9} {event['version']}"
              + (f"  (previous {event['previous']})" if event.get("previous") else "")
              + (f"  by {event['by']}" if event.get("by") else "")
              + (f"  mlflow run {event['mlflow_run_id']}" if event.get("mlflow_run_id") else ""))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="movierec", description="movierec operator commands.")
    groups = parser.add_subparsers(dest="group", required=True)
    models = groups.add_parser("models", help="the model registry: list, show, promote, rollback",
                               description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    models.add_argument("--registry", type=Path, default=Path("registry"), help="registry directory")
    models.add_argument("--json", action="store_true", help="machine-readable output (list, show, history)")
    commands = models.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="versions and their status").set_defaults(run=cmd_list)
    show = commands.add_parser("show", help="one version in detail")
    show.add_argument("version")
    show.set_defaults(run=cmd_show)
    promote = commands.add_parser("promote", help="gate, then point production at VERSION")
    promote.add_argument("version")
    promote.add_argument("--force", action="store_true", help="promote even if the gate fails")
    promote.set_defaults(run=cmd_promote)
    commands.add_parser("rollback", help="back to the previous production version").set_defaults(run=cmd_rollback)
    commands.add_parser("history", help="lifecycle events").set_defaults(run=cmd_history)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except registry.RegistryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
