// Cilium identity labels of a pod and label-selector matching. Selector keys may carry a source prefix
// (`k8s:`, `any:`); pod labels are all `k8s:` labels, so the prefix is stripped before comparing.
import type { Labels } from '../model/k8s.js';
import type { PodPeer, Workload } from '../verify/request.js';
import type { EndpointSelector } from './types.js';

export const NS_KEY = 'io.kubernetes.pod.namespace';
export const SA_KEY = 'io.cilium.k8s.policy.serviceaccount';
export const TLS_MODE_KEY = 'security.istio.io/tlsMode';

export function stripSource(key: string): string {
  const i = key.indexOf(':');
  if (i < 0) return key;
  const src = key.slice(0, i);
  return src === 'k8s' || src === 'any' ? key.slice(i + 1) : key;
}

export function ciliumLabels(namespace: string, serviceAccount: string, labels: Labels, inMesh: boolean): Labels {
  const out: Labels = { ...labels, [NS_KEY]: namespace, [SA_KEY]: serviceAccount, 'io.cilium.k8s.policy.cluster': 'default' };
  if (inMesh) out[TLS_MODE_KEY] = out[TLS_MODE_KEY] ?? 'istio';
  else delete out[TLS_MODE_KEY];
  return out;
}

const peerCache = new WeakMap<object, Labels>();
export function labelsOfPeer(p: PodPeer): Labels {
  let l = peerCache.get(p);
  if (!l) { l = ciliumLabels(p.namespace, p.serviceAccount, p.labels, p.inMesh); peerCache.set(p, l); }
  return l;
}
export function labelsOfWorkload(w: Workload): Labels {
  let l = peerCache.get(w);
  // The destination had a sidecar under Istio; after migration it may not. Its mesh label does not matter to
  // endpointSelector matching of translated policies, which never select on it.
  if (!l) { l = ciliumLabels(w.namespace, w.serviceAccount, w.labels, false); peerCache.set(w, l); }
  return l;
}

export type LabelPred = (l: Labels) => boolean;

/** A selector as data (read by matchSelector): one shape for all, so the hot path stays monomorphic. */
export interface SelectorData {
  eq: string[]; // key, value, key, value, ...
  ins: { key: string; values: Set<string> }[];
  notIns: { key: string; values: Set<string> }[];
  exists: string[];
  notExists: string[];
  never: boolean;
}

export function selectorData(sel: EndpointSelector, implicitNamespace?: string): SelectorData {
  const d: SelectorData = { eq: [], ins: [], notIns: [], exists: [], notExists: [], never: false };
  let namesNs = false;
  for (const [k0, v] of Object.entries(sel.matchLabels ?? {})) {
    const k = stripSource(k0);
    if (k === NS_KEY) namesNs = true;
    d.eq.push(k, v);
  }
  for (const e of sel.matchExpressions ?? []) {
    const k = stripSource(e.key);
    if (k === NS_KEY) namesNs = true;
    const values = new Set(e.values ?? []);
    switch (e.operator) {
      case 'In': d.ins.push({ key: k, values }); break;
      case 'NotIn': d.notIns.push({ key: k, values }); break;
      case 'Exists': d.exists.push(k); break;
      case 'DoesNotExist': d.notExists.push(k); break;
      default: d.never = true;
    }
  }
  if (implicitNamespace !== undefined && !namesNs) d.eq.push(NS_KEY, implicitNamespace);
  return d;
}

export function matchSelector(d: SelectorData, l: Labels): boolean {
  if (d.never) return false;
  const eq = d.eq;
  for (let i = 0; i < eq.length; i += 2) if (l[eq[i]!] !== eq[i + 1]) return false;
  for (const x of d.ins) { const v = l[x.key]; if (v === undefined || !x.values.has(v)) return false; }
  for (const x of d.notIns) { const v = l[x.key]; if (v !== undefined && x.values.has(v)) return false; }
  for (const k of d.exists) if (l[k] === undefined) return false;
  for (const k of d.notExists) if (l[k] !== undefined) return false;
  return true;
}

/** Compile a selector; `implicitNamespace` is added when the selector names no namespace (CNP peers). */
export function compileSelector(sel: EndpointSelector, implicitNamespace?: string): LabelPred {
  const checks: LabelPred[] = [];
  let namesNs = false;
  for (const [k0, v] of Object.entries(sel.matchLabels ?? {})) {
    const k = stripSource(k0);
    if (k === NS_KEY) namesNs = true;
    checks.push((l) => l[k] === v);
  }
  for (const e of sel.matchExpressions ?? []) {
    const k = stripSource(e.key);
    if (k === NS_KEY) namesNs = true;
    const vs = new Set(e.values ?? []);
    switch (e.operator) {
      case 'In': checks.push((l) => l[k] !== undefined && vs.has(l[k]!)); break;
      case 'NotIn': checks.push((l) => l[k] === undefined || !vs.has(l[k]!)); break;
      case 'Exists': checks.push((l) => l[k] !== undefined); break;
      case 'DoesNotExist': checks.push((l) => l[k] === undefined); break;
      default: checks.push(() => false);
    }
  }
  if (implicitNamespace !== undefined && !namesNs) checks.push((l) => l[NS_KEY] === implicitNamespace);
  return (l) => { for (const c of checks) if (!c(l)) return false; return true; };
}
