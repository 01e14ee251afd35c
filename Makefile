# FLEAD developer entry points. `make help` lists them.
SHELL := /bin/bash
PY := .venv/bin/python
VENV_STAMP := .venv/.installed

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(VENV_STAMP): pyproject.toml
	test -x .venv/bin/python || python3.11 -m venv .venv || /root/.pyenv/versions/3.11.7/bin/python -m venv .venv
	.venv/bin/pip install -q --upgrade pip==25.3
	.venv/bin/pip install -q -e '.[services,operator,dev]'
	touch $(VENV_STAMP)

venv: $(VENV_STAMP) ## create .venv with the flead command and all extras

demo: venv ## run `flead simulate` on synthetic data and write the report to reports/demo
	.venv/bin/flead simulate --out reports/demo

lint: venv ## ruff and mypy
	.venv/bin/ruff check .
	.venv/bin/mypy

kube-score: venv ## kube-score (built from its Go module on first use) on the rendered chart: fails on any CRITICAL not explained in deploy/kube_score.py
	$(PY) -m deploy.kube_score

test-unit: venv ## pure unit tests, no server needed
	.venv/bin/pytest -m unit

test: venv ## everything: lint, start the test bed (real node included), all tests (cluster-e2e included), stop the bed
	$(MAKE) lint
	./testbed/up.sh
	. .testbed/env && $(MAKE) kube-score
	status=0; .venv/bin/pytest || status=$$?; ./testbed/down.sh; exit $$status

test-e2e: venv ## the chart end to end on the bed's real node: builds and loads the images; leaves the bed up
	./testbed/up.sh
	.venv/bin/pytest -m cluster-e2e

testbed: ## build (first time) and start Kafka, FerretDB, Kubernetes+KWOK + a real node, Prometheus
	./testbed/up.sh

testbed-down: ## stop the test bed and remove its data
	./testbed/down.sh

testbed-status: ## show each test bed component and its health
	./testbed/status.sh

testbed-registry: ## start the bed's image registry (CNCF distribution, http on the node IP; built on first use)
	./testbed/registry.sh up

testbed-prometheus-operator: ## start the prometheus-operator against the bed's API server (built on first use)
	./testbed/prometheus-operator.sh up

up: venv ## run producer, trainers and aggregator as local processes on the test bed
	./scripts/stack.sh up

down: ## stop the local process stack
	./scripts/stack.sh down

operator: venv ## run the operator in the foreground against $$KUBECONFIG
	.venv/bin/kopf run --standalone --all-namespaces --liveness=http://127.0.0.1:8085/healthz -m flead_operator.handlers

bench: venv ## benchmarks, each printed beside a baseline from the same run
	$(PY) -m benchmarks

dashboards: venv ## regenerate charts/flead/dashboards/*.json from deploy/dashboards
	$(PY) -m deploy.dashboards

images: ## build the four images flead-<component>:dev (IMAGE_TAG overrides; docker, else podman), then smoke-test them
	./scripts/images.sh build

images-load: ## import the built images into containerd (CONTAINERD_ADDRESS, namespace k8s.io)
	./scripts/images.sh load

images-smoke: ## start each built image without a passwd entry, read-only, as a kubelet would
	./scripts/images.sh smoke

manifests: venv ## regenerate values.schema.json and manifests/ from the chart (needs helm: . .testbed/env)
	$(PY) -m deploy.values_schema
	$(PY) -m deploy.manifests

.PHONY: images images-load images-smoke dashboards manifests help venv demo lint kube-score test-unit test test-e2e testbed testbed-down testbed-status testbed-registry testbed-prometheus-operator up down operator bench
