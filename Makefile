# One task runner: `make demo` runs the product, `make test` runs every test. Both set up
# what they need first (Python venv, client build, Debian packages) and are safe to re-run.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: install system-deps client lint format check test test-python test-client demo clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -U pip wheel
	$(VENV)/bin/pip install -e ".[dev]"
	touch $@

system-deps:
	bash scripts/install_system_deps.sh

# The sketch client: npm ci when the lock file changed, then a production build (served at /).
client/node_modules/.package-lock.json: client/package-lock.json
	cd client && npm ci --no-audit --no-fund

client: client/node_modules/.package-lock.json
	cd client && npm run build

lint: install
	$(VENV)/bin/ruff check app qdrant scripts tests main.py
	$(VENV)/bin/ruff format --check app qdrant scripts tests main.py

format: install
	$(VENV)/bin/ruff format app qdrant scripts tests main.py
	$(VENV)/bin/ruff check --fix app qdrant scripts tests main.py

check: lint client/node_modules/.package-lock.json
	$(VENV)/bin/mypy app
	cd client && npm run lint

test-python: install system-deps
	$(PY) -m pytest

test-client: install system-deps client
	cd client && npm test
	cd client && npm run test:e2e

test: test-python test-client

demo: install client
	$(VENV)/bin/clippy demo

clean:
	rm -rf data/demo .pytest_cache .mypy_cache
