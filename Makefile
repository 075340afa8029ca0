# The two commands of the README: `make run` and `make test`. Both install what they need.
SHELL := /bin/bash
PYTHON ?= python3
UV ?= $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
BENCH_TIMEOUT ?= 300
BENCH_PG ?= postgresql://postgres@127.0.0.1:5432

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

# Quick mode of every benchmark: small sizes, one round, each stopped after $(BENCH_TIMEOUT) s. The
# figures are a smoke check of the benchmarks, not the ones in docs/benchmarks*.md (their
# commands are there). Every benchmark in bench/ but soak.py is here. Needs PostgreSQL at $(BENCH_PG).
# The messaging one sends 300: its pass is the rate within 5 %, and over 100 (ten batches) one late
# batch of the stand-in's 100 ms answers alone moved it past that.
BENCHES := \
	"bench_phone_normalise.py 2000" \
	"bench_pdf_extract.py --pages 20 --repeat 1 --no-pdfplumber" \
	"bench_pharmacy_upload.py --pages 20 --repeat 1 --no-pdfplumber" \
	"bench_webhook_delivery.py --events 300 --rounds 2" \
	"bench_messaging.py --count 300 --skip-kill" \
	"bench_web_pages.py --accounts 500 --requests 10 --rounds 1" \
	"bench_import_xlsx.py --rows 2000 --repeat 1 --no-pandas --pg $(BENCH_PG)/postgres" \
	"bench_payments_import.py --lines 2000 --accounts 500 --repeat 1 --pg $(BENCH_PG)/postgres" \
	"bench_premium_webhook.py --duration 2 --warmup 1 --rounds 1" \
	"bench_figures.py --accounts 1000 --rounds 1 --database-url $(BENCH_PG)/arrears_figbench_quick" \
	"bench_promises.py --count 3000 --rounds 1 --database-url $(BENCH_PG)/postgres" \
	"bench_pipeline.py --rows 2000 --repeat 1 --pg $(BENCH_PG)/postgres --db-prefix arrears_bench_quick" \
	"bench_preview.py --rows 2000 --repeat 1" \
	"bench_fidelity.py" \
	"bench_letters.py --letters 20 --rounds 1" \
	"bench_strategies.py --accounts 300 --rounds 1 --database-url $(BENCH_PG)/arrears_stratbench_quick" \
	"bench_strategy_results.py --accounts 300 --rounds 1 --database-url $(BENCH_PG)/arrears_resultsbench_quick" \
	"bench_pre_ping.py --requests 50 --rounds 1"

bench: setup  ## quick runs of the benchmarks (bounded); the full runs are in docs/benchmarks.md
	@failed=""; for b in $(BENCHES); do \
		echo "== bench/$$b"; \
		timeout $(BENCH_TIMEOUT) $(UV) run --frozen python bench/$$b || failed="$$failed $${b%% *}"; \
	done; \
	if [ -n "$$failed" ]; then echo "benchmarks that failed or timed out:$$failed"; exit 1; fi

# ruff, mypy on arrears/ and the import-linter contracts of the layers (pyproject.toml): all three
# run, and the target fails if any of them does.
lint: setup  ## ruff, mypy and the layers' contracts
	@failed=""; \
	echo "== ruff"; $(UV) run --frozen ruff check . || failed="$$failed ruff"; \
	echo "== mypy"; $(UV) run --frozen mypy arrears || failed="$$failed mypy"; \
	echo "== import-linter"; $(UV) run --frozen lint-imports || failed="$$failed import-linter"; \
	if [ -n "$$failed" ]; then echo "lint failed:$$failed"; exit 1; fi

clean:
	rm -rf .venv .pytest_cache
