#!/usr/bin/env python3
"""Reads `wrk --latency` output on stdin, prints the same JSON shape as lab/loadgen.mjs (argv[1] = url)."""
import json
import re
import sys

text = sys.stdin.read()


def ms(v, unit):
    return round(float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit], 3)


lat = {}
for pct, v, unit in re.findall(r"^\s+(50|90|99)%\s+([\d.]+)(us|ms|s)\s*$", text, re.M):
    lat["p" + pct] = ms(v, unit)
m = re.search(r"(\d+) requests in ([\d.]+)(s|ms|m)", text)
rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
mx = re.search(r"^\s+Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)", text, re.M)
if not m or not rps:
    sys.stderr.write("wrk2json: could not parse wrk output:\n" + text)
    sys.exit(1)
errors = sum(int(x) for x in errs.groups()) if errs else 0
print(json.dumps({
    "url": sys.argv[1], "mode": "max", "tool": "wrk", "requests": int(m.group(1)), "errors": errors,
    "non2xx": int(non2xx.group(1)) if non2xx else 0, "rps": float(rps.group(1)),
    "latencyMs": {"p50": lat.get("p50"), "p90": lat.get("p90"), "p99": lat.get("p99"),
                  "max": ms(*mx.groups()) if mx else None},
}))
