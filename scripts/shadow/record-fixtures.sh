#!/usr/bin/env bash
# Records the shadow scenario fixtures (fixtures/shadow/<scenario>/) from a real lab run: a private lab
# instance, the real shadow-probe and the real HAProxy sidecars. Needs root and eBPF. Usage:
#   scripts/shadow/record-fixtures.sh [scenario...]     (default: lossless wrong-translation l7-deny-gap, then tls-wire)
# Each scenario: a plan (the lab's translation, or a deliberately broken copy), `migrate shadow --local` in the
# background, scripted load through the sidecars, then the results directory is copied into the fixture with
# the plan. tls-wire: mesh callers (load --from a sidecar pod), so sidecar-to-sidecar mTLS is on eth0 and only
# the loopback hop inside each pod is plaintext. The lab is left up: 'lab/lab.sh down' with the same
# MIGRATE_LAB_PREFIX / MIGRATE_LAB_STATE removes it.
# lossless, wrong-translation and l7-deny-gap were recorded before the lab had mTLS (sidecar-to-sidecar hops were
# plaintext then); recorded again, productpage -> details/reviews carry mTLS and have no wire leg, which their
# expected.json does not say yet.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
export MIGRATE_LAB_PREFIX=${MIGRATE_LAB_PREFIX:-mlabr}
export MIGRATE_LAB_STATE=${MIGRATE_LAB_STATE:-$ROOT/.state/lab-shadow-rec}
export MIGRATE_NO_PROGRESS=1
OUT=fixtures/shadow
WORK=$(mktemp -d /tmp/shadow-rec.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(lossless wrong-translation l7-deny-gap tls-wire)

./lab/lab.sh up >/dev/null
./bin/migrate translate --snapshot "$MIGRATE_LAB_STATE/snapshot" -n bookinfo --out "$WORK/plan-lab" >/dev/null

load() { ./lab/lab.sh load "$@" --rate 10 --duration 2 --connections 2 >/dev/null; }

record() { # scenario plan-dir load-function
  local name=$1 plan=$2 fn=$3 dir="$WORK/run-$1"
  ./bin/migrate shadow -n bookinfo --local --duration 60s --plan "$plan" --results "$dir" --window-ms 1000 \
    >"$WORK/$name.out" 2>"$WORK/$name.err" &
  local pid=$!
  for _ in $(seq 1 120); do grep -q . "$dir/cursor.json" 2>/dev/null && break; sleep 0.5; done
  "$fn"
  sleep 2
  kill -INT "$pid"; wait "$pid" || true
  # expected.json is hand-written: keep it, replace the recording.
  rm -rf "${OUT:?}/$name/access" "${OUT:?}/$name/plan" "$OUT/$name/probe.jsonl"; mkdir -p "$OUT/$name"
  cp -r "$dir/meta.json" "$dir/probe.jsonl" "$dir/access" "$dir/cursor.json" "$OUT/$name/"
  mkdir -p "$OUT/$name/plan"; cp -r "$plan"/bookinfo "$plan"/report.json "$OUT/$name/plan/"
  # Absolute paths of this machine are not part of a fixture.
  sed -i "s#$ROOT/##g; s#$WORK/##g" "$OUT/$name/meta.json" "$OUT/$name/plan/report.json"
  python3 - "$OUT/$name/meta.json" "$(uname -r)" "$(jq -r '.mtls.mode // "none"' "$MIGRATE_LAB_STATE/pods.json")" <<'PY'
import json, sys
m = json.load(open(sys.argv[1])); m["recordedWith"] = f"recorded in the lab (HAProxy sidecars, mTLS {sys.argv[3]}, shadow-probe, kernel {sys.argv[2]}) by scripts/shadow/record-fixtures.sh"
json.dump(m, open(sys.argv[1], "w"), indent=1)
PY
  echo "$name: $(wc -l <"$OUT/$name/probe.jsonl") probe records, $(cat "$OUT/$name"/access/*.log | wc -l) access log lines"
}

lossless_load() {
  load --target reviews --path /reviews/1
  load --target ratings --path /ratings/1
  load --target productpage --path /productpage
}
wrong_load() {
  load --target ratings --path /ratings/1
  load --from reviews --target ratings --path /ratings/2
}
tls_load() {
  load --from productpage --target reviews --path /reviews/1
  load --from productpage --target ratings --path /ratings/1
  load --from reviews --target ratings --path /ratings/2
  load --from productpage --target details --path /details/1
}
gap_load() {
  load --target reviews --path /reviews/1
  load --target reviews --path /admin/users
}

for s in "${scenarios[@]}"; do
  case $s in
    lossless) record lossless "$WORK/plan-lab" lossless_load ;;
    l7-deny-gap) record l7-deny-gap "$WORK/plan-lab" gap_load ;;
    wrong-translation)
      # Deliberately wrong: the ratings policy also admits the sleep service account (the client pod), which
      # Istio's ratings-viewer does not.
      cp -r "$WORK/plan-lab" "$WORK/plan-wrong"
      python3 - "$WORK/plan-wrong/bookinfo/ciliumnetworkpolicy-istio-ratings-viewer.yaml" <<'PY'
import sys, yaml
p = sys.argv[1]; d = yaml.safe_load(open(p))
d["spec"]["ingress"][0]["fromEndpoints"].append({"matchLabels": {"k8s:io.cilium.k8s.policy.serviceaccount": "sleep", "k8s:io.kubernetes.pod.namespace": "bookinfo"}})
yaml.safe_dump(d, open(p, "w"), sort_keys=False)
PY
      record wrong-translation "$WORK/plan-wrong" wrong_load ;;
    tls-wire) record tls-wire "$WORK/plan-lab" tls_load ;;
    *) echo "unknown scenario $s" >&2; exit 2 ;;
  esac
done
