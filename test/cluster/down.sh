#!/usr/bin/env bash
# Stop the loopback control plane started by up.sh (kwok, kube-apiserver, etcd, the watchdog) and remove its state.
# Only the processes whose pids up.sh recorded are signalled. Safe to run when nothing is running.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
STATE="${MIGRATE_CLUSTER_STATE:-$REPO/.state/cluster}"
QUIET=0; [[ "${1:-}" == --quiet ]] && QUIET=1
say() { (( QUIET )) || echo "[cluster-down] $*"; }

if [[ ! -d "$STATE" ]]; then say "nothing to stop ($STATE does not exist)"; exit 0; fi

stop_pid() { # name pid: TERM, then KILL after 10 s
  local name="$1" pid="$2"
  [[ -n "$pid" && "$pid" != "$$" ]] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  say "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

if [[ -f "$STATE/cluster.env" ]]; then
  get() { sed -n "s/^$1=//p" "$STATE/cluster.env" | tail -1; }
  stop_pid kwok "$(get KWOK_PID)"
  stop_pid kube-apiserver "$(get APISERVER_PID)"
  stop_pid etcd "$(get ETCD_PID)"
  stop_pid watchdog "$(get WATCHDOG_PID)"
else
  # up.sh died before writing cluster.env: its children are in the state dir's own process group files, if any.
  for f in "$STATE"/*.pid; do [[ -f "$f" ]] && stop_pid "$(basename "$f" .pid)" "$(cat "$f")"; done
fi
rm -rf "$STATE"
# Per-run state dirs (make test: .state/cluster-test-<pid>) leave no lock or log behind either.
[[ "$(basename "$STATE")" == cluster-test-* ]] && rm -f "$STATE.lock" "$STATE.watchdog.log"
say "stopped; removed $STATE"
