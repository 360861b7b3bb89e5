# Every target installs what it needs into .venv first, so a fresh clone
# needs nothing but Python 3.11+ and make.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Where run and demo serve. In demo mode the server calls the stand-in for
# Google on itself, so it is told its own address too.
ADDRPORT ?= 127.0.0.1:8000
SERVE := DEMO_BASE_URL=http://$(ADDRPORT) $(BIN)/python manage.py runserver $(ADDRPORT)

.PHONY: install test lint format run demo clean

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

## make run: migrate and serve the example project on http://127.0.0.1:8000
## (in demo mode, against the local stand-in for Google, unless GOOGLE_CLIENT_ID is set).
run: $(STAMP)
	$(BIN)/python manage.py migrate
	$(SERVE)

## make demo: like run, plus a demo user and a superuser whose credentials it prints.
demo: $(STAMP)
	$(BIN)/python manage.py migrate
	$(BIN)/python manage.py demo_setup
	@echo "Open http://$(ADDRPORT)/ and log in with one of the accounts above."
	$(SERVE)

clean:
	rm -rf $(VENV) build dist *.egg-info
