# usersuite — every developer and CI entry point. Targets are idempotent: stamps
# make `setup` a no-op when nothing it depends on changed.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV     := .venv
BIN      := $(CURDIR)/.bin
PYTHON   ?= python3
PY       := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(BIN):$(CURDIR)/gen/ts/node_modules/.bin:$(PATH)
export GOFLAGS := -mod=readonly

# What `make breaking` compares against; a pull request passes its base,
# e.g. make breaking AGAINST='.git#branch=main'.
AGAINST  ?= .git\#branch=main
PYTEST_ARGS ?=

GRPCURL_VERSION := v1.9.3
GHZ_VERSION     := v0.120.0
HELM_VERSION    := v3.22.0

STAMPS := .stamps
$(STAMPS):
	@mkdir -p $@

.PHONY: help
help:
	@echo "make setup      install Python deps (venv), buf, Go/npm codegen plugins, grpcurl"
	@echo "make gen        buf lint + format + breaking, then regenerate gen/"
	@echo "make check-gen  fail when gen/ differs from a fresh generation"
	@echo "make lint       buf lint/format, ruff check/format, mypy --strict, import layers"
	@echo "make breaking   buf breaking against AGAINST (default: $(AGAINST))"
	@echo "make test       every test (unit, integration, e2e, contract)"
	@echo "make run        start the suite locally on embedded defaults"

# ---------------------------------------------------------------- setup
.PHONY: setup
setup: $(STAMPS)/python $(STAMPS)/go-tools $(STAMPS)/npm

$(STAMPS)/python: pyproject.toml | $(STAMPS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

$(STAMPS)/go-tools: gen/go/go.mod gen/go/go.sum | $(STAMPS)
	cd gen/go && GOBIN=$(BIN) go install google.golang.org/protobuf/cmd/protoc-gen-go google.golang.org/grpc/cmd/protoc-gen-go-grpc
	GOBIN=$(BIN) GOFLAGS= go install github.com/fullstorydev/grpcurl/cmd/grpcurl@$(GRPCURL_VERSION)
	@touch $@

$(STAMPS)/npm: gen/ts/package.json gen/ts/package-lock.json | $(STAMPS)
	cd gen/ts && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Tools only tests and benchmarks need: built on first use by the targets that
# need them (never by `make run`), cached in .bin with a stamp per version.
$(STAMPS)/ghz-$(GHZ_VERSION): | $(STAMPS)
	GOBIN=$(BIN) GOFLAGS= go install github.com/bojand/ghz/cmd/ghz@$(GHZ_VERSION)
	@touch $@

$(STAMPS)/helm-$(HELM_VERSION): | $(STAMPS)
	GOBIN=$(BIN) GOFLAGS= go install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
	@touch $@

# ---------------------------------------------------------------- contract
.PHONY: buf-lint breaking gen check-gen
buf-lint: $(STAMPS)/python
	buf lint
	buf format --diff --exit-code

breaking: $(STAMPS)/python
	buf breaking --against '$(AGAINST)'

gen: setup buf-lint breaking
	buf generate 2> >(grep -v "^Writing mypy to" >&2)

check-gen: setup
	tools/check_gen.sh

# ---------------------------------------------------------------- quality
.PHONY: lint test run
lint: buf-lint
	ruff check src tests tools
	ruff format --check src tests tools
	mypy
	lint-imports --no-cache

test: setup check-gen lint
	$(PY) -m pytest $(PYTEST_ARGS)

run: setup
	usersuite dev
