#!/usr/bin/env python3
"""Probe config for a lab instance: every pod from pods.json (netns, eth0, cgroup, IP) with an identity, and
a policy that mirrors the lab's AuthorizationPolicies at L3/L4 (who may call whom on the app port) plus L7
rules. Usage: lab-config.py PODS_JSON [--no-policy] > config.json"""
import json
import sys

pods_json = json.load(open(sys.argv[1]))
no_policy = "--no-policy" in sys.argv
pods = pods_json["pods"]
ident = {p["name"]: 1000 + i for i, p in enumerate(pods)}
cfg = {
    "settings": {"rate": 1000, "burst": 200, "intervalMs": 1000},
    "pods": [{"name": p["name"], "netns": p["netns"], "ifname": p["ifname"], "cgroup": p["cgroup"],
              "ip": p["ip"], "identity": ident[p["name"]], "sidecar": p.get("sidecar") is not None} for p in pods],
    "identities": [{"ip": p["ip"], "identity": ident[p["name"]]} for p in pods],
    "policy": [],
    "l7": [],
}
if not no_policy:
    by = {p["name"]: p for p in pods}
    rule = 100
    # callers of each pod: the topology's upstream edges, plus the client pod for everyone
    callers = {p["name"]: set() for p in pods}
    for p in pods:
        for up in p.get("upstreams", []):
            callers.setdefault(up, set()).add(p["name"])
    # twins (bench/lab-twin-topology.json: "<pod>-b" beside "<pod>") take the client's twin as their default
    # caller, and reviews-b takes reviews' L7 rules, so both arms of the concurrent overhead benchmark see the
    # same policy
    twin = {n for n in by if n.endswith("-b") and n[:-2] in by}
    for name, srcs in sorted(callers.items()):
        if name not in by or "appPort" not in by[name]:
            continue
        default = "client-b" if name in twin and "client-b" in by else "client"
        for src in sorted(srcs | {default}):
            if src == name or src not in ident:
                continue
            rule += 1
            cfg["policy"].append({"pod": name, "identity": ident[src], "direction": "ingress", "protocol": "TCP",
                                  "port": by[name]["appPort"], "action": "allow", "ruleId": rule})
    # the reviews pod denies /admin* (mirrors the lab's deny-admin policy): in L7 allow-list terms, allow the rest
    for k, name in enumerate(n for n in ("reviews", "reviews-b") if n in by):
        p = by[name]
        cfg["l7"] += [
            {"pod": name, "port": p["appPort"], "method": "GET", "pathPrefix": "/reviews", "ruleId": 201 + 2 * k},
            {"pod": name, "port": p["appPort"], "pathRegex": "/(health|ready)z?", "ruleId": 202 + 2 * k},
        ]
json.dump(cfg, sys.stdout, indent=1)
print()
