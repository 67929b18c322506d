# papersift: `make demo` sets everything up and replays a real listing day; `make test` runs
# the whole test suite. Both create .venv on first use.
PY ?= python3
VENV ?= .venv
SHARED ?= ../shared
DUMP ?= $(SHARED)/data/arxiv-cs-2024-2026.jsonl.gz
DEMO_DAY ?= 2025-11-12
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed

.PHONY: install demo test lint bench bench-delivery clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	# torch first, pinned: the CPU wheel (a bare `torch` would pull a multi-GB CUDA build)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev,ray]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	PAPERSIFT_STORE_URL=sqlite:///out/demo/papersift.sqlite \
	PAPERSIFT_DIGEST_OUT_DIR=out/demo/digests \
	sh -c '$(BIN)/papersift --config examples/demo.toml import-dump $(DUMP) && \
	       $(BIN)/papersift --config examples/demo.toml daily --date $(DEMO_DAY)'

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py --dump $(DUMP) --out benchmarks/RESULTS.md

bench-delivery: $(STAMP)
	$(BIN)/python benchmarks/delivery.py --dump $(DUMP) --out benchmarks/RESULTS.md

clean:
	rm -rf out $(VENV)
