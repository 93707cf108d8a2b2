#!/usr/bin/env python3
"""Renders the lab from lab/topology.json: pods.json (the lab as data), per-pod HAProxy sidecar configs that
answer like an Istio sidecar (Envoy TEXT access log, 403 "RBAC: access denied"), and per-pod app configs.

Usage: labgen.py TOPOLOGY STATE_DIR CGROUP_ROOT PREFIX

Identity in the lab is the source IP: a principal cluster.local/ns/<ns>/sa/<sa> stands for the IPs of the pods
running as that service account (real Istio reads it from the mTLS certificate; the lab has no mTLS).
"""
import ipaddress
import json
import os
import sys

SIDECAR_UID = 1337
INBOUND_PORT = 15006
OUTBOUND_PORT = 15001
INBOUND_SOURCE = "127.0.0.6"
HEALTH_PORT = 15021
METRICS_PORT = 15090
ISTIO_METRICS_PORT = 15020
LUA_METRICS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sidecar-metrics.lua")
# Envoy's Istio default TEXT access log, field by field (reference/envoy-telemetry.md). Every %[var(...)] that
# is unset prints "-", which is what Envoy prints for a missing value.
ENVOY_TEXT = (
    '[%[var(txn.ms),div(1000),utime(%Y-%m-%dT%H:%M:%S)].%[var(txn.ms),mod(1000),add(1000),regsub(^1,)]Z] '
    '\\"%HM %HU %HV\\" %ST %[var(txn.flags)] %[var(txn.details)] - \\"-\\" '
    '%[var(txn.reqlen)] %[var(txn.resplen)] %Ta %[var(txn.ust)] '
    '\\"%[var(txn.xff)]\\" \\"%[var(txn.ua)]\\" \\"%[var(txn.rid)]\\" \\"%[var(txn.authority)]\\" '
    '\\"%[var(txn.uhost)]\\" %[var(txn.cluster)] %[var(txn.ulocal)] %[var(txn.dlocal)] %ci:%cp - %[var(txn.route)]'
)


def die(msg):
    sys.stderr.write(f"labgen: {msg}\n")
    sys.exit(2)


def principal(topo, pod):
    return f"{topo['trustDomain']}/ns/{topo['namespace']}/sa/{pod['serviceAccount']}"


def glob_match(pattern, value):
    # Istio string match: exact, "prefix*", "*suffix" or "*".
    if pattern == "*":
        return True
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    if pattern.startswith("*"):
        return value.endswith(pattern[1:])
    return value == pattern


def source_cidrs(topo, source):
    """One `from.source` as a list of CIDRs (fields AND, values OR), or None for 'any source'."""
    unsupported = set(source) - {"principals", "namespaces", "ipBlocks", "remoteIpBlocks"}
    if unsupported:
        die(f"source fields not supported by the lab: {sorted(unsupported)}")
    pods = topo["pods"]
    sets = []
    if "principals" in source:
        sets.append({p["ip"] for p in pods if any(glob_match(x, principal(topo, p)) for x in source["principals"])})
    if "namespaces" in source:
        sets.append({p["ip"] for p in pods if any(glob_match(x, topo["namespace"]) for x in source["namespaces"])})
    blocks = source.get("ipBlocks", []) + source.get("remoteIpBlocks", [])
    if not sets:
        return [str(ipaddress.ip_network(b, strict=False)) for b in blocks] if blocks else None
    ips = set.intersection(*sets)
    if blocks:
        nets = [ipaddress.ip_network(b, strict=False) for b in blocks]
        ips = {ip for ip in ips if any(ipaddress.ip_address(ip) in n for n in nets)}
    return sorted(f"{ip}/32" for ip in ips)


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


def rule_conditions(topo, pol_idx, rule_idx, rule):
    """HAProxy ACL lines plus the OR-of-ANDs condition for one Istio rule (from AND to AND when)."""
    if rule.get("when"):
        die("rule.when is not supported by the lab")
    base = f"p{pol_idx}r{rule_idx}"
    acls, from_names, to_groups = [], [], []
    froms = rule.get("from", [])
    if froms:
        cidrs, anysrc = [], False
        for f in froms:
            c = source_cidrs(topo, f.get("source", {}))
            if c is None:
                anysrc = True
            else:
                cidrs.extend(c)
        if not anysrc:
            name = f"{base}_from"
            # An empty source set matches nobody; 192.0.2.0/32 (TEST-NET-1) is never a lab address.
            acls.append(f"  acl {name} src {' '.join(sorted(set(cidrs))) or '192.0.2.0/32'}")
            from_names.append(name)
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
    ors = []
    for g in to_groups:
        terms = from_names + g
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
            acls, cond = rule_conditions(topo, i, r_idx, rule)
            lines.extend(acls)
            pid = f"ns[{ns}]-policy[{pol['metadata']['name']}]-rule[{r_idx}]"
            lines.append(f"  http-request set-var(txn.rbac) str({pid}) if !{{ var(txn.rbac) -m found }} {cond}")
    allows = [(i, p) for i, p in applying if p["spec"].get("action", "ALLOW") == "ALLOW"]
    if allows:
        for i, pol in allows:
            for r_idx, rule in enumerate(pol["spec"].get("rules", [])):
                acls, cond = rule_conditions(topo, i, r_idx, rule)
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
    # Last, so the counter sees the final status and response flags (sidecar-metrics.lua).
    "  http-after-response set-var(txn.counted) lua.istio_count",
]


def haproxy_cfg(topo, pod, services_map, workloads_map):
    rbac, policies = rbac_lines(topo, pod)
    cfg = [
        f"# Sidecar of {pod['name']}: generated by lab/labgen.py, do not edit.",
        f"# Policies applied: {', '.join(policies) or '(none: allow all)'}",
        "global",
        "  log stdout format raw local0",
        "  nbthread 2",
        "  maxconn 4096",
        "  hard-stop-after 2s",
        f"  setenv LAB_POD {pod['name']}",
        f"  setenv LAB_NAMESPACE {topo['namespace']}",
        f"  setenv LAB_WORKLOADS_MAP {workloads_map}",
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
        "frontend inbound",
        f"  bind 0.0.0.0:{INBOUND_PORT}",
        *COMMON_REQUEST,
        # Envoy knows the inbound cluster before RBAC runs, so a denial still logs it.
        "  http-request set-var-fmt(txn.cluster) \"inbound|%[dst_port]||\"",
        *rbac,
        "  http-request set-var-fmt(txn.uhost) \"127.0.0.1:%[dst_port]\"",
        *COMMON_RESPONSE,
        "  default_backend inbound_app",
        "",
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
        *COMMON_RESPONSE,
        "  default_backend outbound_orig_dst",
        "",
        "backend outbound_orig_dst",
        # 0.0.0.0:0 = the connection's original destination (HAProxy reads SO_ORIGINAL_DST after REDIRECT).
        "  server orig_dst 0.0.0.0:0",
        "",
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


def snapshot(topo, prefix):
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
        items.append({"apiVersion": "v1", "kind": "Pod",
                      "metadata": {"name": p["name"], "namespace": ns, "labels": p["labels"], "annotations": annotations},
                      "spec": spec,
                      "status": {"phase": "Running", "podIP": p["ip"], "podIPs": [{"ip": p["ip"]}], "hostIP": topo["gateway"],
                                 "conditions": [{"type": "Ready", "status": "True"}]}})
        items.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": p["name"], "namespace": ns,
                      "labels": {"app": p["labels"].get("app", p["name"])}},
                      # Headless: the lab has no kube-proxy; callers dial the pod IP, like a headless service.
                      "spec": {"clusterIP": "None", "selector": p["labels"],
                               "ports": [{"name": "http", "port": p["appPort"], "targetPort": p["appPort"], "protocol": "TCP"}]}})
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
    services_map = os.path.join(state, "services.map")
    workloads_map = os.path.join(state, "workloads.map")
    os.makedirs(state, exist_ok=True)
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
        host_if = f"lab-{name}"[:15]
        app_cfg = {"pod": name, "port": p["appPort"], "bypassPort": p["appPort"] + 1,
                   "upstreams": {u: f"{by_name[u]['ip']}:{by_name[u]['appPort']}" for u in p.get("upstreams", [])}}
        with open(os.path.join(pdir, "app.json"), "w") as f:
            json.dump(app_cfg, f, indent=2)
        sidecar = None
        if p.get("sidecar"):
            with open(os.path.join(pdir, "haproxy.cfg"), "w") as f:
                f.write(haproxy_cfg(topo, p, services_map, workloads_map))
            sidecar = {"kind": "haproxy", "uid": SIDECAR_UID, "gid": SIDECAR_UID, "inboundPort": INBOUND_PORT,
                       "outboundPort": OUTBOUND_PORT, "inboundSource": INBOUND_SOURCE, "healthPort": HEALTH_PORT,
                       "metricsPort": METRICS_PORT, "istioMetrics": f"http://{p['ip']}:{ISTIO_METRICS_PORT}/stats/prometheus",
                       "accessLog": os.path.join(pdir, "access.log"),
                       "accessLogFormat": "istio-default-text",
                       "excludedInboundPorts": [15090, 15021, 15020]}
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
        "node": {"netns": f"{prefix}-node", "netnsPath": f"/run/netns/{prefix}-node", "bridge": f"{prefix}0"},
        "cgroupRoot": cg_root, "stateDir": state, "pods": pods_out,
        "policies": topo["policies"],
    }
    os.makedirs(os.path.join(state, "snapshot"), exist_ok=True)
    with open(os.path.join(state, "snapshot", "lab.json"), "w") as f:
        json.dump(snapshot(topo, prefix), f, indent=1)
        f.write("\n")
    lab["snapshot"] = os.path.join(state, "snapshot")
    with open(os.path.join(state, "pods.json.tmp"), "w") as f:
        json.dump(lab, f, indent=2)
        f.write("\n")
    os.replace(os.path.join(state, "pods.json.tmp"), os.path.join(state, "pods.json"))


if __name__ == "__main__":
    main()
