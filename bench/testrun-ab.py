#!/usr/bin/env python3
"""A/B of two shadow-probe builds in the test run: alternating invocations of their bench_testrun on one case (A
first in even pairs, B first in odd ones), so that the machine's phases fall on both alike; prints each build's
median and the median and quartiles of the per-pair ratio B/A. For "cold", the L1/L2-flushed case's four packets.

Usage: bench/testrun-ab.py BUILD_DIR_A BUILD_DIR_B CASE [PAIRS [REPEAT [ROUNDS]]]
  e.g. bench/testrun-ab.py /tmp/wt-base/shadow-probe/build shadow-probe/build tc_http_request 20
Run it under the lab lock: flock -o /tmp/migrate-lab.lock bench/testrun-ab.py ...
"""
import json
import statistics
import subprocess
import sys

COLD_KEYS = ("tc_http_request", "tc_http_response", "tc_ack_known_flow", "cgroup_skb_http_request")


def run(build, case, repeat, rounds):
    out = subprocess.run([build + "/bench_testrun", repeat, rounds, case], capture_output=True, text=True)
    for line in out.stdout.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if case == "cold" and row.get("case") == "cold_l1l2_flushed":
            return row
        if row.get("case") == case:
            return row["ns_per_packet_min"]
    sys.exit(f"testrun-ab: {build}/bench_testrun gave no {case} result: {out.stderr.strip()[-300:]}")


def report(name, a, b):
    ratios = sorted(y / x for x, y in zip(a, b))
    n = len(ratios)
    print(f"{name}: A median {statistics.median(a):.0f} ns, B median {statistics.median(b):.0f} ns, "
          f"B/A per pair median x{statistics.median(ratios):.3f} [q1 {ratios[n // 4]:.3f}, q3 {ratios[3 * n // 4]:.3f}] "
          f"({n} pairs)")


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    build_a, build_b, case = sys.argv[1:4]
    pairs = int(sys.argv[4]) if len(sys.argv) > 4 else 20
    repeat = sys.argv[5] if len(sys.argv) > 5 else ("300000" if case != "cold" else "1000")
    rounds = sys.argv[6] if len(sys.argv) > 6 else "3"
    a, b = [], []
    for i in range(pairs):
        order = ((build_a, a), (build_b, b)) if i % 2 == 0 else ((build_b, b), (build_a, a))
        for build, acc in order:
            acc.append(run(build, case, repeat, rounds))
    if case == "cold":
        for k in COLD_KEYS:
            report(f"cold_l1l2_flushed {k}", [r[k] for r in a], [r[k] for r in b])
    else:
        report(case, a, b)


if __name__ == "__main__":
    main()
