#!/usr/bin/env bash
# Where the shadow probe's time goes in the lab (issue 5, part 9): perf samples of the whole machine while the
# probe watches a fixed-rate load, attributed to the BPF program and the kernel function they landed in, and for
# samples inside the JIT code, to the source line of shadow.bpf.c (build/jit_lines maps JIT offsets to lines;
# bpftool and perf here lack libbfd). cpu-clock sampling (this VM has no PMU): a sample lands on the instruction
# after the one that stalled, so a cold load shows up on the line that uses it.
#
# Usage: flock -o /tmp/migrate-lab.lock bench/probe-profile.sh [--rate 1000] [--duration 25] [--freq 15000] [--top 12] [--keep-data]
# Output: the report on stdout and in bench/out/probe-profile-<time>.report.txt, with the JIT line maps next to it
# (the perf data, ~150 MB, stays in a temporary directory unless --keep-data).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
LAB="$REPO/lab/lab.sh"
STATE=${MIGRATE_LAB_STATE:-$REPO/.state/lab}
PREFIX=${MIGRATE_LAB_PREFIX:-mlab}
rate=1000 duration=25 freq=15000 keep=0 top=12
while [ $# -gt 0 ]; do
  case $1 in
    --keep-data) keep=1; shift ;;
    --rate) rate=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --freq) freq=$2; shift 2 ;;
    --top) top=$2; shift 2 ;;
    *) echo "probe-profile: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "SKIPPED: the probe profile needs root (network namespaces, BPF, perf -a)"; exit 0; }
command -v perf >/dev/null || { echo "SKIPPED: no perf (Debian package linux-perf)"; exit 0; }
PROBE_BIN="${PROBE_PROFILE_PROBE:-$REPO/shadow-probe/build/shadow-probe}"
JIT_LINES="$REPO/shadow-probe/build/jit_lines"
[ -x "$PROBE_BIN" ] && [ -x "$JIT_LINES" ] || { echo "probe-profile: build first (make probe-build)" >&2; exit 1; }
NODE=$("$REPO/scripts/ensure-node.sh")/node

work=$(mktemp -d /tmp/probe-profile.XXXXXX)
brought_up=0 probe_pid="" gen_pid=""
cleanup() {
  [ -z "$gen_pid" ] || kill "$gen_pid" 2>/dev/null || true
  [ -z "$probe_pid" ] || { kill -TERM "$probe_pid" 2>/dev/null || true; wait "$probe_pid" 2>/dev/null || true; }
  [ $brought_up = 0 ] || "$LAB" down >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
if ! "$LAB" status >/dev/null 2>&1; then "$LAB" up >/dev/null; brought_up=1; fi
out="$REPO/bench/out/probe-profile-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$REPO/bench/out"

python3 "$REPO/shadow-probe/tests/lab/lab-config.py" "$STATE/pods.json" >"$work/full.json"
"$PROBE_BIN" --config "$work/full.json" --state-dir "$work/probe" >"$work/probe.jsonl" 2>"$work/probe.log" &
probe_pid=$!
for _ in $(seq 300); do grep -q 'running:' "$work/probe.log" && break; kill -0 "$probe_pid" 2>/dev/null || break; sleep 0.1; done
grep -q 'running:' "$work/probe.log" || { echo "probe-profile: the probe did not start: $(tail -3 "$work/probe.log")" >&2; exit 1; }
# this loader's programs, by name: their JIT line maps
for id in $(awk '/^prog_id:/ {print $2}' /proc/"$probe_pid"/fdinfo/* 2>/dev/null | sort -u); do
  name=$(bpftool -j prog show id "$id" | jq -r .name)
  "$JIT_LINES" "$id" >"$out.$name.lines" 2>/dev/null || rm -f "$out.$name.lines"
done
ip=$(jq -r '.pods[] | select(.name == "reviews") | .ip' "$STATE/pods.json")
nsenter --net="/run/netns/$PREFIX-client" "$NODE" "$REPO/lab/loadgen.mjs" --url "http://$ip:9080/reviews/1" --rate "$rate" \
  --duration $((duration + 8)) --connections 8 >"$work/loadgen.json" &
gen_pid=$!
sleep 4
data="$work/perf.data"; [ $keep = 0 ] || data="$out.perf.data"
perf record -a -g -F "$freq" -o "$data" -- sleep "$duration" >/dev/null 2>&1
wait "$gen_pid"; gen_pid=""
perf script -i "$data" -F comm,ip,sym 2>/dev/null >"$work/stacks.txt"
perf script -i "$data" -F ip,sym,symoff --hide-call-graph 2>/dev/null >"$work/leaves.txt"
{
  echo "probe-profile: $rate req/s for ${duration}s, perf at ${freq} Hz; $(jq -r '"\(.requests) requests, \(.errors) errors"' "$work/loadgen.json")"
  python3 "$REPO/bench/probe-profile.py" "$work/stacks.txt" "$work/leaves.txt" "$out" "$REPO/shadow-probe/src/shadow.bpf.c" "$top"
} | tee "$out.report.txt"
