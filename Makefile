# Every target installs what it needs into .venv first, so a fresh clone
# needs nothing but Python 3.11+ and make.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Where run and demo serve. In demo mode the server calls the stand-in for
# Google on itself: `python -m example_project.demo prepare` refuses an address
# already taken (a demo running) and records the free one in .demo/base-url,
# where the server and commands run by hand find it.
ADDRPORT ?= 127.0.0.1:8000
MANAGE := $(BIN)/python manage.py
# The example project's DEBUG is off unless asked for; these local servers ask.
DEBUG_MANAGE := DEBUG=1 $(MANAGE)
DEMO_MANAGE := DEMO_MODE=1 DEBUG=1 $(MANAGE)
PREPARE_DEMO := $(BIN)/python -m example_project.demo prepare $(ADDRPORT)
# The site's tables, then the stand-in's, which live in a database of their own:
# one command, so one report and one SECRET_KEY warning (the commands after it
# are told the warning was given).
MIGRATE_DEMO := $(DEMO_MANAGE) migrate_demo
WARNED_MANAGE := EXAMPLE_SECRET_KEY_WARNED=1 $(DEMO_MANAGE)
# make run uses demo mode unless a Google client is configured, in the
# environment or in .env.
CLIENT_ID_SET := $(or $(GOOGLE_CLIENT_ID),$(shell sed -n 's/^GOOGLE_CLIENT_ID=\(..*\)$$/\1/p' .env 2>/dev/null))
RUN_DEMO_MODE := $(if $(CLIENT_ID_SET),,1)

BENCH_STAMP := $(VENV)/.bench-stamp

.PHONY: install test screenshots lint format run demo worker tox clean bench bench-smoke docs

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## make test: the suite on SQLite, or on $$DATABASE_URL when set.
test: $(STAMP)
	$(BIN)/pytest

## make screenshots: walk the demo tour in Chromium and save the tutorial's
## screenshots into docs/ (make test saves them to a temporary directory).
screenshots: $(STAMP)
	$(BIN)/pytest tests/e2e --update-screenshots

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## make run: migrate and serve the example project on http://127.0.0.1:8000
## (with DEMO_MODE=1, against the local stand-in for Google, unless GOOGLE_CLIENT_ID is set).
run: $(STAMP)
ifeq ($(RUN_DEMO_MODE),1)
	@$(PREPARE_DEMO)
	$(MIGRATE_DEMO)
	$(WARNED_MANAGE) runserver $(ADDRPORT)
else
	$(DEBUG_MANAGE) migrate
	$(DEBUG_MANAGE) runserver $(ADDRPORT)
endif

## make demo: demo mode (DEMO_MODE=1), plus a demo user and a superuser whose credentials it prints.
demo: $(STAMP)
	@$(PREPARE_DEMO)
	$(MIGRATE_DEMO)
	$(WARNED_MANAGE) demo_setup
	@echo "Open http://$(ADDRPORT)/ and log in with one of the accounts above."
	$(WARNED_MANAGE) runserver $(ADDRPORT)

## make worker: a Celery worker with beat for the example project (example_project/celery.py),
## against $$REDIS_URL (default redis://127.0.0.1:6379/0). Optional: the demo runs without it.
REDIS_URL ?= redis://127.0.0.1:6379/0
worker: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,celery]'
	REDIS_URL=$(REDIS_URL) $(BIN)/celery -A example_project worker --beat \
		--schedule $(VENV)/celerybeat-schedule --loglevel INFO

## make tox: the whole tox matrix (see tox.ini); ENV=name[,name] runs only those envs,
## TOX_ARGS passes more options to tox run.
# tox looks for python3.11, python3.12 and python3.13 on PATH. pyenv's shims
# answer only for the active versions, so make every installed 3.11-3.13 active.
PYENV_PYTHONS = $(shell command -v pyenv >/dev/null 2>&1 && pyenv versions --bare --skip-aliases --skip-envs | grep -E '^3\.1[1-3]\.[0-9]+$$' | paste -sd: -)
tox: $(STAMP)
	$(BIN)/python -m pip install --quiet 'tox>=4.20'
	$(if $(PYENV_PYTHONS),PYENV_VERSION=$(PYENV_PYTHONS)) $(BIN)/tox run $(if $(ENV),-e $(ENV)) $(TOX_ARGS)

DOCS_STAMP := $(VENV)/.docs-stamp

$(DOCS_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,docs]'
	touch $(DOCS_STAMP)

## make docs: build the documentation site into docs/_build/html, with every
## warning an error (-W --keep-going) and every cross-reference checked (-n).
docs: $(DOCS_STAMP)
	$(BIN)/sphinx-build -W --keep-going -n -b html docs docs/_build/html

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
	rm -rf $(VENV) .tox build dist *.egg-info .demo docs/_build
