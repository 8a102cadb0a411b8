# Two commands do all the set-up: `make demo` and `make test` (see README.md).
# Each step is idempotent: a second run rebuilds nothing that is already there.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ENGINE_PATH_FILE := $(VENV)/.pulumi-bin-dir
PYTEST_ARGS ?=

# Python must cache bytecode: every `pulumi` command starts 3 Python processes, and with
# PYTHONDONTWRITEBYTECODE set (some shells do) each recompiles the modules it imports.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: setup engine check lint typecheck test test-unit demo bench docs clean

setup: $(STAMP) engine

$(STAMP): pyproject.toml domo_versions_iac/__init__.py constraints-dev.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "Python >= 3.10 is needed, found " + sys.version.split()[0]' 
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints-dev.txt -e '.[dev]'
	@touch $(STAMP)

# The real Pulumi engine: a new-enough `pulumi` on PATH, else built once into
# ~/.cache/domo-versions-iac (outside the checkout) and reused.
engine: $(STAMP)
	@PULUMI_PYTHON_CMD=$(abspath $(PY)) scripts/ensure-pulumi-engine.sh > $(ENGINE_PATH_FILE).tmp
	@mv $(ENGINE_PATH_FILE).tmp $(ENGINE_PATH_FILE)
	@echo "pulumi engine: $$(cat $(ENGINE_PATH_FILE))"

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

check: lint typecheck

test: setup check
	PULUMI_BIN_DIR="$$(cat $(ENGINE_PATH_FILE))" $(PY) -m pytest $(PYTEST_ARGS)

# The fast loop: every test but the end-to-end ones; needs no Pulumi engine.
test-unit: $(STAMP)
	$(PY) -m pytest -m "not e2e" $(PYTEST_ARGS)

demo: setup
	PULUMI_BIN_DIR="$$(cat $(ENGINE_PATH_FILE))" $(PY) scripts/demo.py

bench: setup
	PULUMI_BIN_DIR="$$(cat $(ENGINE_PATH_FILE))" $(PY) bench/run_all.py
	$(PY) bench/archive_bench.py

# The configuration reference is generated from the JSON Schemas.
docs: $(STAMP)
	$(PY) -m domo_versions_iac.cli.reference > docs/reference.md

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
