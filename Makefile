# Two entry points for a fresh machine (Python 3.11 + pip): `make serve` and `make test`.
# Each creates .venv and installs the project on first use.

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: serve test test-slow test-all lock lint bench eval-retrieval eval-answers clean

LOCK    = requirements/lock.txt

$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c $(LOCK) -e '.[test,bench]'
	touch $(STAMP)

serve: $(STAMP)  ## chat UI + API on http://127.0.0.1:7860 over the sample corpus
	$(BIN)/qa serve --sample

test: $(STAMP)  ## the default suite (< 10 min on 2 cores), offline
	$(BIN)/pytest -m "not slow" -q

test-slow: $(STAMP)  ## browser, fuzzing, scale-out and full-size suites
	$(BIN)/pytest -m slow -q

test-all: test test-slow

lock:  ## re-resolve from pyproject.toml in a scratch venv and rewrite the lock
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --upgrade pip
	.lock-venv/bin/pip install --quiet -e '.[test,bench]'
	{ echo '# Exact versions the suite last passed with; the Makefile installs against them.'; \
	  echo '# Refresh with: make lock (then run make test).'; \
	  .lock-venv/bin/pip freeze --exclude-editable; } > $(LOCK)
	rm -rf .lock-venv

lint: $(STAMP)  ## ruff lint + format check + mypy (files and settings in pyproject.toml)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/scale.py

eval-retrieval: $(STAMP)
	$(BIN)/qa eval retrieval --split test

eval-answers: $(STAMP)
	$(BIN)/qa eval answers --split test

clean:
	rm -rf $(VENV) data artifacts .pytest_cache .ruff_cache
