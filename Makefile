# The two commands of the README: `make run` and `make test`. Both install what they need.
SHELL := /bin/bash
PYTHON ?= python3
UV ?= $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: setup run test lint bench clean

$(UV):
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m pip install --user --quiet uv || $(PYTHON) -m pip install --quiet --break-system-packages uv

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen
	@touch $@

setup: .venv/.synced  ## build .venv only

run: setup  ## serve on http://127.0.0.1:8000 (SQLite under ./data, simulated messages)
	$(UV) run --frozen arrears db upgrade
	$(UV) run --frozen arrears serve --host $(HOST) --port $(PORT)

test: setup  ## the whole suite
	$(UV) run --frozen pytest -n 2 --dist loadfile $(PYTEST_ARGS)

lint: setup
	$(UV) run --frozen ruff check .

clean:
	rm -rf .venv .pytest_cache
