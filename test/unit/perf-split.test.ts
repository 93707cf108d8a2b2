// bench/perf-split.py: the machine's CPU per request with the probe on and off, split by who spends it, from perf
// script text. Runs the real script on a made-up perf script (its exact header formats: with and without the
// [CPU] field), segments and samples, whose answer is known: 1 ms per sample at 1000 Hz.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/cluster.js';

interface Row { key: string; offUs: number; onUs: number; diffUs: number; seUs: number }
interface Split { pairs: number; requests: { off: number; on: number }; byWho: Row[]; bySymbol: Row[] }

const T0 = 1000; // s of CLOCK_MONOTONIC
const us = (s: number): number => Math.round(s * 1e6);

function sample(comm: string, pid: number, t: number, frames: [string, string][], cpuField = false): string {
  const head = `${comm.padEnd(15)} ${pid}/${pid}${cpuField ? ' [001]' : ''}  ${t.toFixed(6)}: `;
  return [head, ...frames.map(([sym, dso]) => `\t    ffffffff81000000 ${sym} (${dso})`)].join('\n') + '\n\n';
}

function run(): { split: Split; text: string } {
  const dir = mkdtempSync(join(tmpdir(), 'perf-split-'));
  // pair 0: off [T0, T0+1), on [T0+1, T0+2); pair 1 is a stats pair (left out) at [T0+2, T0+4)
  const segs = [
    { pair: 0, variant: 'off', startUs: us(T0), endUs: us(T0 + 1) },
    { pair: 0, variant: 'on', startUs: us(T0 + 1), endUs: us(T0 + 2) },
    { pair: 1, variant: 'on', startUs: us(T0 + 2), endUs: us(T0 + 3), stats: true },
    { pair: 1, variant: 'off', startUs: us(T0 + 3), endUs: us(T0 + 4), stats: true },
  ];
  writeFileSync(join(dir, 'segments.jsonl'), segs.map((s) => JSON.stringify(s)).join('\n') + '\n');
  // 100 requests off, 50 on, 10 in the stats pair and 5 between segments (all left out)
  const req: string[] = [];
  for (let i = 0; i < 100; i++) req.push(`${us(T0 + i / 100)} 1.0`);
  for (let i = 0; i < 50; i++) req.push(`${us(T0 + 1 + i / 50)} 1.0`);
  for (let i = 0; i < 10; i++) req.push(`${us(T0 + 2 + i / 10)} 1.0`);
  for (let i = 0; i < 5; i++) req.push(`${us(T0 + 5 + i)} 1.0`);
  writeFileSync(join(dir, 'samples'), req.join('\n') + '\n');
  const k: [string, string] = ['tcp_sendmsg', '[kernel.kallsyms]'];
  const u: [string, string] = ['process_stream', '/usr/sbin/haproxy'];
  const prog: [string, string] = ['bpf_prog_0123456789abcdef_shadow_tc', '[kernel.kallsyms]'];
  let perf = '';
  // off: 10 haproxy kernel samples, 20 user samples; on: the same counts plus 5 with the probe on the stack
  for (let i = 0; i < 10; i++) perf += sample('haproxy', 42, T0 + 0.01 + i * 0.05, [k]);
  for (let i = 0; i < 20; i++) perf += sample('haproxy', 42, T0 + 0.02 + i * 0.04, [u], true);
  for (let i = 0; i < 10; i++) perf += sample('haproxy', 42, T0 + 1.01 + i * 0.05, [k], true);
  for (let i = 0; i < 20; i++) perf += sample('haproxy', 42, T0 + 1.02 + i * 0.04, [u]);
  for (let i = 0; i < 5; i++) perf += sample('haproxy', 42, T0 + 1.03 + i * 0.1, [['skb_copy_bits', '[kernel.kallsyms]'], prog, k]);
  // idle, a stats-pair sample and one outside every segment
  perf += sample('swapper', 0, T0 + 0.5, [['pv_native_safe_halt', '[kernel.kallsyms]']]);
  perf += sample('haproxy', 42, T0 + 2.5, [k]);
  perf += sample('haproxy', 42, T0 + 9, [k]);
  writeFileSync(join(dir, 'perf.txt'), perf);
  writeFileSync(join(dir, 'pids.txt'), '42 pod reviews: haproxy\n');
  const r = spawnSync('python3', [join(REPO_ROOT, 'bench', 'perf-split.py'), '--freq', '1000', '--script', join(dir, 'perf.txt'),
    '--segments', join(dir, 'segments.jsonl'), '--samples', join(dir, 'samples'), '--pids', join(dir, 'pids.txt'), '--json', join(dir, 'out.json')],
  { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return { split: JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8')) as Split, text: r.stdout };
}

test('perf-split: CPU-µs per request by who, probe programs apart, stats pairs and strays left out', () => {
  const { split, text } = run();
  assert.equal(split.pairs, 1);
  assert.deepEqual(split.requests, { off: 100, on: 50 });
  const who = (key: string): Row => split.byWho.find((r) => r.key === key) ?? assert.fail(`no row ${key}: ${JSON.stringify(split.byWho)}`);
  // 1 ms per sample: off 10 ms over 100 requests = 100 µs each; on 10 ms over 50 = 200 µs
  assert.ok(Math.abs(who('pod reviews: haproxy (kernel)').offUs - 100) < 1e-6);
  assert.ok(Math.abs(who('pod reviews: haproxy (kernel)').onUs - 200) < 1e-6);
  assert.ok(Math.abs(who('pod reviews: haproxy (user)').offUs - 200) < 1e-6);
  assert.ok(Math.abs(who('pod reviews: haproxy (user)').onUs - 400) < 1e-6);
  // a probe program anywhere on the stack makes the sample the probe's, its helpers included
  const probe = who('probe programs (incl. helpers)');
  assert.equal(probe.offUs, 0);
  assert.ok(Math.abs(probe.onUs - 100) < 1e-6);
  assert.ok(Math.abs(who('idle (kernel)').offUs - 10) < 1e-6);
  const sym = split.bySymbol.find((r) => r.key === '[probe] skb_copy_bits');
  assert.ok(sym && Math.abs(sym.onUs - 100) < 1e-6, JSON.stringify(split.bySymbol));
  // one pair: every bootstrap draw is that pair, so no spread; "all" is the sum of the rows
  assert.equal(who('pod reviews: haproxy (kernel)').seUs, 0);
  const all = who('all');
  assert.ok(Math.abs(all.diffUs - split.byWho.filter((r) => r.key !== 'all').reduce((t, r) => t + r.diffUs, 0)) < 1e-6);
  assert.ok(Math.abs(all.diffUs - (200 + 400 + 100 - 100 - 200 - 10)) < 1e-6);
  assert.match(text, /requests off 100, on 50/);
});

test('perf-split: the error of a difference comes from the spread between pairs', () => {
  // two pairs of 1 s segments, 100 requests each; the "on" half costs 10 or 30 samples more than "off" (1 ms each):
  // mean difference 200 µs per request, and pairs that disagree, so a spread
  const dir = mkdtempSync(join(tmpdir(), 'perf-split-'));
  const segs = [];
  const req: string[] = [];
  let perf = '';
  const extra = [10, 30];
  for (let p = 0; p < 2; p++) {
    for (const [h, variant] of (['off', 'on'] as const).entries()) {
      const t = T0 + 2 * p + h;
      segs.push({ pair: p, variant, startUs: us(t), endUs: us(t + 1) });
      for (let i = 0; i < 100; i++) req.push(`${us(t + i / 100)} 1.0`);
      const count = 20 + (variant === 'on' ? extra[p] ?? 0 : 0);
      for (let i = 0; i < count; i++) perf += sample('haproxy', 42, t + (i + 0.5) / count, [['tcp_sendmsg', '[kernel.kallsyms]']]);
    }
  }
  writeFileSync(join(dir, 'segments.jsonl'), segs.map((s) => JSON.stringify(s)).join('\n') + '\n');
  writeFileSync(join(dir, 'samples'), req.join('\n') + '\n');
  writeFileSync(join(dir, 'perf.txt'), perf);
  const r = spawnSync('python3', [join(REPO_ROOT, 'bench', 'perf-split.py'), '--freq', '1000', '--script', join(dir, 'perf.txt'),
    '--segments', join(dir, 'segments.jsonl'), '--samples', join(dir, 'samples'), '--json', join(dir, 'out.json'),
    '--counts', join(dir, 'counts.json')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const split = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8')) as Split;
  const row = split.byWho.find((x) => x.key === 'other:haproxy (kernel)') ?? assert.fail(JSON.stringify(split.byWho));
  assert.ok(Math.abs(row.diffUs - 200) < 1e-6, String(row.diffUs));
  // draws: both pairs (diff 200), pair 0 twice (100) or pair 1 twice (300): the standard error is ~71 µs
  assert.ok(row.seUs > 50 && row.seUs < 90, String(row.seUs));

  // the same run pooled with itself: four pairs, twice the requests, the same difference, a smaller error
  const p = spawnSync('python3', [join(REPO_ROOT, 'bench', 'perf-split.py'), '--pool', join(dir, 'counts.json'), join(dir, 'counts.json'),
    '--json', join(dir, 'pooled.json')], { encoding: 'utf8' });
  assert.equal(p.status, 0, p.stderr);
  const pooled = JSON.parse(readFileSync(join(dir, 'pooled.json'), 'utf8')) as Split;
  assert.equal(pooled.pairs, 4);
  assert.deepEqual(pooled.requests, { off: 400, on: 400 });
  const prow = pooled.byWho.find((x) => x.key === 'other:haproxy (kernel)') ?? assert.fail(JSON.stringify(pooled.byWho));
  assert.ok(Math.abs(prow.diffUs - 200) < 1e-6, String(prow.diffUs));
  assert.ok(prow.seUs < row.seUs * 0.85 && prow.seUs > row.seUs * 0.55, `${prow.seUs} against ${row.seUs}`);
});

test('perf-split: says so when the perf samples and the segments do not overlap (perf without -k CLOCK_MONOTONIC)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'perf-split-'));
  writeFileSync(join(dir, 'segments.jsonl'), JSON.stringify({ pair: 0, variant: 'off', startUs: 0, endUs: 1e6 }) + '\n' +
    JSON.stringify({ pair: 0, variant: 'on', startUs: 1e6, endUs: 2e6 }) + '\n');
  writeFileSync(join(dir, 'samples'), '10 1.0\n1000010 1.0\n');
  writeFileSync(join(dir, 'perf.txt'), sample('haproxy', 42, 5000, [['tcp_sendmsg', '[kernel.kallsyms]']]));
  const r = spawnSync('python3', [join(REPO_ROOT, 'bench', 'perf-split.py'), '--freq', '1000', '--script', join(dir, 'perf.txt'),
    '--segments', join(dir, 'segments.jsonl'), '--samples', join(dir, 'samples')], { encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /no perf samples inside the segments.*CLOCK_MONOTONIC/);
});
