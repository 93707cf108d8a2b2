#!/usr/bin/env bash
# Print whether the loopback test cluster is running, where, and with which pids. Exit 0 if ready, 1 if not.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
STATE="${MIGRATE_CLUSTER_STATE:-$REPO/.state/cluster}"
if [[ ! -f "$STATE/cluster.env" ]]; then echo "cluster: not running (no $STATE/cluster.env)"; exit 1; fi
# shellcheck disable=SC1091
source "$STATE/cluster.env"
alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null && echo "running (pid $1)" || echo "not running"; }
echo "server:         $SERVER"
echo "etcd:           $ETCD_URL $(alive "$ETCD_PID")"
echo "kube-apiserver: $KUBE_VERSION $(alive "$APISERVER_PID")"
[[ -n "${KWOK_PID:-}" ]] && echo "kwok:           $(alive "$KWOK_PID")"
[[ -n "${WATCHDOG_PID:-}" ]] && echo "watchdog:       $(alive "$WATCHDOG_PID")"
echo "kubeconfigs:    $STATE/admin.kubeconfig $STATE/readonly.kubeconfig"
if curl -sf --max-time 5 --cacert "$STATE/certs/ca.crt" --cert "$STATE/certs/admin.crt" --key "$STATE/certs/admin.key" \
  "$SERVER/readyz" >/dev/null; then echo "readyz:         ok"; exit 0; fi
echo "readyz:         not ready"; exit 1
