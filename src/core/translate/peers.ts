// The peer algebra of the translator: a set of Cilium peers as a union of terms (label selector, CIDR with
// except, world, all). Istio's AND of source fields becomes pairwise intersection; anything Cilium cannot say
// exactly is approximated from below for ALLOW (allow less) and from above for DENY (deny more), so a
// translation is never wider than its source.
import type { CidrRule, EndpointSelector, IngressRule, LabelSelectorRequirement } from '../cilium/types.js';
import { LABEL_ISTIO_TLS_MODE, LABEL_NAMESPACE, LABEL_SERVICE_ACCOUNT } from '../cilium/types.js';
import { cidrContains, parseCidr } from '../verify/ip.js';

export type Term =
  | { kind: 'all' }
  | { kind: 'world' }
  | { kind: 'cidr'; cidr: string; except: string[] }
  | { kind: 'endpoints'; labels: Record<string, string>; exprs: LabelSelectorRequirement[] };

export type PeerSet = Term[];

export const ANY: PeerSet = [{ kind: 'all' }];
export const NONE: PeerSet = [];
export const WORLD: Term = { kind: 'world' };
export const NS_EXISTS: LabelSelectorRequirement = { key: LABEL_NAMESPACE, operator: 'Exists' };

/** Pods with a sidecar (mTLS-capable), in any namespace unless narrowed. */
export function meshPods(labels: Record<string, string> = {}, exprs: LabelSelectorRequirement[] = []): Term {
  const hasNs = LABEL_NAMESPACE in labels || exprs.some((e) => e.key === LABEL_NAMESPACE);
  return { kind: 'endpoints', labels: { ...labels, [LABEL_ISTIO_TLS_MODE]: 'istio' }, exprs: hasNs ? exprs : [...exprs, NS_EXISTS] };
}
/** Pods without a sidecar: they only ever speak plaintext to Istio. */
export function plainPods(): Term {
  return { kind: 'endpoints', labels: {}, exprs: [NS_EXISTS, { key: LABEL_ISTIO_TLS_MODE, operator: 'DoesNotExist' }] };
}
export function allPods(): Term {
  return { kind: 'endpoints', labels: {}, exprs: [NS_EXISTS] };
}
export function identity(ns: string | undefined, sa: string | undefined): Term {
  const labels: Record<string, string> = {};
  if (ns !== undefined) labels[LABEL_NAMESPACE] = ns;
  if (sa !== undefined) labels[LABEL_SERVICE_ACCOUNT] = sa;
  return meshPods(labels);
}

function exprContradicts(labels: Record<string, string>, e: LabelSelectorRequirement): boolean {
  const v = labels[e.key];
  if (v === undefined) return e.operator === 'In';
  if (e.operator === 'DoesNotExist') return true;
  if (e.operator === 'NotIn') return (e.values ?? []).includes(v);
  if (e.operator === 'In') return !(e.values ?? []).includes(v);
  return false;
}

function dedupeExprs(es: LabelSelectorRequirement[]): LabelSelectorRequirement[] {
  const seen = new Map<string, LabelSelectorRequirement>();
  for (const e of es) seen.set(JSON.stringify([e.key, e.operator, [...(e.values ?? [])].sort()]), e);
  return [...seen.values()];
}

function intersectTerm(a: Term, b: Term): Term | undefined {
  if (a.kind === 'all') return b;
  if (b.kind === 'all') return a;
  if (a.kind === 'endpoints' && b.kind === 'endpoints') {
    const labels = { ...a.labels };
    for (const [k, v] of Object.entries(b.labels)) { if (labels[k] !== undefined && labels[k] !== v) return undefined; labels[k] = v; }
    let exprs = dedupeExprs([...a.exprs, ...b.exprs]);
    if (exprs.some((e) => exprContradicts(labels, e))) return undefined;
    if (exprs.some((e) => e.operator === 'Exists') && exprs.some((e) => e.operator === 'DoesNotExist' && exprs.some((f) => f.operator === 'Exists' && f.key === e.key))) return undefined;
    // An Exists made redundant by a label, or by a NotIn on the same key when a label pins it, adds nothing.
    exprs = exprs.filter((e) => !(e.operator === 'Exists' && labels[e.key] !== undefined) && !(e.operator === 'NotIn' && labels[e.key] !== undefined));
    return { kind: 'endpoints', labels, exprs };
  }
  if (a.kind === 'endpoints' || b.kind === 'endpoints') return undefined; // pods never match world/CIDR peers
  if (a.kind === 'world') return b;
  if (b.kind === 'world') return a;
  // Two CIDRs: nested or disjoint.
  const ca = parseCidr(a.cidr)!; const cb = parseCidr(b.cidr)!;
  const [outer, inner] = ca.bits <= cb.bits ? [a, b] : [b, a];
  const co = outer === a ? ca : cb; const ci = inner === a ? ca : cb;
  if (co.v6 !== ci.v6 || !cidrContains(co, { v6: ci.v6, n: ci.base })) return undefined;
  const except = [...new Set([...outer.except, ...inner.except])].filter((e) => { const c = parseCidr(e); return c !== null && c.v6 === ci.v6 && (cidrContains(ci, { v6: c.v6, n: c.base }) || cidrContains(c, { v6: ci.v6, n: ci.base })); });
  if (except.some((e) => { const c = parseCidr(e)!; return c.bits <= ci.bits; })) return undefined; // fully excluded
  return { kind: 'cidr', cidr: inner.cidr, except: except.sort() };
}

export const MAX_TERMS = 64;

/** Pairwise intersection; undefined when the result would exceed MAX_TERMS (the caller approximates). */
export function intersect(a: PeerSet, b: PeerSet): PeerSet | undefined {
  if (a.length * b.length > MAX_TERMS * 4) return undefined;
  const out: PeerSet = [];
  for (const x of a) for (const y of b) { const t = intersectTerm(x, y); if (t) out.push(t); }
  const d = dedupe(out);
  return d.length > MAX_TERMS ? undefined : d;
}

export function union(...sets: PeerSet[]): PeerSet {
  return dedupe(sets.flat());
}

function termKey(t: Term): string {
  return JSON.stringify(t);
}

export function dedupe(s: PeerSet): PeerSet {
  if (s.some((t) => t.kind === 'all')) return ANY;
  const m = new Map<string, Term>();
  for (const t of s) m.set(termKey(normalize(t)), normalize(t));
  return [...m.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, t]) => t);
}

function normalize(t: Term): Term {
  if (t.kind !== 'endpoints') return t;
  const labels = Object.fromEntries(Object.entries(t.labels).sort(([a], [b]) => a.localeCompare(b)));
  const exprs = dedupeExprs(t.exprs).map((e) => (e.values ? { ...e, values: [...e.values].sort() } : e)).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  return { kind: 'endpoints', labels, exprs };
}

/** The peer fields of one Cilium ingress(Deny) rule. */
export function toPeerFields(s: PeerSet): Pick<IngressRule, 'fromEndpoints' | 'fromCIDRSet' | 'fromEntities'> {
  const eps: EndpointSelector[] = [];
  const cidrs: CidrRule[] = [];
  const entities = new Set<string>();
  for (const t of dedupe(s)) {
    if (t.kind === 'all') entities.add('all');
    else if (t.kind === 'world') entities.add('world');
    else if (t.kind === 'cidr') cidrs.push(t.except.length ? { cidr: t.cidr, except: t.except } : { cidr: t.cidr });
    else eps.push({ ...(Object.keys(t.labels).length ? { matchLabels: t.labels } : {}), ...(t.exprs.length ? { matchExpressions: t.exprs } : {}) });
  }
  return {
    ...(eps.length ? { fromEndpoints: eps } : {}),
    ...(cidrs.length ? { fromCIDRSet: cidrs } : {}),
    ...(entities.size ? { fromEntities: [...entities].sort() } : {}),
  };
}

/** The same peers as Cilium rules take them: one rule per kind of selector (fromEndpoints, fromCIDRSet,
 * fromEntities), because the agent refuses a rule that combines two ("combining FromEndpoints and FromEntities is
 * not supported yet", IngressCommonRule.Validate) and drops the whole policy. Separate rules are a union, the same
 * peers. */
export function toPeerRules(s: PeerSet): Pick<IngressRule, 'fromEndpoints' | 'fromCIDRSet' | 'fromEntities'>[] {
  const f = toPeerFields(s);
  return [
    ...(f.fromEndpoints ? [{ fromEndpoints: f.fromEndpoints }] : []),
    ...(f.fromCIDRSet ? [{ fromCIDRSet: f.fromCIDRSet }] : []),
    ...(f.fromEntities ? [{ fromEntities: f.fromEntities }] : []),
  ];
}
