# The lab (issue 5, part 7): a node in a box of network namespaces with sidecar pods (lab/README.md).
LAB_DEBS := haproxy wrk iproute2 iptables python3 procps util-linux jq curl openssl

.PHONY: lab-deps lab-up lab-down lab-status lab-test lab-bench lab-overhead
lab-deps:
	./scripts/apt-ensure.sh $(LAB_DEBS)

lab-up: lab-deps
	./lab/lab.sh up

lab-down:
	./lab/lab.sh down

lab-status:
	./lab/lab.sh status

# The lab tests; lab-probe.test.js also needs the probe (make probe-build) and SKIPs without it.
lab-test: build lab-deps
	node --test --test-concurrency=1 --test-reporter=spec dist/test/integration/lab.test.js dist/test/integration/lab-probe.test.js

# Sidecar vs bypass always; probe on/off when shadow-probe/build/shadow-probe exists (make probe-build), with
# the verdict on the overhead targets from bench/lab-overhead.sh (alternating segments, bootstrap interval).
lab-bench: build lab-deps
	./bench/lab-latency.sh
	if [ -x shadow-probe/build/shadow-probe ]; then ./bench/lab-overhead.sh; else echo "lab-overhead: SKIPPED (no shadow-probe/build/shadow-probe: make probe-build)"; fi

# Probe overhead verdict only (p50 <= x1.02, p99 <= x1.05, fixed and max rate). On a shared machine run it as
#   flock -o /tmp/migrate-lab.lock make lab-overhead
lab-overhead: build lab-deps probe-build
	./bench/lab-overhead.sh $(LAB_OVERHEAD_ARGS)

INTEGRATION_TARGETS += lab-deps
