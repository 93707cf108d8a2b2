// Istio string matching (pilot/pkg/security/authz/matcher/string.go): `*` alone = present and non-empty,
// leading `*` = suffix, trailing `*` = prefix, otherwise exact. Checked in that order, so `*a*` is the suffix `a*`.

export type StringForm = { kind: 'presence' } | { kind: 'suffix'; value: string } | { kind: 'prefix'; value: string } | { kind: 'exact'; value: string };

export function stringForm(v: string): StringForm {
  if (v === '*') return { kind: 'presence' };
  if (v.startsWith('*')) return { kind: 'suffix', value: v.slice(1) };
  if (v.endsWith('*')) return { kind: 'prefix', value: v.slice(0, -1) };
  return { kind: 'exact', value: v };
}

export type StringMatcher = (s: string) => boolean;

export function compileString(v: string, caseInsensitive = false): StringMatcher {
  const f = stringForm(caseInsensitive ? v.toLowerCase() : v);
  const norm = caseInsensitive ? (s: string) => s.toLowerCase() : (s: string) => s;
  switch (f.kind) {
    case 'presence': return (s) => s.length > 0;
    case 'suffix': { const x = f.value; return (s) => norm(s).endsWith(x); }
    case 'prefix': { const x = f.value; return (s) => norm(s).startsWith(x); }
    case 'exact': { const x = f.value; return caseInsensitive ? (s) => s.toLowerCase() === x : (s) => s === x; }
  }
}

/** ORs the values; an empty list never matches. */
export function compileAny(values: string[], caseInsensitive = false): StringMatcher {
  // Exact values (the common case) become one Set lookup.
  const exact = values.filter((v) => stringForm(v).kind === 'exact').map((v) => (caseInsensitive ? v.toLowerCase() : v));
  const rest = values.filter((v) => stringForm(v).kind !== 'exact');
  if (exact.length > 1 || (exact.length === 1 && rest.length > 0)) {
    const set = new Set(exact);
    const others = rest.length ? compileAny(rest, caseInsensitive) : undefined;
    if (caseInsensitive) return (s) => set.has(s.toLowerCase()) || (others !== undefined && others(s));
    return (s) => set.has(s) || (others !== undefined && others(s));
  }
  const ms = values.map((v) => compileString(v, caseInsensitive));
  if (ms.length === 1) return ms[0]!;
  return (s) => { for (const m of ms) if (m(s)) return true; return false; };
}

/** Path values may carry `{*}` (one segment) and `{**}` (any rest) templates. */
export function isPathTemplate(v: string): boolean {
  return v.includes('{*}') || v.includes('{**}');
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

export function compilePath(v: string): StringMatcher {
  if (!isPathTemplate(v)) return compileString(v);
  const re = new RegExp('^' + v.split(/(\{\*\*\}|\{\*\})/).map((p) => (p === '{*}' ? '[^/]+' : p === '{**}' ? '.+' : escapeRe(p))).join('') + '$');
  return (s) => re.test(s);
}

/** Istio matches `paths` against the path with query and fragment stripped. */
export function stripQuery(path: string): string {
  let end = path.length;
  const q = path.indexOf('?');
  if (q >= 0) end = q;
  const h = path.indexOf('#');
  if (h >= 0 && h < end) end = h;
  return end === path.length ? path : path.slice(0, end);
}

/** Namespace part of a principal `<td>/ns/<ns>/sa/<sa>`, or '' (what `namespaces` compare against). */
export function principalNamespace(p: string): string {
  const i = p.indexOf('/ns/');
  if (i < 0) return '';
  const rest = p.slice(i + 4);
  const j = rest.indexOf('/');
  return j < 0 ? rest : rest.slice(0, j);
}
