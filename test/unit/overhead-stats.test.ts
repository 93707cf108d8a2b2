import { test } from 'node:test';
import assert from 'node:assert/strict';
import { betweenRuns, bootstrapRatios, poolBySegment, rng, splitStats, statsPair, tailPairs, verdict, weightedQuantile, type Pooled, type Segment } from '../../bench/overhead-stats.js';

const pooled = (lat: number[], pair: number[]): Pooled => {
  const idx = lat.map((_, k) => k).sort((a, b) => lat[a]! - lat[b]!);
  return { latencyUs: Float64Array.from(idx, (k) => lat[k]!), pair: Int32Array.from(idx, (k) => pair[k]!) };
};

test('quantiles of known samples: element floor(p*n) of the sorted samples', () => {
  const x = pooled(Array.from({ length: 100 }, (_, k) => 100 - k), new Array(100).fill(0));
  assert.equal(weightedQuantile(x, [1], 0.5), 51);
  assert.equal(weightedQuantile(x, [1], 0.99), 100);
  assert.equal(weightedQuantile(x, [1], 0), 1);
  assert.equal(weightedQuantile(x, [1], 1), 100);
  assert.equal(weightedQuantile(x, [0], 0.5), null);
  assert.throws(() => weightedQuantile(x, [1], 1.5), /not in \[0, 1\]/);
});

test('weighted quantiles equal the quantiles of the expanded multiset (both walking directions)', () => {
  const rand = rng(7);
  for (let trial = 0; trial < 200; trial++) {
    const pairs = 1 + Math.floor(rand() * 6);
    const n = 1 + Math.floor(rand() * 40);
    const lat = Array.from({ length: n }, () => Math.round(rand() * 1000) / 10);
    const pair = Array.from({ length: n }, () => Math.floor(rand() * pairs));
    const w = Array.from({ length: pairs }, () => Math.floor(rand() * 4));
    const expanded = lat.flatMap((l, k) => new Array(w[pair[k]!]!).fill(l) as number[]).sort((a, b) => a - b);
    for (const p of [0, 0.1, 0.5, 0.51, 0.9, 0.99, 1]) {
      const want = expanded.length ? expanded[Math.min(expanded.length - 1, Math.floor(p * expanded.length))]! : null;
      assert.equal(weightedQuantile(pooled(lat, pair), w, p), want, `trial ${trial} p ${p}`);
    }
  }
});

test('samples go to the segment they started and ended in; those straddling a switch are dropped', () => {
  const segs: Segment[] = [
    { pair: 0, variant: 'off', startUs: 100, endUs: 200 },
    { pair: 0, variant: 'on', startUs: 300, endUs: 400 },
  ];
  //              in off  ends late  before  guard gap  in on  after
  const written = [110,    190,       50,     250,       310,   450];
  const latency = [10,     20,        5,      10,        80,    1];
  const x = poolBySegment(written, latency, segs);
  assert.deepEqual([...x.off.latencyUs], [10]);
  assert.deepEqual([...x.on.latencyUs], [80]);
  assert.equal(x.pairs, 1);
  assert.throws(() => poolBySegment([], [], [segs[0]!, { ...segs[1]!, startUs: 150 }]), /overlap/);
});

test('concurrent design: a twin arm sample counts for the other variant, in the same segment windows', () => {
  const segs: Segment[] = [
    { pair: 0, variant: 'off', startUs: 100, endUs: 200 },
    { pair: 0, variant: 'on', startUs: 300, endUs: 400 },
  ];
  // arm 0 (watched in "on"), arm 1 (the twin, watched in "off"); the 250 sample falls in the guard gap
  const written = [110, 120, 310, 320, 250, 190];
  const latency = [10, 11, 12, 13, 1, 30];
  const arm = [0, 1, 0, 1, 1, 1];
  const x = poolBySegment(written, latency, segs, arm);
  assert.deepEqual([...x.off.latencyUs], [10, 13]); // arm 0 in off, arm 1 in on
  assert.deepEqual([...x.on.latencyUs], [11, 12]); //  arm 1 in off, arm 0 in on; 190+30 straddles the end
  assert.deepEqual([...x.on.pair], [0, 0]);
  assert.throws(() => poolBySegment(written, latency, segs, [0, 1]), /arm has 2 entries for 6 samples/);
});

test('pairs left out of a run (sparse pair ids) are renumbered, so the bootstrap weights line up', () => {
  const segs: Segment[] = [7, 3, 12].flatMap((pair, k) => [
    { pair, variant: 'off' as const, startUs: k * 100, endUs: k * 100 + 40 },
    { pair, variant: 'on' as const, startUs: k * 100 + 50, endUs: k * 100 + 90 },
  ]);
  const written = segs.map((s) => s.startUs + 1);
  const latency = segs.map((s, k) => (s.variant === 'on' ? 11 : 10) + k);
  const x = poolBySegment(written, latency, segs);
  assert.equal(x.pairs, 3);
  assert.deepEqual([...x.off.pair].sort(), [0, 1, 2]);
  const [e] = bootstrapRatios(x, [0.5], { resamples: 50 });
  assert.ok(Number.isFinite(e!.ratio) && e!.lo <= e!.hi, JSON.stringify(e));
  assert.throws(() => bootstrapRatios({ ...x, pairs: 2 }, [0.5]), /outside 0\.\.1/);
});

// Synthetic run: every segment gets its own level drawn from a range (machine noise between periods: what a
// segment-level bootstrap must carry), "on" adds a fixed fraction on top, requests jitter around the level.
function synthetic(pairs: number, effect: number, segNoise: number, seed: number) {
  const rand = rng(seed);
  const segs: Segment[] = [];
  const written: number[] = [];
  const latency: number[] = [];
  let t = 0;
  for (let p = 0; p < pairs; p++) {
    for (const variant of (p % 2 ? ['on', 'off'] : ['off', 'on']) as ('on' | 'off')[]) {
      const level = 300 * (1 + segNoise * (rand() - 0.5));
      segs.push({ pair: p, variant, startUs: t, endUs: t + 1e6 });
      for (let k = 0; k < 400; k++) {
        written.push(t + k * 2000);
        latency.push(level * (variant === 'on' ? 1 + effect : 1) * (0.8 + 0.4 * rand()));
      }
      t += 1.5e6;
    }
  }
  return poolBySegment(written, latency, segs);
}

test('bootstrap: a 10 % effect under ±10 % noise between segments is found, its interval covers it and excludes 1', () => {
  const s = synthetic(60, 0.1, 0.2, 3);
  const [p50, p99] = bootstrapRatios(s, [0.5, 0.99], { resamples: 500, seed: 5 });
  assert.ok(p50!.lo <= 1.1 && p50!.hi >= 1.1, `p50 CI [${p50!.lo}, ${p50!.hi}] misses 1.1`);
  assert.ok(p50!.lo > 1.02, `p50 CI [${p50!.lo}, ${p50!.hi}] should exclude 1.02`);
  assert.equal(verdict(p50!, 0.02), 'not met');
  assert.ok(p99!.lo <= 1.1 && p99!.hi >= 1.1, `p99 CI [${p99!.lo}, ${p99!.hi}] misses 1.1`);
});

test('bootstrap: no effect gives an interval around 1; it widens with the noise between segments', () => {
  const quiet = synthetic(40, 0, 0.05, 11);
  const noisy = synthetic(40, 0, 0.5, 11);
  const [q] = bootstrapRatios(quiet, [0.5], { resamples: 500, seed: 2 });
  const [n] = bootstrapRatios(noisy, [0.5], { resamples: 500, seed: 2 });
  assert.ok(q!.lo <= 1 && q!.hi >= 1, `quiet CI [${q!.lo}, ${q!.hi}]`);
  assert.ok(n!.lo <= 1 && n!.hi >= 1, `noisy CI [${n!.lo}, ${n!.hi}]`);
  assert.ok(n!.hi - n!.lo > 2 * (q!.hi - q!.lo), `noisy width ${n!.hi - n!.lo} vs quiet ${q!.hi - q!.lo}`);
  assert.equal(verdict(q!, 0.02), 'met');
  assert.throws(() => bootstrapRatios({ ...quiet, pairs: 1 }, [0.5]), /at least 2/);
});

test('verdicts against a target: met, not met, undecided', () => {
  assert.equal(verdict({ lo: 0.99, hi: 1.019 }, 0.02), 'met');
  assert.equal(verdict({ lo: 0.99, hi: 1.02 }, 0.02), 'met');
  assert.equal(verdict({ lo: 1.021, hi: 1.05 }, 0.02), 'not met');
  assert.equal(verdict({ lo: 1.0, hi: 1.03 }, 0.02), 'undecided');
});

test('tail concentration: the fewest pairs holding half of the samples at or above a threshold', () => {
  // pair 0 holds 6 of the 10 samples >= 100, pairs 1..4 one each: one pair holds half
  const lat = [100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 1, 2, 3];
  const pair = [0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 1, 2, 3];
  assert.equal(tailPairs(pooled(lat, pair), 100), 1);
  // spread evenly over 5 pairs, 2 each: 3 pairs are needed for half (2 + 2 < 5 <= 6)
  assert.equal(tailPairs(pooled([10, 11, 12, 13, 14, 15, 16, 17, 18, 19], [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]), 10), 3);
  assert.equal(tailPairs(pooled([1, 2], [0, 1]), 5), 0);
});

test('stats pairs: the last of each group of N, alternating ABBA order for odd N; none for N = 0', () => {
  const picked = (every: number): number[] => Array.from({ length: 20 }, (_, k) => k).filter((k) => statsPair(k, every));
  assert.deepEqual(picked(5), [4, 9, 14, 19]);
  assert.deepEqual(picked(5).map((k) => k % 2), [0, 1, 0, 1]);
  assert.deepEqual(picked(1).length, 20);
  assert.deepEqual(picked(0), []);
  assert.throws(() => statsPair(0, -1), /whole number/);
  assert.throws(() => statsPair(0, 2.5), /whole number/);
});

test('stats segments give the kernel estimate and stay out of the latency pools', () => {
  const segs: Segment[] = [
    { pair: 0, variant: 'off', startUs: 100, endUs: 200 },
    { pair: 0, variant: 'on', startUs: 300, endUs: 400 },
    { pair: 1, variant: 'on', startUs: 500, endUs: 600, stats: true },
    { pair: 1, variant: 'off', startUs: 700, endUs: 800, stats: true },
    { pair: 2, variant: 'off', startUs: 900, endUs: 1000 },
    { pair: 2, variant: 'on', startUs: 1100, endUs: 1200 },
  ];
  const { latency, kernel } = splitStats(segs);
  assert.deepEqual(latency.map((s) => s.pair), [0, 0, 2, 2]);
  assert.deepEqual(kernel.map((s) => s.pair), [1, 1]);
  // a sample in the stats pair's "on" segment is in neither latency pool; the two latency pairs renumber to 0, 1
  const run = poolBySegment([110, 310, 510, 910, 1110], [10, 10, 10, 10, 10], latency);
  assert.equal(run.pairs, 2);
  assert.equal(run.on.latencyUs.length, 2);
  assert.equal(run.off.latencyUs.length, 2);
  // without stats pairs (stats held for the whole run) every segment serves both
  const old = splitStats(segs.map(({ stats: _s, ...rest }) => rest));
  assert.equal(old.latency.length, 6);
  assert.equal(old.kernel.length, 6);
});

test('between runs: mean and t interval of the runs\' ratios (3 runs: t 4.303)', () => {
  const b = betweenRuns([1.019, 1.007, 1.017]);
  assert.equal(b.runs, 3);
  assert.ok(Math.abs(b.mean - 1.0143333) < 1e-6, String(b.mean));
  // sd 0.0064291, half-width 4.303 * sd / sqrt(3) = 0.015972
  assert.ok(Math.abs(b.hi - b.mean - 0.015972) < 1e-5 && Math.abs(b.mean - b.lo - 0.015972) < 1e-5, JSON.stringify(b));
  assert.equal(betweenRuns([1.01, 1.01]).hi, 1.01);
  assert.throws(() => betweenRuns([1.02]), /at least 2 runs/);
});
