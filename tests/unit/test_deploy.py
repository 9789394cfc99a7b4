"""deploy/: the Grafana dashboard and Prometheus rules refer to metrics the service exports and
are valid PromQL; promtool checks and unit-tests the alert rules when it is installed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "movierec.json"
PROMETHEUS = DEPLOY / "prometheus"
EXPORTED = re.compile(r"^(grpc_server_(started_total|handled_total|handling_seconds_(bucket|sum|count))"
                      r"|movierec_[a-z_]+|process_[a-z_]+|up)$")
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$method": ".*", "$instance": ".*", "$job": ".*"}
NEEDS_PROMTOOL = pytest.mark.skipif(shutil.which("promtool") is None,
                                    reason="promtool not installed (Debian package prometheus; "
                                           "`make test-prometheus` installs it)")


def dashboard_exprs() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    exprs += [a["expr"] for a in board["annotations"]["list"] if "expr" in a]
    return exprs


def metric_names(expr: str) -> set[str]:
    names = set(re.findall(r"\b([a-z_][a-z0-9_]*)\s*\{", expr))
    names |= set(re.findall(r"\b(grpc_server_[a-z_]+|movierec_[a-z_]+|process_[a-z_]+)\b", expr))
    return {n for n in names if n not in {"by", "sum", "rate", "max", "increase", "changes", "histogram_quantile"}}


def test_dashboard_covers_red_latency_stages_and_model():
    board = json.loads(DASHBOARD.read_text())
    titles = " | ".join(p["title"] for p in board["panels"])
    for wanted in ("Rate", "Errors", "p50", "p95", "p99", "Stage", "Model version"):
        assert wanted in titles
    exprs = dashboard_exprs()
    assert all(metric_names(e) for e in exprs)
    unknown = {n for e in exprs for n in metric_names(e) if not EXPORTED.match(n)}
    assert not unknown, f"dashboard queries metrics nobody exports: {unknown}"


@NEEDS_PROMTOOL
def test_dashboard_queries_are_valid_promql(tmp_path):
    rules = []
    for i, expr in enumerate(dashboard_exprs()):
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        rules.append({"record": f"dashboard:query_{i}", "expr": expr})
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(json.dumps({"groups": [{"name": "dashboard", "rules": rules}]}))  # JSON is YAML
    done = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


@NEEDS_PROMTOOL
def test_alert_rules_and_scrape_config_are_valid_and_fire_when_they_should():
    for args in (["check", "rules", "alerts.yml"], ["check", "config", "prometheus.yml"],
                 ["test", "rules", "alerts_test.yml"]):
        done = subprocess.run(["promtool", *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr


def test_alerts_use_the_reload_failure_counter_of_the_lifecycle_service():
    assert "movierec_model_reload_failures_total" in (PROMETHEUS / "alerts.yml").read_text()
