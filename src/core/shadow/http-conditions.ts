// What a Cilium HTTP rule requires beyond method and path (host, headers). The probe parses the request line only,
// so it matches such a rule on method and path alone, which is looser than the plan. The join checks the rest on the
// sidecar's access log entry of the same request. Istio's default log format carries :authority and user-agent of
// the request headers (reference/envoy-telemetry.md) and no others: a condition on another header is unseen.
import { compileAnchored } from '../cilium/evaluator.js';
import type { AccessLogEntry, HttpConditions } from './types.js';

/** The request headers the access log carries, by the name a Cilium rule gives them. */
const LOGGED = new Set([':authority', 'user-agent']);

export interface CompiledConditions {
  host: RegExp | null;
  present: string[];
  exact: { name: string; value: string | null }[];
  /** Header names the access log does not carry, lower case. */
  unseen: string[];
}

export function compileConditions(w: HttpConditions): CompiledConditions {
  const present = (w.headers ?? []).map((h) => h.toLowerCase());
  const exact = (w.headerMatches ?? []).map((h) => ({ name: h.name.toLowerCase(), value: h.value ?? null }));
  const unseen = [...new Set([...present, ...exact.map((x) => x.name)].filter((n) => !LOGGED.has(n)))].sort();
  return { host: w.host !== undefined ? compileAnchored(w.host) : null, present, exact, unseen };
}

/** A logged header's value; undefined when the request had none ('-'), null when the entry does not say. */
function logged(e: AccessLogEntry, name: string): string | undefined | null {
  const v = name === 'user-agent' ? e.userAgent : e.authority;
  if (v === undefined) return null;
  return v === '-' || v === '' ? undefined : v;
}

/**
 * pass: every condition holds; fail: one the log shows does not; unseen: none fails that the log shows, and some
 * header it does not carry decides the rest.
 */
export function checkConditions(c: CompiledConditions, e: AccessLogEntry): 'pass' | 'fail' | 'unseen' {
  let unknown = c.unseen.length > 0;
  if (c.host) {
    const v = logged(e, ':authority');
    if (v === null) unknown = true;
    else if (!c.host.test(v ?? '')) return 'fail';
  }
  for (const n of c.present) {
    if (!LOGGED.has(n)) continue;
    const v = logged(e, n);
    if (v === null) unknown = true;
    else if (v === undefined) return 'fail';
  }
  for (const x of c.exact) {
    if (!LOGGED.has(x.name)) continue;
    const v = logged(e, x.name);
    if (v === null) unknown = true;
    else if (v === undefined || (x.value !== null && v !== x.value)) return 'fail';
  }
  return unknown ? 'unseen' : 'pass';
}

/** The headers a rule's verdict hinged on that the entry did not show, for naming it. */
export function unseenOf(c: CompiledConditions, e: AccessLogEntry): string[] {
  const out = [...c.unseen];
  if (e.userAgent === undefined && (c.present.includes('user-agent') || c.exact.some((x) => x.name === 'user-agent'))) out.push('user-agent');
  return out;
}
