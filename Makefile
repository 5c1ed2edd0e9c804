# Developer entry points. Each target creates and uses the virtual environment .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: help venv test test-fast lint demo bench clean

help:
	@echo "make demo   - run the worker against the local stack (Auth0 emulator + moto); ARGS=\"...\" passes options"
	@echo "make test   - lint and the whole test suite (what CI runs)"
	@echo "make bench  - benchmarks (figures printed and written to bench/results.*)"

$(STAMP): requirements-dev.txt layers/token_exchange/requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP) lint
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -x tests/unit

demo: $(STAMP)
	$(BIN)/python -m local.demo $(ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis .aws-sam
