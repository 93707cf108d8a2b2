// Shared timing for the in-process benchmarks: best wall and best CPU time over N runs of fn (fn returns the
// number of items it processed).

export interface Best {
  s: number;
  cpu: number;
  n: number;
}

export function best(runs: number, fn: () => number): Best {
  let b = Infinity;
  let c = Infinity;
  let n = 0;
  for (let r = 0; r < runs; r++) {
    const t = process.hrtime.bigint();
    const u = process.cpuUsage();
    n = fn();
    const s = Number(process.hrtime.bigint() - t) / 1e9;
    const cu = process.cpuUsage(u);
    if (s < b) b = s;
    const cs = (cu.user + cu.system) / 1e6;
    if (cs < c) c = cs;
  }
  return { s: b, cpu: c, n };
}

/** Items per CPU-second of the best run. */
export const perCpu = (x: Pick<Best, 'cpu' | 'n'>): number => Math.round(x.n / x.cpu);
