# shadow-probe: the C eBPF shadow data plane (issue 5). Builds into shadow-probe/build/ (ignored).
PROBE_DIR := shadow-probe
PROBE_DEBS := clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libjansson-dev iproute2 iptables pkg-config make gcc

.PHONY: probe-deps probe-build probe-test probe-bench probe-cleanup
probe-deps:
	./scripts/apt-ensure.sh $(PROBE_DEBS)

probe-build: probe-deps
	$(MAKE) -C $(PROBE_DIR) -j2

# BPF_PROG_TEST_RUN unit tests (crafted packets); prints "N passed, N failed, N skipped".
probe-test: probe-build
	$(MAKE) -C $(PROBE_DIR) test

probe-bench: build probe-build
	./bench/probe-bench.sh

probe-cleanup: probe-build
	$(PROBE_DIR)/build/shadow-probe --cleanup

TEST_TARGETS += probe-test
INTEGRATION_TARGETS += probe-build
