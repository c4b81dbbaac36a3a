# The commands of the README. `make run` sets up and starts the app; `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: run test test-postgres install install-dev lint translations bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt requirements.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/flask fleet init
	@echo ""
	@echo "Fleet is starting at http://$(HOST):$(PORT)/  (Ctrl+C to stop)"
	$(BIN)/flask run --host $(HOST) --port $(PORT)

test: install-dev
	$(BIN)/python -m pytest

test-postgres: install-dev
	FLEET_TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/python -m pytest

lint: install-dev
	$(BIN)/ruff check fleet tests scripts bench
	$(BIN)/lint-imports

translations: install-dev
	$(BIN)/python scripts/i18n.py

bench: install-dev
	$(BIN)/python bench/bench_progress.py
	$(BIN)/python bench/bench_excel.py
