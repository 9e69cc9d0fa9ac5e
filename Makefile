# s3-403-doctor — every target creates/refreshes the local virtual environment itself.
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: venv demo test lint typecheck guard pytest bench package golden fmt clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check "pip<26.3"
	$(BIN)/python -m pip install -q --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

## The embedded default: the whole flow on a local moto server, no AWS account needed.
demo: venv
	$(BIN)/s3doctor demo

## What CI runs: lint, types, the pure-core import guard, then every test.
test: lint typecheck guard pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

guard: venv
	$(BIN)/python scripts/check_pure_core.py

pytest: venv
	$(BIN)/pytest -q

bench: venv
	$(BIN)/python bench/run.py

## CloudFormation template of a stage (STAGE=dev|prod) into out/, validated with cfn-lint.
package: venv
	$(BIN)/python scripts/package.py --stage $(or $(STAGE),dev)

## Rewrite the golden findings of tests/data/scenarios after a deliberate change; review the diff.
golden: venv
	$(BIN)/pytest -q tests/unit/diagnose --update-golden

fmt: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) out build *.egg-info
