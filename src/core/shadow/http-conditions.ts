// What a Cilium HTTP rule requires beyond method and path (host, headers). The probe parses the request line only,
// so it matches such a rule on method and path alone, which is looser than the plan. The join checks the rest on the
// sidecar's access log entry of the same request. Istio's default log format carries :authority and user-agent of
// the request headers (reference/envoy-telemetry.md) and no others: a condition on another header is unseen.
import { compileAnchored } from '../cilium/evaluator.js';
import type { HttpConditions } from './types.js';

/** The request headers the access log carries, by the name a Cilium rule gives them. */
const LOGGED = new Set([':authority', 'user-agent']);

export interface CompiledConditions {
  host: RegExp | null;
  present: string[];
  exact: { name: string; value: string | null }[];
  /** Header names the access log does not carry, lower case. */
  unseen: string[];
}

/** A request as the conditions see it: an access log entry, or a probe record (no header known). */
export interface SeenRequest {
  method: string;
  path: string;
  /** :AUTHORITY as logged ('-': none sent); absent: not known. */
  authority?: string;
  /** USER-AGENT as logged ('-': none sent); absent: not known. */
  userAgent?: string;
}

export function compileConditions(w: HttpConditions): CompiledConditions {
  const present = (w.headers ?? []).map((h) => h.toLowerCase());
  const exact = (w.headerMatches ?? []).map((h) => ({ name: h.name.toLowerCase(), value: h.value ?? null }));
  const unseen = [...new Set([...present, ...exact.map((x) => x.name)].filter((n) => !LOGGED.has(n)))].sort();
  return { host: w.host !== undefined ? compileAnchored(w.host) : null, present, exact, unseen };
}

/** A logged header's value; undefined when the request had none ('-'), null when the request does not say. */
function logged(r: SeenRequest, name: string): string | undefined | null {
  const v = name === 'user-agent' ? r.userAgent : r.authority;
  if (v === undefined) return null;
  return v === '-' || v === '' ? undefined : v;
}

/**
 * null: a condition the request shows does not hold. Else the conditions nobody can check on it (the host, headers
 * the log does not carry), by name: empty when every condition holds.
 */
export function checkConditions(c: CompiledConditions, r: SeenRequest): string[] | null {
  const unknown: string[] = [];
  if (c.host) {
    const v = logged(r, ':authority');
    if (v === null) unknown.push('host');
    else if (!c.host.test(v ?? '')) return null;
  }
  for (const n of c.present) {
    if (!LOGGED.has(n)) continue;
    const v = logged(r, n);
    if (v === null) unknown.push(n);
    else if (v === undefined) return null;
  }
  for (const x of c.exact) {
    if (!LOGGED.has(x.name)) continue;
    const v = logged(r, x.name);
    if (v === null) unknown.push(x.name);
    else if (v === undefined || (x.value !== null && v !== x.value)) return null;
  }
  return unknown.length || c.unseen.length ? [...new Set([...unknown, ...c.unseen])] : unknown;
}
