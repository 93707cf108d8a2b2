// Statistics for the probe-overhead benchmark (bench/lab-overhead.sh): one long load run, the probe switched
// off and on in short alternating segments, every request's latency kept. Pure: no I/O.
//
// Why this shape: on a shared 2-core machine the latency of the same variant moves by 2x between runs, far
// more than the 2 % / 5 % effect in question. Interleaving many short segments puts both variants into the
// same periods, so drift hits both alike; pooling the samples of all segments gives each variant's p50/p99;
// and resampling whole segment pairs (a block bootstrap) gives a confidence interval that carries the
// between-segment noise instead of pretending the requests were independent.

export type Variant = 'off' | 'on';

/** One period with the probe in one state: samples written at or after startUs and answered by endUs count. */
export interface Segment {
  pair: number;
  variant: Variant;
  startUs: number;
  endUs: number;
  /** kernel BPF run-time stats were on: the pair measures the programs' cost, not the latency (see statsPair) */
  stats?: boolean;
}

/**
 * Whether pair k of a run is a stats pair, with one in `every` of them (0: none; the caller then holds the stats
 * for the whole run). kernel.bpf_stats_enabled wraps every program run in two sched_clock() reads and a per-CPU
 * update, ~100 ns a run in this VM's test run (empty program 38 ns without, 135 with): with ~7 runs per request
 * that is instrumentation, not probe, so the latency verdict uses only the pairs without it. The stats pairs are
 * the last of each group of `every`; an odd `every` alternates their ABBA order and leaves every group of
 * latency pairs in between balanced.
 */
export function statsPair(k: number, every: number): boolean {
  if (!(Number.isInteger(every) && every >= 0)) throw new Error(`stats-every must be a whole number >= 0, got ${every}`);
  return every > 0 && k % every === every - 1;
}

/** The segments whose samples carry the latency verdict (no stats) and those that give the kernel estimate. */
export function splitStats<T extends Segment>(segments: readonly T[]): { latency: T[]; kernel: T[] } {
  const stats = segments.filter((s) => s.stats === true);
  // No stats pair: the stats were held for the whole run (the old method), so every segment is both.
  if (stats.length === 0) return { latency: [...segments], kernel: [...segments] };
  return { latency: segments.filter((s) => s.stats !== true), kernel: stats };
}

/** The samples of one variant, sorted by latency, each with the pair its segment belongs to. */
export interface Pooled {
  latencyUs: Float64Array;
  pair: Int32Array;
}

/** Both variants' pools; pair indices renumbered 0..pairs-1 in order of the pairs' first segment. */
export interface PooledRun extends Record<Variant, Pooled> {
  pairs: number;
}

/**
 * Splits the run's samples (parallel arrays: write time on CLOCK_MONOTONIC, latency, both µs) by segment.
 * arm (the concurrent design, bench/lab-overhead.sh --design concurrent): parallel to the samples, 0 for the arm
 * the probe watches in "on" segments, 1 for its twin, which the probe watches in the "off" segments instead; a
 * twin's sample counts for the other variant. Without arm every sample is arm 0 (the time-segment design).
 */
export function poolBySegment(writtenUs: ArrayLike<number>, latencyUs: ArrayLike<number>, segments: readonly Segment[],
  arm?: ArrayLike<number>): PooledRun {
  if (arm && arm.length !== writtenUs.length) throw new Error(`arm has ${arm.length} entries for ${writtenUs.length} samples`);
  const dense = new Map<number, number>();
  const segs = [...segments].sort((a, b) => a.startUs - b.startUs).map((sg) => {
    if (!dense.has(sg.pair)) dense.set(sg.pair, dense.size);
    return { ...sg, pair: dense.get(sg.pair)! };
  });
  for (let k = 1; k < segs.length; k++) {
    if (segs[k]!.startUs < segs[k - 1]!.endUs) throw new Error(`segments overlap at ${segs[k]!.startUs} µs`);
  }
  const order = Array.from({ length: writtenUs.length }, (_, k) => k).sort((a, b) => writtenUs[a]! - writtenUs[b]!);
  const picked: Record<Variant, { lat: number[]; pair: number[] }> = { off: { lat: [], pair: [] }, on: { lat: [], pair: [] } };
  let s = 0;
  for (const k of order) {
    const w = writtenUs[k]!;
    while (s < segs.length && segs[s]!.endUs <= w) s++;
    if (s === segs.length) break;
    const seg = segs[s]!;
    // Only requests that started and ended inside the segment: none straddles a switch.
    if (w < seg.startUs || w + latencyUs[k]! > seg.endUs) continue;
    const variant: Variant = arm?.[k] === 1 ? (seg.variant === 'on' ? 'off' : 'on') : seg.variant;
    picked[variant].lat.push(latencyUs[k]!);
    picked[variant].pair.push(seg.pair);
  }
  const sortPooled = (x: { lat: number[]; pair: number[] }): Pooled => {
    const idx = Array.from({ length: x.lat.length }, (_, k) => k).sort((a, b) => x.lat[a]! - x.lat[b]!);
    return { latencyUs: Float64Array.from(idx, (k) => x.lat[k]!), pair: Int32Array.from(idx, (k) => x.pair[k]!) };
  };
  return { off: sortPooled(picked.off), on: sortPooled(picked.on), pairs: dense.size };
}

/**
 * The p-quantile of the pooled sample in which every sample of pair j appears weight[j] times: element
 * floor(p * n) (0-based) of that sorted multiset, n its size, the same definition lab/loadgen.mjs uses.
 * Walks from the nearer end, so p99 costs 1 % of the samples. Null when the multiset is empty.
 */
export function weightedQuantile(x: Pooled, weight: ArrayLike<number>, p: number): number | null {
  if (!(p >= 0 && p <= 1)) throw new Error(`quantile ${p} is not in [0, 1]`);
  const len = x.latencyUs.length;
  let n = 0;
  for (let i = 0; i < len; i++) n += weight[x.pair[i]!]!;
  if (n === 0) return null;
  const k = Math.min(n - 1, Math.floor(p * n));
  if (p <= 0.5) {
    let cum = 0;
    for (let i = 0; i < len; i++) {
      cum += weight[x.pair[i]!]!;
      if (cum > k) return x.latencyUs[i]!;
    }
  } else {
    // Count from the top: the element holding index k has (n - 1 - k) multiset elements above it at most.
    const above = n - 1 - k;
    let cum = 0;
    for (let i = len - 1; i >= 0; i--) {
      cum += weight[x.pair[i]!]!;
      if (cum > above) return x.latencyUs[i]!;
    }
  }
  return x.latencyUs[len - 1]!; // unreachable: weights sum to n
}

/** Deterministic PRNG (mulberry32), so a run's interval can be reproduced from its samples and seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface RatioEstimate {
  p: number;
  off: number;
  on: number;
  /** on / off of the pooled samples */
  ratio: number;
  /** percentile interval of the bootstrap ratios, level as given */
  lo: number;
  hi: number;
  resamples: number;
}

/**
 * on/off ratio of the p-quantiles with a block-bootstrap interval: each resample draws x.pairs pair indices
 * with replacement and pools both variants' samples of the drawn pairs (so a pair's off and on segments,
 * neighbours in time, stay together), B times. `level` 0.95 gives the 2.5 % and 97.5 % points.
 */
export function bootstrapRatios(x: PooledRun, ps: readonly number[],
  opts: { resamples?: number; seed?: number; level?: number } = {}): RatioEstimate[] {
  const B = opts.resamples ?? 2000;
  const level = opts.level ?? 0.95;
  const pairs = x.pairs;
  if (pairs < 2) throw new Error(`need at least 2 segment pairs for an interval, got ${pairs}`);
  for (const v of [x.off, x.on]) {
    for (const j of v.pair) if (!(j >= 0 && j < pairs)) throw new Error(`pair index ${j} outside 0..${pairs - 1}`);
  }
  const ones = new Float64Array(pairs).fill(1);
  const point = ps.map((p) => {
    const off = weightedQuantile(x.off, ones, p);
    const on = weightedQuantile(x.on, ones, p);
    if (off === null || on === null || off === 0) throw new Error('no samples in one of the variants');
    return { off, on };
  });
  const draws = ps.map(() => new Float64Array(B));
  const rand = rng(opts.seed ?? 1);
  const w = new Float64Array(pairs);
  for (let b = 0; b < B; b++) {
    w.fill(0);
    for (let j = 0; j < pairs; j++) w[Math.floor(rand() * pairs)]! += 1;
    ps.forEach((p, i) => {
      const off = weightedQuantile(x.off, w, p);
      const on = weightedQuantile(x.on, w, p);
      // A resample whose drawn pairs hold no samples of a variant (tiny runs only) counts as no change.
      draws[i]![b] = off && on !== null ? on / off : 1;
    });
  }
  return ps.map((p, i) => {
    const d = draws[i]!.sort();
    const at = (q: number): number => d[Math.min(B - 1, Math.max(0, Math.floor(q * B)))]!;
    return { p, off: point[i]!.off, on: point[i]!.on, ratio: point[i]!.on / point[i]!.off,
      lo: at((1 - level) / 2), hi: at(1 - (1 - level) / 2), resamples: B };
  });
}

/**
 * How concentrated a pool's tail is: the fewest pairs that hold half of its samples at or above `threshold`.
 * When a handful of disturbed segments (another process's burst) make the tail, a p99 ratio says more about
 * where those bursts fell than about the probe, and resampling pairs cannot fix that.
 */
export function tailPairs(x: Pooled, threshold: number): number {
  const counts = new Map<number, number>();
  let total = 0;
  for (let i = x.latencyUs.length - 1; i >= 0 && x.latencyUs[i]! >= threshold; i--) {
    counts.set(x.pair[i]!, (counts.get(x.pair[i]!) ?? 0) + 1);
    total++;
  }
  const sorted = [...counts.values()].sort((a, b) => b - a);
  let cum = 0;
  for (let k = 0; k < sorted.length; k++) {
    cum += sorted[k]!;
    if (2 * cum >= total) return k + 1;
  }
  return 0;
}

export type Verdict = 'met' | 'not met' | 'undecided';

/** Target "at most +t" (0.02 = 2 %): met when the whole interval is at or under 1 + t, not met when above. */
export function verdict(e: Pick<RatioEstimate, 'lo' | 'hi'>, t: number): Verdict {
  if (e.hi <= 1 + t) return 'met';
  if (e.lo > 1 + t) return 'not met';
  return 'undecided';
}

/** Two-sided 97.5 % points of Student's t by degrees of freedom (1-30; beyond, the normal's 1.96). */
const T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
  2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

/**
 * Several runs pooled: the bootstrap over pairs covers the noise inside the runs, not how the machine's state
 * moves from one run to the next. This treats each run's ratio as one draw: mean and 95 % t interval.
 */
export function betweenRuns(ratios: readonly number[]): { mean: number; lo: number; hi: number; runs: number } {
  const n = ratios.length;
  if (n < 2) throw new Error(`a between-run interval needs at least 2 runs, got ${n}`);
  const mean = ratios.reduce((a, r) => a + r, 0) / n;
  const sd = Math.sqrt(ratios.reduce((a, r) => a + (r - mean) ** 2, 0) / (n - 1));
  const half = (T975[n - 2] ?? 1.96) * sd / Math.sqrt(n);
  return { mean, lo: mean - half, hi: mean + half, runs: n };
}
