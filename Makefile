# Every target installs what it needs into .venv first, so a fresh clone
# needs nothing but Python 3.11+ and make.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
BENCH_STAMP := $(VENV)/.bench-stamp

.PHONY: install test lint format run clean bench bench-smoke

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## make test: the suite on SQLite, or on $$DATABASE_URL when set.
test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## make run: migrate and serve the example project on http://127.0.0.1:8000.
run: $(STAMP)
	$(BIN)/python manage.py migrate
	$(BIN)/python manage.py runserver 127.0.0.1:8000

$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

## make bench: every benchmark at full size (needs PostgreSQL, as for the
## tests: $$BENCH_DATABASE_URL, $$DATABASE_URL or the local server); prints the
## figures and writes benchmarks/results.md.
bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks

## make bench-smoke: every benchmark at a tiny size, for CI; writes no results
## and fails only on errors, never on timings.
bench-smoke: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks --smoke

clean:
	rm -rf $(VENV) build dist *.egg-info
