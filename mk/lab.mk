# The lab (issue 5, part 7): a node in a box of network namespaces with sidecar pods (lab/README.md).
LAB_DEBS := haproxy wrk iproute2 iptables python3 procps util-linux jq curl openssl

.PHONY: lab-deps lab-up lab-down lab-status lab-test lab-bench
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

# Sidecar vs bypass always; probe on/off when shadow-probe/build/shadow-probe exists (make probe-build).
lab-bench: lab-deps
	./bench/lab-latency.sh

INTEGRATION_TARGETS += lab-deps
