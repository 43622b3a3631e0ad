# Gateway ML Studio. The two commands a fresh clone needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test install install-dev bench lint train clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check "torch==2.13.0"
	$(PIP) install --quiet --disable-pip-version-check -e .
	@touch $@

$(DEV_STAMP): $(STAMP)
	$(PIP) install --quiet --disable-pip-version-check -e ".[dev]"
	@touch $@

install: $(STAMP)

install-dev: $(DEV_STAMP)

## make run: install into .venv, train the default models if none exist, serve on 127.0.0.1:8000 (SQLite)
run: $(STAMP)
	$(VENV)/bin/studio serve

## make test: install dev dependencies and run the whole suite
test: $(DEV_STAMP)
	$(VENV)/bin/pytest

bench: $(STAMP)
	$(PY) -m bench.decisions

train: $(STAMP)
	$(VENV)/bin/studio train --profile all

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache *.egg-info
