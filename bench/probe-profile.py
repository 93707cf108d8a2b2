#!/usr/bin/env python3
"""Report for bench/probe-profile.sh: the probe's share of perf samples by program and by the function the sample
landed in, and for samples in the JIT code, by source line (maps from build/jit_lines).

Usage: probe-profile.py STACKS LEAVES OUT_PREFIX SOURCE
  STACKS  perf script -F comm,ip,sym (call chains)    LEAVES  perf script -F ip,sym,symoff --hide-call-graph
"""
import bisect
import collections
import glob
import os
import re
import sys

stacks_path, leaves_path, out, source = sys.argv[1:5]
top = int(sys.argv[5]) if len(sys.argv) > 5 else 12  # source lines shown per program


def stacks(path):
    cur = []
    with open(path) as f:
        for line in f:
            line = line.rstrip()
            if not line:
                if cur:
                    yield cur
                cur = []
            else:
                cur.append(line)
    if cur:
        yield cur


def sym(frame):
    parts = frame.split()
    return parts[1] if len(parts) > 1 else parts[0]


PROG = re.compile(r"^bpf_prog_[0-9a-f]+_(\w+)$")
by_prog = collections.Counter()
by_leaf = collections.Counter()
for st in stacks(stacks_path):
    frames = [sym(f) for f in st[1:]]
    progs = [m.group(1) for m in (PROG.match(f) for f in frames) if m]
    if not progs or not progs[0].startswith("shadow_"):
        continue
    by_prog[progs[0]] += 1
    leaf = frames[0]
    by_leaf[(progs[0], "(JIT code)" if PROG.match(leaf) else leaf)] += 1
total = sum(by_prog.values())
if not total:
    print("probe-profile: no samples in the probe's programs")
    sys.exit(1)
print(f"samples with a probe program on the stack: {total}")
print("by program: " + ", ".join(f"{p} {100 * n / total:.1f} %" for p, n in by_prog.most_common()))
print("\nby program and the function the sample landed in (top 20):")
for (p, leaf), n in by_leaf.most_common(20):
    print(f"  {100 * n / total:5.1f} %  {p:20s} {leaf}")

leaf_offsets = collections.Counter()
with open(leaves_path) as f:
    for line in f:
        m = re.search(r"bpf_prog_[0-9a-f]+_(shadow_\w+)\+0x([0-9a-f]+)", line)
        if m:
            leaf_offsets[(m.group(1), int(m.group(2), 16))] += 1
src = open(source).read().split("\n")
for lines_file in sorted(glob.glob(out + ".*.lines")):
    prog = os.path.basename(lines_file)[len(os.path.basename(out)) + 1:-len(".lines")]
    rows = []
    with open(lines_file) as f:
        for line in f:
            off, num = line.split()[:2]
            rows.append((int(off, 16), int(num)))
    rows.sort()
    offs = [r[0] for r in rows]
    per_line = collections.Counter()
    n_prog = 0
    for (p, off), n in leaf_offsets.items():
        if p != prog:
            continue
        i = bisect.bisect_right(offs, off - 1) - 1  # the sample IP follows the instruction that stalled
        if i >= 0:
            per_line[rows[i][1]] += n
            n_prog += n
    if not n_prog:
        continue
    print(f"\n{prog}: JIT code {100 * n_prog / total:.1f} % of the probe's samples; by source line (top {top}):")
    for num, n in per_line.most_common(top):
        text = src[num - 1].strip() if 0 < num <= len(src) else ""
        print(f"  {100 * n / total:5.1f} %  L{num}: {text[:90]}")
