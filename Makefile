# Every target builds its own virtual environment (.venv) from the pinned locks when needed.
SHELL := /bin/bash
PYTHON ?= $(shell tools/find-python)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help demo serve test lint typecheck pytest bench fuzz lock clean explain check discover

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): requirements-dev.txt layers/deps/requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP) $(DEMO_STAMP)

# The demo needs only the runtime lock and PyYAML: a first `make demo` does not wait for the
# test tools. The full install above satisfies it too.
DEMO_STAMP := $(VENV)/.demo-installed
$(DEMO_STAMP): requirements-demo.txt layers/deps/requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-demo.txt
	@touch $(DEMO_STAMP)

# The independent IAM evaluator the security tests check policies with (tests/support/iam_oracle.mjs)
# and the real OpenID Provider the integration tests take tokens from (tests/support/oidc_provider.mjs):
# exact versions from package-lock.json, no install scripts; npm errors still reach stderr.
NODE_STAMP := node_modules/.installed
$(NODE_STAMP): package.json package-lock.json
	@npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null
	@touch $(NODE_STAMP)

# Line and branch coverage of the deployed function and the sample backend, printed by make test
# (modules fully covered are left out of the table).
COVERAGE := --cov=jwt_authorizer --cov=sample_backend --cov-branch --cov-report=term-missing:skip-covered

test: $(STAMP) $(NODE_STAMP)  ## lint, type-check and run the whole test suite (with coverage)
	$(BIN)/ruff check src tools tests
	$(BIN)/ruff format --check src tools tests
	$(BIN)/mypy
	$(BIN)/pytest $(COVERAGE)

lint: $(STAMP)  ## ruff (lint and format check) over src, tools and tests
	$(BIN)/ruff check src tools tests
	$(BIN)/ruff format --check src tools tests

typecheck: $(STAMP)  ## mypy --strict (src, tools, tests but devkit/e2e/sam)
	$(BIN)/mypy

pytest: $(STAMP) $(NODE_STAMP)  ## pytest alone; ARGS="tests/devkit -x" picks tests and options
	$(BIN)/pytest $(ARGS)

bench: $(STAMP)  ## hot path and cold start against bare baselines, side by side
	PYTHONPATH=tools $(BIN)/python -m devkit bench

# Local, without AWS or Docker: development IdP + API Gateway emulator on template.yaml (tools/devkit).
.PHONY: fixtures
demo: $(DEMO_STAMP)  ## the whole flow on 127.0.0.1: token, 401, 403, 200 on both APIs, then stop
	@PYTHONPATH=tools $(BIN)/python -m devkit demo

serve: $(DEMO_STAMP)  ## local IdP + API Gateway emulator until Ctrl-C, with curl commands to paste
	@PYTHONPATH=tools $(BIN)/python -m devkit serve

# Operator tools (tools/devkit/diagnose): the function's own code on a token or a configuration.
# CONFIG is an AUTH_CONFIG document (JSON or file:PATH), CONFIG_ENV a samconfig.toml environment
# (default: [default]); FETCH=1 fetches discovery documents and key sets.
DIAGNOSE := PYTHONPATH=tools $(BIN)/python -m devkit
CONFIG_OPTIONS = $(if $(CONFIG),--config '$(CONFIG)') $(if $(CONFIG_ENV),--config-env $(CONFIG_ENV)) $(if $(FETCH),--fetch)

explain: $(DEMO_STAMP)  ## denied? why: make explain TOKEN=... [CONFIG=...|CONFIG_ENV=...] [ROUTE='GET /x'] [FETCH=1]
	@test -n "$(TOKEN)" || { echo "usage: make explain TOKEN=<token> [CONFIG=<json|file:path>] [CONFIG_ENV=<env>] [ROUTE='GET /orders'] [FETCH=1] [AT=<epoch>]" >&2; exit 2; }
	@$(DIAGNOSE) explain $(CONFIG_OPTIONS) $(if $(ROUTE),--route '$(ROUTE)') $(if $(AT),--at $(AT)) '$(TOKEN)'

check: $(DEMO_STAMP)  ## a configuration before deploying: make check [CONFIG=...|CONFIG_ENV=...] [FETCH=1] [SCOPES='a b']
	@$(DIAGNOSE) check $(CONFIG_OPTIONS) $(if $(SCOPES),--scopes '$(SCOPES)')

discover: $(DEMO_STAMP)  ## an identity provider's issuers[] entry: make discover ISSUER=https://... [AUDIENCE=...]
	@test -n "$(ISSUER)" || { echo "usage: make discover ISSUER=<issuer or discovery URL> [AUDIENCE=<aud>]" >&2; exit 2; }
	@$(DIAGNOSE) discover '$(ISSUER)' $(if $(AUDIENCE),--audience '$(AUDIENCE)')

fixtures: $(STAMP)  ## regenerate events/ (fixtures, env.json, expected answers) deterministically
	PYTHONPATH=tools $(BIN)/python -m devkit fixtures

lock:  ## re-resolve the pinned locks from requirements-runtime.in and requirements-dev.in
	tools/lock.sh

clean:  ## remove the virtual environments, build output, caches and the demo's logs
	rm -rf $(VENV) .venv-sam .demo .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis .coverage

# AWS SAM CLI, pinned in requirements-sam.txt, runs from its own venv (.venv-sam) that
# tools/sam.sh creates on first use. SAM_ENV picks the samconfig.toml environment (default, wso2).
SAM_ENV ?= default
.PHONY: sam-validate sam-build

sam-validate:  ## sam validate --lint on template.yaml
	tools/sam.sh validate --lint --template-file template.yaml

sam-build:  ## sam build (layer wheels for samconfig's Architecture; SAM_ENV=wso2 for the other env)
	tools/sam.sh build --template-file template.yaml --config-env $(SAM_ENV)

fuzz: $(STAMP) $(NODE_STAMP)  ## long Hypothesis run of the security properties (tests/security, profile "long")
	HYPOTHESIS_PROFILE=long $(BIN)/pytest tests/security -m fuzz --timeout=0 $(ARGS)
