#!/usr/bin/env bash
# shadow-probe benchmarks (issue 5, part 9). Prints numbers and ratios against a baseline of the same run.
#  1. ns per packet with BPF_PROG_TEST_RUN (kernel-timed average over N repeats) for the packets that matter,
#     against an empty sched_cls program as the baseline (the test-run loop's own cost); the same packets cold
#     (one run after flushing L1/L2, then L3, then 6144 lines from 96 pages and from 6144 pages: the second also
#     empties the TLBs), which is what a run costs in place; the verifier's work per program.
#  2. in place on the lab with kernel.bpf_stats_enabled=1: run_time_ns / run_cnt of each attached program under
#     a fixed-rate load, and the aggregated telemetry (per-edge request counts in the kernel) against the load
#     generator's count at the lab's maximum rate (closed loop, wrk): lost = answered - counted.
#  3. the lab's p50/p99 and requests/s without and with the probe, with a verdict on the overhead targets
#     (bench/lab-overhead.sh: one load run per kind, the probe switched off/on in alternating segments).
# Usage: bench/probe-bench.sh [--repeat 100000] [--rounds 50] [--skip-lab] [--duration 5] [--lab-duration 60]
#                             [--lab-segment 2]
# PROBE_BENCH_JQ: a jq filter applied to the probe's config for ablations, e.g. '.settings.sampleEvery = 1000000'
# (records off); PROBE_BENCH_NO_LATENCY=1 stops after part 2; PROBE_BENCH_PROBE: another shadow-probe binary for
# part 2 (A/B against an older build, e.g. from a git worktree).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
PROBE="${PROBE_BENCH_PROBE:-$REPO/shadow-probe/build/shadow-probe}"
TESTRUN="$REPO/shadow-probe/build/bench_testrun"
repeat=100000 rounds=50 skip_lab=0 duration=5 lab_duration=60 lab_segment=2
while [ $# -gt 0 ]; do
  case $1 in
    --repeat) repeat=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --skip-lab) skip_lab=1; shift ;;
    --lab-duration) lab_duration=$2; shift 2 ;;
    --lab-segment) lab_segment=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    *) echo "probe-bench: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "SKIPPED: the probe benchmarks need root (BPF_PROG_TEST_RUN, netns)"; exit 0; }
[ -x "$TESTRUN" ] || { echo "probe-bench: build first: make probe-build" >&2; exit 1; }
out_dir="$REPO/bench/out"; mkdir -p "$out_dir"
stamp=$(date -u +%Y%m%dT%H%M%SZ)

echo "== 1. BPF_PROG_TEST_RUN, $repeat repeats x $rounds rounds (machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
"$TESTRUN" "$repeat" "$rounds" >"$out_dir/probe-testrun-$stamp.jsonl"
python3 - "$out_dir/probe-testrun-$stamp.jsonl" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
for r in (r for r in rows if r["case"] == "verifier"):
    print("verifier: %-20s %8d insns processed (limit 1,000,000), %5d xlated, %6d JIT bytes" %
          (r["prog"], r["verified_insns"], r["xlated_insns"], r["jited_bytes"]))
for r in (r for r in rows if r["case"].startswith("cold_")):
    print("%-28s (%4d runs, ns/run): empty %5.0f | tc request %6.0f | tc response %6.0f | tc ACK %6.0f | cgroup_skb request %6.0f" %
          (r["case"], r["runs"], r["empty_program"], r["tc_http_request"], r["tc_http_response"], r["tc_ack_known_flow"],
           r["cgroup_skb_http_request"]))
rows = [r for r in rows if r["case"] != "verifier" and not r["case"].startswith("cold_")]
base = next(r for r in rows if r["case"] == "baseline_empty_program")
b = base.get("ns_per_packet_min", base["ns_per_packet_mean"])
# min: the program's own cost (the round nothing else disturbed); median: a typical round on the machine as it is
print("%-32s %8s %9s %8s %16s" % ("case", "min ns", "median ns", "mean ns", "net of baseline"))
for r in rows:
    m = r.get("ns_per_packet_min", r["ns_per_packet_mean"])
    net = r.get("net_of_repeat1_baseline", m - b) if not r["case"].startswith("baseline_empty_program_repeat1") else 0
    med = "%9.0f" % r["ns_per_packet_median"] if "ns_per_packet_median" in r else "%9s" % "-"
    print("%-32s %8.0f %s %8.1f %16.0f" % (r["case"], m, med, r["ns_per_packet_mean"], net))
EOF
[ $skip_lab = 1 ] && exit 0

export MIGRATE_LAB_PREFIX=sprbb
export MIGRATE_LAB_STATE="$REPO/.state/lab-probe-bench"
LAB="$REPO/lab/lab.sh"
work=$(mktemp -d /tmp/probe-bench.XXXXXX)
prev_stats=$(sysctl -n kernel.bpf_stats_enabled)
probe_pid=""
cleanup() {
  [ -z "$probe_pid" ] || { kill -TERM "$probe_pid" 2>/dev/null || true; wait "$probe_pid" 2>/dev/null || true; }
  sysctl -qw kernel.bpf_stats_enabled="$prev_stats" || true
  "$LAB" down >/dev/null 2>&1 || true
  rm -rf "$work" "$MIGRATE_LAB_STATE"
}
trap cleanup EXIT
"$LAB" up >/dev/null
python3 "$REPO/shadow-probe/tests/lab/lab-config.py" "$MIGRATE_LAB_STATE/pods.json" | jq "${PROBE_BENCH_JQ:-.}" >"$work/config.json"

start_probe() {
  "$PROBE" --config "$work/config.json" --state-dir "$work/run" >"$work/probe.jsonl" 2>"$work/probe.log" &
  probe_pid=$!
  for _ in $(seq 300); do grep -q 'running:' "$work/probe.log" && return 0; kill -0 "$probe_pid" || break; sleep 0.1; done
  echo "probe-bench: the probe did not start: $(tail -3 "$work/probe.log")" >&2; exit 1
}
stop_probe() { kill -INT "$probe_pid"; wait "$probe_pid" || true; probe_pid=""; }

echo
echo "== 2. in place (kernel.bpf_stats_enabled=1), lab pod reviews, fixed 500 req/s for ${duration}s, then max rate"
"$LAB" load --target reviews --path /reviews/1 --rate 0 --duration 2 >/dev/null   # warm-up
sysctl -qw kernel.bpf_stats_enabled=1
start_probe
fixed=$("$LAB" load --target reviews --path /reviews/1 --rate 500 --duration "$duration")
bpftool -j prog show >"$work/progs.json"
sysctl -qw kernel.bpf_stats_enabled="$prev_stats"
max=$("$LAB" load --target reviews --path /reviews/1 --rate 0 --tool wrk --duration "$duration")
sleep 0.3
stop_probe
python3 - "$work/progs.json" "$work/probe.jsonl" "$fixed" "$max" <<'EOF' | tee "$out_dir/probe-inplace-$stamp.txt"
import json, sys
progs = json.load(open(sys.argv[1]))
print(f"{'program':22} {'runs':>10} {'ns/run':>8}")
for p in progs:
    if p.get("name", "").startswith("shadow_") and p.get("run_cnt"):
        print(f"{p['name']:22} {p['run_cnt']:10d} {p['run_time_ns'] / p['run_cnt']:8.0f}")
fixed, mx = json.loads(sys.argv[3]), json.loads(sys.argv[4])
lines = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
edges = {}
for e in (l for l in lines if l["type"] == "edge"):
    edges[(e["pod"], e["dir"], e["leg"], e["remoteIdentity"], e["port"])] = e
counted = {leg: sum(e["requests"] for k, e in edges.items() if k[0] == "reviews" and k[1] == "ingress" and k[2] == leg and k[4] == 9080) for leg in ("wire", "app")}
answered = sum(fixed["statuses"].values()) + mx["requests"]  # wrk counts completed responses
m = [l for l in lines if l["type"] == "metrics"][-1]["counters"]
print(f"fixed: {fixed['rps']} req/s p50 {fixed['latencyMs']['p50']} ms; max: {mx['rps']} req/s (wrk)")
inflight = fixed.get("lostInFlight", 0)
# a request the generator abandoned at its deadline may still be answered and counted by the probe
print(f"requests answered (load generators): {answered} (+{inflight} abandoned in flight at the deadline); "
      f"counted in the kernel aggregates: wire {counted['wire']}, app {counted['app']}; "
      f"lost: wire {max(0, answered - counted['wire'])}, app {max(0, answered - counted['app'])}")
print(f"probe counters: ringbuf_full {m['ringbuf_full']}, ratelimited {m['ratelimited']}, inflight_evicted {m['inflight_evicted']}, ct_full {m['ct_full']}, parse_fail {m['parse_fail']}, http_unmatched {m['http_unmatched']}")
EOF

echo
[ "${PROBE_BENCH_NO_LATENCY:-0}" = 1 ] && exit 0
echo
echo "== 3. lab p50/p99 through the sidecar, probe off vs on: bench/lab-overhead.sh (one run per kind, alternating ${lab_segment}s segments, bootstrap 95 % interval, verdicts)"
"$REPO/bench/lab-overhead.sh" --rate 500 --duration "$lab_duration" --segment "$lab_segment"
echo "machine: $(nproc) cores, load average at end $(cut -d' ' -f1-3 /proc/loadavg) (shared with other work)"
