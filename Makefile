# Two entry points for a fresh machine (Python 3.11 + pip): `make serve` and `make test`.
# Each creates .venv and installs the project on first use.

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: serve test test-slow test-all lint bench eval-retrieval eval-answers clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

serve: $(STAMP)  ## chat UI + API on http://127.0.0.1:7860 over the sample corpus
	$(BIN)/qa serve

test: $(STAMP)  ## the default suite (< 10 min on 2 cores), offline
	$(BIN)/pytest -m "not slow" -q

test-slow: $(STAMP)  ## browser, fuzzing, scale-out and full-size suites
	$(BIN)/pytest -m slow -q

test-all: test test-slow

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/scale.py

eval-retrieval: $(STAMP)
	$(BIN)/qa eval retrieval --split test

eval-answers: $(STAMP)
	$(BIN)/qa eval answers --split test

clean:
	rm -rf $(VENV) data artifacts .pytest_cache .ruff_cache
