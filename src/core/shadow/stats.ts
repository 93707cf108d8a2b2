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
}

export interface Percentiles { count: number; p50: number | null; p90: number | null; p99: number | null; p999: number | null; max: number | null }

/** Nearest-rank percentiles of sorted values, in the unit given (values are divided by `div`), 3 decimals. */
export function percentiles(sorted: Float64Array, div = 1): Percentiles {
  const n = sorted.length;
  const at = (q: number): number | null => (n ? round3(sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]! / div) : null);
  return { count: n, p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: n ? round3(sorted[n - 1]! / div) : null };
}

export function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}
