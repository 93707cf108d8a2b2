# migrate shadow (issue 6): Prometheus for the scrape test, the shadow benchmarks, and the demo step.
SHADOW_DEBS := prometheus

.PHONY: shadow-deps bench-shadow demo-shadow shadow-record-fixtures
# The Debian prometheus package starts a system service on install; the test runs its own instance.
shadow-deps:
	./scripts/apt-ensure.sh $(SHADOW_DEBS)

# Parse >= 1,000,000 lines/s, join >= 500,000 lines/s (bench/RESULTS.md "Shadow").
bench-shadow: build
	node dist/bench/shadow-parse.js
	node dist/bench/shadow-join.js

# Re-record fixtures/shadow/<scenario> from a private lab instance (root + eBPF).
shadow-record-fixtures: build lab-deps probe-build
	./scripts/shadow/record-fixtures.sh

# A shadow run in the lab where root and eBPF are available; the recorded fixtures replayed otherwise.
demo-shadow: build
	@./scripts/shadow/demo.sh

INTEGRATION_TARGETS += shadow-deps
DEMO_TARGETS += demo-shadow
