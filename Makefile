# movierec — every step a newcomer needs, from a clean clone to a serving model.
# `make serve` and `make test` are the two commands; the rest are their parts.

PYTHON      ?= python3
VENV        ?= .venv
PY          := $(VENV)/bin/python
DATA_DIR    ?= data
REGISTRY    ?= registry
SHARED_DATA ?= ../shared/data
PORT        ?= 50051
STAMP       := $(VENV)/.installed

.PHONY: serve test train data proto lint eval bench bench-index test-prometheus search-eval fuzz reload-bench clean help

help:
	@echo "make serve   set up, fetch data, train if no production model, serve gRPC on :$(PORT)"
	@echo "make test    run the test suite"
	@echo "make train | data | proto | lint | clean"

# The dev install includes the optional [mlflow] extra (~20 s) so `make test` runs the MLflow tracking tests.
$(STAMP): pyproject.toml clients/python/pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ./clients/python -e ".[dev,mlflow]"
	@touch $@

install: $(STAMP)

data: $(STAMP)
	$(PY) -m movierec.trainer.fetch --data-dir $(DATA_DIR) --shared $(SHARED_DATA)

train: data
	$(PY) -m movierec.trainer --data-dir $(DATA_DIR) --registry $(REGISTRY)

# Train only when the registry has no production model yet.
$(REGISTRY)/production:
	$(MAKE) train

serve: $(STAMP) $(REGISTRY)/production
	$(PY) -m movierec.service --registry $(REGISTRY) --port $(PORT)

test: $(STAMP)
	$(PY) -m pytest -q

proto: $(STAMP)
	$(PY) -m grpc_tools.protoc -I proto \
	    --python_out=clients/python --grpc_python_out=clients/python --pyi_out=clients/python \
	    proto/movierec/v1/*.proto

# Search quality (MRR@10, success@1 per title perturbation; person success@10) and in-process latency;
# trains on DATA_DIR into a temporary registry, writes benchmarks/results/search_quality.json.
search-eval: data
	$(PY) -m benchmarks.search_quality --data-dir $(DATA_DIR)

# shared/EVALUATION.md §1-3: rating tasks (5-fold), top-N on the per-user time split (RecommendForUser's
# served scoring vs popularity, item-kNN, EASE), content similarity; writes benchmarks/results/eval.json.
eval: data
	$(PY) -m pip install --quiet -e ".[eval]" || echo "scikit-surprise did not install: the SVD baseline row is left out"
	$(PY) -m benchmarks.eval --data-dir $(DATA_DIR)

# Serving benchmark (benchmarks/bench.py, ~3-5 min): every RPC against a hello-world gRPC ceiling at
# concurrency 1/8/32 and open loop, in-process handler costs, cold start, --workers 2 vs 1;
# writes benchmarks/results/bench.json and bench.png.
bench: $(STAMP) $(REGISTRY)/production
	$(PY) -m benchmarks.bench --registry $(REGISTRY)

# FAISS scopes: recall@10 and latency on the served catalog and on a synthetic 1M x 128 catalog;
# writes benchmarks/results/index_bench.json.
bench-index: $(STAMP) $(REGISTRY)/production
	$(PY) -m benchmarks.index_bench --registry $(REGISTRY)

# A real Prometheus scrapes a real server and answers a p99 PromQL query; promtool checks deploy/ rules.
# Installs Debian's prometheus package when the binary is missing (needs root or sudo).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
test-prometheus: $(STAMP)
	@command -v prometheus >/dev/null || { $(SUDO) apt-get update -q && \
	    $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus; }
	promtool check rules deploy/prometheus/alerts.yml
	promtool check config deploy/prometheus/prometheus.yml
	$(PY) -m pytest -q tests/integration/test_prometheus_scrape.py tests/unit/test_deploy.py

# Property-based fuzzing of every RPC (10,000 requests) against a server on REGISTRY's production model.
fuzz: $(STAMP) $(REGISTRY)/production
	$(PY) -m benchmarks.fuzz --registry $(REGISTRY) --requests 10000

# Ten model swaps through Admin/Reload under load; zero failed calls; benchmarks/results/reload_under_load.json.
reload-bench: $(STAMP) $(REGISTRY)/production
	$(PY) -m benchmarks.reload_under_load --registry $(REGISTRY)

lint: $(STAMP)
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) build *.egg-info clients/python/*.egg-info
