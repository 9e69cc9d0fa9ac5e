# s3-403-doctor — every target creates/refreshes the local virtual environment itself.
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: venv demo test lint typecheck guard pytest bench package deploy deploy-preflight golden fmt clean

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

## CloudFormation templates of both stages into out/dev and out/prod, each validated with cfn-lint.
STAGES := dev prod
package: venv
	set -e; for stage in $(STAGES); do $(BIN)/python scripts/package.py --stage $$stage; done

## Deploy one stage with CloudFormation (the only supported way: `chalice deploy` cannot read the
## policy files, which hold CloudFormation functions). Needs the aws CLI and credentials.
##   make deploy STAGE=prod DEPLOY_BUCKET=my-artifacts PARAMS="AlertEmail=oncall@example.com …"
STAGE ?= dev
STACK ?= s3-403-doctor-$(STAGE)
deploy: deploy-preflight package
	aws cloudformation package --template-file out/$(STAGE)/sam.json \
	    --s3-bucket $(DEPLOY_BUCKET) --s3-prefix $(STACK) --use-json \
	    --output-template-file out/$(STAGE)/packaged.json
	aws cloudformation deploy --template-file out/$(STAGE)/packaged.json --stack-name $(STACK) \
	    --capabilities CAPABILITY_IAM CAPABILITY_NAMED_IAM CAPABILITY_AUTO_EXPAND \
	    --no-fail-on-empty-changeset $(if $(strip $(PARAMS)),--parameter-overrides $(PARAMS))
	aws cloudformation describe-stacks --stack-name $(STACK) --query 'Stacks[0].Outputs' --output table

deploy-preflight:
	@test -n "$(DEPLOY_BUCKET)" || { echo "make deploy: set DEPLOY_BUCKET=<an S3 bucket for the code, in the stack's region>" >&2; exit 2; }
	@case "$(STAGE)" in dev|prod) ;; *) echo "make deploy: STAGE must be dev or prod" >&2; exit 2;; esac
	@command -v aws >/dev/null || { echo "make deploy: the aws CLI is not installed (pip install awscli, or AWS CLI v2)" >&2; exit 2; }

## Rewrite the golden findings of tests/data/scenarios after a deliberate change; review the diff.
golden: venv
	$(BIN)/pytest -q tests/unit/diagnose --update-golden

fmt: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) out build *.egg-info
