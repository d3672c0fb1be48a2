# Moderato: `make run` for a local instance with no services, `make test` for the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
HOST ?= 127.0.0.1
export MODERATO_DATA_DIR ?= $(CURDIR)/var

.PHONY: run manage test lint clean bench-peer-venv bench-models

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

## run: SQLite + a file-system broker, gunicorn on $(HOST):$(PORT), a real Celery worker and beat, under
## config/supervise.py (a child that dies is restarted; Ctrl-C or SIGTERM stops them all within 10 s).
## prepare_run migrates, collects static files and creates the demo site only when needed, and is
## skipped altogether while its run stamp holds (moderation/run_stamp.py: no Django, about 50 ms); the
## processes log warnings and errors only (LOG_LEVEL=INFO make run for every request and task).
run: export LOG_LEVEL ?= WARNING
run: export MODERATO_PUBLIC_URL ?= http://$(HOST):$(PORT)
run: $(VENV)/.runtime
	@$(PY) -m moderation.run_stamp --base-url http://$(HOST):$(PORT) \
	  || $(PY) manage.py prepare_run --base-url http://$(HOST):$(PORT)
	@rm -rf "$${MODERATO_METRICS_DIR:-$(MODERATO_DATA_DIR)/metrics}"  # the previous run's metrics files
	@exec $(PY) -m config.supervise --bind $(HOST):$(PORT) --web-workers 2 --threads 4 --concurrency 2 --quiet \
	  --ready-message "Serving http://$(HOST):$(PORT)/ (API docs: /api/docs/); Ctrl-C stops everything"

## manage: a manage.py command in the venv, on make run's data directory (no venv to activate):
## make manage ARGS='create_api_key --site demo --name "Coral Talk"'
manage: $(VENV)/.runtime
	@$(PY) manage.py $(ARGS)

## test: linters and contracts, then the whole pytest suite (DATABASE_URL / REDIS_URL pick the services)
test: export MODERATO_DATA_DIR = $(CURDIR)/var/test
test: lint
	$(PY) -m pytest

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

## bench-peer-venv: alt-profanity-check in a virtualenv of its own, for bench/models.py
bench-peer-venv: .venv-peer/.installed
.venv-peer/.installed:
	$(PYTHON) -m venv .venv-peer
	.venv-peer/bin/pip install --quiet --disable-pip-version-check alt-profanity-check
	touch $@

## bench-models: Moderato vs alt-profanity-check on every test set (public, development, obfuscated), then
## decisions at the default thresholds (the development set, then its held-out check files apart), script
## invariance, identity fairness and the input bounds (DATA=../shared/data)
DATA ?= ../shared/data
bench-models: $(VENV)/.dev bench-peer-venv
	$(PY) bench/models.py --data $(DATA) --out bench/RESULTS-models.md
	$(PY) bench/decisions.py --exclude 'check-*' | tee bench/RESULTS-decisions.md
	$(PY) bench/decisions.py --files 'check-*' | tee bench/RESULTS-decisions-check.md
	$(PY) bench/script_control.py | tee bench/RESULTS-script-control.md
	$(PY) bench/fairness.py --data $(DATA) | tee bench/RESULTS-fairness.md
	$(PY) bench/input_bounds.py | tee bench/RESULTS-input-bounds.md

clean:
	rm -rf $(VENV) .venv-peer var staticfiles .pytest_cache .mypy_cache .ruff_cache
