// Port sets as sorted inclusive ranges: Istio `ports`/`notPorts`/`destination.port` intersect and complement;
// Cilium receives them as port/endPort entries (at most 40 per toPorts entry, the CRD limit).
import type { PortProtocol } from '../cilium/types.js';

export type Range = [number, number];
export type PortSet = Range[] | 'any';

export const MAX_PORT = 65535;

function norm(rs: Range[]): Range[] {
  const s = rs.filter(([a, b]) => a <= b).sort((x, y) => x[0] - y[0]);
  const out: Range[] = [];
  for (const r of s) {
    const last = out[out.length - 1];
    if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
    else out.push([r[0], r[1]]);
  }
  return out;
}

/** Parse port strings; returns the set and the values that are not port numbers. */
export function portsOf(values: string[]): { set: Range[]; invalid: string[] } {
  const invalid: string[] = [];
  const rs: Range[] = [];
  for (const v of values) {
    if (/^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= MAX_PORT) rs.push([Number(v), Number(v)]);
    else invalid.push(v);
  }
  return { set: norm(rs), invalid };
}

export function complement(s: Range[]): Range[] {
  const out: Range[] = [];
  let next = 1;
  for (const [a, b] of norm(s)) { if (a > next) out.push([next, a - 1]); next = b + 1; }
  if (next <= MAX_PORT) out.push([next, MAX_PORT]);
  return out;
}

export function intersectPorts(a: PortSet, b: PortSet): PortSet {
  if (a === 'any') return b;
  if (b === 'any') return a;
  const out: Range[] = [];
  for (const [a0, a1] of a) for (const [b0, b1] of b) { const lo = Math.max(a0, b0); const hi = Math.min(a1, b1); if (lo <= hi) out.push([lo, hi]); }
  return norm(out);
}

export function isSingles(s: PortSet): boolean {
  return s !== 'any' && s.every(([a, b]) => a === b);
}

export function toPortProtocols(s: Range[]): PortProtocol[] {
  return s.map(([a, b]) => (a === b ? { port: String(a), protocol: 'TCP' as const } : { port: String(a), endPort: b, protocol: 'TCP' as const }));
}

/** Split into chunks of at most 40 (the CRD's maxItems for toPorts[].ports). */
export function chunk40<T>(xs: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += 40) out.push(xs.slice(i, i + 40));
  return out;
}
