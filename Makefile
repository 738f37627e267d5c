# The commands the README shows. Everything a fresh machine needs is installed by `setup`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY_OK  := $(VENV)/.installed
NODE_OK := node_modules/.installed

.PHONY: setup run test bench lint clean

setup: $(PY_OK) $(NODE_OK)

$(PY_OK): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

$(NODE_OK): package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm is needed for Azurite: install Node.js 20+ (e.g. apt-get install nodejs npm)"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

run: setup
	$(BIN)/dfx start samples/hello_cities $(ARGS)

test: setup
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python -m bench

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) node_modules .dfx .pytest_cache .mypy_cache .ruff_cache
