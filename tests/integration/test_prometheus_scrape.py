"""A real Prometheus scrapes a real server, loads deploy/'s alert rules, and answers the p99 query.

Skipped when the `prometheus` binary is absent: `make test-prometheus` installs Debian's
`prometheus` package and runs this test. Scrapes every second; bounded to well under a minute.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import grpc
import pytest

from movierec.v1 import recommender_pb2 as pb
from movierec.v1 import recommender_pb2_grpc as pb_grpc
from tests.conftest import free_port

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("prometheus") is None,
                       reason="prometheus binary not installed: `make test-prometheus` installs the Debian package"),
]

ALERTS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"
P99 = ('histogram_quantile(0.99, sum by (le) '
       '(rate(grpc_server_handling_seconds_bucket{grpc_method="SimilarMovies"}[1m])))')
DEADLINE_SECONDS = 45


def query(base: str, promql: str) -> list[dict]:
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=5) as reply:
        body = json.loads(reply.read())
    assert body["status"] == "success", body
    return body["data"]["result"]


def get(base: str, path: str) -> dict:
    with urllib.request.urlopen(base + path, timeout=5) as reply:
        return json.loads(reply.read())


def test_prometheus_scrapes_the_server_and_computes_p99(server, tmp_path):
    shutil.copy(ALERTS, tmp_path / "alerts.yml")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "rule_files: [alerts.yml]\n"
        "scrape_configs:\n"
        "  - job_name: movierec\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{server.metrics_port}']}}]\n"
    )
    web = f"127.0.0.1:{free_port()}"
    base = f"http://{web}"
    prometheus = subprocess.Popen(
        ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address={web}", "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    stop = threading.Event()

    def traffic() -> None:  # steady SimilarMovies calls while Prometheus scrapes
        with grpc.insecure_channel(server.target) as channel:
            stub = pb_grpc.RecommenderStub(channel)
            while not stop.is_set():
                stub.SimilarMovies(pb.SimilarMoviesRequest(movie=pb.MovieRef(tmdb_id=100_001), k=5), timeout=5)
                time.sleep(0.01)

    caller = threading.Thread(target=traffic, daemon=True)
    caller.start()
    deadline = time.monotonic() + DEADLINE_SECONDS
    try:
        result: list[dict] = []
        while time.monotonic() < deadline:
            assert prometheus.poll() is None, prometheus.stderr.read()
            try:
                result = query(base, P99)
            except OSError:  # not listening yet
                result = []
            if result and math.isfinite(float(result[0]["value"][1])):
                break
            time.sleep(0.5)
        assert result, f"no p99 from Prometheus within {DEADLINE_SECONDS}s"
        p99 = float(result[0]["value"][1])
        print(f"Prometheus: {P99} = {p99 * 1000:.3f} ms")
        assert 0 < p99 <= 1.0
        up = query(base, 'up{job="movierec"}')
        assert up and up[0]["value"][1] == "1"
        groups = {g["name"] for g in get(base, "/api/v1/rules")["data"]["groups"]}
        assert {"movierec-recording", "movierec-alerts"} <= groups
    finally:
        stop.set()
        caller.join(timeout=10)
        prometheus.terminate()
        try:
            prometheus.wait(timeout=15)
        except subprocess.TimeoutExpired:
            prometheus.kill()
            prometheus.wait()
