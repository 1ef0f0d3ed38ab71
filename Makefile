# One entry point. Quick start:  make run   (serve with demo data)   |   make test
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
# The quick start lets any relying party register itself (RFC 7591); production
# keeps the default, an initial access token (docs/oidc.md).
REGISTRATION ?= open

.PHONY: run test check lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: $(BIN)/python requirements.txt pyproject.toml
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

## run: install, initialise the embedded database with demo data, and serve.
## (init gets the issuer serve will answer on, so the URLs it prints are right.)
run: $(VENV)/.runtime
	AUTHORITY_ENV=development AUTHORITY_ISSUER=$${AUTHORITY_ISSUER:-http://$(HOST):$(PORT)} $(BIN)/authority init --demo
	AUTHORITY_ENV=development AUTHORITY_OIDC_REGISTRATION=$(REGISTRATION) $(BIN)/authority serve --host $(HOST) --port $(PORT)

## test: install, then run lint, import contracts, type checks and the whole test suite.
test: $(VENV)/.dev
	bash scripts/ensure-chromium
	$(MAKE) --no-print-directory check
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

check: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

format: $(VENV)/.dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(VENV)/.dev
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache .mypy_cache
