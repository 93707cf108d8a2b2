#!/usr/bin/env python3
"""Where the probe's cost lands at saturation (issue 5, part 9): the machine's CPU per request with the probe on and
off, by who spends it and on what, from `perf record -a -g -k CLOCK_MONOTONIC` taken during a lab-overhead run.

Each cpu-clock sample is 1/F s of one CPU, idle included (swapper), so samples per request in each variant are CPU
time per request. The on/off difference splits into the probe's own programs (a bpf_prog_*_shadow* frame on the
stack, helpers included) and everything else: the apps, the sidecar, the kernel's network path. The "else" part is
what the probe costs others (cold caches, ...), which the kernel's run-time stats cannot see.

The error of each difference comes from a bootstrap over segment pairs (both halves of a drawn pair together), as
the latency ratios do: the machine's phases move every process's CPU per request at once, which a count's Poisson
error would not show. One run's error on a process is a few µs per request; --pool adds runs up.

Input: perf script -F comm,pid,tid,time,ip,sym,dso (call chains on, one blank line between samples), the run's
segments (lab-overhead toggle --out), its samples (loadgen --samples: write time in µs of CLOCK_MONOTONIC, latency),
and a pid map (lines "PID LABEL"). Stats pairs (BPF run-time stats on) are left out: their "on" half pays for stats.
--counts writes the run's per-pair sample counts (small), which --pool reads back, several runs at once.

Usage: perf-split.py --freq F --script FILE --segments FILE --samples FILE[.gz] [--pids FILE] [--counts OUT]
                     [--top 25] [--resamples 1000] [--json OUT]
       perf-split.py --pool COUNTS... [--top 25] [--resamples 1000] [--json OUT]
"""
import argparse
import bisect
import collections
import gzip
import json
import math
import random
import re
import sys

HEAD_RE = re.compile(r'^\s*(\S.*?)\s+(\d+)/(\d+)\s+(?:\[\d+\]\s+)?(\d+\.\d+):')
FRAME_RE = re.compile(r'^\s+([0-9a-f]+)\s+(.*?)\s+\((.*)\)\s*$')
PROBE = 'probe programs (incl. helpers)'


def die(msg):
    sys.stderr.write(f'perf-split: {msg}\n')
    sys.exit(2)


def collect(a):
    """one run's counts: requests and segment time per (pair, variant), samples per key per (pair, variant)"""
    segs = [json.loads(l) for l in open(a.segments) if l.strip()]
    segs = sorted((s for s in segs if not s.get('stats')), key=lambda s: s['startUs'])
    if not segs:
        die(f'no segments in {a.segments}')
    starts = [s['startUs'] for s in segs]

    def seg_of(t_us):
        i = bisect.bisect_right(starts, t_us) - 1
        return segs[i] if i >= 0 and t_us < segs[i]['endUs'] else None

    req = collections.Counter()
    opener = gzip.open if a.samples.endswith('.gz') else open
    with opener(a.samples, 'rt') as f:
        for line in f:
            sp = line.find(' ')
            s = seg_of(float(line[:sp])) if sp > 0 else None
            if s:
                req[f"{s['pair']} {s['variant']}"] += 1
    seg_us = collections.Counter()
    for s in segs:
        seg_us[f"{s['pair']} {s['variant']}"] += s['endUs'] - s['startUs']

    labels = {}
    for line in open(a.pids) if a.pids else []:
        p = line.split(None, 1)
        if len(p) == 2:
            labels[p[0]] = p[1].strip()

    def who(comm, pid):
        if pid in labels:
            return labels[pid]
        for prefix, name in (('swapper', 'idle'), ('ksoftirqd', 'ksoftirqd'), ('kworker', 'kworker')):
            if comm.startswith(prefix):
                return name
        return 'other:' + comm

    by_who = collections.defaultdict(collections.Counter)  # key -> "pair variant" -> samples
    by_sym = collections.defaultdict(collections.Counter)
    span = [math.inf, -math.inf]

    def flush(sample):
        t_us, comm, pid, frames = sample
        span[0], span[1] = min(span[0], t_us), max(span[1], t_us)
        s = seg_of(t_us)
        if not s:
            return
        pv = f"{s['pair']} {s['variant']}"
        leaf, dso = frames[0] if frames else ('?', '?')
        if any(sym.startswith('bpf_prog_') and 'shadow' in sym for sym, _ in frames):
            kw, ks = PROBE, '[probe] ' + leaf
        else:
            space = 'kernel' if 'kernel' in dso or leaf.startswith('bpf_prog_') else 'user'
            kw, ks = f'{who(comm, pid)} ({space})', f'{leaf} [{dso.split("/")[-1]}]'
        by_who[kw][pv] += 1
        by_sym[ks][pv] += 1

    cur = None
    with open(a.script, errors='replace') as f:
        for line in f:
            if not line.strip():
                if cur:
                    flush(cur)
                cur = None
            elif cur is None:
                m = HEAD_RE.match(line)
                if m:
                    cur = (float(m.group(4)) * 1e6, m.group(1), m.group(2), [])
            else:
                m = FRAME_RE.match(line)
                if m:
                    cur[3].append((re.sub(r'\+0x[0-9a-f]+$', '', m.group(2)), m.group(3)))
    if cur:
        flush(cur)
    if not any(by_who.values()):
        die(f'no perf samples inside the segments: samples span {span[0]:.0f}-{span[1]:.0f} µs, segments '
            f'{segs[0]["startUs"]}-{segs[-1]["endUs"]} µs (perf record -k CLOCK_MONOTONIC?)')
    return {'freq': a.freq, 'requests': req, 'segmentUs': seg_us, 'byWho': by_who, 'bySymbol': by_sym}


def pool(files):
    """runs added up: each run's pairs keep their own identity (run index in front of the pair number)"""
    out = {'freq': None, 'requests': collections.Counter(), 'segmentUs': collections.Counter(),
           'byWho': collections.defaultdict(collections.Counter), 'bySymbol': collections.defaultdict(collections.Counter)}
    for r, path in enumerate(files):
        c = json.load(open(path))
        if out['freq'] not in (None, c['freq']):
            die(f'{path}: sampled at {c["freq"]} Hz, the others at {out["freq"]}: pool runs of one frequency')
        out['freq'] = c['freq']
        for field in ('requests', 'segmentUs'):
            for pv, x in c[field].items():
                out[field][f'{r}.{pv}'] += x
        for field in ('byWho', 'bySymbol'):
            for k, per in c[field].items():
                for pv, x in per.items():
                    out[field][k][f'{r}.{pv}'] += x
    return out


def report(c, top, resamples):
    us_per_sample = 1e6 / c['freq']
    variant = lambda pv: pv.rsplit(' ', 1)[1]
    pair = lambda pv: pv.rsplit(' ', 1)[0]
    tot = lambda counter, v: sum(x for pv, x in counter.items() if variant(pv) == v)
    req = {v: tot(c['requests'], v) for v in ('off', 'on')}
    seg_us = {v: tot(c['segmentUs'], v) for v in ('off', 'on')}
    if not req['on'] or not req['off']:
        die('no requests in one variant (segments and samples from different runs?)')
    everything = collections.Counter()
    for per in c['byWho'].values():
        everything.update(per)
    n = {v: tot(everything, v) for v in ('off', 'on')}
    pairs = sorted({pair(pv) for pv in c['segmentUs']})
    rng = random.Random(1)
    draws = [[rng.choice(pairs) for _ in pairs] for _ in range(resamples)]
    draw_req = [(sum(c['requests'].get(f'{p} off', 0) for p in d), sum(c['requests'].get(f'{p} on', 0) for p in d)) for d in draws]

    def boot_se(per):
        """standard deviation of the on-off difference in CPU-µs per request over the pair draws"""
        diffs = []
        for d, (r_off, r_on) in zip(draws, draw_req):
            if r_off and r_on:
                off = sum(per.get(f'{p} off', 0) for p in d)
                on = sum(per.get(f'{p} on', 0) for p in d)
                diffs.append(us_per_sample * (on / r_on - off / r_off))
        if len(diffs) < 2:
            return float('nan')
        m = sum(diffs) / len(diffs)
        return math.sqrt(sum((x - m) ** 2 for x in diffs) / (len(diffs) - 1))

    def rows_of(by_key, top):
        rows = [{'key': k, 'offUs': tot(per, 'off') * us_per_sample / req['off'], 'onUs': tot(per, 'on') * us_per_sample / req['on']}
                for k, per in by_key.items()]
        for r in rows:
            r['diffUs'] = r['onUs'] - r['offUs']
        rows.sort(key=lambda r: (-abs(r['diffUs']), r['key']))
        shown, rest = rows[:top], collections.Counter()
        for r in rows[top:]:
            rest.update(by_key[r['key']])
        for r in shown:
            r['seUs'] = boot_se(by_key[r['key']])
        if len(rows) > top:
            shown.append({'key': 'the rest', 'offUs': sum(r['offUs'] for r in rows[top:]), 'onUs': sum(r['onUs'] for r in rows[top:]),
                          'diffUs': sum(r['diffUs'] for r in rows[top:]), 'seUs': boot_se(rest)})
        shown.append({'key': 'all', 'offUs': n['off'] * us_per_sample / req['off'], 'onUs': n['on'] * us_per_sample / req['on'],
                      'seUs': boot_se(everything)})
        shown[-1]['diffUs'] = shown[-1]['onUs'] - shown[-1]['offUs']
        return shown

    tot_off = n['off'] * us_per_sample / req['off']
    print(f"perf-split: {len(pairs)} pairs (stats pairs left out); requests off {req['off']:,}, on {req['on']:,}; "
          f"samples off {n['off']:,}, on {n['on']:,}")
    print(f"CPUs sampled: off {n['off'] * us_per_sample / seg_us['off']:.3f}, on {n['on'] * us_per_sample / seg_us['on']:.3f} "
          f"(idle included); req/s off {req['off'] / seg_us['off'] * 1e6:,.0f}, on {req['on'] / seg_us['on'] * 1e6:,.0f}")
    tables = {}
    for name, title, by_key, limit in (('byWho', 'By who', c['byWho'], 40),
                                       ('bySymbol', 'By leaf symbol, largest differences', c['bySymbol'], top)):
        rows = tables[name] = rows_of(by_key, limit)
        print(f'\n{title} (CPU-µs per request; ±: one standard error over the pairs; share: of all CPU per request off, '
              f'{tot_off:.0f} µs)')
        print(f"{'off':>9} {'on':>9} {'on-off':>9} {'±':>6} {'share':>7}  who")
        for r in rows:
            print(f"{r['offUs']:9.2f} {r['onUs']:9.2f} {r['diffUs']:+9.2f} {r['seUs']:6.2f} {r['diffUs'] / tot_off * 100:+6.2f}%  {r['key']}")
    return {'freq': c['freq'], 'pairs': len(pairs), 'requests': req, 'samples': n,
            'reqPerSec': {v: req[v] / seg_us[v] * 1e6 for v in ('off', 'on')}, 'cpuUsPerRequestOff': tot_off, **tables}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--freq', type=float)
    ap.add_argument('--script')
    ap.add_argument('--segments')
    ap.add_argument('--samples')
    ap.add_argument('--pids')
    ap.add_argument('--counts', help="write this run's per-pair counts here (for --pool)")
    ap.add_argument('--pool', nargs='+', metavar='COUNTS', help='report on these runs together')
    ap.add_argument('--top', type=int, default=25)
    ap.add_argument('--resamples', type=int, default=1000)
    ap.add_argument('--json', help='also write the tables as JSON here')
    a = ap.parse_args()
    if a.pool:
        c = pool(a.pool)
    else:
        if not (a.freq and a.script and a.segments and a.samples):
            die('needs --freq, --script, --segments and --samples (or --pool COUNTS...)')
        c = collect(a)
        if a.counts:
            with open(a.counts, 'w') as f:
                json.dump(c, f)
    out = report(c, a.top, a.resamples)
    if a.json:
        with open(a.json, 'w') as f:
            json.dump(out, f, indent=1)


main()
