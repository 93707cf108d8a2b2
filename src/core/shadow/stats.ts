// Exact percentiles over recorded samples (not histogram bounds): the shadow run keeps every joined latency.

/** Growable Float64 sample buffer. */
export class Samples {
  private buf = new Float64Array(64);
  n = 0;
  push(v: number): void {
    if (this.n === this.buf.length) { const b = new Float64Array(this.buf.length * 2); b.set(this.buf); this.buf = b; }
    this.buf[this.n++] = v;
  }
  sorted(): Float64Array { return this.buf.slice(0, this.n).sort(); }
  /**
   * percentiles(this.sorted(), 1) of every sample plus `add`, without sorting them all: a result needs five
   * ranks, and a full sort of every edge's samples was ~10% of a 500k-line join. Same values as the sort:
   * the k-th smallest is found by selection, and v -> v + add is monotone in floating point, so adding after
   * selecting gives what selecting after adding gives.
   */
  percentiles(add = 0): Percentiles {
    const a = this.buf.slice(0, this.n);
    for (let i = 0; i < a.length; i++) if (a[i] !== a[i]) { a.sort(); return percentiles(add ? a.map((v) => v + add) : a); } // NaN: the sort's order
    return selectPercentiles(a, add);
  }
}

export interface Percentiles { count: number; p50: number | null; p90: number | null; p99: number | null; p999: number | null; max: number | null }

const QS = [0.5, 0.9, 0.99, 0.999] as const;
const rank = (q: number, n: number) => Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1));

/** Nearest-rank percentiles of sorted values, in the unit given (values are divided by `div`), 3 decimals. */
export function percentiles(sorted: Float64Array, div = 1): Percentiles {
  const n = sorted.length;
  const at = (q: number): number | null => (n ? round3(sorted[rank(q, n)]! / div) : null);
  return { count: n, p50: at(QS[0]), p90: at(QS[1]), p99: at(QS[2]), p999: at(QS[3]), max: n ? round3(sorted[n - 1]! / div) : null };
}

/**
 * percentiles() of `a` (unsorted, no NaN; reordered in place), each value plus `add`. The ranks are selected
 * from the highest down, each within the part left of the previous one (everything there is <= it).
 */
export function selectPercentiles(a: Float64Array, add = 0): Percentiles {
  const n = a.length;
  if (!n) return { count: 0, p50: null, p90: null, p99: null, p999: null, max: null };
  let max = a[0]!;
  for (let i = 1; i < n; i++) if (a[i]! > max) max = a[i]!;
  const v: number[] = [];
  let hi = n - 1;
  for (let q = QS.length - 1; q >= 0; q--) {
    const k = rank(QS[q]!, n);
    selectKth(a, k, 0, hi);
    v[q] = round3(a[k]! + add);
    hi = k;
  }
  return { count: n, p50: v[0]!, p90: v[1]!, p99: v[2]!, p999: v[3]!, max: round3(max + add) };
}

/**
 * Hoare's selection (Wirth's variant): afterwards a[k] is the value a sort would put at k, a[lo..k] <= a[k] <=
 * a[k..hi]. Equal values stop both scans, so runs of one value (common: latencies in whole ms) still split in half.
 */
export function selectKth(a: Float64Array, k: number, lo: number, hi: number): void {
  while (lo < hi) {
    const x = a[lo]!, y = a[(lo + hi) >> 1]!, z = a[hi]!;
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) { const t = a[i]!; a[i] = a[j]!; a[j] = t; i++; j--; }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return;
  }
}

export function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}
