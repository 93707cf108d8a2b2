# A real control plane for the integration tests and the live scale bench: etcd + kube-apiserver (+ KWOK for the
# bench) built from Go modules and cached per machine by version; see test/cluster/README.md.
.PHONY: cluster-deps cluster-tools cluster-tools-kwok cluster-up cluster-down cluster-status cluster-test-up bench-live

CLUSTER_DIR := test/cluster

cluster-deps:
	@scripts/apt-ensure.sh openssl curl util-linux

# Builds only what `make test` needs; a second run finds the cached binaries and builds nothing.
cluster-tools: cluster-deps
	@$(CLUSTER_DIR)/build.sh etcd kube-apiserver

cluster-tools-kwok: cluster-deps
	@$(CLUSTER_DIR)/build.sh kwok

# For a developer: starts the cluster and leaves it running until `make cluster-down`. Idempotent.
cluster-up: build cluster-tools
	@$(CLUSTER_DIR)/up.sh

cluster-down:
	@$(CLUSTER_DIR)/down.sh

cluster-status:
	@$(CLUSTER_DIR)/status.sh

# For `make test`: start the run's cluster; it stops when this make exits, on success or failure ($$PPID of the
# recipe shell is make), so CI leaves nothing running.
cluster-test-up: build cluster-tools
	@$(CLUSTER_DIR)/up.sh --stop-with $$PPID

# Each `make test` gets a cluster of its own (state dir keyed by make's pid), exported to the test processes: the
# engineers of this checkout run their tests in parallel, and the inventory tests wipe the cluster between
# fixtures. Target-specific, so it also holds for cluster-test-up (a prerequisite) but not for `make cluster-up`.
CLUSTER_TEST_STATE := $(CURDIR)/.state/cluster-test-$(shell echo $$PPID)
test-integration: export MIGRATE_CLUSTER_STATE = $(CLUSTER_TEST_STATE)

INTEGRATION_TARGETS += cluster-tools cluster-test-up

# Live scale bench: KWOK with 1,000 nodes, 50,000 pods, 2,000 Istio resources; not part of `make test`.
# Peak RSS comes from GNU time (Debian package `time`).
bench-live: build cluster-tools cluster-tools-kwok
	@scripts/apt-ensure.sh time
	node dist/bench/inventory-live.js $(BENCH_LIVE_ARGS)
