#!/usr/bin/env bash
# The lab: a Kubernetes node in a box of network namespaces (lab/README.md).
#   lab.sh up       create (or repair) the node netns + bridge, one netns/veth/cgroup per pod, istio-init
#                   iptables, the app servers and the HAProxy sidecars (uid 1337); writes $STATE/pods.json
#   lab.sh status   one line per pod; exit 1 if anything is missing (--json for a machine-readable form)
#   lab.sh load     --target POD [--from POD] [--rate R (0 = max)] [--duration S] [--connections C] [--path P] [--bypass]
#                   [--tool loadgen|wrk] : runs the load generator in the client pod, prints JSON
#   lab.sh down     removes every netns, veth, bridge, cgroup, process and iptables rule of the lab
# Both up and down are idempotent. Everything lives in namespaces this script creates: the lab subnet is not
# routed anywhere else (no default route in the pods, the bridge sits in its own netns).
set -euo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$LAB_DIR/.." && pwd)
PREFIX=${MIGRATE_LAB_PREFIX:-mlab}
STATE=${MIGRATE_LAB_STATE:-$REPO/.state/lab}
TOPOLOGY=${MIGRATE_LAB_TOPOLOGY:-$LAB_DIR/topology.json}
APP_UID=65534            # the app is neither root nor the sidecar's 1337
SIDECAR_UID=1337
NODE_NS="$PREFIX-node"
BRIDGE="${PREFIX}0"

# The daemons keep no descriptor of the caller beyond stdio: under `flock LOCK lab.sh up` they would otherwise
# inherit the lock's fd and hold the lock for as long as the lab runs.
APPEND_EXEC='import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
os.lseek(fd, 0, os.SEEK_END); os.dup2(fd, 1); os.close(fd); os.closerange(3, 65536)
os.execvp(sys.argv[2], sys.argv[2:])'

log() { echo "lab: $*" >&2; }
die() { echo "lab: $*" >&2; exit 1; }

need_root() { [ "$(id -u)" = 0 ] || die "needs root (network namespaces, iptables, cgroups)"; }

cgroup2_mount() {
  local m
  m=$(findmnt -n -t cgroup2 -o TARGET | head -1)
  [ -n "$m" ] || die "no cgroup v2 mount found (looked for a cgroup2 filesystem in /proc/self/mountinfo)"
  echo "$m"
}

node_bin() {
  local d
  d=$("$REPO/scripts/ensure-node.sh") || die "no Node >= 22 (scripts/ensure-node.sh failed)"
  echo "$d/node"
}

in_ns() { local ns=$1; shift; nsenter --net="/run/netns/$ns" "$@"; }

alive_in_cgroup() { # pidfile cgroup
  local pid
  [ -s "$1" ] || return 1
  pid=$(cat "$1")
  kill -0 "$pid" 2>/dev/null && grep -qx "$pid" "$2/cgroup.procs" 2>/dev/null
}

stop_pid() {
  local i
  kill -TERM "$1" 2>/dev/null || return 0
  for ((i = 0; i < 30; i++)); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
}

# Starts a process in the pod's cgroup and netns as uid, detached; its PID is that of the final exec.
# It is restarted when its config file changed.
start_in_pod() { # pod kind uid config stdout stderr cmd...
  local pod=$1 kind=$2 uid=$3 conf=$4 out=$5 err=$6; shift 6
  local cg="$CG_ROOT/$pod" pidf="$STATE/pods/$pod/$kind.pid"
  # Running with the same config: nothing to do. Running with an older config: replace it.
  if alive_in_cgroup "$pidf" "$cg"; then
    if cmp -s "$conf" "$conf.running"; then return 0; fi
    stop_pid "$(cat "$pidf")"
  fi
  cp "$conf" "$conf.running"
  # stdout is opened for append AND positioned at its end: HAProxy's fcntl(F_SETFL, O_NONBLOCK) on its log fd
  # drops O_APPEND, and a restarted sidecar would then overwrite its access log from offset 0.
  # shellcheck disable=SC2016
  setsid bash -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" \
    python3 -c "$APPEND_EXEC" "$out" \
    nsenter --net="/run/netns/$PREFIX-$pod" \
    setpriv --reuid="$uid" --regid="$uid" --clear-groups "$@" 2>>"$err" </dev/null &
  echo $! >"$pidf"
}

istio_iptables() { # pod appBypassPort
  # The rules istio-init writes (tools/istio-iptables), plus the lab's excluded inbound port for bypass runs
  # (like the traffic.sidecar.istio.io/excludeInboundPorts annotation). iptables-restore replaces the nat
  # table as a whole, so running it again is idempotent.
  in_ns "$PREFIX-$1" iptables-restore <<EOF
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:ISTIO_INBOUND - [0:0]
:ISTIO_IN_REDIRECT - [0:0]
:ISTIO_OUTPUT - [0:0]
:ISTIO_REDIRECT - [0:0]
-A PREROUTING -p tcp -j ISTIO_INBOUND
-A OUTPUT -p tcp -j ISTIO_OUTPUT
-A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
-A ISTIO_INBOUND -p tcp --dport 15090 -j RETURN
-A ISTIO_INBOUND -p tcp --dport 15021 -j RETURN
-A ISTIO_INBOUND -p tcp --dport 15020 -j RETURN
-A ISTIO_INBOUND -p tcp --dport $2 -j RETURN
-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT
-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
-A ISTIO_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN
-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -m owner --uid-owner $SIDECAR_UID -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -o lo -m owner ! --uid-owner $SIDECAR_UID -j RETURN
-A ISTIO_OUTPUT -m owner --uid-owner $SIDECAR_UID -j RETURN
-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -m owner --gid-owner $SIDECAR_UID -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -o lo -m owner ! --gid-owner $SIDECAR_UID -j RETURN
-A ISTIO_OUTPUT -m owner --gid-owner $SIDECAR_UID -j RETURN
-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
-A ISTIO_OUTPUT -j ISTIO_REDIRECT
-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
COMMIT
EOF
}

# The lab is IPv4 (like istio-init without ip6tables): without this, link-local IPv6 chatter (router
# solicitations, MLD) would show up on every veth the probe watches.
no_ipv6() {
  in_ns "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 2>/dev/null || true
}

pods_tsv() { # name ip appPort sidecar(0|1) hostIfname
  jq -r '.pods[] | [.name, .ip, .appPort, (if .sidecar then 1 else 0 end), .hostIfname] | @tsv' "$STATE/pods.json"
}

wait_http() { # ns url seconds
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    if in_ns "$1" curl -fsS -o /dev/null --max-time 1 "$2" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

cmd_up() {
  need_root
  for t in haproxy iptables-restore ip jq curl nsenter setpriv python3; do
    command -v "$t" >/dev/null || die "missing $t: run 'make lab-deps'"
  done
  local node; node=$(node_bin)
  mkdir -p "$STATE"
  python3 "$LAB_DIR/labgen.py" "$TOPOLOGY" "$STATE" "$CG_ROOT" "$PREFIX"
  local gw plen
  gw=$(jq -r .gateway "$STATE/pods.json")
  plen=$(jq -r '.subnet | split("/")[1]' "$STATE/pods.json")

  # The node: a netns holding the bridge, so the root namespace never gets a lab address or route.
  [ -e "/run/netns/$NODE_NS" ] || ip netns add "$NODE_NS"
  no_ipv6 "$NODE_NS"
  ip -n "$NODE_NS" link set lo up
  ip -n "$NODE_NS" link show "$BRIDGE" >/dev/null 2>&1 || ip -n "$NODE_NS" link add "$BRIDGE" type bridge
  ip -n "$NODE_NS" addr replace "$gw/$plen" dev "$BRIDGE"
  ip -n "$NODE_NS" link set "$BRIDGE" up
  mkdir -p "$CG_ROOT"

  local name ip port sidecar hostif ns
  while IFS=$'\t' read -r name ip port sidecar hostif; do
    ns="$PREFIX-$name"
    [ -e "/run/netns/$ns" ] || ip netns add "$ns"
    no_ipv6 "$ns"
    if ! ip -n "$NODE_NS" link show "$hostif" >/dev/null 2>&1; then
      ip -n "$ns" link del eth0 2>/dev/null || true
      ip link add "$hostif" netns "$NODE_NS" type veth peer name eth0 netns "$ns"
    fi
    ip -n "$NODE_NS" link set "$hostif" master "$BRIDGE" up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr replace "$ip/$plen" dev eth0
    ip -n "$ns" link set eth0 up
    mkdir -p "$CG_ROOT/$name" "$STATE/pods/$name"
    if [ "$sidecar" = 1 ]; then istio_iptables "$name" $((port + 1)); fi
    start_in_pod "$name" app "$APP_UID" "$STATE/pods/$name/app.json" \
      "$STATE/pods/$name/app.log" "$STATE/pods/$name/app.log" \
      "$node" "$LAB_DIR/app/server.mjs" "$STATE/pods/$name/app.json"
    if [ "$sidecar" = 1 ]; then
      haproxy -c -q -f "$STATE/pods/$name/haproxy.cfg" || die "invalid sidecar config for $name"
      touch "$STATE/pods/$name/access.log"
      # stdout is the access log (Envoy writes it to the istio-proxy container's stdout).
      start_in_pod "$name" sidecar $SIDECAR_UID "$STATE/pods/$name/haproxy.cfg" \
        "$STATE/pods/$name/access.log" "$STATE/pods/$name/sidecar.log" \
        haproxy -db -f "$STATE/pods/$name/haproxy.cfg"
    fi
  done < <(pods_tsv)

  while IFS=$'\t' read -r name ip port sidecar hostif; do
    ns="$PREFIX-$name"
    wait_http "$ns" "http://127.0.0.1:$port/healthz" 10 ||
      die "app of $name (uid $APP_UID) did not come up: $(tail -5 "$STATE/pods/$name/app.log")"
    if [ "$sidecar" = 1 ]; then
      wait_http "$ns" "http://127.0.0.1:15021/healthz/ready" 10 ||
        die "sidecar of $name did not come up: $(tail -3 "$STATE/pods/$name/sidecar.log")"
    fi
  done < <(pods_tsv)
  log "up: $(jq -r '[.pods[].name] | join(", ")' "$STATE/pods.json") (state in $STATE/pods.json)"
}

cmd_status() {
  local json=0; [ "${1:-}" = --json ] && json=1
  need_root
  local ok=1 rows=() name ip port sidecar hostif ns n_app n_side
  if [ ! -s "$STATE/pods.json" ]; then
    if [ $json = 1 ]; then echo '{"up":false,"pods":[]}'; else log "down (no $STATE/pods.json)"; fi
    return 1
  fi
  while IFS=$'\t' read -r name ip port sidecar hostif; do
    ns="$PREFIX-$name"
    local netns=false veth=false app=false side=null cg=false
    [ -e "/run/netns/$ns" ] && netns=true
    ip -n "$NODE_NS" link show "$hostif" 2>/dev/null | grep -q 'state UP' && veth=true
    [ -d "$CG_ROOT/$name" ] && cg=true
    alive_in_cgroup "$STATE/pods/$name/app.pid" "$CG_ROOT/$name" && app=true
    if [ "$sidecar" = 1 ]; then
      side=false
      alive_in_cgroup "$STATE/pods/$name/sidecar.pid" "$CG_ROOT/$name" &&
        in_ns "$ns" curl -fsS -o /dev/null --max-time 1 http://127.0.0.1:15021/healthz/ready 2>/dev/null && side=true
    fi
    if [ $netns != true ] || [ $veth != true ] || [ $app != true ] || [ $cg != true ] || [ $side = false ]; then ok=0; fi
    rows+=("$(jq -nc --arg n "$name" --arg ip "$ip" --argjson netns $netns --argjson veth $veth --argjson cg $cg \
      --argjson app $app --argjson side $side \
      '{name:$n, ip:$ip, netns:$netns, veth:$veth, cgroup:$cg, app:$app, sidecar:$side}')")
  done < <(pods_tsv)
  if [ $json = 1 ]; then
    printf '%s\n' "${rows[@]}" | jq -s --argjson up $([ $ok = 1 ] && echo true || echo false) \
      --arg state "$STATE/pods.json" '{up:$up, podsFile:$state, pods:.}'
  else
    printf '%s\n' "${rows[@]}" | jq -r '"\(.name)\t\(.ip)\tnetns=\(.netns) veth=\(.veth) cgroup=\(.cgroup) app=\(.app) sidecar=\(.sidecar)"'
    if [ $ok = 1 ]; then log "up"; else log "degraded: run 'lab.sh up' to repair"; fi
  fi
  [ $ok = 1 ]
}

cmd_load() {
  need_root
  [ -s "$STATE/pods.json" ] || die "the lab is down: run 'lab.sh up' first"
  local target="" rate=0 duration=5 conns=8 path="/" bypass=0 tool=loadgen from=client
  while [ $# -gt 0 ]; do
    case $1 in
      --target) target=$2; shift 2 ;;
      --rate) rate=$2; shift 2 ;;
      --duration) duration=$2; shift 2 ;;
      --connections) conns=$2; shift 2 ;;
      --path) path=$2; shift 2 ;;
      --from) from=$2; shift 2 ;;
      --bypass) bypass=1; shift ;;
      --tool) tool=$2; shift 2 ;;
      *) die "load: unknown argument $1" ;;
    esac
  done
  [ -n "$target" ] || target=$(jq -r '[.pods[] | select(.sidecar != null)][0].name' "$STATE/pods.json")
  local ip port
  ip=$(jq -r --arg t "$target" '.pods[] | select(.name == $t) | .ip' "$STATE/pods.json")
  port=$(jq -r --arg t "$target" '.pods[] | select(.name == $t) | .appPort' "$STATE/pods.json")
  [ -n "$ip" ] || die "load: no pod named $target"
  [ $bypass = 1 ] && port=$((port + 1))
  local url="http://$ip:$port$path"
  case $tool in
    loadgen)
      in_ns "$PREFIX-$from" "$(node_bin)" "$LAB_DIR/loadgen.mjs" --url "$url" --rate "$rate" \
        --duration "$duration" --connections "$conns" ;;
    wrk)
      [ "$rate" = 0 ] || die "load: wrk runs closed-loop only (use --tool loadgen for a fixed rate)"
      in_ns "$PREFIX-$from" wrk -t1 -c"$conns" -d"${duration}s" --latency "$url" | python3 "$LAB_DIR/wrk2json.py" "$url" ;;
    *) die "load: unknown tool $tool" ;;
  esac
}

cmd_down() {
  need_root
  local ns pids cg i
  # Processes first (by netns and by cgroup, so nothing survives that a stale pid file would miss).
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$PREFIX-" || true); do
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [ -z "$pids" ] || kill -TERM $pids 2>/dev/null || true
  done
  if [ -d "$CG_ROOT" ]; then
    for cg in "$CG_ROOT"/*/; do
      [ -d "$cg" ] || continue
      # cgroupfs files report size 0, so test their content, not their size.
      for ((i = 0; i < 30; i++)); do [ -n "$(cat "$cg/cgroup.procs")" ] || break; sleep 0.1; done
      if [ -n "$(cat "$cg/cgroup.procs")" ]; then
        if [ -e "$cg/cgroup.kill" ]; then echo 1 >"$cg/cgroup.kill"; else xargs -r kill -KILL <"$cg/cgroup.procs"; fi
        for ((i = 0; i < 30; i++)); do [ -n "$(cat "$cg/cgroup.procs")" ] || break; sleep 0.1; done
      fi
      # An exiting task can keep the cgroup populated for a moment after leaving cgroup.procs: retry.
      for ((i = 0; i < 50; i++)); do rmdir "$cg" 2>/dev/null && break; sleep 0.1; done
      [ ! -d "$cg" ] || die "could not remove cgroup $cg: $(grep populated "$cg/cgroup.events") procs: $(tr '\n' ' ' <"$cg/cgroup.procs")"
    done
    rmdir "$CG_ROOT"
  fi
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$PREFIX-" || true); do
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
    # Deleting a pod netns removes its veth pair (and so the bridge port) and its iptables tables.
    ip netns del "$ns"
  done
  rm -rf "$STATE"
  log "down"
}

CG_ROOT=${MIGRATE_LAB_CGROUP:-$(cgroup2_mount)/migrate-$PREFIX}
case ${1:-} in
  up) shift; cmd_up "$@" ;;
  down) shift; cmd_down "$@" ;;
  status) shift; cmd_status "$@" ;;
  load) shift; cmd_load "$@" ;;
  *) echo "usage: lab.sh up|status [--json]|load ...|down" >&2; exit 2 ;;
esac
