# forgeml: `make run` starts the workspace, `make test` runs every test.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml uv.lock 2>/dev/null | sha256sum | cut -c1-12)

STUDIO_DIST := src/forgeml/server/studio_dist
# the studio is rebuilt when its sources or the API (its types come from the OpenAPI document) change
STUDIO_STAMP := $(STUDIO_DIST)/.built-$(shell cat studio/package-lock.json studio/*.ts studio/*.json studio/index.html $$(find studio/src studio/public src/forgeml/server src/forgeml/schemas src/forgeml/core -type f \( -name '*.ts' -o -name '*.tsx' -o -name '*.css' -o -name '*.svg' -o -name '*.py' \) -not -name 'schema.d.ts' -not -path '*studio_dist*' 2>/dev/null | sort) 2>/dev/null | sha256sum | cut -c1-12)
CHROMIUM ?= /usr/bin/chromium

.PHONY: install studio browser run test lint typecheck unit bench clean

$(STAMP): pyproject.toml uv.lock
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/pip install -q --disable-pip-version-check uv
	$(BIN)/uv sync --frozen --inexact --extra dev --compile-bytecode --python $(BIN)/python
	@# this machine's Python does not write bytecode itself; compiling once halves every start
	$(BIN)/python -m compileall -q src
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

install: $(STAMP) $(STUDIO_STAMP)

studio/node_modules/.package-lock.json: studio/package-lock.json
	cd studio && npm ci --no-audit --no-fund --loglevel=error

# the studio: API types generated from the server's OpenAPI document, then type-checked and built
$(STUDIO_STAMP): $(STAMP) studio/node_modules/.package-lock.json
	$(BIN)/python -m forgeml.server.openapi studio/openapi.json
	cd studio && npm run --silent build
	@touch $(STUDIO_STAMP)

studio: $(STUDIO_STAMP)

# the browser tests drive Debian's chromium (Playwright never downloads a browser here)
browser:
	@test -x $(CHROMIUM) || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-dejavu-core)

run: install
	$(BIN)/forgeml up

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

unit: install browser
	$(BIN)/pytest -q

test: lint typecheck unit

bench: install
	$(BIN)/python benchmarks/assets.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache studio/node_modules $(STUDIO_DIST)
