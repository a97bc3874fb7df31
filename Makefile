# Cartera: `make run` to use it, `make test` to check it. Both start from a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_VERSION := $(shell cat .python-version)
# pyenv reads .python-version; elsewhere any python3.12 on the PATH will do.
PYTHON ?= $(shell command -v python$(PYTHON_VERSION) || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
PG_URL ?= postgres://postgres@127.0.0.1:5432/cartera
CHROMIUM ?= /usr/bin/chromium
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help run serve install test lint typecheck check-migrations test-sqlite test-plain test-postgres test-browser test-schemathesis \
        pdf-deps browser-deps postgres test-browser-walks test-browser-rest test-line-server test-line-sqlite bench bench-analytics bench-duplicates bench-imports bench-segments bench-campaigns bench-surveys bench-load messages clean

help:
	@echo "make run    create the environment, migrate, load the demo portfolio, serve http://127.0.0.1:8000"
	@echo "make test   install what the tests need, then lint, type-check and run every test"
	@echo "make bench  list/search/detail benchmark at 1M customers (bench-analytics, bench-imports, bench-segments, bench-campaigns, bench-surveys: the others)"
	@echo "make bench-load  50 users and a password-guessing attack on gunicorn + PostgreSQL at 1M customers"

$(BIN)/.installed: requirements-dev.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 12), "Cartera needs Python 3.12+, found " + sys.version' 
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

install: $(BIN)/.installed

run: install pdf-deps
	$(PY) manage.py migrate --no-input -v0
	$(PY) manage.py demo --if-empty
	$(PY) manage.py refresh --if-never-run --backfill-months 24
	CARTERA_DEBUG=1 $(PY) manage.py runserver_with_worker 127.0.0.1:8000

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

check-migrations: install
	$(PY) manage.py makemigrations --check --dry-run

# WeasyPrint (the PDF prospecting sheet) draws text with Pango, a system library; DejaVu is its font.
pdf-deps:
	@ldconfig -p | grep -q libpangoft2-1.0.so.0 && test -d /usr/share/fonts/truetype/dejavu || { \
	  echo "Installing Pango and the DejaVu fonts for the PDF sheets"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core) >/dev/null; }

browser-deps:
	@test -x $(CHROMIUM) || { echo "Installing Debian's Chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core) >/dev/null; }

postgres:
	@bash .ci/postgres

# Each run keeps its files (import uploads, the mail sink) in its own var/ folder, so runs can overlap.
test-sqlite: install
	CARTERA_VAR_DIR=$(CURDIR)/var/test-sqlite CARTERA_FAST_PATH_LOG=$(CURDIR)/var/test-sqlite/fast-path-tests.txt \
	  $(BIN)/pytest -m "not browser" -q -p no:cacheprovider --durations=15

test-postgres: install postgres
	CARTERA_VAR_DIR=$(CURDIR)/var/test-postgres DATABASE_URL=$(PG_URL) \
	  $(BIN)/pytest -m "not browser" -q -p no:cacheprovider --durations=15 --ignore=tests/customerbase

test-browser: install browser-deps
	CARTERA_VAR_DIR=$(CURDIR)/var/test-browser CARTERA_CHROMIUM=$(CHROMIUM) $(BIN)/pytest -m browser -q -p no:cacheprovider

# `make test` splits the browser run in two, one part at the end of each line, so both lines take
# about as long (the walks and the surveys in one part, everything else in the other).
BROWSER_WALKS := tests/browser/test_browser_every_page.py tests/browser/test_browser_walk.py \
  tests/browser/test_browser_surveys.py tests/browser/test_browser_questionnaires.py
test-browser-walks: install browser-deps
	CARTERA_VAR_DIR=$(CURDIR)/var/test-browser-walks CARTERA_CHROMIUM=$(CHROMIUM) \
	  $(BIN)/pytest -m browser -q -p no:cacheprovider --durations=10 $(BROWSER_WALKS)
test-browser-rest: install browser-deps
	CARTERA_VAR_DIR=$(CURDIR)/var/test-browser-rest CARTERA_CHROMIUM=$(CHROMIUM) \
	  $(BIN)/pytest -m browser -q -p no:cacheprovider --durations=10 $(addprefix --ignore=,$(BROWSER_WALKS))

# The API against its OpenAPI document (also part of test-sqlite and test-postgres, so of `make test`).
test-schemathesis: install
	$(BIN)/pytest -q -p no:cacheprovider tests/api/test_api_schemathesis.py

# The suite again with every bulk-write trick (COPY, the metrics table swap, index rebuilds, the
# select renderer) replaced by its plain twin, so both stay correct (cartera/core/bulk.py): every
# test whose code asked for a fast path in the SQLite run before it (tests/fast_path_selection.py),
# or every test when there was no such run.
test-plain: install
	CARTERA_VAR_DIR=$(CURDIR)/var/test-plain CARTERA_BULK_PLAIN=1 CARTERA_FAST_PATH_ONLY=$(CURDIR)/var/test-sqlite/fast-path-tests.txt \
	  $(BIN)/pytest -m "not browser" -q -p no:cacheprovider --durations=15

# Everything in two lines side by side, one per core, of about the same length: the PostgreSQL run
# then most browser tests; the checks (lint, types, migrations), the SQLite run, the plain-twin run
# and the browser walks.
# Each line's output is printed whole when the line ends.
test: install pdf-deps postgres browser-deps
	@echo "Running the PostgreSQL + browser runs and the checks + SQLite + plain-twin runs side by side (15 to 25 minutes on 2 cores; see docs/testing.md)."
	@$(MAKE) --no-print-directory -j2 --output-sync=recurse test-line-server test-line-sqlite

test-line-server:
	@$(MAKE) --no-print-directory test-postgres && $(MAKE) --no-print-directory test-browser-rest

test-line-sqlite:
	@$(MAKE) --no-print-directory lint typecheck check-migrations && $(MAKE) --no-print-directory test-sqlite \
	  && $(MAKE) --no-print-directory test-plain && $(MAKE) --no-print-directory test-browser-walks

bench: install
	$(PY) -m bench.run

bench-analytics: install
	$(PY) -m bench.analytics

bench-duplicates: install
	$(PY) -m bench.duplicates

bench-imports: install
	$(PY) -m bench.imports

bench-segments: install
	$(PY) -m bench.segments

bench-campaigns: install
	$(PY) -m bench.campaigns

bench-surveys: install
	$(PY) -m bench.surveys

# gunicorn + PostgreSQL (CARTERA_BENCH_PG names the server) at 1M customers, 50 users, then 10 attackers.
bench-load: install
	$(PY) -m bench.load

messages: install
	cd cartera && ../$(PY) ../manage.py makemessages -l es --no-obsolete --ignore=locale && ../$(PY) ../manage.py compilemessages

clean:
	rm -rf $(VENV) var/test*.sqlite3
