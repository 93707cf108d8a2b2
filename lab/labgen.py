#!/usr/bin/env python3
"""Renders the lab from lab/topology.json: pods.json (the lab as data), per-pod HAProxy sidecar configs that
answer like an Istio sidecar (Envoy TEXT access log, 403 "RBAC: access denied"), and per-pod app configs.

Usage: labgen.py TOPOLOGY STATE_DIR CGROUP_ROOT PREFIX

Identity comes from mTLS, like Istio: lab.sh gives every sidecar a certificate from a lab CA with the URI SAN
spiffe://<trustDomain>/ns/<ns>/sa/<sa>; a client sidecar originates mTLS to sidecar pods (auto mTLS) and the
server sidecar terminates it, verifies the peer against the lab CA and takes the principal from the peer's URI
SAN. Plaintext callers (PERMISSIVE) have no principal, so `principals`/`namespaces` never match them.
"""
import ipaddress
import json
import os
import re
import sys
import zlib

SIDECAR_UID = 1337
INBOUND_PORT = 15006
OUTBOUND_PORT = 15001
INBOUND_SOURCE = "127.0.0.6"
HEALTH_PORT = 15021
METRICS_PORT = 15090
ISTIO_METRICS_PORT = 15020
LUA_METRICS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sidecar-metrics.lua")
LUA_IDENTITY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sidecar-identity.lua")
MTLS_MODES = ("PERMISSIVE", "STRICT", "DISABLE")
# Envoy's Istio default TEXT access log, field by field (reference/envoy-telemetry.md). Every %[var(...)] that
# is unset prints "-", which is what Envoy prints for a missing value.
ENVOY_TEXT = (
    '[%[var(txn.ms),div(1000),utime(%Y-%m-%dT%H:%M:%S)].%[var(txn.ms),mod(1000),add(1000),regsub(^1,)]Z] '
    '\\"%HM %HU %HV\\" %ST %[var(txn.flags)] %[var(txn.details)] - \\"%[var(txn.utfr)]\\" '
    '%[var(txn.reqlen)] %[var(txn.resplen)] %Ta %[var(txn.ust)] '
    '\\"%[var(txn.xff)]\\" \\"%[var(txn.ua)]\\" \\"%[var(txn.rid)]\\" \\"%[var(txn.authority)]\\" '
    '\\"%[var(txn.uhost)]\\" %[var(txn.cluster)] %[var(txn.ulocal)] %[var(txn.dlocal)] %ci:%cp %[var(txn.sni)] %[var(txn.route)]'
)


def die(msg):
    sys.stderr.write(f"labgen: {msg}\n")
    sys.exit(2)


def host_ifname(name):
    """The pod's host-side veth: "lab-<name>" when that fits Linux's 15 characters, else a cut name plus a hash of the
    whole one, so that pods whose names share a long prefix (productpage, productpage-b) do not get one interface."""
    full = f"lab-{name}"
    if len(full) <= 15:
        return full
    return f"lab-{name[:6]}-{zlib.crc32(name.encode()) & 0xffff:04x}"


def principal(topo, pod):
    return f"{topo['trustDomain']}/ns/{topo['namespace']}/sa/{pod['serviceAccount']}"


def glob_acl(name, sample, pattern):
    """An ACL line matching an Istio string glob (exact, prefix*, *suffix, *) on a sample."""
    if pattern == "*":
        return f"  acl {name} {sample} -m found"
    if pattern.endswith("*"):
        return f"  acl {name} {sample} -m beg {pattern[:-1]}"
    if pattern.startswith("*"):
        return f"  acl {name} {sample} -m end {pattern[1:]}"
    return f"  acl {name} {sample} -m str {pattern}"


def ns_regex(pattern):
    # Istio matches `namespaces` against the principal's /ns/<ns>/ segment.
    if pattern == "*":
        seg = "[^/]+"
    elif pattern.endswith("*"):
        seg = re.escape(pattern[:-1]) + "[^/]*"
    elif pattern.startswith("*"):
        seg = "[^/]*" + re.escape(pattern[1:])
    else:
        seg = re.escape(pattern)
    return f"^[^/]+/ns/{seg}/sa/[^/]+$"


def source_terms(base, source, acls):
    """One `from.source` as ACL names that must all match (fields AND, values OR), or [] for 'any source'.
    Principals and namespaces are read from the peer certificate (var txn.peer, unset for plaintext)."""
    unsupported = set(source) - {"principals", "namespaces", "ipBlocks", "remoteIpBlocks"}
    if unsupported:
        die(f"source fields not supported by the lab: {sorted(unsupported)}")
    terms = []
    if "principals" in source:
        n = f"{base}_pr"
        acls.extend(glob_acl(n, "var(txn.peer)", x) for x in source["principals"])
        terms.append(n)
    if "namespaces" in source:
        n = f"{base}_ns"
        acls.extend(f"  acl {n} var(txn.peer) -m reg {ns_regex(x)}" for x in source["namespaces"])
        terms.append(n)
    # The lab has no proxy in front of the pods: the remote IP is the peer's address.
    blocks = source.get("ipBlocks", []) + source.get("remoteIpBlocks", [])
    if blocks:
        n = f"{base}_ip"
        acls.append(f"  acl {n} src {' '.join(str(ipaddress.ip_network(b, strict=False)) for b in blocks)}")
        terms.append(n)
    return terms


def path_acl_lines(name, paths):
    lines = []
    for p in paths:
        if p == "*":
            lines.append(f"  acl {name} always_true")
        elif p.endswith("*"):
            lines.append(f"  acl {name} path_beg {p[:-1]}")
        elif p.startswith("*"):
            lines.append(f"  acl {name} path_end {p[1:]}")
        else:
            lines.append(f"  acl {name} path {p}")
    return lines


def rule_conditions(pol_idx, rule_idx, rule):
    """HAProxy ACL lines plus the OR-of-ANDs condition for one Istio rule (from AND to AND when)."""
    if rule.get("when"):
        die("rule.when is not supported by the lab")
    base = f"p{pol_idx}r{rule_idx}"
    acls, to_groups = [], []
    # OR over sources; a source without fields matches anyone.
    from_groups = [source_terms(f"{base}f{i}", f.get("source", {}), acls) for i, f in enumerate(rule.get("from", []))]
    if not from_groups or any(not g for g in from_groups):
        from_groups = [[]]
    for t_idx, t in enumerate(rule.get("to", [])):
        op = t.get("operation", {})
        unsupported = set(op) - {"methods", "paths", "ports"}
        if unsupported:
            die(f"operation fields not supported by the lab: {sorted(unsupported)}")
        group = []
        if "methods" in op:
            n = f"{base}t{t_idx}_m"
            acls.append(f"  acl {n} method {' '.join(op['methods'])}")
            group.append(n)
        if "paths" in op:
            n = f"{base}t{t_idx}_p"
            acls.extend(path_acl_lines(n, op["paths"]))
            group.append(n)
        if "ports" in op:
            n = f"{base}t{t_idx}_port"
            acls.append(f"  acl {n} dst_port {' '.join(str(p) for p in op['ports'])}")
            group.append(n)
        to_groups.append(group)
    if not to_groups:
        to_groups = [[]]
    # (f1 || f2) && (t1 || t2) as HAProxy's flat OR of ANDs.
    ors = []
    for f in from_groups:
        for g in to_groups:
            terms = f + g
            ors.append(" ".join(terms) if terms else "TRUE")  # HAProxy's predefined always-true ACL
    return acls, " || ".join(ors)


def rbac_lines(topo, pod):
    """Istio's order: DENY policies first (first matching rule named), then ALLOW (none matching -> [none])."""
    ns = topo["namespace"]
    applying = []
    for i, pol in enumerate(topo["policies"]):
        if pol["metadata"].get("namespace", ns) != ns:
            continue
        sel = pol["spec"].get("selector", {}).get("matchLabels", {})
        if all(pod["labels"].get(k) == v for k, v in sel.items()):
            applying.append((i, pol))
    # Envoy has an RBAC filter (and its rbac.allowed/denied counters) only where a policy applies
    lines = ["  http-request set-var(txn.rbac_on) bool(1)"] if applying else []
    for i, pol in applying:
        if pol["spec"].get("action", "ALLOW") != "DENY":
            continue
        for r_idx, rule in enumerate(pol["spec"].get("rules", [])):
            acls, cond = rule_conditions(i, r_idx, rule)
            lines.extend(acls)
            pid = f"ns[{ns}]-policy[{pol['metadata']['name']}]-rule[{r_idx}]"
            lines.append(f"  http-request set-var(txn.rbac) str({pid}) if !{{ var(txn.rbac) -m found }} {cond}")
    allows = [(i, p) for i, p in applying if p["spec"].get("action", "ALLOW") == "ALLOW"]
    if allows:
        for i, pol in allows:
            for r_idx, rule in enumerate(pol["spec"].get("rules", [])):
                acls, cond = rule_conditions(i, r_idx, rule)
                lines.extend(acls)
                lines.append(f"  http-request set-var(txn.allowed) bool(1) if {cond}")
        lines.append("  http-request set-var(txn.rbac) str(none) if !{ var(txn.rbac) -m found } !{ var(txn.allowed) -m found }")
    lines += [
        "  http-request set-var-fmt(txn.details) \"rbac_access_denied_matched_policy[%[var(txn.rbac)]]\" if { var(txn.rbac) -m found }",
        "  http-request return status 403 content-type text/plain string \"RBAC: access denied\" if { var(txn.rbac) -m found }",
    ]
    return lines, [p["metadata"]["name"] for _, p in applying]


COMMON_REQUEST = [
    "  http-request set-var(txn.ms) date(0,ms)",
    "  http-request set-header x-request-id %[uuid] unless { req.hdr(x-request-id) -m found }",
    "  http-request set-var(txn.rid) req.fhdr(x-request-id)",
    "  http-request set-var(txn.xff) req.fhdr(x-forwarded-for)",
    "  http-request set-var(txn.ua) req.fhdr(user-agent)",
    "  http-request set-var(txn.authority) req.fhdr(host)",
    "  http-request set-var(txn.reqlen) req.hdr(content-length)",
    "  http-request set-var(txn.reqlen) int(0) unless { req.hdr(content-length) -m found }",
    "  http-request set-var-fmt(txn.dlocal) \"%[dst]:%[dst_port]\"",
    "  http-request set-var(txn.flags) str(-)",
    "  http-request set-var(txn.route) str(default)",
]
COMMON_RESPONSE = [
    # Only responses from the upstream pass http-response; local replies (403, 503) do not.
    "  http-response set-var(txn.srv) bool(1)",
    "  http-response set-var(txn.details) str(via_upstream)",
    "  http-response set-var-fmt(txn.ust) \"%Tr\"",
    "  http-response set-var-fmt(txn.ulocal) \"%[bc_src]:%[bc_src_port]\"",
    "  http-after-response set-var(txn.resplen) res.hdr(content-length)",
    "  http-after-response set-var(txn.resplen) int(0) unless { res.hdr(content-length) -m found }",
    "  http-after-response set-var(txn.flags) str(UF) if !{ var(txn.srv) -m found } !{ var(txn.rbac) -m found } { status 503 }",
    "  http-after-response set-var(txn.details) str(upstream_reset_before_response_started{connection_failure}) if !{ var(txn.srv) -m found } !{ var(txn.rbac) -m found } { status 503 }",
]
# Last in every frontend, so the counter sees the final status and response flags (sidecar-metrics.lua).
COUNT = "  http-after-response set-var(txn.counted) lua.istio_count"


def inbound_frontend(name, bind, rbac, tls, own_spiffe, pre=()):
    """The inbound HTTP listener: RBAC, then the app on 127.0.0.1:<original port> from 127.0.0.6. With `tls` it
    terminates mTLS: the principal is the peer certificate's URI SAN, and the app gets Envoy's XFCC header.
    `pre`: lines right after the bind."""
    lines = [f"frontend {name}", f"  bind {bind}", *pre, *COMMON_REQUEST]
    if tls:
        lines += [
            "  http-request set-var(txn.peer) lua.peer_principal",
            "  http-request set-var(txn.sni) ssl_fc_sni",
            "  http-request set-var(txn.mtls) bool(1)",
            # Envoy's forward_client_cert_details APPEND_FORWARD with Istio's fields (By, Hash, Subject, URI).
            f"  http-request set-header x-forwarded-client-cert \"By={own_spiffe};Hash=%[ssl_c_der,sha2(256),hex,lower];Subject=\\\"\\\";URI=spiffe://%[var(txn.peer)]\"",
        ]
    else:
        # A plaintext caller cannot vouch for a client certificate.
        lines.append("  http-request del-header x-forwarded-client-cert")
    lines += [
        # Envoy knows the inbound cluster before RBAC runs, so a denial still logs it.
        "  http-request set-var-fmt(txn.cluster) \"inbound|%[dst_port]||\"",
        *rbac,
        "  http-request set-var-fmt(txn.uhost) \"127.0.0.1:%[dst_port]\"",
        *COMMON_RESPONSE,
        COUNT,
        "  default_backend inbound_app",
        "",
    ]
    return lines


def haproxy_cfg(topo, pod, services_map, workloads_map, mesh_map, mtls, tls_files):
    rbac, policies = rbac_lines(topo, pod)
    own_spiffe = f"spiffe://{principal(topo, pod)}"
    # Server side of mTLS: present the pod's certificate, require and verify the peer's against the lab CA.
    server_tls = f"ssl crt {tls_files['cert']} ca-file {tls_files['ca']} verify required"
    if mtls == "DISABLE":
        inbound = inbound_frontend("inbound", f"0.0.0.0:{INBOUND_PORT}", rbac, False, own_spiffe)
    elif mtls == "STRICT":
        # A plaintext caller fails the handshake; Envoy logs that as a connection no filter chain matched.
        # (HAProxy reports a TLS caller whose certificate fails verification the same way, so it is logged so too.)
        refused = ("[%[date(0,ms),div(1000),utime(%Y-%m-%dT%H:%M:%S)].%[date(0,ms),mod(1000),add(1000),regsub(^1,)]Z] "
                   '\\"- - -\\" 0 NR filter_chain_not_found - \\"-\\" 0 0 0 - \\"-\\" \\"-\\" \\"-\\" \\"-\\" \\"-\\" '
                   "- - %[dst]:%[dst_port] %ci:%cp - -")
        inbound = inbound_frontend("inbound_mtls", f"0.0.0.0:{INBOUND_PORT} {server_tls}", rbac, True, own_spiffe,
                                   pre=[f'  error-log-format "{refused}"'])
    else:
        # PERMISSIVE: like Envoy's tls_inspector, look at the first bytes; a TLS ClientHello goes to the mTLS
        # listener, anything else to the plaintext one. The PROXY header keeps the caller's and the original
        # destination's addresses for the access log and RBAC.
        inbound = [
            "frontend inbound_detect",
            f"  bind 0.0.0.0:{INBOUND_PORT}",
            "  mode tcp",
            "  no log",
            "  log-format \"%ci\"",  # the defaults' HTTP format is refused in TCP mode, even unused
            "  tcp-request inspect-delay 5s",
            "  tcp-request content accept if { req.len gt 0 }",
            "  use_backend inbound_to_mtls if { req.ssl_hello_type 1 }",
            "  default_backend inbound_to_plain",
            "",
            "backend inbound_to_mtls",
            "  mode tcp",
            "  server mtls abns@inbound-mtls send-proxy-v2",
            "",
            "backend inbound_to_plain",
            "  mode tcp",
            "  server plain abns@inbound-plain send-proxy-v2",
            "",
            *inbound_frontend("inbound_mtls", f"abns@inbound-mtls accept-proxy {server_tls}", rbac, True, own_spiffe),
            *inbound_frontend("inbound_plain", "abns@inbound-plain accept-proxy", rbac, False, own_spiffe),
        ]
    outbound_mtls = []
    if mtls != "DISABLE":
        outbound_mtls = [
            # Auto mTLS: to a pod with a sidecar (label security.istio.io/tlsMode=istio) the sidecar originates
            # mTLS with Istio's SNI; HAProxy checks the server certificate against the CA and that SNI (the
            # lab's server certificates carry it as a DNS SAN), so only the intended pod's certificate passes.
            f"  acl mesh_dst dst,map_ip({mesh_map}) -m found",
            "  http-request set-var-fmt(txn.usni) \"outbound_.%[dst_port]_._.%[dst,map_ip(" + services_map + ")]\" if mesh_dst known_svc",
            "  use_backend outbound_mtls if mesh_dst known_svc",
        ]
    cfg = [
        f"# Sidecar of {pod['name']}: generated by lab/labgen.py, do not edit.",
        f"# Policies applied: {', '.join(policies) or '(none: allow all)'}",
        f"# mTLS: {mtls}",
        "global",
        "  log stdout format raw local0",
        "  nbthread 2",
        "  maxconn 4096",
        "  hard-stop-after 2s",
        f"  setenv LAB_POD {pod['name']}",
        f"  setenv LAB_NAMESPACE {topo['namespace']}",
        f"  setenv LAB_PRINCIPAL {own_spiffe}",
        f"  setenv LAB_WORKLOADS_MAP {workloads_map}",
        f"  lua-load {LUA_IDENTITY}",
        f"  lua-load {LUA_METRICS}",
        "defaults",
        "  mode http",
        "  log global",
        "  option dontlognull",
        "  timeout connect 2s",
        "  timeout client 60s",
        "  timeout server 60s",
        "  timeout http-keep-alive 60s",
        # Fail like Envoy: no retry on a refused upstream (HAProxy would retry 3 times, 1 s apart) and Envoy's
        # local reply body.
        "  retries 0",
        "  http-error status 503 content-type text/plain string \"upstream connect error or disconnect/reset before headers. reset reason: connection failure\"",
        f"  log-format \"{ENVOY_TEXT}\"",
        "",
        *inbound,
        "backend inbound_app",
        # No port: connect to the original destination port, like Envoy's inbound|<port>|| cluster.
        f"  server app 127.0.0.1 source {INBOUND_SOURCE}",
        "",
        "frontend outbound",
        f"  bind 0.0.0.0:{OUTBOUND_PORT}",
        *COMMON_REQUEST,
        f"  acl known_svc dst,map_ip({services_map}) -m found",
        f"  http-request set-var-fmt(txn.cluster) \"outbound|%[dst_port]||%[dst,map_ip({services_map})]\" if known_svc",
        "  http-request set-var(txn.cluster) str(PassthroughCluster) unless known_svc",
        "  http-request set-var(txn.route) str(allow_any) unless known_svc",
        "  http-request set-var-fmt(txn.uhost) \"%[dst]:%[dst_port]\"",
        *outbound_mtls,
        *COMMON_RESPONSE,
        # A failed upstream TLS handshake: Envoy's UPSTREAM_TRANSPORT_FAILURE_REASON and the reason in the details.
        "  http-after-response set-var-fmt(txn.utfr) \"TLS_error:|%[ssl_bc_err_str,regsub(^error:,)]:TLS_error_end\" if !{ var(txn.srv) -m found } { ssl_bc_err gt 0 }",
        "  http-after-response set-var-fmt(txn.details) \"upstream_reset_before_response_started{connection_failure|%[var(txn.utfr),regsub([[:space:]],_,g)]}\" if { var(txn.utfr) -m found }",
        COUNT,
        "  default_backend outbound_orig_dst",
        "",
        "backend outbound_orig_dst",
        # 0.0.0.0:0 = the connection's original destination (HAProxy reads SO_ORIGINAL_DST after REDIRECT).
        "  server orig_dst 0.0.0.0:0",
        "",
        *([
            "backend outbound_mtls",
            f"  server orig_dst_mtls 0.0.0.0:0 ssl crt {tls_files['cert']} ca-file {tls_files['ca']} verify required sni var(txn.usni)",
            "",
        ] if mtls != "DISABLE" else []),
        "frontend health",
        f"  bind 0.0.0.0:{HEALTH_PORT}",
        "  no log",
        "  http-request return status 200 content-type text/plain string ok if { path /healthz/ready }",
        "  http-request return status 404",
        "",
        "frontend istio_metrics",
        f"  bind 0.0.0.0:{ISTIO_METRICS_PORT}",
        "  no log",
        "  http-request use-service lua.istio_metrics if { path /stats/prometheus }",
        "  http-request return status 404",
        "",
        "frontend metrics",
        f"  bind 0.0.0.0:{METRICS_PORT}",
        "  no log",
        "  http-request use-service prometheus-exporter if { path /stats/prometheus }",
        "  http-request return status 404",
        "",
    ]
    return "\n".join(cfg)


def snapshot(topo, prefix, mtls):
    """The lab as Kubernetes objects (a v1 List), so `migrate inventory|translate --snapshot` can read it."""
    ns = topo["namespace"]
    uname = os.uname()
    os_image = "Linux"
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    os_image = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    node = f"{prefix}-node"
    items = [
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node, "labels": {
            "kubernetes.io/hostname": node, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}},
         "spec": {"podCIDR": topo["subnet"]},
         "status": {"conditions": [{"type": "Ready", "status": "True"}], "capacity": {"cpu": str(os.cpu_count() or 1)},
                    "allocatable": {"cpu": str(os.cpu_count() or 1)},
                    "nodeInfo": {"kernelVersion": uname.release, "osImage": os_image, "operatingSystem": "linux",
                                 "architecture": "amd64", "containerRuntimeVersion": "lab://netns",
                                 "kubeletVersion": "v0.0.0-lab"}}},
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns, "istio-injection": "enabled"}}},
    ]
    for sa in sorted({p["serviceAccount"] for p in topo["pods"]}):
        items.append({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": sa, "namespace": ns}})
    for p in topo["pods"]:
        containers = [{"name": p["name"], "image": "lab/app:node", "ports": [{"containerPort": p["appPort"], "protocol": "TCP"}]}]
        annotations, init = {}, []
        if p.get("sidecar"):
            containers.append({"name": "istio-proxy", "image": "lab/haproxy:2.6", "args": ["proxy", "sidecar"],
                               "securityContext": {"runAsUser": SIDECAR_UID, "runAsGroup": SIDECAR_UID}})
            init.append({"name": "istio-init", "image": "lab/iptables", "args": ["istio-iptables", "-p", str(OUTBOUND_PORT),
                         "-z", str(INBOUND_PORT), "-u", str(SIDECAR_UID), "-i", "*", "-b", "*",
                         "-d", f"15090,15021,15020,{p['appPort'] + 1}"]})
            annotations["sidecar.istio.io/status"] = json.dumps({"initContainers": ["istio-init"], "containers": ["istio-proxy"]})
            annotations["traffic.sidecar.istio.io/excludeInboundPorts"] = str(p["appPort"] + 1)
        else:
            annotations["sidecar.istio.io/inject"] = "false"
        spec = {"serviceAccountName": p["serviceAccount"], "nodeName": node, "containers": containers}
        if init:
            spec["initContainers"] = init
        # The injector labels sidecar pods security.istio.io/tlsMode=istio (what auto mTLS keys on).
        labels = {**p["labels"], "security.istio.io/tlsMode": "istio"} if p.get("sidecar") else p["labels"]
        items.append({"apiVersion": "v1", "kind": "Pod",
                      "metadata": {"name": p["name"], "namespace": ns, "labels": labels, "annotations": annotations},
                      "spec": spec,
                      "status": {"phase": "Running", "podIP": p["ip"], "podIPs": [{"ip": p["ip"]}], "hostIP": topo["gateway"],
                                 "conditions": [{"type": "Ready", "status": "True"}]}})
        items.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": p["name"], "namespace": ns,
                      "labels": {"app": p["labels"].get("app", p["name"])}},
                      # Headless: the lab has no kube-proxy; callers dial the pod IP, like a headless service.
                      "spec": {"clusterIP": "None", "selector": p["labels"],
                               "ports": [{"name": "http", "port": p["appPort"], "targetPort": p["appPort"], "protocol": "TCP"}]}})
    if mtls != "PERMISSIVE":
        # PERMISSIVE is Istio's default without a PeerAuthentication; other modes need one.
        items.append({"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
                      "metadata": {"name": "default", "namespace": ns}, "spec": {"mtls": {"mode": mtls}}})
    items.extend(topo["policies"])
    return {"apiVersion": "v1", "kind": "List", "items": items}


def main():
    if len(sys.argv) != 5:
        die("usage: labgen.py TOPOLOGY STATE_DIR CGROUP_ROOT PREFIX")
    topo_path, state, cg_root, prefix = sys.argv[1:]
    with open(topo_path) as f:
        topo = json.load(f)
    ns = topo["namespace"]
    by_name = {p["name"]: p for p in topo["pods"]}
    ifnames = {}
    for p in topo["pods"]:
        other = ifnames.setdefault(host_ifname(p["name"]), p["name"])
        if other != p["name"]:
            die(f"{topo_path}: pods {other!r} and {p['name']!r} would share the host interface {host_ifname(other)!r}: rename one")
    mtls = os.environ.get("MIGRATE_LAB_MTLS") or topo.get("mtls", "PERMISSIVE")
    if mtls not in MTLS_MODES:
        die(f"mtls mode {mtls!r} (topology field 'mtls' or MIGRATE_LAB_MTLS) is not one of {', '.join(MTLS_MODES)}")
    services_map = os.path.join(state, "services.map")
    workloads_map = os.path.join(state, "workloads.map")
    mesh_map = os.path.join(state, "mesh.map")
    certs = os.path.join(state, "certs")
    os.makedirs(state, exist_ok=True)
    with open(mesh_map, "w") as f:
        for p in topo["pods"]:
            if p.get("sidecar"):
                f.write(f"{p['ip']}/32 istio\n")
    with open(workloads_map, "w") as f:
        for p in topo["pods"]:
            f.write(f"{p['ip']}/32 {p['name']}\n")
    with open(services_map, "w") as f:
        for p in topo["pods"]:
            f.write(f"{p['ip']}/32 {p['name']}.{ns}.svc.cluster.local\n")
    pods_out = []
    for p in topo["pods"]:
        name = p["name"]
        pdir = os.path.join(state, "pods", name)
        os.makedirs(pdir, exist_ok=True)
        host_if = host_ifname(name)
        app_cfg = {"pod": name, "port": p["appPort"], "bypassPort": p["appPort"] + 1,
                   "upstreams": {u: f"{by_name[u]['ip']}:{by_name[u]['appPort']}" for u in p.get("upstreams", [])}}
        with open(os.path.join(pdir, "app.json"), "w") as f:
            json.dump(app_cfg, f, indent=2)
        sidecar = None
        if p.get("sidecar"):
            # Written by lab.sh (openssl) from `tls` below; the server name is the SNI Istio's clients send.
            tls = {"ca": os.path.join(certs, "ca.pem"), "cert": os.path.join(certs, f"{name}.pem"),
                   "spiffe": f"spiffe://{principal(topo, p)}",
                   "dnsNames": [f"outbound_.{p['appPort']}_._.{name}.{ns}.svc.cluster.local"]}
            with open(os.path.join(pdir, "haproxy.cfg"), "w") as f:
                f.write(haproxy_cfg(topo, p, services_map, workloads_map, mesh_map, mtls, tls))
            sidecar = {"kind": "haproxy", "uid": SIDECAR_UID, "gid": SIDECAR_UID, "inboundPort": INBOUND_PORT,
                       "outboundPort": OUTBOUND_PORT, "inboundSource": INBOUND_SOURCE, "healthPort": HEALTH_PORT,
                       "metricsPort": METRICS_PORT, "istioMetrics": f"http://{p['ip']}:{ISTIO_METRICS_PORT}/stats/prometheus",
                       "accessLog": os.path.join(pdir, "access.log"),
                       "accessLogFormat": "istio-default-text",
                       "excludedInboundPorts": [15090, 15021, 15020], "mtls": mtls, "tls": tls}
        pods_out.append({
            "name": name, "namespace": ns, "netns": f"{prefix}-{name}", "netnsPath": f"/run/netns/{prefix}-{name}",
            "ifname": "eth0", "hostIfname": host_if, "hostNetns": f"{prefix}-node",
            "cgroup": os.path.join(cg_root, name), "ip": p["ip"], "appPort": p["appPort"], "bypassPort": p["appPort"] + 1,
            "serviceAccount": p["serviceAccount"], "principal": principal(topo, p), "labels": p["labels"],
            "upstreams": p.get("upstreams", []), "sidecar": sidecar,
            "appLog": os.path.join(pdir, "app.log"),
        })
    lab = {
        "version": 1, "prefix": prefix, "namespace": ns, "subnet": topo["subnet"], "gateway": topo["gateway"],
        "mtls": {"mode": mtls, "ca": os.path.join(certs, "ca.pem"), "trustDomain": topo["trustDomain"]},
        "node": {"netns": f"{prefix}-node", "netnsPath": f"/run/netns/{prefix}-node", "bridge": f"{prefix}0"},
        "cgroupRoot": cg_root, "stateDir": state, "pods": pods_out,
        "policies": topo["policies"],
    }
    os.makedirs(os.path.join(state, "snapshot"), exist_ok=True)
    with open(os.path.join(state, "snapshot", "lab.json"), "w") as f:
        json.dump(snapshot(topo, prefix, mtls), f, indent=1)
        f.write("\n")
    lab["snapshot"] = os.path.join(state, "snapshot")
    with open(os.path.join(state, "pods.json.tmp"), "w") as f:
        json.dump(lab, f, indent=2)
        f.write("\n")
    os.replace(os.path.join(state, "pods.json.tmp"), os.path.join(state, "pods.json"))


if __name__ == "__main__":
    main()
