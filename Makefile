# Two commands on a fresh machine:
#   make run   – install, migrate, seed the demo when empty, serve on http://127.0.0.1:5000
#                with the reminder scheduler beside the web server
#   make test  – install test extras, run the whole suite on SQLite and PostgreSQL, and the
#                browser journeys in headless Chromium
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test
BSTAMP := $(VENV)/.installed-bench
MO     := caseflow/translations/zh_Hans_CN/LC_MESSAGES/messages.mo
PO     := caseflow/translations/zh_Hans_CN/LC_MESSAGES/messages.po
export FLASK_APP := wsgi.py
PYTEST_WORKERS ?= auto
# make bench: data generated at this scale in a throw-away PostgreSQL with default settings
BENCH_CASES ?= 1000000
BENCH_BUSINESSES ?= 5000000
BENCH_ARGS ?=

.PHONY: run test test-static test-sqlite test-postgres test-e2e install install-test translations \
        extract-messages migrate bench clean

run: install
	$(BIN)/flask db upgrade
	$(BIN)/flask caseflow seed-demo --if-empty
	$(BIN)/flask caseflow demo-logins
	@echo "CaseFlow on http://127.0.0.1:5000  (Ctrl-C to stop)"
	@# the reminder scheduler runs beside the web server and stops with it
	set -e; $(BIN)/flask caseflow scheduler & pid=$$!; trap 'kill $$pid 2>/dev/null' EXIT INT TERM; \
	  $(BIN)/flask run --host 127.0.0.1 --port 5000

test: install-test
	$(MAKE) test-static
	$(MAKE) test-sqlite
	$(MAKE) test-postgres
	$(MAKE) test-e2e

test-static:
	@echo "== static checks: bandit (no medium or high finding) and the project's semgrep rules"
	$(BIN)/bandit -q -r caseflow -ll
	SEMGREP_ENABLE_VERSION_CHECK=0 $(BIN)/semgrep scan --config .semgrep --metrics=off --error \
	  --quiet caseflow templates

test-sqlite:
	@echo "== unit and integration tests on SQLite"
	$(BIN)/pytest -q -m "not e2e" -n $(PYTEST_WORKERS) -p no:cacheprovider

test-postgres:
	@echo "== unit and integration tests on PostgreSQL 15"
	scripts/with-postgres.sh $(BIN)/pytest -q -m "not e2e" -n $(PYTEST_WORKERS) -p no:cacheprovider

test-e2e:
	@echo "== browser journeys (headless Chromium)"
	$(BIN)/pytest -q -m e2e -p no:cacheprovider

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): $(BIN)/python setup.cfg setup.py
	scripts/system-deps.sh run
	$(BIN)/pip install -q -e .
	touch $@

$(TSTAMP): $(STAMP)
	scripts/system-deps.sh test
	$(BIN)/pip install -q -e ".[test]"
	touch $@

$(BSTAMP): $(STAMP)
	$(BIN)/pip install -q -e ".[bench]"
	touch $@

# every bench script against one generated database; bench/RESULTS.md is the table of goals.
# Quick run: make bench BENCH_CASES=20000 BENCH_BUSINESSES=100000 BENCH_ARGS=--quick
bench: $(BSTAMP) $(MO)
	scripts/bench-postgres.sh sh -c '\
	  export DATABASE_URL="$$BENCH_DATABASE_URL" CASEFLOW_SECRET_KEY=bench CASEFLOW_DEV=1; \
	  $(BIN)/flask db upgrade && \
	  $(BIN)/flask caseflow generate --cases $(BENCH_CASES) --businesses $(BENCH_BUSINESSES) \
	    --password Load-test-pass-1 && \
	  $(BIN)/python bench/run_all.py --database-url "$$BENCH_DATABASE_URL" $(BENCH_ARGS) \
	    --scale "$(BENCH_CASES) cases, $(BENCH_BUSINESSES) businesses"'

$(MO): $(PO) $(STAMP)
	$(BIN)/pybabel compile -d caseflow/translations >/dev/null

translations: $(MO)

install: $(STAMP) $(MO)

install-test: $(TSTAMP) $(MO)

extract-messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
	  -o caseflow/translations/messages.pot .
	$(BIN)/pybabel update -i caseflow/translations/messages.pot -d caseflow/translations --no-fuzzy-matching --ignore-obsolete

migrate: install
	$(BIN)/flask db upgrade

clean:
	rm -rf $(VENV) build *.egg-info
