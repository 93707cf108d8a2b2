#!/usr/bin/env bash
# `make demo` step for `migrate shadow`: a live shadow run in a private lab instance where root and eBPF are
# available, otherwise the recorded lab scenarios replayed (fixtures/shadow/). Says which, and why.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
why=""
if [ -n "${MIGRATE_SHADOW_DEMO_REPLAY:-}" ]; then why="MIGRATE_SHADOW_DEMO_REPLAY is set";
elif [ "$(id -u)" != 0 ]; then why="not root";
elif [ ! -x shadow-probe/build/shadow-probe ]; then why="shadow-probe not built (make probe-build)";
elif ! shadow-probe/build/shadow-probe --check >/dev/null 2>&1; then why="shadow-probe --check refuses on this kernel";
elif ! command -v haproxy >/dev/null; then why="lab packages missing (make lab-deps)"; fi

if [ -z "$why" ]; then
  echo "== migrate shadow: LIVE in the lab (root and eBPF available): 20 s of traffic through the HAProxy sidecars"
  export MIGRATE_LAB_PREFIX=mlabd MIGRATE_LAB_STATE="$ROOT/.state/lab-demo"
  ./lab/lab.sh up >/dev/null || { echo "lab up failed: falling back to replay"; why="lab up failed"; }
fi
if [ -z "$why" ]; then
  res="$ROOT/.state/shadow/demo-$(date -u +%Y%m%dT%H%M%S)"
  MIGRATE_NO_PROGRESS=1 ./bin/migrate shadow -n bookinfo --local --duration 20s --results "$res" --lab-state "$MIGRATE_LAB_STATE" &
  pid=$!
  for _ in $(seq 1 120); do [ -s "$res/cursor.json" ] && break; sleep 0.5; done
  for t in "reviews /reviews/1" "reviews /admin/users" "ratings /ratings/1" "productpage /productpage" "details /details/1"; do
    set -- $t; ./lab/lab.sh load --target "$1" --path "$2" --rate 50 --duration 2 >/dev/null
  done
  wait $pid; rc=$?
  echo "(exit $rc; results in $res; the client -> details disagreement is real: the translated policy admits only"
  echo " mesh members (security.istio.io/tlsMode), the lab's client pod has no sidecar)"
  ./lab/lab.sh down >/dev/null
  exit 0
fi
echo "== migrate shadow: REPLAY of the recorded lab scenarios ($why)"
for s in lossless wrong-translation l7-deny-gap tls-wire; do
  echo "-- fixtures/shadow/$s"
  ./bin/migrate shadow --replay "fixtures/shadow/$s" | head -12
  echo "(exit ${PIPESTATUS[0]})"
done
exit 0
