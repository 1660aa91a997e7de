# tokentrail developer commands. Every target creates the virtual environment it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
EXTRAS := dev,sink,ui,fastapi,grpc
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: setup test test-fast lint fmt bench demo stack sdk-matrix interop clean browser valgrind

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip uv
	$(BIN)/uv pip install -q --python $(BIN)/python -e '.[$(EXTRAS)]'
	touch $@

lint: setup
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
	$(BIN)/lint-imports

fmt: setup
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

stack: setup
	bash deploy/build-stack.sh

# The whole suite: lint, the real collector and Jaeger, the main test run on the newest SDK,
# then the older SDK generations and the peer-interop run in their own environments (the peer tests run only
# there, where each peer is installed).
test: lint stack browser
	$(BIN)/pytest -m "not interop"
	$(BIN)/nox -db uv -s sdk interop

# The UI's browser tests drive the system Chromium (Debian's package; Playwright downloads none). CI runs as
# root on a fresh machine, so it installs it there; a missing browser is a failure, never a skip.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q chromium; \
		else echo "the UI tests need /usr/bin/chromium: run 'sudo apt-get install -y chromium'" >&2; exit 1; fi; \
	fi

# The instruction counts of `make bench` run under valgrind's callgrind (Debian's package).
valgrind:
	@if ! command -v valgrind >/dev/null || ! command -v callgrind_control >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q valgrind; \
		else echo "make bench needs valgrind: run 'sudo apt-get install -y valgrind'" >&2; exit 1; fi; \
	fi

test-fast: setup
	$(BIN)/pytest -m "not stack and not interop"

sdk-matrix: setup
	$(BIN)/nox -db uv -s sdk

interop: setup
	$(BIN)/nox -db uv -s interop

# Per-call overhead against the peers, tokentrail's own work in one process and in instructions (valgrind), sink
# ingest against raw COPY, then the web UI's pages over a million stored calls; each rewrites its section of
# docs/benchmarks.md.
bench: setup valgrind
	$(BIN)/nox -db uv -s bench
	$(BIN)/python bench/sink_ingest.py --write-docs
	$(BIN)/python bench/ui_pages.py --write-docs

demo: setup
	$(BIN)/python -m tokentrail.dev.demo

clean:
	rm -rf $(VENV) .nox .pytest_cache .mypy_cache .ruff_cache
