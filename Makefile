# The two commands a user needs: `make demo` and `make test`. Each installs what it needs, idempotently.
# Areas add their own targets in mk/*.mk and append to TEST_TARGETS / DEMO_TARGETS.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
.DEFAULT_GOAL := help

NODE_BIN := $(shell ./scripts/ensure-node.sh)
ifeq ($(NODE_BIN),)
$(error could not provide Node >= 22: see scripts/ensure-node.sh output above)
endif
export PATH := $(NODE_BIN):$(PATH)
export npm_config_loglevel := error
export npm_config_update_notifier := false
SHARED ?= $(abspath ../shared)
export MIGRATE_SHARED := $(SHARED)

TEST_TARGETS :=
INTEGRATION_TARGETS :=
DEMO_TARGETS :=
include $(sort $(wildcard mk/*.mk))

.PHONY: help deps build lint test test-unit test-integration demo demo-inventory clean bench-inventory
help:
	@echo "make demo   set up and run the inventory (and later steps) on the bundled snapshot"
	@echo "make test   set up and run every test (unit, command, eBPF, integration)"

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

deps: node_modules/.installed

build: deps
	npx tsc -p tsconfig.json

lint: deps
	npx eslint src test bench

test-unit: build
	node --test --test-reporter=spec 'dist/test/unit/**/*.test.js' 'dist/test/commands/**/*.test.js'

# Integration tests run last so the closing lines CI reads are the node test runner's summary.
test-integration: build $(INTEGRATION_TARGETS)
	node --test --test-concurrency=1 --test-reporter=spec 'dist/test/integration/**/*.test.js'

test: lint test-unit $(TEST_TARGETS) test-integration

# Each step of the demo prints its part; later steps (translate, shadow) append themselves to DEMO_TARGETS.
demo: demo-inventory $(DEMO_TARGETS)

demo-inventory: build
	@echo "== migrate inventory --snapshot fixtures/online-shop/snapshot"
	./bin/migrate inventory --snapshot fixtures/online-shop/snapshot

# Inventory on a generated 1,000-node, 50,000-pod, 2,000-policy snapshot (bench/RESULTS.md).
bench-inventory: build
	node dist/bench/inventory.js --runs 3

clean:
	rm -rf dist
