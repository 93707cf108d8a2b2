#!/usr/bin/env bash
# Probe overhead in the lab with a verdict (issue 5, part 9): is the latency of requests through the sidecar
# path with the shadow probe attached at most x1.02 (p50) and x1.05 (p99) of the same path without it, at a
# fixed rate and at the maximum rate?
#
# Method (bench/RESULTS.md, "Probe overhead with a verdict"): per kind, ONE load run of --duration seconds
# (lab/loadgen.mjs, client pod -> target pod through its sidecar, keep-alive connections, every request's
# latency kept with --samples) while one loaded shadow-probe is switched off and on in alternating segments
# (SIGHUP with a config without pods detaches it, the full config re-attaches it), pairs in ABBA order. The
# samples of all "off" and all "on" segments are pooled (requests that straddle a switch, or start within
# --guard after it, are dropped); p50/p99 of each pool; on/off ratios with a 95 % block-bootstrap interval
# over segment pairs (bench/overhead-stats.ts). Verdict per target: met (upper bound <= target), not met
# (lower bound > target), undecided. Second, independent estimate: the probe's BPF run time (kernel
# run_time_ns) per request sent while attached, over p50 off. The kernel counts run time only while
# kernel.bpf_stats_enabled is on, which costs ~100 ns per program run itself; so one pair in --stats-every
# (default 5) runs with the stats on and gives this estimate, and the latency verdict uses the other pairs
# (--stats-every 0: stats on for the whole run and every pair in the verdict, the method before 2026-11-21).
#
# Usage: bench/lab-overhead.sh [--kinds fixed,max] [--rate 1000] [--duration 120] [--segment 2] [--guard 0.3]
#                              [--connections 8] [--target reviews] [--path /reviews/1] [--pin] [--resamples 2000]
#   --baseline BIN  A/B of two builds in one run: BIN (e.g. a git worktree's shadow-probe/build/shadow-probe)
#          is attached in the "off" segments instead of nothing, this tree's build (or LAB_OVERHEAD_PROBE) in the
#          "on" ones; the ratios then compare the builds under the same machine drift, and the kernel lines give
#          each build's BPF time per request. The targets do not apply to an A/B run.
#   --stats-every N  one pair in N with BPF stats on (kernel estimate), the rest without (latency verdict)
#   --pin  load generator on CPU 1, every lab pod process (apps, sidecars) and the probe loader on CPU 0,
#          for the run (restored after): less cross-talk between the generator and the path under test.
# Run it under the lab lock, with -o so nothing the script starts inherits the lock:
#   flock -o /tmp/migrate-lab.lock bench/lab-overhead.sh
# Output: the report on stdout; samples, segments and a JSON summary per kind in bench/out/lab-overhead-<time>.*
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
LAB="$REPO/lab/lab.sh"
STATE=${MIGRATE_LAB_STATE:-$REPO/.state/lab}
PREFIX=${MIGRATE_LAB_PREFIX:-mlab}
kinds=fixed,max rate=1000 duration=120 segment=2 guard=0.3 conns=8 target=reviews path=/reviews/1 pin=0 resamples=2000 baseline="" stats_every=5
while [ $# -gt 0 ]; do
  case $1 in
    --kinds) kinds=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --segment) segment=$2; shift 2 ;;
    --guard) guard=$2; shift 2 ;;
    --connections) conns=$2; shift 2 ;;
    --target) target=$2; shift 2 ;;
    --path) path=$2; shift 2 ;;
    --pin) pin=1; shift ;;
    --baseline) baseline=$2; shift 2 ;;
    --stats-every) stats_every=$2; shift 2 ;;
    --resamples) resamples=$2; shift 2 ;;
    *) echo "lab-overhead: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "SKIPPED: the probe overhead benchmark needs root (network namespaces, BPF)"; exit 0; }
PROBE_BIN="${LAB_OVERHEAD_PROBE:-$REPO/shadow-probe/build/shadow-probe}"  # LAB_OVERHEAD_PROBE: another build, for A/B
[ -x "$PROBE_BIN" ] || { echo "lab-overhead: no $PROBE_BIN: build it first (make probe-build)" >&2; exit 1; }
[ -z "$baseline" ] || [ -x "$baseline" ] || { echo "lab-overhead: --baseline $baseline is not an executable shadow-probe" >&2; exit 1; }
NODE=$("$REPO/scripts/ensure-node.sh")/node
[ -f "$REPO/dist/bench/lab-overhead.js" ] || { echo "lab-overhead: no dist/bench/lab-overhead.js: run make build" >&2; exit 1; }

work=$(mktemp -d /tmp/lab-overhead.XXXXXX)
brought_up=0 probe_pid="" base_pid="" stats_pid=""
cleanup() {
  [ -z "$probe_pid" ] || { kill -TERM "$probe_pid" 2>/dev/null || true; wait "$probe_pid" 2>/dev/null || true; }
  [ -z "$base_pid" ] || { kill -TERM "$base_pid" 2>/dev/null || true; wait "$base_pid" 2>/dev/null || true; }
  [ -z "$stats_pid" ] || kill -TERM "$stats_pid" 2>/dev/null || true
  if [ $pin = 1 ]; then for p in $(lab_pids); do taskset -a -p -c "0-$(($(nproc) - 1))" "$p" >/dev/null 2>&1 || true; done; fi
  [ $brought_up = 0 ] || "$LAB" down >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
# utime + stime of a process in ms (USER_HZ ticks).
proc_cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print int(($12 + $13) * 1000 / hz) }' "/proc/$1/stat"; }
lab_pids() { jq -r '.pods[].cgroup' "$STATE/pods.json" 2>/dev/null | while read -r cg; do cat "$cg/cgroup.procs" 2>/dev/null || true; done; }
if ! "$LAB" status >/dev/null 2>&1; then "$LAB" up >/dev/null; brought_up=1; fi

out_dir="$REPO/bench/out"; mkdir -p "$out_dir"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
base="$out_dir/lab-overhead-$stamp"
ip=$(jq -r --arg t "$target" '.pods[] | select(.name == $t) | .ip' "$STATE/pods.json")
port=$(jq -r --arg t "$target" '.pods[] | select(.name == $t and .sidecar != null) | .appPort' "$STATE/pods.json")
[ -n "$ip" ] && [ -n "$port" ] || { echo "lab-overhead: no pod with a sidecar named $target in $STATE/pods.json" >&2; exit 1; }
url="http://$ip:$port$path"

# One loader for the whole run; it starts detached (a config without pods) and the toggler switches it.
python3 "$REPO/shadow-probe/tests/lab/lab-config.py" "$STATE/pods.json" >"$work/full.json"
jq '.pods = [] | .policy = [] | .l7 = []' "$work/full.json" >"$work/empty.json"
cp "$work/empty.json" "$work/live.json"
"$PROBE_BIN" --config "$work/live.json" --state-dir "$work/probe" >"$work/probe.jsonl" 2>"$work/probe.log" &
probe_pid=$!
for _ in $(seq 300); do grep -q 'running:' "$work/probe.log" && break; kill -0 "$probe_pid" 2>/dev/null || break; sleep 0.1; done
grep -q 'running:' "$work/probe.log" || { echo "lab-overhead: the probe did not start: $(tail -3 "$work/probe.log")" >&2; exit 1; }
base_args=()
if [ -n "$baseline" ]; then
  cp "$work/empty.json" "$work/base-live.json"
  "$baseline" --config "$work/base-live.json" --state-dir "$work/base" >"$work/base.jsonl" 2>"$work/base.log" &
  base_pid=$!
  for _ in $(seq 300); do grep -q 'running:' "$work/base.log" && break; kill -0 "$base_pid" 2>/dev/null || break; sleep 0.1; done
  grep -q 'running:' "$work/base.log" || { echo "lab-overhead: the baseline probe did not start: $(tail -3 "$work/base.log")" >&2; exit 1; }
  base_args=(--base-pid "$base_pid" --base-log "$work/base.log" --base-live "$work/base-live.json")
fi
# BPF run-time stats (refcounted: never switches off anyone else's): in the toggler's stats pairs, or on for
# the whole run with --stats-every 0.
if [ "$stats_every" = 0 ]; then
  python3 "$REPO/bench/bpf-prog-cost.py" hold >/dev/null &
  stats_pid=$!
fi
gen_cpu=""
if [ $pin = 1 ]; then
  for p in $(lab_pids) "$probe_pid" $base_pid; do taskset -a -p -c 0 "$p" >/dev/null; done
  gen_cpu="taskset -c 1"
fi

[ -z "$baseline" ] || echo "lab-overhead: A/B: off = $baseline, on = $PROBE_BIN"
echo "lab-overhead: $url through the sidecar, ${duration}s per kind, ${segment}s segments (guard ${guard}s), $conns connections, pin=$pin; machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
# Warm-up: connections, JIT, the probe's maps.
nsenter --net="/run/netns/$PREFIX-client" "$NODE" "$REPO/lab/loadgen.mjs" --url "$url" --rate 0 --duration 2 --connections "$conns" >/dev/null
for kind in ${kinds//,/ }; do
  case $kind in fixed) r=$rate ;; max) r=0 ;; *) echo "lab-overhead: unknown kind $kind (fixed, max)" >&2; exit 2 ;; esac
  python3 "$REPO/bench/bpf-prog-cost.py" snapshot "$probe_pid" >"$work/bpf-before.json"
  [ -z "$base_pid" ] || python3 "$REPO/bench/bpf-prog-cost.py" snapshot "$base_pid" >"$work/base-bpf-before.json"
  cpu0=$(proc_cpu_ms "$probe_pid")
  # shellcheck disable=SC2086
  nsenter --net="/run/netns/$PREFIX-client" $gen_cpu "$NODE" "$REPO/lab/loadgen.mjs" --url "$url" --rate "$r" \
    --duration "$duration" --connections "$conns" --samples "$base.$kind.samples" >"$base.$kind.loadgen.json" &
  gen_pid=$!
  "$NODE" "$REPO/dist/bench/lab-overhead.js" toggle --probe-pid "$probe_pid" --log "$work/probe.log" --live "$work/live.json" \
    --full "$work/full.json" --empty "$work/empty.json" --duration "$duration" --segment "$segment" --guard "$guard" \
    --stats-every "$stats_every" --stats-holder "$REPO/bench/bpf-prog-cost.py" --out "$base.$kind.segments.jsonl" "${base_args[@]}"
  wait "$gen_pid"
  python3 "$REPO/bench/bpf-prog-cost.py" snapshot "$probe_pid" >"$work/bpf-after.json"
  cpu1=$(proc_cpu_ms "$probe_pid")
  python3 "$REPO/bench/bpf-prog-cost.py" diff "$work/bpf-before.json" "$work/bpf-after.json" >"$base.$kind.bpf.json"
  bpf_base=()
  if [ -n "$base_pid" ]; then
    python3 "$REPO/bench/bpf-prog-cost.py" snapshot "$base_pid" >"$work/base-bpf-after.json"
    python3 "$REPO/bench/bpf-prog-cost.py" diff "$work/base-bpf-before.json" "$work/base-bpf-after.json" >"$base.$kind.base-bpf.json"
    bpf_base=(--bpf-base "$base.$kind.base-bpf.json")
  fi
  label=$([ "$kind" = fixed ] && echo "fixed $rate/s (open loop)" || echo "max rate (closed loop, $conns connections)")
  "$NODE" "$REPO/dist/bench/lab-overhead.js" analyze --samples "$base.$kind.samples" --segments "$base.$kind.segments.jsonl" \
    --bpf "$base.$kind.bpf.json" --loader-cpu-ms $((cpu1 - cpu0)) --cores "$(nproc)" --label "$label" --resamples "$resamples" --out "$base.$kind.summary.json" "${bpf_base[@]}"
  jq -r '"  load generator: \(.requests) requests, \(.errors) errors, \(.rps) req/s over the run"' "$base.$kind.loadgen.json"
  gzip -f "$base.$kind.samples"
done
echo "probe counters at the end: $(grep '"type":"metrics"' "$work/probe.jsonl" | tail -1 | jq -c '{ringbuf_full: .counters.ringbuf_full, ratelimited: .counters.ratelimited, http_requests: .counters.http_requests}' 2>/dev/null || echo none)"
echo "machine: load average at end $(cut -d' ' -f1-3 /proc/loadavg); raw: $base.*"
