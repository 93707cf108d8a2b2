import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Samples, percentiles, selectKth, selectPercentiles } from '../../src/core/shadow/stats.js';

// A small deterministic generator (no Math.random: failures must reproduce).
function lcg(seed: number): () => number {
  let s = seed;
  return () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
}

function bySort(values: number[], add = 0) {
  return percentiles(Float64Array.from(values).sort().map((v) => v + add));
}

test('selectKth puts the k-th smallest at k, smaller left, larger right', () => {
  const r = lcg(7);
  for (const n of [1, 2, 3, 5, 17, 1000]) {
    for (const k of [0, n >> 1, n - 1]) {
      const a = Float64Array.from({ length: n }, () => Math.floor(r() * 20));
      const want = Float64Array.from(a).sort()[k];
      selectKth(a, k, 0, n - 1);
      assert.equal(a[k], want, `n=${n} k=${k}`);
      for (let i = 0; i < k; i++) assert.ok(a[i]! <= a[k]!);
      for (let i = k + 1; i < n; i++) assert.ok(a[i]! >= a[k]!);
    }
  }
});

test('selected percentiles equal the sorted ones: random, sorted, reversed, all equal, few distinct, tiny n', () => {
  const r = lcg(42);
  const cases: number[][] = [
    [], [3.25], [2, 1], [1, 1, 1],
    Array.from({ length: 10_000 }, () => r() * 50),
    Array.from({ length: 10_000 }, (_, i) => i / 7),
    Array.from({ length: 10_000 }, (_, i) => 10_000 - i),
    Array.from({ length: 5_000 }, () => 1),
    Array.from({ length: 5_001 }, () => Math.floor(r() * 3) * 0.5),
    Array.from({ length: 999 }, () => -r() * 1e-3),
  ];
  for (const c of cases) {
    const s = new Samples();
    for (const v of c) s.push(v);
    assert.deepEqual(s.percentiles(), bySort(c), `n=${c.length}`);
    assert.deepEqual(selectPercentiles(Float64Array.from(c), 0.005), bySort(c, 0.005), `n=${c.length} + 0.005`);
  }
});

test('projected (values plus a cost) selected after adding equals adding after sorting, on values that round', () => {
  const r = lcg(3);
  const c = Array.from({ length: 20_000 }, () => Math.floor(r() * 1e6) / 1e6 + 0.1);
  const s = new Samples();
  for (const v of c) s.push(v);
  assert.deepEqual(s.percentiles(0.005), bySort(c, 0.005));
});

test('NaN samples keep the sort order (NaN last), as before', () => {
  const s = new Samples();
  for (const v of [NaN, 3, 1, 2, NaN]) s.push(v);
  const p = s.percentiles();
  assert.equal(p.p50, 3);
  assert.ok(Number.isNaN(p.max));
  assert.deepEqual(p, bySort([NaN, 3, 1, 2, NaN]));
});
