#!/usr/bin/env bash
# `make demo` step for `migrate shadow`: the four lab scenarios (lossless, tls-wire, wrong-translation,
# l7-deny-gap) as live shadow runs in a private lab instance where root and eBPF are available, otherwise their
# recordings replayed (fixtures/shadow/). Says which, and why. MIGRATE_DEMO_LAB_PREFIX names the demo's lab.
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
  echo "== migrate shadow: LIVE in the lab (root and eBPF available): the recorded scenarios, on live traffic through the HAProxy sidecars (mTLS between them)"
  # A prefix of the demo's own (not MIGRATE_LAB_PREFIX): the demo takes its lab down at the end.
  export MIGRATE_LAB_PREFIX=${MIGRATE_DEMO_LAB_PREFIX:-mlabd} MIGRATE_LAB_STATE="$ROOT/.state/lab-demo"
  ./lab/lab.sh up >/dev/null || { echo "lab up failed: falling back to replay"; why="lab up failed"; }
fi
if [ -z "$why" ]; then
  stamp=$(date -u +%Y%m%dT%H%M%S)
  work="$ROOT/.state/shadow/demo-$stamp"
  mkdir -p "$work"
  ./bin/migrate translate --snapshot "$MIGRATE_LAB_STATE/snapshot" -n bookinfo --out "$work/plan-lab" >/dev/null
  # Deliberately wrong: ratings' policy also admits the sleep service account, which Istio's ratings-viewer does not.
  cp -r "$work/plan-lab" "$work/plan-wrong"
  python3 - "$work/plan-wrong/bookinfo/ciliumnetworkpolicy-istio-ratings-viewer.yaml" <<'PY'
import sys, yaml
p = sys.argv[1]; d = yaml.safe_load(open(p))
d["spec"]["ingress"][0]["fromEndpoints"].append({"matchLabels": {"k8s:io.cilium.k8s.policy.serviceaccount": "sleep", "k8s:io.kubernetes.pod.namespace": "bookinfo"}})
yaml.safe_dump(d, open(p, "w"), sort_keys=False)
PY
  scenario() { # name plan "what to expect" load-spec...
    local name=$1 plan=$2 expect=$3 res="$work/$1" pid rc; shift 3
    echo "-- live $name ($expect)"
    MIGRATE_NO_PROGRESS=1 ./bin/migrate shadow -n bookinfo --local --duration 120s --plan "$plan" --results "$res" \
      --lab-state "$MIGRATE_LAB_STATE" >"$res.out" 2>"$res.err" &
    pid=$!
    for _ in $(seq 1 120); do [ -s "$res/cursor.json" ] && break; sleep 0.5; done
    for spec in "$@"; do
      # shellcheck disable=SC2086
      ./lab/lab.sh load $spec --rate 50 --duration 2 >/dev/null
    done
    sleep 2.5 # the join window settles
    kill -INT "$pid"; wait "$pid"; rc=$?
    head -16 "$res.out"
    echo "(exit $rc; results in $res)"
  }
  # The client pod has no sidecar: plaintext, no principal, so details-viewer denies it in Istio and in the
  # translation alike; productpage reaches details over mTLS with its identity.
  scenario lossless "$work/plan-lab" "expect agreement, exit 0" \
    "--target reviews --path /reviews/1" "--target ratings --path /ratings/1" "--target productpage --path /productpage" \
    "--target details --path /details/1" "--from productpage --target details --path /details/2"
  scenario tls-wire "$work/plan-lab" "mesh callers: TLS on eth0, L7 from the plaintext hop; expect agreement, exit 0" \
    "--from productpage --target reviews --path /reviews/1" "--from productpage --target ratings --path /ratings/1" \
    "--from reviews --target ratings --path /ratings/2" "--from productpage --target details --path /details/1"
  scenario wrong-translation "$work/plan-wrong" "expect an ebpf-would-allow disagreement, exit 10" \
    "--target ratings --path /ratings/1" "--from reviews --target ratings --path /ratings/2"
  scenario l7-deny-gap "$work/plan-lab" "expect an expected disagreement (TR_DENY_L7), exit 11" \
    "--target reviews --path /reviews/1" "--target reviews --path /admin/users"
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
