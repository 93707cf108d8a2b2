#!/usr/bin/env bash
# Captures real sidecar output from a private lab instance into fixtures/lab-sidecar-telemetry/, so parsers of
# Envoy access logs and Istio metrics (issue 6) can be tested without root: one scripted set of requests
# (allowed, denied by no ALLOW match, denied by a named DENY, through outbound sidecars over mTLS, a refused
# upstream),
# then every pod's access log, its :15020 Istio metrics and a pods.json with the paths made relative.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$REPO/fixtures/lab-sidecar-telemetry}
export MIGRATE_LAB_PREFIX=mlabf
state=$(mktemp -d /tmp/mlabf.XXXXXX); chmod 755 "$state"
export MIGRATE_LAB_STATE="$state/lab"
trap '"$REPO/lab/lab.sh" down >/dev/null 2>&1 || true; rm -rf "$state"' EXIT
"$REPO/lab/lab.sh" up
ip() { jq -r --arg n "$1" '.pods[] | select(.name == $n) | .ip' "$MIGRATE_LAB_STATE/pods.json"; }
c() { cf client "$@"; }
# From a pod with a sidecar: out through its outbound sidecar, mTLS to the destination's.
cf() { nsenter --net="/run/netns/mlabf-$1" curl -sS -o /dev/null -w '%{http_code} ' -H "x-request-id: fixture-$2" "${@:3}"; }
c 1 "http://$(ip productpage):9080/productpage"                  # fan-out through outbound sidecars
c 2 "http://$(ip reviews):9080/reviews/1"                        # allowed (no ALLOW policy on reviews)
c 3 "http://$(ip reviews):9080/admin/flush"                      # DENY deny-admin rule 0
c 4 "http://$(ip ratings):9080/ratings/1"                        # no ALLOW match: [none]
c 5 "http://$(ip reviews):9080/call/ratings/ratings/2"           # reviews -> ratings allowed
c 6 -X POST --data 'x=1' "http://$(ip details):9080/details/1"   # details allows GET/HEAD only: [none]
# productpage -> details over mTLS: allowed by productpage's principal (the plaintext client has none)
cf productpage 7 -H 'user-agent: fixture-agent' -H 'x-forwarded-for: 10.233.0.99' "http://$(ip details):9080/details/2"
kill "$(cat "$MIGRATE_LAB_STATE/pods/details/app.pid")"; sleep 0.3
cf productpage 8 "http://$(ip details):9080/details/3"           # refused upstream: 503 UF
echo
sleep 0.3
rm -rf "$OUT"; mkdir -p "$OUT"
for pod in $(jq -r '.pods[] | select(.sidecar != null) | .name' "$MIGRATE_LAB_STATE/pods.json"); do
  cp "$MIGRATE_LAB_STATE/pods/$pod/access.log" "$OUT/$pod.access.log"
  nsenter --net="/run/netns/mlabf-client" curl -sS "http://$(ip "$pod"):15020/stats/prometheus" >"$OUT/$pod.istio-metrics.prom"
done
jq --arg s "$MIGRATE_LAB_STATE/" '(.. | strings) |= sub($s; "") | .stateDir = "." | .snapshot = "snapshot"' "$MIGRATE_LAB_STATE/pods.json" >"$OUT/pods.json"
echo "captured into $OUT" >&2
