#!/usr/bin/env bash
# Lab latency benchmark (issue 5, part 9): p50/p99 latency and requests/s from the client pod to one pod,
#   - through the sidecar (pod:9080, redirected to HAProxy 15006) versus bypassing it (pod:9081, excluded port),
#   - with the shadow probe off versus on (when a probe command is available),
# at a fixed rate (open loop, lab/loadgen.mjs) and at the maximum rate (closed loop, wrk), in the same run,
# rounds interleaved so drift on this shared machine hits every variant alike. Prints a table with ratios
# against the baseline of each comparison and writes the raw runs to bench/out/lab-latency-<time>.json.
#
# Usage: bench/lab-latency.sh [--rate 1000] [--duration 8] [--rounds 3] [--target reviews] [--connections 8]
# Probe: PROBE_CMD="<command that runs the probe until SIGTERM>" (default: shadow-probe/build/shadow-probe
#        --config <pods.json> when that binary exists). Its stdout/stderr are kept to read lost records.
# Separate runs cannot resolve a 2 % effect on a shared machine (the same variant moves by 2x between runs):
# the probe on/off verdict comes from bench/lab-overhead.sh (one run, alternating segments, bootstrap interval).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
LAB="$REPO/lab/lab.sh"
STATE=${MIGRATE_LAB_STATE:-$REPO/.state/lab}
rate=1000 duration=8 rounds=3 target=reviews conns=8 path=/
while [ $# -gt 0 ]; do
  case $1 in
    --rate) rate=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --target) target=$2; shift 2 ;;
    --connections) conns=$2; shift 2 ;;
    --path) path=$2; shift 2 ;;
    *) echo "lab-latency: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "SKIPPED: the lab benchmark needs root (network namespaces)"; exit 0; }

brought_up=0
if ! "$LAB" status >/dev/null 2>&1; then "$LAB" up; brought_up=1; fi
probe_pid=""
cleanup() {
  [ -z "$probe_pid" ] || { kill -TERM "$probe_pid" 2>/dev/null || true; wait "$probe_pid" 2>/dev/null || true; }
  [ -z "$stats_pid" ] || kill -TERM "$stats_pid" 2>/dev/null || true
  [ $brought_up = 0 ] || "$LAB" down
  rm -rf "$probe_state"
}
trap cleanup EXIT

PROBE_BIN="$REPO/shadow-probe/build/shadow-probe"
PROBE_CONFIG_PY="$REPO/shadow-probe/tests/lab/lab-config.py"
probe_state=$(mktemp -d /tmp/lab-latency-probe.XXXXXX)
[ -z "${PROBE_CMD:-}" ] || PROBE_CUSTOM=1
if [ -z "${PROBE_CMD:-}" ] && [ -x "$PROBE_BIN" ]; then
  # The probe's lab config (identities and policies mirroring the lab's), else the lab's pods.json as is.
  probe_cfg="$STATE/pods.json"
  if [ -f "$PROBE_CONFIG_PY" ]; then probe_cfg="$probe_state/config.json"; python3 "$PROBE_CONFIG_PY" "$STATE/pods.json" >"$probe_cfg"; fi
  PROBE_CMD="$PROBE_BIN --config $probe_cfg --state-dir $probe_state"
fi
out_dir="$REPO/bench/out"; mkdir -p "$out_dir"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
runs="$out_dir/lab-latency-$stamp.jsonl"; : >"$runs"
probe_log="$out_dir/lab-latency-$stamp.probe.log"

one() { # variant kind(fixed|max) extra-args...
  local variant=$1 kind=$2; shift 2
  local r
  if [ "$kind" = fixed ]; then
    r=$("$LAB" load --target "$target" --path "$path" --rate "$rate" --duration "$duration" --connections "$conns" "$@")
  else
    r=$("$LAB" load --target "$target" --path "$path" --rate 0 --tool wrk --duration "$duration" --connections "$conns" "$@")
  fi
  jq -c --arg v "$variant" --arg k "$kind" '. + {variant: $v, kind: $k}' <<<"$r" | tee -a "$runs" |
    jq -r '"  \(.variant)\t\(.kind)\tp50 \(.latencyMs.p50) ms\tp99 \(.latencyMs.p99) ms\trps \(.rps)\terrors \(.errors)"' >&2
}

probe_out=""
probe_start() { # run name
  probe_out="$out_dir/lab-latency-$stamp.$1.probe.jsonl"
  # shellcheck disable=SC2086
  $PROBE_CMD >"$probe_out" 2>>"$probe_log" &
  probe_pid=$!
  local i
  # Loading and verifying the programs takes seconds on a busy machine: measure only once it runs.
  for ((i = 0; i < 300; i++)); do
    grep -q 'running:' "$probe_log" 2>/dev/null && [ "$(grep -c 'running:' "$probe_log")" -ge "$probe_runs" ] && break
    kill -0 "$probe_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$probe_pid" 2>/dev/null || { echo "lab-latency: the probe exited at start: $(tail -5 "$probe_log")" >&2; probe_pid=""; return 1; }
}
probe_runs=0
# utime + stime of a process in ms (USER_HZ ticks).
proc_cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print int(($12 + $13) * 1000 / hz) }' "/proc/$1/stat"; }
probe_stop() { kill -TERM "$probe_pid" 2>/dev/null || true; wait "$probe_pid" 2>/dev/null || true; probe_pid=""; }
# The probe's own counters for the run just measured: records out, lost to a full ring, rate-limited.
probe_counters() {
  grep '"type":"metrics"' "$probe_out" | tail -1 |
    jq -c '{recordsOut, ringbufFull: .counters.ringbuf_full, ratelimited: .counters.ratelimited, httpRequests: .counters.http_requests, packets: .counters.packets}' 2>/dev/null || echo null
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
stats_pid=""
if [ -n "${PROBE_CMD:-}" ]; then
  # Kernel BPF run-time stats, held by a process (refcounted: never switches off anyone else's).
  python3 "$REPO/bench/bpf-prog-cost.py" hold >/dev/null &
  stats_pid=$!
fi
echo "lab-latency: target $target$path, fixed rate $rate/s and max rate (wrk, $conns connections), ${duration}s per run, $rounds rounds" >&2
"$LAB" load --target "$target" --path "$path" --rate 0 --duration 2 --connections "$conns" >/dev/null   # warm-up
for ((i = 1; i <= rounds; i++)); do
  echo "round $i" >&2
  for kind in fixed max; do
    one bypass "$kind" --bypass
    one sidecar "$kind"
    if [ -n "${PROBE_CMD:-}" ]; then
      probe_runs=$((probe_runs + 1))
      if probe_start "r$i-$kind"; then
        python3 "$REPO/bench/bpf-prog-cost.py" snapshot "$probe_pid" >"$probe_state/before.json"
        cpu0=$(proc_cpu_ms "$probe_pid")
        one sidecar+probe "$kind"
        cpu1=$(proc_cpu_ms "$probe_pid")
        python3 "$REPO/bench/bpf-prog-cost.py" snapshot "$probe_pid" >"$probe_state/after.json"
        python3 "$REPO/bench/bpf-prog-cost.py" diff "$probe_state/before.json" "$probe_state/after.json" |
          jq -c --arg k "$kind" --argjson n "$(tail -1 "$runs" | jq .requests)" --argjson p50 "$(tail -1 "$runs" | jq .latencyMs.p50)" \
            --argjson cpu "$((cpu1 - cpu0))" \
            '{variant: "bpf-cost", kind: $k, requests: $n, bpfNs: .run_time_ns, bpfRuns: .run_cnt, loaderCpuMs: $cpu,
              loaderCpuUsPerRequest: (if $n > 0 then ($cpu * 1000 / $n | round) else null end),
              nsPerRequest: (if $n > 0 then (.run_time_ns / $n | round) else null end),
              shareOfP50: (if $n > 0 and $p50 > 0 then (.run_time_ns / $n / ($p50 * 1e6) * 10000 | round / 10000) else null end),
              programs: .programs}' | tee -a "$runs" | jq -r '"  loader CPU \(.loaderCpuMs) ms (\(.loaderCpuUsPerRequest) us/request); bpf cost: \(.nsPerRequest) ns/request (\(.bpfRuns) program runs), \(.shareOfP50 * 10000 | round / 100) % of p50"' >&2
        probe_stop
        jq -c --argjson p "$(probe_counters)" --arg k "$kind" '{probe: $p, kind: $k, variant: "probe-counters"}' <<<'{}' >>"$runs"
        echo "  probe counters: $(probe_counters)" >&2
      fi
    fi
  done
done

# Median over rounds of each (variant, kind); ratios against bypass (sidecar cost) and against sidecar (probe cost).
summary=$(jq -s '[.[] | select(.variant != "probe-counters" and .variant != "bpf-cost")] |
  def median: sort | if length == 0 then null elif length % 2 == 1 then .[length/2|floor] else (.[length/2-1] + .[length/2]) / 2 end;
  group_by([.kind, .variant]) | map({kind: .[0].kind, variant: .[0].variant, runs: length,
    p50: (map(.latencyMs.p50) | median), p99: (map(.latencyMs.p99) | median), rps: (map(.rps) | median),
    errors: (map(.errors) | add)})' "$runs")
echo "$summary" >"$out_dir/lab-latency-$stamp.summary.json"
ratio() { jq -r --arg k "$1" --arg a "$2" --arg b "$3" --arg f "$4" '
  (map(select(.kind == $k and .variant == $a))[0][$f]) as $x | (map(select(.kind == $k and .variant == $b))[0][$f]) as $y |
  if $x == null or $y == null or $y == 0 then "n/a" else ($x / $y * 1000 | round / 1000 | tostring) end' <<<"$summary"; }

printf '\n%-6s %-14s %10s %10s %10s %7s\n' kind variant "p50 ms" "p99 ms" "req/s" errors
jq -r '.[] | [.kind, .variant, .p50, .p99, .rps, .errors] | @tsv' <<<"$summary" |
  while IFS=$'\t' read -r k v a b c e; do printf '%-6s %-14s %10s %10s %10s %7s\n' "$k" "$v" "$a" "$b" "$c" "$e"; done
echo
for k in fixed max; do
  echo "$k: sidecar/bypass  p50 x$(ratio $k sidecar bypass p50)  p99 x$(ratio $k sidecar bypass p99)  rps x$(ratio $k sidecar bypass rps)"
  if [ -n "${PROBE_CMD:-}" ]; then
    echo "$k: probe-on/off    p50 x$(ratio $k sidecar+probe sidecar p50)  p99 x$(ratio $k sidecar+probe sidecar p99)  rps x$(ratio $k sidecar+probe sidecar rps)"
  fi
done
if [ -z "${PROBE_CMD:-}" ]; then
  echo "probe: not measured (no shadow-probe/build/shadow-probe and no PROBE_CMD)"
else
  echo "probe counters per run (records out, lost: ringbuf_full, ratelimited):"
  jq -r 'select(.variant == "probe-counters") | "  \(.kind)\t\(.probe)"' "$runs"
  echo "probe cost per request: BPF programs' kernel run time (run_time_ns) and the loader's own CPU (utime+stime):"
  jq -r 'select(.variant == "bpf-cost") | "  \(.kind)\tBPF \(.nsPerRequest) ns/request\t\(.bpfRuns) runs\t\(.shareOfP50 * 10000 | round / 100) % of that run p50\tloader \(.loaderCpuUsPerRequest) us CPU/request"' "$runs"
  echo "probe log: $probe_log"
fi
echo "machine: $(nproc) cores, load average at start $load_start, at end $(cut -d' ' -f1-3 /proc/loadavg) (other work on this machine shares the cores)"
echo "raw runs: $runs"
