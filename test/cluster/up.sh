#!/usr/bin/env bash
# Start a real control plane on loopback, the way controller-runtime's envtest does: etcd + kube-apiserver on free
# 127.0.0.1 ports, generated certificates, an admin and a read-only kubeconfig (RBAC), the Istio and Cilium CRDs.
# Idempotent: if the cluster in the state dir answers /readyz, nothing is started and it exits 0.
#
# Usage: test/cluster/up.sh [--stop-with PID] [--scale]
#   --stop-with PID  stop the cluster (down.sh) when process PID exits; `make test` passes make's own pid so CI
#                    leaves nothing running, on success or failure. Ignored when the cluster is already up.
#   --scale          lift the apiserver's request limits (for bench-live; never used by the tests).
# State: ${MIGRATE_CLUSTER_STATE:-<repo>/.state/cluster}: cluster.env, cluster.json, admin/readonly kubeconfig,
#        certs/, etcd data, logs. Needs dist/ (make build): CRDs and RBAC are installed by a small node script.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
# shellcheck source=versions.env
source "$HERE/versions.env"
STATE="${MIGRATE_CLUSTER_STATE:-$REPO/.state/cluster}"
BIN_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/migrate/bin"
SHARED="${MIGRATE_SHARED:-$REPO/../shared}"
NODE="${NODE:-node}"
[[ -x "$REPO/.tools/node/bin/node" ]] && NODE="$REPO/.tools/node/bin/node"

STOP_WITH="" SCALE=0
while (( $# )); do
  case "$1" in
    --stop-with) STOP_WITH="$2"; shift 2 ;;
    --scale) SCALE=1; shift ;;
    *) echo "up.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

say() { echo "[cluster-up] $*"; }
# A failed start stops what it started (the pid files below), so nothing half-started keeps running; the state
# dir stays for its logs, and the next start removes it.
fail() {
  echo "[cluster-up] FAILED: $*" >&2
  local f
  for f in "$STATE"/*.pid; do [[ -f "$f" ]] && kill -TERM "$(cat "$f")" 2>/dev/null; done
  exit 1
}

# Serialise concurrent starts (node --test runs each file in its own process; make and a test may race).
# Every long-lived child is started with {lock}>&- so that the lock is released when this script ends.
mkdir -p "$(dirname "$STATE")"
exec {lock}>"$STATE.lock"
flock "$lock"

healthy() {
  [[ -f "$STATE/cluster.env" ]] || return 1
  # shellcheck disable=SC1091
  ( source "$STATE/cluster.env"
    kill -0 "$APISERVER_PID" 2>/dev/null && kill -0 "$ETCD_PID" 2>/dev/null &&
    curl -sf --max-time 5 --cacert "$STATE/certs/ca.crt" --cert "$STATE/certs/admin.crt" --key "$STATE/certs/admin.key" \
      "$SERVER/readyz" >/dev/null )
}

if healthy; then
  say "already running: $(grep '^SERVER=' "$STATE/cluster.env" | cut -d= -f2) (state $STATE)"
  exit 0
fi
if [[ -d "$STATE" ]]; then
  say "removing stale state in $STATE"
  "$HERE/down.sh" --quiet
fi

for b in etcd:"$ETCD_VERSION" kube-apiserver:"$KUBE_VERSION"; do
  [[ -x "$BIN_DIR/${b%%:*}-${b#*:}" ]] || "$HERE/build.sh" "${b%%:*}"
done
ETCD_BIN="$BIN_DIR/etcd-$ETCD_VERSION"
APISERVER_BIN="$BIN_DIR/kube-apiserver-$KUBE_VERSION"
[[ -f "$REPO/dist/test/cluster/install.js" ]] || fail "dist/test/cluster/install.js missing: run 'make build' first"

mkdir -p "$STATE/certs" "$STATE/etcd"
chmod 700 "$STATE"
CERTS="$STATE/certs"
start=$SECONDS

# --- certificates: one CA signs the serving cert and the client certs (CN = user, O = group) ----------------------
say "generating certificates"
ossl() { openssl "$@" >>"$STATE/openssl.log" 2>&1 || fail "openssl $1 failed, see $STATE/openssl.log"; }
ossl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=migrate-test-ca" \
  -keyout "$CERTS/ca.key" -out "$CERTS/ca.crt"
client_cert() { # name CN O
  ossl req -newkey rsa:2048 -nodes -subj "/O=$3/CN=$2" -keyout "$CERTS/$1.key" -out "$CERTS/$1.csr"
  printf 'extendedKeyUsage=clientAuth\n' >"$CERTS/$1.ext"
  ossl x509 -req -in "$CERTS/$1.csr" -CA "$CERTS/ca.crt" -CAkey "$CERTS/ca.key" -CAcreateserial -days 3650 \
    -extfile "$CERTS/$1.ext" -out "$CERTS/$1.crt"
}
ossl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" -keyout "$CERTS/apiserver.key" -out "$CERTS/apiserver.csr"
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$CERTS/apiserver.ext"
ossl x509 -req -in "$CERTS/apiserver.csr" -CA "$CERTS/ca.crt" -CAkey "$CERTS/ca.key" -CAcreateserial -days 3650 \
  -extfile "$CERTS/apiserver.ext" -out "$CERTS/apiserver.crt"
client_cert admin migrate-admin system:masters
client_cert readonly migrate-readonly migrate:readonly
ossl genrsa -out "$CERTS/sa.key" 2048
ossl rsa -in "$CERTS/sa.key" -pubout -out "$CERTS/sa.pub"

# --- free loopback ports (bind to port 0, read the port, close; the small race is retried below) -----------------
free_ports() {
  "$NODE" -e '
    const net = require("node:net");
    const n = Number(process.argv[1]); const out = []; const socks = [];
    (async () => {
      for (let i = 0; i < n; i++) {
        const s = net.createServer(); socks.push(s);
        await new Promise((r) => s.listen(0, "127.0.0.1", r)); out.push(s.address().port);
      }
      socks.forEach((s) => s.close()); console.log(out.join(" "));
    })();' "$1"
}

wait_for() { # what timeout_s command...
  local what="$1" timeout="$2"; shift 2
  local t0=$SECONDS
  until "$@" >/dev/null 2>&1; do
    (( SECONDS - t0 < timeout )) || return 1
    sleep 0.3
  done
}

start_etcd() {
  read -r ETCD_PORT ETCD_PEER_PORT <<<"$(free_ports 2)"
  ETCD_URL="http://127.0.0.1:$ETCD_PORT"
  setsid nohup "$ETCD_BIN" --name migrate-test --data-dir "$STATE/etcd" \
    --listen-client-urls "$ETCD_URL" --advertise-client-urls "$ETCD_URL" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "migrate-test=http://127.0.0.1:$ETCD_PEER_PORT" \
    --unsafe-no-fsync --quota-backend-bytes=8589934592 --log-level=warn \
    >"$STATE/etcd.log" 2>&1 </dev/null {lock}>&- &
  ETCD_PID=$!
  echo "$ETCD_PID" >"$STATE/etcd.pid"
}

start_apiserver() {
  read -r API_PORT <<<"$(free_ports 1)"
  SERVER="https://127.0.0.1:$API_PORT"
  local extra=()
  if (( SCALE )); then
    extra+=(--max-requests-inflight=0 --max-mutating-requests-inflight=0 --enable-priority-and-fairness=false)
  fi
  setsid nohup "$APISERVER_BIN" \
    --etcd-servers="$ETCD_URL" \
    --bind-address=127.0.0.1 --secure-port="$API_PORT" --advertise-address=127.0.0.1 \
    --cert-dir="$CERTS" --tls-cert-file="$CERTS/apiserver.crt" --tls-private-key-file="$CERTS/apiserver.key" \
    --client-ca-file="$CERTS/ca.crt" \
    --authorization-mode=RBAC \
    --service-cluster-ip-range=10.96.0.0/12 \
    --endpoint-reconciler-type=none \
    --disable-admission-plugins=ServiceAccount \
    --service-account-issuer="$SERVER" \
    --service-account-key-file="$CERTS/sa.pub" --service-account-signing-key-file="$CERTS/sa.key" \
    --allow-privileged=true \
    "${extra[@]}" \
    >"$STATE/apiserver.log" 2>&1 </dev/null {lock}>&- &
  APISERVER_PID=$!
  echo "$APISERVER_PID" >"$STATE/kube-apiserver.pid"
}

etcd_ok() { curl -sf --max-time 2 "$ETCD_URL/health" | grep -q '"health":"true"'; }
api_ok() {
  curl -sf --max-time 2 --cacert "$CERTS/ca.crt" --cert "$CERTS/admin.crt" --key "$CERTS/admin.key" "$SERVER/readyz"
}

for attempt in 1 2 3; do
  say "starting etcd $ETCD_VERSION (attempt $attempt)"
  start_etcd
  if wait_for "etcd" 30 etcd_ok; then break; fi
  kill "$ETCD_PID" 2>/dev/null || true; wait "$ETCD_PID" 2>/dev/null || true
  (( attempt < 3 )) || fail "etcd did not become healthy on $ETCD_URL; last lines of $STATE/etcd.log: $(tail -5 "$STATE/etcd.log")"
  rm -rf "$STATE/etcd"; mkdir -p "$STATE/etcd"
done
say "etcd healthy on $ETCD_URL (pid $ETCD_PID)"

for attempt in 1 2 3; do
  say "starting kube-apiserver $KUBE_VERSION (attempt $attempt)"
  start_apiserver
  if wait_for "kube-apiserver" 120 api_ok; then break; fi
  kill "$APISERVER_PID" 2>/dev/null || true; wait "$APISERVER_PID" 2>/dev/null || true
  (( attempt < 3 )) || fail "kube-apiserver did not become ready on $SERVER; last lines of $STATE/apiserver.log:
$(tail -15 "$STATE/apiserver.log")"
done
say "kube-apiserver ready on $SERVER (pid $APISERVER_PID)"

# --- kubeconfigs (certificates embedded so they can be copied anywhere) -----------------------------------------
kubeconfig() { # file user cert key
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: migrate-test
  cluster:
    server: $SERVER
    certificate-authority-data: $(base64 -w0 "$CERTS/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(base64 -w0 "$3")
    client-key-data: $(base64 -w0 "$4")
contexts:
- name: $2@migrate-test
  context:
    cluster: migrate-test
    user: $2
current-context: $2@migrate-test
EOF
  chmod 600 "$1"
}
kubeconfig "$STATE/admin.kubeconfig" migrate-admin "$CERTS/admin.crt" "$CERTS/admin.key"
kubeconfig "$STATE/readonly.kubeconfig" migrate-readonly "$CERTS/readonly.crt" "$CERTS/readonly.key"

cat >"$STATE/cluster.env" <<EOF
SERVER=$SERVER
API_PORT=$API_PORT
ETCD_URL=$ETCD_URL
ETCD_PID=$ETCD_PID
APISERVER_PID=$APISERVER_PID
KUBE_VERSION=$KUBE_VERSION
ETCD_VERSION=$ETCD_VERSION
SCALE=$SCALE
EOF

# --- RBAC for the read-only user and the CRDs (Istio from shared/crds, Cilium wrapped from shared/schemas) -------
say "installing RBAC and CRDs"
"$NODE" "$REPO/dist/test/cluster/install.js" --kubeconfig "$STATE/admin.kubeconfig" --shared "$SHARED" >>"$STATE/install.log" 2>&1 ||
  fail "installing RBAC and CRDs failed; last lines of $STATE/install.log:
$(tail -15 "$STATE/install.log")"
tail -n 3 "$STATE/install.log" | sed 's/^/[cluster-up]   /'

cat >"$STATE/cluster.json" <<EOF
{
  "server": "$SERVER",
  "adminKubeconfig": "$STATE/admin.kubeconfig",
  "readonlyKubeconfig": "$STATE/readonly.kubeconfig",
  "stateDir": "$STATE",
  "etcdUrl": "$ETCD_URL",
  "apiserverPid": $APISERVER_PID,
  "etcdPid": $ETCD_PID,
  "kubeVersion": "$KUBE_VERSION",
  "scale": $( ((SCALE)) && echo true || echo false )
}
EOF

if [[ -n "$STOP_WITH" ]]; then
  # A detached watchdog: when the given process (make, or the test runner) is gone, stop the cluster.
  setsid nohup bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; exec "$2" --quiet' watchdog "$STOP_WITH" \
    "$HERE/down.sh" >>"$STATE.watchdog.log" 2>&1 </dev/null {lock}>&- &
  echo "WATCHDOG_PID=$!" >>"$STATE/cluster.env"
  say "will stop when pid $STOP_WITH exits"
fi
say "ready in $((SECONDS - start))s: admin kubeconfig $STATE/admin.kubeconfig, read-only $STATE/readonly.kubeconfig"
