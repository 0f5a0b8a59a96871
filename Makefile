# One task runner: `make demo` runs the product, `make test` runs every test. Both set up
# what they need first (Python venv, client build, Debian packages) and are safe to re-run.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: install lock docs system-deps client api-types check-api-types lint format check test test-python test-client demo clean

install: $(VENV)/.installed

# Everything (the service, every extra, the test and docs tools) at the versions and hashes of
# requirements.lock, then the project itself without resolving again.
$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -U pip wheel
	$(VENV)/bin/pip install -q --require-hashes -r requirements.lock
	$(VENV)/bin/pip install -q --no-deps -e ".[all,dev,docs]"
	touch $@

# Re-resolve requirements.lock from pyproject.toml within constraints.txt (the torch pair),
# for Linux x86-64 and Python 3.11, with hashes. Commit both files.
lock: install
	$(VENV)/bin/uv pip compile pyproject.toml --extra all --extra dev --extra docs -c constraints.txt \
		--generate-hashes --python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
		--no-emit-package clippy -o requirements.lock

# The manual (mkdocs.yml, docs/): warnings are errors, as in CI.
docs: install
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

system-deps:
	bash scripts/install_system_deps.sh

# The sketch client: npm ci when the lock file changed, then a production build (served at /).
client/node_modules/.package-lock.json: client/package-lock.json
	cd client && npm ci --no-audit --no-fund

client: client/node_modules/.package-lock.json
	cd client && npm run build

# The client's API types come from the server's OpenAPI document: client/openapi.json (written
# without a server, app/api/openapi_dump.py) → client/src/api/schema.gen.ts (openapi-typescript).
# Both are checked in; run this after changing a route or a model on the wire.
API_SCHEMA := client/openapi.json
API_TYPES := client/src/api/schema.gen.ts

api-types: install client/node_modules/.package-lock.json
	$(PY) -m app.api.openapi_dump $(API_SCHEMA)
	cd client && npm run --silent gen:api

# Both generated afresh in a temporary folder and compared with the checked-in files, so it
# needs no git state (a CI clone, uncommitted work) and leaves the tree as it was.
check-api-types: install client/node_modules/.package-lock.json
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(PY) -m app.api.openapi_dump "$$tmp/openapi.json" && \
	(cd client && npm run --silent gen:api:from -- "$$tmp/openapi.json" -o "$$tmp/schema.gen.ts" >/dev/null) && \
	if diff -u $(API_SCHEMA) "$$tmp/openapi.json" && diff -u $(API_TYPES) "$$tmp/schema.gen.ts"; then \
		echo "API types match the server."; \
	else \
		echo "$(API_SCHEMA) or $(API_TYPES) is stale: run \`make api-types\` and commit both." >&2; exit 1; \
	fi

lint: install
	$(VENV)/bin/ruff check app qdrant scripts tests main.py
	$(VENV)/bin/ruff format --check app qdrant scripts tests main.py
	$(VENV)/bin/hadolint Dockerfile
	$(VENV)/bin/yamllint docker-compose.yml mkdocs.yml
	npx --yes dclint@3.1.0 docker-compose.yml

format: install
	$(VENV)/bin/ruff format app qdrant scripts tests main.py
	$(VENV)/bin/ruff check --fix app qdrant scripts tests main.py

check: lint check-api-types docs
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
