// Istio string matches to the anchored RE2 regexes Cilium hands to Envoy. Cilium's :path carries the query
// string and Istio's does not, so path regexes allow an optional `?...` tail and never let a literal reach into it.
import { isPathTemplate, stringForm } from '../istio/strings.js';

/** Escape for RE2 (and for the JS regexes the reference evaluator compiles from the same text). */
export function reEscape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const QUERY = '(\\?.*)?';

function alt(parts: string[]): string {
  return parts.length === 1 ? parts[0]! : `(${parts.map((p) => `(${p})`).join('|')})`;
}

/** Method values (exact, prefix, suffix, presence) to one regex, or undefined when every value matches all. */
export function methodRegex(values: string[]): string | undefined {
  const parts = values.map((v) => {
    const f = stringForm(v);
    switch (f.kind) {
      case 'presence': return '.+';
      case 'prefix': return `${reEscape(f.value)}.*`;
      case 'suffix': return `.*${reEscape(f.value)}`;
      case 'exact': return reEscape(f.value);
    }
  });
  return alt(parts);
}

export interface PathTranslation { regex: string | undefined; dropped: string[] }

/**
 * Path values to one regex over path-with-query. Values containing `?` or `#` never match in Istio (it strips
 * them) and are dropped exactly; templates need a waypoint and are reported by the classifier.
 */
export function pathRegex(values: string[]): PathTranslation {
  const dropped: string[] = [];
  const parts: string[] = [];
  for (const v of values) {
    if (isPathTemplate(v)) { dropped.push(v); continue; }
    const f = stringForm(v);
    if (f.kind !== 'presence' && (f.value.includes('?') || f.value.includes('#'))) { dropped.push(v); continue; }
    switch (f.kind) {
      case 'presence': parts.push(`[^?]+${QUERY}`); break;
      case 'prefix': parts.push(`${reEscape(f.value)}.*`); break;
      case 'suffix': parts.push(`[^?]*${reEscape(f.value)}${QUERY}`); break;
      case 'exact': parts.push(`${reEscape(f.value)}${QUERY}`); break;
    }
  }
  return { regex: parts.length ? alt(parts) : undefined, dropped };
}

/** Hosts match case-insensitively in Istio: RE2 `(?i)`. */
export function hostRegex(values: string[]): string {
  const parts = values.map((v) => {
    const f = stringForm(v.toLowerCase());
    switch (f.kind) {
      case 'presence': return '.+';
      case 'prefix': return `${reEscape(f.value)}.*`;
      case 'suffix': return `.*${reEscape(f.value)}`;
      case 'exact': return reEscape(f.value);
    }
  });
  return `(?i)${alt(parts)}`;
}
