# forgeml: `make run` starts the workspace, `make test` runs every test.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml uv.lock 2>/dev/null | sha256sum | cut -c1-12)

.PHONY: install run test lint typecheck unit bench clean

$(STAMP): pyproject.toml uv.lock
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/pip install -q --disable-pip-version-check uv
	$(BIN)/uv sync --frozen --inexact --extra dev --compile-bytecode --python $(BIN)/python
	@# this machine's Python does not write bytecode itself; compiling once halves every start
	$(BIN)/python -m compileall -q src
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/forgeml up

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest -q

test: lint typecheck unit

bench: install
	$(BIN)/python benchmarks/assets.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
