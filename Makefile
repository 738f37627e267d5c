# The commands the README shows. Everything a fresh machine needs is installed by `setup`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY_OK  := $(VENV)/.installed
NODE_OK := node_modules/.installed

.PHONY: setup run test bench lint clean

setup: $(PY_OK) $(NODE_OK)

$(PY_OK): pyproject.toml
	@echo "==> [1/3] Python virtual environment in $(VENV)"
	$(PYTHON) -m venv $(VENV)
	@echo "==> [2/3] dfx and its Python packages (pip, usually 10-20 s the first time)"
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

$(NODE_OK): package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm is needed for Azurite: install Node.js 20+ (e.g. apt-get install nodejs npm)"; exit 1; }
	@echo "==> [3/3] Azurite from package-lock.json (npm ci, usually 10-15 s the first time)"
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

run: setup
	@echo "==> dfx start samples/hello_cities (in another terminal: . $(BIN)/activate, then dfx --help)"
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
