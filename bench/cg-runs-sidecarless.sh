#!/usr/bin/env bash
# Program runs per request that a sidecar-less client pod costs the probe, with the client's `sidecar` omitted in the
# config (not known: shadow_cg_egress attached, as before 41b4830) against `false` (not attached). The load generator
# runs inside the client pod's cgroup, as a pod's own process does in a cluster (bench/lab-overhead.sh runs it
# outside). Same binary, same lab; bpf_stats on for the loads only. Prints one line per arm and round.
# Usage: bench/cg-runs-sidecarless.sh [--duration 20] [--rounds 2]     (root; brings the lab up and down)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
NODE=$REPO/.tools/node/bin/node; [ -x "$NODE" ] || NODE=node
PROBE=$REPO/shadow-probe/build/shadow-probe
duration=20 rounds=2
while [ $# -gt 0 ]; do
  case $1 in
    --duration) duration=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    *) echo "cg-runs-sidecarless: unknown argument $1" >&2; exit 2 ;;
  esac
done
work=$(mktemp -d /tmp/cg-runs-sidecarless.XXXXXX) probe_pid=""
cleanup() {
  [ -z "$probe_pid" ] || { kill -INT "$probe_pid" 2>/dev/null; wait "$probe_pid" 2>/dev/null || true; }
  sysctl -qw kernel.bpf_stats_enabled=0 || true
  "$REPO/lab/lab.sh" down >/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
"$REPO/lab/lab.sh" up >/dev/null
pods=${MIGRATE_LAB_STATE:-$REPO/.state/lab}/pods.json
prefix=${MIGRATE_LAB_PREFIX:-mlab}
cg=$(jq -r '.pods[] | select(.name == "client") | .cgroup' "$pods")
rip=$(jq -r '.pods[] | select(.name == "reviews") | .ip' "$pods")
python3 "$REPO/shadow-probe/tests/lab/lab-config.py" "$pods" >"$work/cfg-false.json"
jq '(.pods[] | select(.name == "client")) |= del(.sidecar)' "$work/cfg-false.json" >"$work/cfg-omitted.json"
# run count and run time of the programs with this name (the lab attaches the tc body itself, no stubs)
stats() { bpftool -j prog show | jq -r --arg n "$1" '[.[] | select(.name == $n)] | [(map(.run_cnt // 0) | add // 0), (map(.run_time_ns // 0) | add // 0)] | @tsv'; }
for ((round = 1; round <= rounds; round++)); do
  for arm in omitted false; do
    "$PROBE" --config "$work/cfg-$arm.json" --state-dir "$work/state" >/dev/null 2>"$work/probe.err" &
    probe_pid=$!
    for _ in $(seq 100); do grep -q "running:" "$work/probe.err" && break; sleep 0.1; done
    grep -q "running:" "$work/probe.err" || { cat "$work/probe.err" >&2; exit 1; }
    sysctl -qw kernel.bpf_stats_enabled=1
    read -r cg0 _ < <(stats shadow_cg_egress); read -r tc0 _ < <(stats shadow_tc)
    bash -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$cg" nsenter --net="/run/netns/$prefix-client" "$NODE" \
      "$REPO/lab/loadgen.mjs" --url "http://$rip:9080/reviews/1" --rate 0 --duration "$duration" --connections 8 >"$work/load.json"
    read -r cg1 _ < <(stats shadow_cg_egress); read -r tc1 _ < <(stats shadow_tc)
    sysctl -qw kernel.bpf_stats_enabled=0
    kill -INT "$probe_pid"; wait "$probe_pid" || true; probe_pid=""
    req=$(jq .requests "$work/load.json")
    printf 'round %d, client sidecar %-7s: %d requests; per request: cgroup_skb runs %.2f, tc runs %.2f\n' "$round" "$arm" \
      "$req" "$(echo "($cg1 - $cg0) / $req" | bc -l)" "$(echo "($tc1 - $tc0) / $req" | bc -l)"
  done
done
