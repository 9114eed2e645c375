# Two entry points for a fresh machine:
#   make run    set up, then start the hub, the REST edge and one enrolled local agent
#   make test   set up, then check the contract and run the test suite
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: setup run test check protos lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

run: setup
	$(BIN)/python tools/run_local.py

protos: setup
	PYTHON=$(BIN)/python tools/protos.sh gen

check: setup
	PYTHON=$(BIN)/python tools/protos.sh lint
	PYTHON=$(BIN)/python tools/protos.sh check
	PYTHON=$(BIN)/python tools/protos.sh breaking
	$(BIN)/ruff check server edge agent tests tools bench

test: check
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) build .pytest_cache
