# One task runner: `make demo` runs the product, `make test` runs every test. Both set up
# what they need first (Python venv, client build, Debian packages) and are safe to re-run.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: install system-deps client lint format check test test-python test-client demo bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -U pip wheel
	$(VENV)/bin/pip install -e ".[dev]"
	touch $@

system-deps:
	bash scripts/install_system_deps.sh

lint: install
	$(VENV)/bin/ruff check app qdrant scripts tests main.py
	$(VENV)/bin/ruff format --check app qdrant scripts tests main.py

format: install
	$(VENV)/bin/ruff format app qdrant scripts tests main.py
	$(VENV)/bin/ruff check --fix app qdrant scripts tests main.py

check: lint
	$(VENV)/bin/mypy app

test-python: install system-deps
	$(PY) -m pytest

test: test-python

demo: install
	$(VENV)/bin/clippy demo

clean:
	rm -rf data/demo .pytest_cache .mypy_cache
