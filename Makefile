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

.PHONY: plan test bench checkov clean

plan: $(RUNTIME_STAMP)
	$(BIN)/python -m mlp plan $(STACK)

test: $(DEV_STAMP) $(CHECKOV)
	$(BIN)/python -m pytest

bench: $(RUNTIME_STAMP)
	$(BIN)/python bench/plan_speed.py
	$(BIN)/python bench/cost_speed.py

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

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .pytest_cache
