# The two commands a user needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export CALLMASK_DATABASE_URL ?= sqlite:///./callmask.db

.PHONY: run test lint bench install system-deps sip clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/callmask migrate
	$(BIN)/callmask demo
	$(BIN)/callmask serve

system-deps:
	bash scripts/system-deps.sh

test: $(STAMP) system-deps
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

# Short versions of every benchmark (minutes); docs/benchmarks.md names the full-length runs.
bench: $(STAMP) system-deps
	$(BIN)/python -m bench.pool
	$(BIN)/python -m bench.scale
	$(BIN)/python -m bench.http
	$(BIN)/python -m bench.calls
	$(BIN)/python -m bench.calls --rtpengine
	$(BIN)/python -m bench.recording
	$(BIN)/python -m bench.console
	$(BIN)/python -m bench.summary

# Kamailio on the shipped configuration against the local API (make run in another shell).
sip: $(STAMP) system-deps
	$(BIN)/callmask sip run --dev

clean:
	rm -rf $(VENV) callmask.db callmask.db-wal callmask.db-shm
