// Effective PeerAuthentication mode for a workload port (reference/istio-authz.md, "PeerAuthentication"):
// workload (selector, same namespace) > namespace > mesh (root namespace, no selector); UNSET inherits; no
// parent = PERMISSIVE. Root-namespace policies with a selector only apply to workloads of the root namespace.
import type { KubeObject } from '../model/k8s.js';
import type { MtlsMode, PeerAuthenticationSpec } from '../model/istio.js';
import { selectorMatches } from './applicability.js';
import type { WorkloadKey } from './applicability.js';

export type EffectiveMode = Exclude<MtlsMode, 'UNSET'>;

function byName(a: KubeObject, b: KubeObject): number {
  return a.metadata.name.localeCompare(b.metadata.name);
}

export interface PeerAuthnIndex {
  /** Mode for a workload and one of its ports. */
  modeFor(w: WorkloadKey, port: number): EffectiveMode;
  /** Every mode the workload can have on any port (port-level overrides included). */
  modesOf(w: WorkloadKey): EffectiveMode[];
  /** The policies that decided, for the report. */
  sourceOf(w: WorkloadKey, port: number): string | undefined;
}

function set(m: MtlsMode | undefined): m is EffectiveMode {
  return m !== undefined && m !== 'UNSET';
}

export function indexPeerAuthentication(pas: KubeObject[], rootNamespace: string): PeerAuthnIndex {
  const sorted = [...pas].sort(byName);
  const mesh = sorted.find((p) => p.metadata.namespace === rootNamespace && !p.spec?.selector);
  const nsLevel = new Map<string, KubeObject>();
  for (const p of sorted) {
    const ns = p.metadata.namespace ?? '';
    if (!p.spec?.selector && ns !== rootNamespace && !nsLevel.has(ns)) nsLevel.set(ns, p);
  }
  const workloadLevel = (w: WorkloadKey) => sorted.find((p) => p.metadata.namespace === w.namespace && p.spec?.selector && selectorMatches(p.spec.selector, w.labels));

  const resolve = (w: WorkloadKey, port: number | undefined): { mode: EffectiveMode; from?: KubeObject } => {
    const wl = workloadLevel(w);
    const wspec = wl?.spec as PeerAuthenticationSpec | undefined;
    if (wl && port !== undefined) {
      const pm = wspec?.portLevelMtls?.[String(port)]?.mode;
      if (set(pm)) return { mode: pm, from: wl };
    }
    if (wl && set(wspec?.mtls?.mode)) return { mode: wspec!.mtls!.mode as EffectiveMode, from: wl };
    const nsp = nsLevel.get(w.namespace);
    const nm = (nsp?.spec as PeerAuthenticationSpec | undefined)?.mtls?.mode;
    if (nsp && set(nm)) return { mode: nm, from: nsp };
    const mm = (mesh?.spec as PeerAuthenticationSpec | undefined)?.mtls?.mode;
    if (mesh && set(mm)) return { mode: mm, from: mesh };
    return { mode: 'PERMISSIVE' };
  };

  // Per workload object and port (the evaluator's hot path): workload objects are reused across requests.
  const cache = new WeakMap<WorkloadKey, Map<number, EffectiveMode>>();
  return {
    modeFor: (w, port) => {
      let byPort = cache.get(w);
      if (!byPort) { byPort = new Map(); cache.set(w, byPort); }
      let m = byPort.get(port);
      if (m === undefined) { m = resolve(w, port).mode; byPort.set(port, m); }
      return m;
    },
    modesOf: (w) => {
      const modes = new Set<EffectiveMode>([resolve(w, undefined).mode]);
      const wl = workloadLevel(w);
      for (const p of Object.keys((wl?.spec as PeerAuthenticationSpec | undefined)?.portLevelMtls ?? {})) modes.add(resolve(w, Number(p)).mode);
      return [...modes].sort();
    },
    sourceOf: (w, port) => {
      const f = resolve(w, port).from;
      return f ? `PeerAuthentication/${f.metadata.namespace}/${f.metadata.name}` : undefined;
    },
  };
}
