# flowgate — every command a user or CI needs. See README.md.
#   make dev    build, start the emulator and the Worker locally, print a demo command
#   make test   install what is missing, build, run every test (unit + end to end)
#   make check  formatting and lints
#   make bench  benchmarks (not part of test): table in target/bench/results.md
#   make fuzz   every fuzz target for FUZZ_SECS seconds (nightly; not part of test)
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Pinned tool versions (toolchain.md). wasm-bindgen-cli must equal the
# wasm-bindgen version in Cargo.lock (pinned with `=` in Cargo.toml).
WORKER_BUILD_VERSION := 0.8.7
WASM_BINDGEN_VERSION := 0.2.130
CARGO_FUZZ_VERSION := 0.13.2
TOOLS := $(CURDIR)/.tools
CARGO_FLAGS ?=

DEV_IP ?= 127.0.0.1
DEV_PORT ?= 8787
EMULATOR_PORT ?= 8790

export WRANGLER_SEND_METRICS := false
export WRANGLER_SEND_ERROR_REPORTS := false
export CLOUDFLARE_CF_FETCH_ENABLED := false
export WRANGLER_HIDE_BANNER := true
export WASM_BINDGEN_BIN := $(TOOLS)/bin/wasm-bindgen
export WASM_OPT_BIN := $(CURDIR)/node_modules/.bin/wasm-opt

.PHONY: help tools build worker cli dev test unit e2e check bench fuzz clean clients

help:
	@echo "make dev    run flowgate locally against the Entra/Power Automate emulator"
	@echo "make test   run every test (installs the pinned tools on first use)"
	@echo "make check  rustfmt + clippy"
	@echo "make bench  benchmarks: verification, flowgate/peer/floor under load with CPU per request, a CPU profile, bundle (target/bench/results.md)"
	@echo "make fuzz   every fuzz target for FUZZ_SECS seconds each (default 60; installs nightly and cargo-fuzz)"

## tools: the wasm target, worker-build and wasm-bindgen-cli (project-local), npm packages from the lockfile.
tools: $(TOOLS)/bin/worker-build $(TOOLS)/bin/wasm-bindgen node_modules/.package-lock.json
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

$(TOOLS)/bin/worker-build:
	cargo install worker-build --version $(WORKER_BUILD_VERSION) --root $(TOOLS)

$(TOOLS)/bin/wasm-bindgen:
	cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION) --root $(TOOLS)

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

## clients: the real Microsoft clients the e2e test `clients` runs against
## `flowgate emulate --tls` — Python ones in .venv-clients/ (from PyPI, pinned
## in tests/clients/requirements.txt), msal-node and jose from the lockfile.
PYTHON ?= python3
VENV := $(CURDIR)/.venv-clients
clients: $(VENV)/.installed node_modules/.package-lock.json

$(VENV)/.installed: tests/clients/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/clients/requirements.txt
	@touch $@

## build: the Worker bundle (build/) and the native CLI.
build: worker cli

worker: tools
	bash scripts/build-worker.sh

cli:
	cargo build $(CARGO_FLAGS) -p flowgate-cli

.dev.vars:
	cp .dev.vars.example .dev.vars

## dev: emulator + `wrangler dev` on fixed local ports; Ctrl-C stops both.
dev: build .dev.vars
	@target/debug/flowgate emulate --listen $(DEV_IP):$(EMULATOR_PORT) & emu=$$!; \
	trap 'kill $$emu 2>/dev/null' EXIT INT TERM; \
	for i in $$(seq 50); do curl -fs http://$(DEV_IP):$(EMULATOR_PORT)/ >/dev/null && break; sleep 0.2; done; \
	echo; \
	echo "flowgate is starting on http://$(DEV_IP):$(DEV_PORT) (emulator: http://$(DEV_IP):$(EMULATOR_PORT))"; \
	echo "In another terminal, send a signed GitHub webhook through it:"; \
	echo "  target/debug/flowgate send github --url http://$(DEV_IP):$(DEV_PORT)/hooks/github-demo --secret demo-github-secret"; \
	echo "Then see the flow run it produced:"; \
	echo "  curl -s http://$(DEV_IP):$(EMULATOR_PORT)/_emulator/runs"; \
	echo "and the delivery counters (admin token from .dev.vars):"; \
	echo "  FLOWGATE_ADMIN_TOKEN=flowgate-demo-admin-token target/debug/flowgate status"; \
	echo; \
	npx wrangler dev --ip $(DEV_IP) --port $(DEV_PORT)

## test: unit tests (core, CLI, emulator), then end to end against `wrangler dev`.
test: build unit e2e

unit:
	cargo test $(CARGO_FLAGS) -p flowgate-core -p flowgate-emulator -p flowgate-cli
	# The fuzz targets' seed corpora and saved crash inputs, replayed on stable.
	cargo test $(CARGO_FLAGS) -p flowgate-fuzz
	cargo test $(CARGO_FLAGS) -p flowgate-e2e --lib --bins

# Last, so that the run closes on the end-to-end results.
e2e: clients
	FLOWGATE_CLIENTS_PYTHON=$(VENV)/bin/python cargo test $(CARGO_FLAGS) -p flowgate-e2e --test e2e -- --test-threads=2

check:
	cargo fmt --all -- --check
	cargo clippy $(CARGO_FLAGS) -p flowgate-core -p flowgate-emulator -p flowgate-cli -p flowgate-e2e -p flowgate-fuzz --all-targets -- -D warnings
	cargo clippy $(CARGO_FLAGS) -p flowgate --target wasm32-unknown-unknown -- -D warnings

## bench: verification vs bare primitives (criterion); flowgate in each mode,
## a hand-written JS peer and a pass-through floor under load side by side
## (wrk; req/s, latency, workerd CPU per request); a V8 CPU profile of
## flowgate; bundle size (fails over 300 KiB gzipped); never part of `test`.
## BENCH_ARGS go to flowgate-bench, e.g. BENCH_ARGS="--secs 4 --rounds 1".
BENCH_ARGS ?=
bench: build
	bash scripts/bench.sh $(BENCH_ARGS)

## fuzz: each cargo-fuzz target (fuzz/) for FUZZ_SECS seconds, one after the
## other, then a summary (targets, seconds, executions, crashes); crashes go to
## fuzz/artifacts/<target>/, which `make test` replays. Nightly only for this.
FUZZ_SECS ?= 60
fuzz: $(TOOLS)/bin/cargo-fuzz
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	PATH="$(TOOLS)/bin:$$PATH" FUZZ_SECS=$(FUZZ_SECS) bash scripts/fuzz.sh

$(TOOLS)/bin/cargo-fuzz:
	cargo install cargo-fuzz --version $(CARGO_FUZZ_VERSION) --root $(TOOLS)

clean:
	rm -rf build target/e2e $(VENV)
