# Developer entry points. Each target creates and uses the virtual environment .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# checkov pins boto3 1.35 and packaging < 24: it cannot share .venv, so it has its own.
CHECKOV_VENV := $(VENV)/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
PIP_INSTALL = -m pip install --quiet --disable-pip-version-check
ARGS ?=
# `make lock UPGRADE=1` moves every pin to the newest version allowed by the .in files.
UPGRADE ?=
PIP_TOOLS_VERSION := 7.6.2

.PHONY: help venv test test-fast lint typecheck security audit lock demo bench clean

help:
	@echo "make demo     - run the worker against the local stack (Auth0 emulator + moto); ARGS=\"...\" passes options"
	@echo "make test     - lint, type check, security checks and the whole test suite (what CI runs)"
	@echo "make typecheck - mypy on the library, the handlers, local/ and bench/ (settings: pyproject.toml)"
	@echo "make bench    - benchmarks (figures printed and written to bench/results.*)"
	@echo "make security - bandit on the product code, checkov on the template"
	@echo "make audit    - pip-audit of every locked dependency (needs internet access)"
	@echo "make lock     - regenerate the hash-pinned locks from the .in files (UPGRADE=1: newest versions)"

# Everything comes from the hash-pinned lock; the project itself is installed without its
# dependencies (they are in the lock) and without build isolation (nothing unpinned is fetched).
$(STAMP): requirements-dev.lock layers/token_exchange/requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python $(PIP_INSTALL) --require-hashes -r requirements-dev.lock
	$(BIN)/python $(PIP_INSTALL) --no-deps --no-build-isolation -e .
	touch $(STAMP)

$(CHECKOV_STAMP): requirements-checkov.lock
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python $(PIP_INSTALL) --require-hashes -r requirements-checkov.lock
	touch $(CHECKOV_STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .

# mypy with the settings and the list of checked folders in pyproject.toml ([tool.mypy]).
typecheck: $(STAMP)
	$(BIN)/mypy

# The same checks run inside the suite (tests/security); this target shows their full reports.
security: $(STAMP) $(CHECKOV_STAMP)
	$(BIN)/bandit -c pyproject.toml -r layers functions
	$(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml

test: $(STAMP) $(CHECKOV_STAMP) lint typecheck
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -x tests/unit

# Known vulnerabilities in the locked versions (PyPI's advisory data; needs internet access).
# --strict: a package that cannot be audited (e.g. no access to PyPI's JSON API) fails the target.
audit: $(STAMP)
	$(BIN)/pip-audit --progress-spinner off --strict --require-hashes --disable-pip -r layers/token_exchange/requirements.txt
	$(BIN)/pip-audit --progress-spinner off --strict --require-hashes --disable-pip -r requirements-dev.lock
	$(BIN)/pip-audit --progress-spinner off --strict --require-hashes --disable-pip -r requirements-checkov.lock

# pip-compile in a throwaway virtual environment, against PyPI only (local pip configuration and
# find-links are ignored, so that the hashes of every platform's files are listed: the layer is
# installed for manylinux2014_aarch64/cp312, the development environment for the local machine).
# Existing pins are kept unless UPGRADE=1 or the .in files ask for other versions.
lock:
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(PYTHON) -m venv "$$tmp/venv" && \
	"$$tmp/venv/bin/python" $(PIP_INSTALL) pip-tools==$(PIP_TOOLS_VERSION) && \
	compile="env -u PIP_FIND_LINKS -u PIP_EXTRA_INDEX_URL -u PIP_CONSTRAINT PIP_CONFIG_FILE=/dev/null \
	  $$tmp/venv/bin/pip-compile --quiet --generate-hashes --strip-extras --no-emit-index-url \
	  --no-emit-find-links --resolver=backtracking $(if $(UPGRADE),--upgrade)" && \
	(cd layers/token_exchange && $$compile --output-file requirements.txt requirements.in) && \
	$$compile --allow-unsafe --output-file requirements-dev.lock requirements-dev.in && \
	$$compile --output-file requirements-checkov.lock requirements-checkov.in

demo: $(STAMP)
	$(BIN)/python -m local.demo $(ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis .aws-sam
