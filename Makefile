# `make plan` and `make test` work on a fresh machine: they create .venv and install what they need.
PYTHON ?= python3
STACK ?= dev
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed

.PHONY: plan test bench clean

plan: $(RUNTIME_STAMP)
	$(BIN)/python -m mlp plan $(STACK)

test: $(DEV_STAMP)
	$(BIN)/python -m pytest

bench: $(RUNTIME_STAMP)
	$(BIN)/python bench/plan_speed.py

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUNTIME_STAMP): requirements.txt | $(BIN)/python
	$(PIP) -r requirements.txt
	touch $@

$(DEV_STAMP): requirements.txt requirements-dev.txt policy/requirements.txt | $(BIN)/python
	$(PIP) -r requirements-dev.txt
	touch $@ $(RUNTIME_STAMP)

clean:
	rm -rf $(VENV) .pytest_cache
