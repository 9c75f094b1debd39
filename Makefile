# sluice — every target sets up what it needs, so a fresh machine runs `make demo` or `make test` directly.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: setup system-deps test lint unit demo crds cluster cluster-down bench clean

$(STAMP): pyproject.toml
	@command -v cc >/dev/null 2>&1 || bash scripts/install-system-deps.sh  # the Cython build needs a compiler
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

# The proxy's hot path compiled with Cython (setup.py), again whenever one of its sources changes.
PROXY_TYPED := $(wildcard mesh/proxy/*.pxd)
PROXY_C := $(wildcard mesh/proxy/*.pyx)
PROXY_BUILT := mesh/proxy/.compiled
$(PROXY_BUILT): $(STAMP) setup.py $(PROXY_TYPED) $(PROXY_TYPED:.pxd=.py) $(PROXY_C)
	@rm -f mesh/proxy/*.c  # regenerate all: a .pxd or a directive in setup.py changes other modules too
	$(PY) setup.py -q build_ext --inplace
	@touch $@

setup: $(STAMP) $(PROXY_BUILT)

# Debian packages the integration tests use for real (prometheus); idempotent.
system-deps:
	@bash scripts/install-system-deps.sh

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

unit: setup
	$(PY) -m pytest tests/unit -q

test: setup system-deps lint cluster-binaries helm
	$(PY) -m pytest

demo: setup
	$(VENV)/bin/sluice demo

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .import_linter_cache

# CRDs for charts/sluice generated from the API models (a unit test fails when they drift).
crds: setup
	$(PY) scripts/gen_crds.py

# The real Kubernetes test control plane (tests/cluster): binaries built once per version into
# ~/.cache/sluice/ (cold build: tens of minutes on 2 cores; skipped when cached).
.PHONY: cluster-binaries
cluster-binaries:
	@bash tests/cluster/build.sh

# Bring the test control plane up in the background for manual use; prints the kubeconfig path.
cluster: setup cluster-binaries
	@$(PY) -m tests.cluster up

# Stop the processes `make cluster` started, by the PIDs recorded in .sluice/cluster/pids.json.
cluster-down: setup
	@$(PY) -m tests.cluster down

# helm for the chart tests, built once with `go install` into ~/.cache/sluice/bin (cold: ~4 min; cached: instant).
.PHONY: helm chart-lint
HELM := $(or $(SLUICE_CACHE_DIR),$(HOME)/.cache/sluice)/bin/helm
helm:
	@bash scripts/install-helm.sh >/dev/null

# helm lint --strict and helm template of charts/sluice (defaults, and with every option on).
chart-lint: helm
	$(HELM) lint --strict charts/sluice
	$(HELM) template sluice charts/sluice --namespace sluice-system --include-crds >/dev/null
	$(HELM) template sluice charts/sluice --namespace sluice-system \
	  --set replicaCount=2,leaderElection.enabled=true,serviceMonitor.enabled=true,podDisruptionBudget.enabled=true \
	  --set readinessProbe.httpGet.path=/healthz,controller.namespace=team-a >/dev/null
	@echo "chart-lint: ok"
