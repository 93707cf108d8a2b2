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
#                              [--connections 8] [--target reviews] [--upstream NAME] [--path /reviews/1] [--pin]
#                              [--resamples 2000]
#                              [--design segments|concurrent] [--baseline BIN] [--stats-every 5] [--null]
#                              [--settings JSON]
#   --upstream NAME  the meshed path: the target's app calls NAME (GET /call/NAME<path>) through its outbound sidecar,
#          which originates mTLS to NAME's sidecar, so a request crosses two sidecars and two app hops, as between two
#          pods of a mesh (e.g. --target productpage --upstream reviews). Without it: client -> the target's sidecar ->
#          the target's app, plaintext on the wire (the client has no sidecar).
#   --baseline BIN  A/B of two builds in one run: BIN (e.g. a git worktree's shadow-probe/build/shadow-probe)
#          is attached in the "off" segments instead of nothing, this tree's build (or LAB_OVERHEAD_PROBE) in the
#          "on" ones; the ratios then compare the builds under the same machine drift, and the kernel lines give
#          each build's BPF time per request. The targets do not apply to an A/B run.
#   --stats-every N  one pair in N with BPF stats on (kernel estimate), the rest without (latency verdict)
#   --design concurrent  (fixed rate only) two twin arms at once, client -> TARGET [-> UPSTREAM] and client-b ->
#          TARGET-b [-> UPSTREAM-b], at half the rate each, in the lab of bench/lab-twin-topology.json (brought up if
#          the lab is down); the probe watches arm A in the "on" segments and arm B in the "off" ones, so each arm is
#          its own twin's baseline
#          at the same moment and the machine's bursts hit both sides of the ratio alike. It measures what the
#          probe adds to a watched request, not the CPU it takes from unwatched ones (use the default design,
#          "segments", for that and for the maximum rate).
#   --null  calibration: the "on" segments attach the probe only to the pods off the measured path (every pod but the
#          ones the request crosses: the client, the target and --upstream), so both arms carry the same path and any
#          ratio away from 1 is the design's own (segment timing, ABBA order, the reloads and the hooks' global
#          switches), not the probe's work. The targets do not apply to a null run.
#   --settings JSON  merged into the probe config's settings (shadow-probe/tests/lab/lab-config.py's), e.g.
#          '{"ctFlows": 8192, "inflightSlots": 8192}' for tables sized to the lab, or '{"rate": 100}'; the report says so
#   --perf FREQ  also record the whole machine with perf (cpu-clock at FREQ Hz, call chains) during each kind, and
#          split its CPU per request with the probe on and off by process and by symbol (bench/perf-split.py): what
#          the probe costs the apps and the kernel besides its own programs. perf's own cost is in both variants. With
#          --baseline, "off" is the baseline build's programs and "on" this build's. Runs pool with
#          bench/perf-split.py --pool bench/out/lab-overhead-*.max.perf-counts.json.
#   --pin  load generator on CPU 1, every lab pod process (apps, sidecars) and the probe loader on CPU 0,
#          for the run (restored after): less cross-talk between the generator and the path under test.
# Run it under the lab lock, with -o so nothing the script starts inherits the lock:
#   flock -o /tmp/migrate-lab.lock bench/lab-overhead.sh
# Output: the report on stdout; samples, segments and a JSON summary per kind, and the probe config of the "on"
# segments, in bench/out/lab-overhead-<time>.*
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
LAB="$REPO/lab/lab.sh"
STATE=${MIGRATE_LAB_STATE:-$REPO/.state/lab}
PREFIX=${MIGRATE_LAB_PREFIX:-mlab}
kinds=fixed,max rate=1000 duration=120 segment=2 guard=0.3 conns=8 target=reviews upstream="" path=/reviews/1 pin=0 resamples=2000 perf_freq=0 baseline="" stats_every=5 design=segments null=0 settings=""
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
    --upstream) upstream=$2; shift 2 ;;
    --pin) pin=1; shift ;;
    --null) null=1; shift ;;
    --perf) perf_freq=$2; shift 2 ;;
    --settings) settings=$2; shift 2 ;;
    --baseline) baseline=$2; shift 2 ;;
    --stats-every) stats_every=$2; shift 2 ;;
    --resamples) resamples=$2; shift 2 ;;
    --design) design=$2; shift 2 ;;
    *) echo "lab-overhead: unknown argument $1" >&2; exit 2 ;;
  esac
done
case $design in
  segments) ;;
  concurrent)
    [ "$kinds" = fixed ] || { echo "lab-overhead: --design concurrent runs only --kinds fixed: at the maximum rate the arms share the CPUs, so it would hide the throughput the probe takes (use the default design there)" >&2; exit 2; }
    [ -z "$baseline" ] || { echo "lab-overhead: --design concurrent does not combine with --baseline" >&2; exit 2; }
    [ $null = 0 ] || { echo "lab-overhead: --design concurrent does not combine with --null" >&2; exit 2; } ;;
  *) echo "lab-overhead: unknown --design $design (segments, concurrent)" >&2; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || { echo "SKIPPED: the probe overhead benchmark needs root (network namespaces, BPF)"; exit 0; }
PROBE_BIN="${LAB_OVERHEAD_PROBE:-$REPO/shadow-probe/build/shadow-probe}"  # LAB_OVERHEAD_PROBE: another build, for A/B
[ -x "$PROBE_BIN" ] || { echo "lab-overhead: no $PROBE_BIN: build it first (make probe-build)" >&2; exit 1; }
[ -z "$baseline" ] || [ -x "$baseline" ] || { echo "lab-overhead: --baseline $baseline is not an executable shadow-probe" >&2; exit 1; }
NODE=$("$REPO/scripts/ensure-node.sh")/node
[ "$perf_freq" = 0 ] || command -v perf >/dev/null || { echo "lab-overhead: --perf needs perf (make lab-deps installs it)" >&2; exit 1; }
[ -f "$REPO/dist/bench/lab-overhead.js" ] || { echo "lab-overhead: no dist/bench/lab-overhead.js: run make build" >&2; exit 1; }

work=$(mktemp -d /tmp/lab-overhead.XXXXXX)
brought_up=0 probe_pid="" base_pid="" stats_pid="" perf_pid=""
cleanup() {
  [ -z "$perf_pid" ] || { kill -INT "$perf_pid" 2>/dev/null || true; wait "$perf_pid" 2>/dev/null || true; }
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
twin_topology="$REPO/bench/lab-twin-topology.json"
if ! "$LAB" status >/dev/null 2>&1; then
  if [ "$design" = concurrent ]; then MIGRATE_LAB_TOPOLOGY=$twin_topology "$LAB" up >/dev/null; else "$LAB" up >/dev/null; fi
  brought_up=1
fi
# the pods a request crosses, client first (their twins make arm B in the concurrent design)
path_pods=(client "$target")
[ -z "$upstream" ] || path_pods+=("$upstream")
if [ -n "$upstream" ] && ! jq -e --arg t "$target" --arg u "$upstream" 'any(.pods[]; .name == $t and any(.upstreams[]?; . == $u))' "$STATE/pods.json" >/dev/null; then
  echo "lab-overhead: --upstream $upstream: the lab's $target does not call a pod named $upstream (see its upstreams in $STATE/pods.json)" >&2
  exit 1
fi
if [ "$design" = concurrent ]; then
  for p in "${path_pods[@]}"; do
    jq -e --arg t "$p-b" 'any(.pods[]; .name == $t)' "$STATE/pods.json" >/dev/null && continue
    echo "lab-overhead: --design concurrent needs the twin pod $p-b, and the lab is up without it: run lab/lab.sh down, then this again (it brings up $twin_topology)" >&2
    exit 1
  done
fi

out_dir="$REPO/bench/out"; mkdir -p "$out_dir"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
base="$out_dir/lab-overhead-$stamp"
ip=$(jq -r --arg t "$target" '.pods[] | select(.name == $t) | .ip' "$STATE/pods.json")
port=$(jq -r --arg t "$target" '.pods[] | select(.name == $t and .sidecar != null) | .appPort' "$STATE/pods.json")
[ -n "$ip" ] && [ -n "$port" ] || { echo "lab-overhead: no pod with a sidecar named $target in $STATE/pods.json" >&2; exit 1; }
call=""; [ -z "$upstream" ] || call="/call/$upstream"
url="http://$ip:$port$call$path"

# One loader for the whole run; it starts detached (a config without pods) and the toggler switches it.
python3 "$REPO/shadow-probe/tests/lab/lab-config.py" "$STATE/pods.json" >"$work/full.json"
if [ -n "$settings" ]; then
  jq --argjson s "$settings" '.settings += $s' "$work/full.json" >"$work/with-settings.json" 2>/dev/null ||
    { echo "lab-overhead: --settings $settings is not a JSON object" >&2; exit 2; }
  mv "$work/with-settings.json" "$work/full.json"
fi
# the config without the named pods (JSON array): their endpoints, policy and L7 rules
drop_pods() { jq --argjson d "$1" '.pods |= map(select(.name as $n | $d | index($n) | not))
  | .policy |= map(select(.pod as $n | $d | index($n) | not)) | .l7 |= map(select(.pod as $n | $d | index($n) | not))' "$2"; }
path_json=$(printf '%s\n' "${path_pods[@]}" | jq -R . | jq -sc .)
if [ "$design" = concurrent ]; then
  # "on" = arm A watched (every pod but arm B's twins), "off" = arm B watched (every pod but arm A's)
  mv "$work/full.json" "$work/all.json"
  drop_pods "$(jq -c 'map(. + "-b")' <<<"$path_json")" "$work/all.json" >"$work/full.json"
  drop_pods "$path_json" "$work/all.json" >"$work/empty.json"
  ip_b=$(jq -r --arg t "$target-b" '.pods[] | select(.name == $t) | .ip' "$STATE/pods.json")
  call_b=""; [ -z "$upstream" ] || call_b="/call/$upstream-b"
  url_b="http://$ip_b:$port$call_b$path"
else
  jq '.pods = [] | .policy = [] | .l7 = []' "$work/full.json" >"$work/empty.json"
  if [ $null = 1 ]; then
    drop_pods "$path_json" "$work/full.json" >"$work/off-path.json"
    mv "$work/off-path.json" "$work/full.json"
    jq -e '.pods | length > 0' "$work/full.json" >/dev/null || { echo "lab-overhead: --null: no pod off the path to attach to" >&2; exit 1; }
  fi
fi
cp "$work/empty.json" "$work/live.json"
cp "$work/full.json" "$base.probe-config.json"  # what the "on" segments ran, settings included
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
[ -z "$settings" ] || echo "lab-overhead: probe settings $(jq -c .settings "$work/full.json") (--settings $settings)"
[ $null = 0 ] || echo "lab-overhead: NULL calibration: on = the probe on $(jq -r '[.pods[].name] | join(", ")' "$work/full.json") only (off the path); the targets do not apply"
[ "$design" = segments ] || echo "lab-overhead: concurrent design: arm A client -> $url, arm B client-b -> $url_b, half of --rate and of --connections each"
echo "lab-overhead: $url through the sidecar, ${duration}s per kind, ${segment}s segments (guard ${guard}s), $conns connections, pin=$pin; machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
# Warm-up: connections, JIT, the probe's maps.
nsenter --net="/run/netns/$PREFIX-client" "$NODE" "$REPO/lab/loadgen.mjs" --url "$url" --rate 0 --duration 2 --connections "$conns" >/dev/null
[ "$design" = segments ] || nsenter --net="/run/netns/$PREFIX-client-b" "$NODE" "$REPO/lab/loadgen.mjs" --url "$url_b" --rate 0 --duration 2 --connections "$conns" >/dev/null
for kind in ${kinds//,/ }; do
  case $kind in fixed) r=$rate ;; max) r=0 ;; *) echo "lab-overhead: unknown kind $kind (fixed, max)" >&2; exit 2 ;; esac
  python3 "$REPO/bench/bpf-prog-cost.py" snapshot "$probe_pid" >"$work/bpf-before.json"
  [ -z "$base_pid" ] || python3 "$REPO/bench/bpf-prog-cost.py" snapshot "$base_pid" >"$work/base-bpf-before.json"
  cpu0=$(proc_cpu_ms "$probe_pid")
  gen_b="" samples_b=()
  if [ "$design" = concurrent ]; then
    r=$(awk -v r="$r" 'BEGIN { print r / 2 }') gen_conns=$(( conns > 1 ? conns / 2 : 1 ))
    # shellcheck disable=SC2086
    nsenter --net="/run/netns/$PREFIX-client-b" $gen_cpu "$NODE" "$REPO/lab/loadgen.mjs" --url "$url_b" --rate "$r" \
      --duration "$duration" --connections "$gen_conns" --samples "$base.$kind.samples-b" >"$base.$kind.loadgen-b.json" &
    gen_b=$!
    samples_b=(--samples-b "$base.$kind.samples-b")
  else
    gen_conns=$conns
  fi
  # shellcheck disable=SC2086
  nsenter --net="/run/netns/$PREFIX-client" $gen_cpu "$NODE" "$REPO/lab/loadgen.mjs" --url "$url" --rate "$r" \
    --duration "$duration" --connections "$gen_conns" --samples "$base.$kind.samples" >"$base.$kind.loadgen.json" &
  gen_pid=$!
  if [ "$perf_freq" != 0 ]; then
    perf record -a -g -F "$perf_freq" -k CLOCK_MONOTONIC -o "$work/perf.data" >/dev/null 2>"$work/perf.log" &
    perf_pid=$!
    # who is who: the pods' processes by pod, the load generator, the loader
    { for name in $(jq -r '.pods[].name' "$STATE/pods.json"); do
        cg=$(jq -r --arg n "$name" '.pods[] | select(.name == $n) | .cgroup' "$STATE/pods.json")
        for p in $(cat "$cg/cgroup.procs" 2>/dev/null); do echo "$p pod $name: $(cat /proc/$p/comm 2>/dev/null)"; done
      done
      echo "$gen_pid load generator"; echo "$probe_pid probe loader"
      [ -z "$base_pid" ] || echo "$base_pid baseline loader"; } >"$work/pids.txt"
  fi
  "$NODE" "$REPO/dist/bench/lab-overhead.js" toggle --probe-pid "$probe_pid" --log "$work/probe.log" --live "$work/live.json" \
    --full "$work/full.json" --empty "$work/empty.json" --duration "$duration" --segment "$segment" --guard "$guard" \
    --stats-every "$stats_every" --stats-holder "$REPO/bench/bpf-prog-cost.py" --out "$base.$kind.segments.jsonl" "${base_args[@]}"
  wait "$gen_pid"
  [ -z "$gen_b" ] || wait "$gen_b"
  if [ -n "$perf_pid" ]; then
    kill -INT "$perf_pid"; wait "$perf_pid" || true; perf_pid=""
    perf script -i "$work/perf.data" -F comm,pid,tid,time,ip,sym,dso 2>/dev/null >"$work/perf.txt"
    python3 "$REPO/bench/perf-split.py" --freq "$perf_freq" --script "$work/perf.txt" --segments "$base.$kind.segments.jsonl" \
      --samples "$base.$kind.samples" --pids "$work/pids.txt" \
      --json "$base.$kind.perf-split.json" --counts "$base.$kind.perf-counts.json" | tee "$base.$kind.perf-split.txt"
    rm -f "$work/perf.data" "$work/perf.txt"
  fi
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
  [ $null = 0 ] || label="NULL calibration, $label"
  "$NODE" "$REPO/dist/bench/lab-overhead.js" analyze --samples "$base.$kind.samples" "${samples_b[@]}" --segments "$base.$kind.segments.jsonl" \
    --bpf "$base.$kind.bpf.json" --loader-cpu-ms $((cpu1 - cpu0)) --cores "$(nproc)" --stats-every "$stats_every" --label "$label" --resamples "$resamples" --out "$base.$kind.summary.json" "${bpf_base[@]}"
  for g in "$base.$kind.loadgen.json" ${gen_b:+"$base.$kind.loadgen-b.json"}; do
    jq -r '"  load generator \(.url): \(.requests) requests, \(.errors) errors, \(.rps) req/s over the run"' "$g"
  done
  gzip -f "$base.$kind.samples" ${gen_b:+"$base.$kind.samples-b"}
done
echo "probe counters at the end: $(grep '"type":"metrics"' "$work/probe.jsonl" | tail -1 | jq -c '{ringbuf_full: .counters.ringbuf_full, ratelimited: .counters.ratelimited, http_requests: .counters.http_requests}' 2>/dev/null || echo none)"
echo "machine: load average at end $(cut -d' ' -f1-3 /proc/loadavg); raw: $base.*"
