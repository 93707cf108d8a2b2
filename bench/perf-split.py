#!/usr/bin/env python3
"""Where the probe's cost lands at saturation (issue 5, part 9): the machine's CPU per request with the probe on and
off, by who spends it and on what, from `perf record -a -g -k CLOCK_MONOTONIC` taken during a lab-overhead run.

Each cpu-clock sample is 1/F s of one CPU, idle included (swapper), so samples per request in each variant are CPU
time per request. The on/off difference splits into the probe's own programs (a bpf_prog_*_shadow* frame on the
stack, helpers included) and everything else: the apps, the sidecar, the kernel's network path. The "else" part is
what the probe costs others (cold caches, ...), which the kernel's run-time stats cannot see.

Input: perf script -F comm,pid,tid,time,ip,sym,dso (call chains on, one blank line between samples), the run's
segments (lab-overhead toggle --out), its samples (loadgen --samples: write time in µs of CLOCK_MONOTONIC, latency),
and a pid map (lines "PID LABEL"). Stats pairs (BPF run-time stats on) are left out: their "on" half pays for stats.

Usage: perf-split.py --freq F --script FILE --segments FILE --samples FILE[.gz] [--pids FILE] [--top 25] [--json OUT]
"""
import argparse
import collections
import gzip
import json
import math
import re

ap = argparse.ArgumentParser()
ap.add_argument('--freq', type=float, required=True)
ap.add_argument('--script', required=True)
ap.add_argument('--segments', required=True)
ap.add_argument('--samples', required=True)
ap.add_argument('--pids')
ap.add_argument('--top', type=int, default=25)
ap.add_argument('--json', help='also write the tables as JSON here')
a = ap.parse_args()

segs = [json.loads(l) for l in open(a.segments) if l.strip()]
segs = [s for s in segs if not s.get('stats')]
segs.sort(key=lambda s: s['startUs'])
starts = [s['startUs'] for s in segs]

# requests per variant: those written inside a segment
opener = gzip.open if a.samples.endswith('.gz') else open
req = collections.Counter()
import bisect
with opener(a.samples, 'rt') as f:
    for line in f:
        sp = line.find(' ')
        if sp < 0:
            continue
        t = float(line[:sp])
        i = bisect.bisect_right(starts, t) - 1
        if i >= 0 and t < segs[i]['endUs']:
            req[segs[i]['variant']] += 1
seg_us = collections.Counter()
for s in segs:
    seg_us[s['variant']] += s['endUs'] - s['startUs']

labels = {}
if a.pids:
    for line in open(a.pids):
        p = line.split(None, 1)
        if len(p) == 2:
            labels[p[0]] = p[1].strip()


def who(comm, pid):
    if pid in labels:
        return labels[pid]
    if comm.startswith('swapper'):
        return 'idle'
    if comm.startswith('ksoftirqd'):
        return 'ksoftirqd'
    if comm.startswith('kworker'):
        return 'kworker'
    return 'other:' + comm


head_re = re.compile(r'^\s*(\S.*?)\s+(\d+)/(\d+)\s+(?:\[\d+\]\s+)?(\d+\.\d+):')
frame_re = re.compile(r'^\s+([0-9a-f]+)\s+(.*?)\s+\((.*)\)\s*$')
by_who = {'on': collections.Counter(), 'off': collections.Counter()}
by_sym = {'on': collections.Counter(), 'off': collections.Counter()}
n = collections.Counter()


def flush(sample):
    if not sample:
        return
    t_us, comm, pid, frames = sample
    i = bisect.bisect_right(starts, t_us) - 1
    if i < 0 or t_us >= segs[i]['endUs']:
        return
    v = segs[i]['variant']
    n[v] += 1
    probe = any(sym.startswith('bpf_prog_') and 'shadow' in sym for sym, _ in frames)
    leaf, dso = frames[0] if frames else ('?', '?')
    space = 'kernel' if 'kernel' in dso or leaf.startswith('bpf_prog_') else 'user'
    if probe:
        by_who[v]['probe programs (incl. helpers)'] += 1
        by_sym[v]['[probe] ' + leaf] += 1
    else:
        by_who[v][f'{who(comm, pid)} ({space})'] += 1
        by_sym[v][f'{leaf} [{dso.split("/")[-1]}]'] += 1


span = [math.inf, -math.inf]
cur = None
with open(a.script, errors='replace') as f:
    for line in f:
        if not line.strip():
            flush(cur)
            cur = None
            continue
        if cur is None:
            m = head_re.match(line)
            if m:
                cur = (float(m.group(4)) * 1e6, m.group(1), m.group(2), [])
                span[0], span[1] = min(span[0], cur[0]), max(span[1], cur[0])
            continue
        m = frame_re.match(line)
        if m:
            cur[3].append((re.sub(r'\+0x[0-9a-f]+$', '', m.group(2)), m.group(3)))
flush(cur)

us_per_sample = 1e6 / a.freq
if not req['on'] or not req['off']:
    raise SystemExit('perf-split: no requests in one variant (segments and samples from different runs?)')
if not n['on'] or not n['off']:
    raise SystemExit(f'perf-split: no perf samples inside the segments: samples span {span[0]:.0f}-{span[1]:.0f} µs, '
                     f'segments {segs[0]["startUs"]}-{segs[-1]["endUs"]} µs (perf record -k CLOCK_MONOTONIC?)')
print(f"perf-split: {len(segs) // 2} pairs (stats pairs left out); requests off {req['off']:,}, on {req['on']:,}; "
      f"samples off {n['off']:,}, on {n['on']:,}")
cpus_off = n['off'] * us_per_sample / seg_us['off']
cpus_on = n['on'] * us_per_sample / seg_us['on']
print(f"CPUs sampled: off {cpus_off:.3f}, on {cpus_on:.3f} (idle included); req/s off "
      f"{req['off'] / seg_us['off'] * 1e6:,.0f}, on {req['on'] / seg_us['on'] * 1e6:,.0f}")
tot_off = n['off'] * us_per_sample / req['off']


def rows_of(counters):
    rows = []
    for k in set(counters['on']) | set(counters['off']):
        on, off = counters['on'][k], counters['off'][k]
        # Poisson error of the difference
        se = us_per_sample * math.sqrt(on / req['on'] ** 2 + off / req['off'] ** 2)
        rows.append({'key': k, 'offUs': off * us_per_sample / req['off'], 'onUs': on * us_per_sample / req['on'], 'seUs': se})
    for r in rows:
        r['diffUs'] = r['onUs'] - r['offUs']
    rows.sort(key=lambda r: (-abs(r['diffUs']), r['key']))
    return rows


def table(title, rows, top):
    print(f'\n{title} (CPU-µs per request; the difference as a share of all CPU per request off, {tot_off:.0f} µs)')
    print(f"{'off':>9} {'on':>9} {'on-off':>9} {'±se':>6} {'share':>7}  who")
    for r in rows[:top]:
        print(f"{r['offUs']:9.2f} {r['onUs']:9.2f} {r['diffUs']:+9.2f} {r['seUs']:6.2f} {r['diffUs'] / tot_off * 100:+6.2f}%  {r['key']}")
    s = sum(r['diffUs'] for r in rows)
    print(f"{'':>9} {'':>9} {s:+9.2f} {'':>6} {s / tot_off * 100:+6.2f}%  all")


who_rows, sym_rows = rows_of(by_who), rows_of(by_sym)
table('By who', who_rows, 40)
table('By leaf symbol, largest differences', sym_rows, a.top)
if a.json:
    with open(a.json, 'w') as f:
        json.dump({'freq': a.freq, 'pairs': len(segs) // 2, 'requests': req, 'samples': n,
                   'reqPerSec': {v: req[v] / seg_us[v] * 1e6 for v in ('off', 'on')},
                   'cpuUsPerRequestOff': tot_off, 'byWho': who_rows, 'bySymbol': sym_rows[:a.top]}, f, indent=1)
