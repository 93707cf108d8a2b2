// Text forms of the lab Results (--json prints the Results themselves).
import type { LabLoadResult, LabStatusResult } from '../core/model/lab.js';

const yn = (v: boolean | null): string => (v === null ? '-' : v ? 'ok' : 'MISSING');

export function renderLabStatus(s: LabStatusResult): string {
  const rows = [['POD', 'IP', 'NETNS', 'VETH', 'CGROUP', 'APP', 'SIDECAR'],
    ...s.pods.map((p) => [p.name, p.ip, yn(p.netns), yn(p.veth), yn(p.cgroup), yn(p.app), yn(p.sidecar)])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const table = rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
  const head = s.up ? `lab is up (${s.podsFile})` : s.pods.length ? 'lab is DEGRADED: run migrate lab up to repair' : 'lab is down';
  return s.pods.length ? `${head}\n${table}` : head;
}

export function renderLabLoad(r: LabLoadResult): string {
  const l = r.latencyMs;
  const statuses = r.statuses ? Object.entries(r.statuses).map(([k, v]) => `${k}:${v}`).join(' ') : '';
  return [
    `${r.mode === 'fixed' ? 'fixed rate' : 'max rate'} ${r.url}${r.tool ? ` (${r.tool})` : ''}`,
    `requests ${r.requests}  errors ${r.errors}  rps ${r.rps}${statuses ? `  status ${statuses}` : ''}`,
    `latency ms  p50 ${l.p50}  p90 ${l.p90}  p99 ${l.p99}  max ${l.max}`,
  ].join('\n');
}
