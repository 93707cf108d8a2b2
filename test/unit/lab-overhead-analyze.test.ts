// bench/lab-overhead.ts analyze on a made-up run (synthetic samples and segments, no lab): the kernel line must
// come only from pairs that had BPF stats on. A run toggled with one stats pair in N but shorter than N pairs has
// none, and its BPF counters never ran; before, the report said "BPF stats on for the whole run" and printed zero
// program runs as a measurement.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/cluster.js';

function fakeRun(dir: string, statsPair: number | null): { samples: string; segments: string; bpf: string } {
  const samples: string[] = [];
  const segments: string[] = [];
  const segUs = 2_000_000;
  for (let k = 0; k < 6; k++) {
    const pair = Math.floor(k / 2);
    const variant = [0, 3].includes(k % 4) ? 'off' : 'on'; // ABBA
    const startUs = 1_000_000 + k * segUs;
    const stats = statsPair === pair;
    segments.push(JSON.stringify({ pair, variant, startUs, endUs: startUs + segUs, switchedUs: startUs, reloadMs: 100, ...(stats ? { stats } : {}) }));
    for (let t = startUs + 400_000; t < startUs + segUs - 20_000; t += 1000) samples.push(`${t} ${variant === 'on' ? 1010 + (t % 7) : 1000 + (t % 7)}`);
  }
  const f = { samples: join(dir, 'run.samples'), segments: join(dir, 'run.segments.jsonl'), bpf: join(dir, 'run.bpf.json') };
  writeFileSync(f.samples, samples.join('\n') + '\n');
  writeFileSync(f.segments, segments.join('\n') + '\n');
  writeFileSync(f.bpf, JSON.stringify({ run_time_ns: statsPair === null ? 0 : 5_000_000, run_cnt: statsPair === null ? 0 : 5000, programs: {} }));
  return f;
}

function analyze(f: { samples: string; segments: string; bpf: string }, statsEvery: string): string {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'dist', 'bench', 'lab-overhead.js'), 'analyze', '--samples', f.samples, '--segments', f.segments,
    '--bpf', f.bpf, '--stats-every', statsEvery, '--label', 'fake', '--resamples', '200'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

test('analyze: a run too short to reach a stats pair says so and prints no kernel line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lab-overhead-'));
  try {
    const out = analyze(fakeRun(dir, null), '5');
    assert.match(out, /no pair had BPF stats on \(one in 5\): no kernel lines/);
    assert.doesNotMatch(out, /BPF stats on for the whole run/);
    assert.doesNotMatch(out, /kernel: BPF/);
    assert.match(out, /p50: off 1\.00\d ms, on 1\.01\d ms/); // the latency verdict is still there
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('analyze: with a stats pair, or stats on throughout (--stats-every 0), the kernel line is printed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lab-overhead-'));
  try {
    const withPair = analyze(fakeRun(dir, 1), '5');
    assert.match(withPair, /BPF stats on only in 1 further pairs/);
    assert.match(withPair, /kernel: BPF [\d.]+ µs\/request \(5000 program runs/);
    const whole = analyze(fakeRun(dir, null), '0');
    assert.match(whole, /BPF stats on for the whole run/);
    assert.match(whole, /kernel: BPF/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
