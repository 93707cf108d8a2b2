// PeerAuthentication -> the eBPF plane. STRICT means Istio rejects every plaintext peer (pods without a sidecar,
// anything outside the cluster); Cilium says that with an ingressDeny from those peers that leaves default deny
// alone (enableDefaultDeny.ingress false), plus `authentication: required` on translated allow rules and a
// cluster encryption requirement. PERMISSIVE and DISABLE are reported: the identity shift is handled per rule.
import type { KubeObject } from '../model/k8s.js';
import { objectRef } from '../model/k8s.js';
import type { MtlsMode, PeerAuthenticationSpec } from '../model/istio.js';
import { CILIUM_API_VERSION, LABEL_NAMESPACE } from '../cilium/types.js';
import type { IngressDenyRule } from '../cilium/types.js';
import { MANAGED_BY } from './authz.js';
import { GAP, TARGET } from './gaps.js';
import { WORLD, plainPods, toPeerRules } from './peers.js';
import { chunk40, complement, portsOf, toPortProtocols } from './ports.js';
import type { Range } from './ports.js';
import type { Gap } from './types.js';

export const ENCRYPTION_REQUIREMENT = 'Cluster-wide transparent encryption (WireGuard or IPsec) must be on before sidecars are removed: Cilium mutual authentication does not encrypt, and node encryption does not cover same-node traffic.';

function modeOf(spec: PeerAuthenticationSpec | undefined): MtlsMode {
  return spec?.mtls?.mode ?? 'UNSET';
}

function denyRules(ports: Range[] | 'any'): IngressDenyRule[] {
  const peers = toPeerRules([plainPods(), WORLD]);
  if (ports === 'any') return peers;
  return peers.flatMap((peer) => chunk40(toPortProtocols(ports)).map((part) => ({ ...peer, toPorts: [{ ports: part }] })));
}

export interface PeerAuthnTranslation { manifest?: KubeObject; gaps: Gap[]; narrowing: string[]; requirements: string[] }

/**
 * One PeerAuthentication. `parentMode` is the mode a workload-level policy inherits (namespace, else mesh);
 * `overriddenNamespaces` are namespaces whose own policy overrides a mesh-level one.
 */
export function translatePeerAuthentication(pa: KubeObject, rootNamespace: string, parentMode: MtlsMode, overriddenNamespaces: string[], overridingWorkloads: { matchLabels: Record<string, string> }[]): PeerAuthnTranslation {
  const spec = pa.spec as PeerAuthenticationSpec | undefined;
  const ns = pa.metadata.namespace ?? 'default';
  const ref = objectRef({ kind: 'PeerAuthentication', metadata: pa.metadata });
  const gaps: Gap[] = [];
  const narrowing: string[] = [];
  const requirements: string[] = [];
  const mesh = ns === rootNamespace && !spec?.selector;
  const selector = spec?.selector?.matchLabels;
  if (ns === rootNamespace && selector) {
    gaps.push({ code: GAP.PA_STRICT, level: 'Info', object: ref, reason: 'root-namespace PeerAuthentication with a selector only applies to root-namespace workloads', target: TARGET.mutualAuth });
  }
  const own = modeOf(spec);
  const effective = own === 'UNSET' ? parentMode : own;
  const portLevel = Object.entries(spec?.portLevelMtls ?? {});
  if (portLevel.length) gaps.push({ code: GAP.PA_PORT_LEVEL, level: 'Warning', object: ref, reason: `portLevelMtls on ${portLevel.map(([p]) => p).join(', ')} (workload ports) is expressed as per-port deny rules`, target: TARGET.mutualAuth });
  // Which workload ports end up STRICT.
  let strictPorts: Range[] | 'any' | undefined;
  const strictSet = portsOf(portLevel.filter(([, v]) => (v.mode ?? 'UNSET') === 'STRICT' || ((v.mode ?? 'UNSET') === 'UNSET' && effective === 'STRICT')).map(([p]) => p)).set;
  const nonStrictSet = portsOf(portLevel.filter(([, v]) => { const m = (v.mode ?? 'UNSET') === 'UNSET' ? effective : v.mode; return m !== 'STRICT'; }).map(([p]) => p)).set;
  if (effective === 'STRICT') strictPorts = nonStrictSet.length ? complement(nonStrictSet) : 'any';
  else if (strictSet.length) strictPorts = strictSet;
  if (effective === 'PERMISSIVE' || (effective === 'UNSET' && !strictPorts)) {
    gaps.push({ code: GAP.PA_PERMISSIVE, level: 'Warning', object: ref, reason: 'PERMISSIVE: plaintext callers have no principal in Istio but a label identity in Cilium; translated rules restrict identity matches to mesh members (label security.istio.io/tlsMode=istio) and keep plaintext exactly where Istio accepted it', target: TARGET.mutualAuth });
  }
  if (effective === 'DISABLE') {
    gaps.push({ code: GAP.PA_DISABLE, level: 'Info', object: ref, reason: 'DISABLE: Istio sees no principal here, so identity rules never match; translations follow that', target: TARGET.mutualAuth });
  }
  if (effective === 'STRICT' || effective === 'PERMISSIVE' || strictPorts) requirements.push(ENCRYPTION_REQUIREMENT);
  if (!strictPorts) return { gaps, narrowing, requirements };
  requirements.push('Cilium mutual authentication (SPIRE) enabled: translated allow rules of STRICT workloads carry authentication.mode=required.');
  const exprs = [] as { key: string; operator: 'NotIn'; values: string[] }[];
  if (mesh) {
    const skip = [...new Set([rootNamespace, 'kube-system', ...overriddenNamespaces])].sort();
    exprs.push({ key: LABEL_NAMESPACE, operator: 'NotIn', values: skip });
    narrowing.push(`mesh-wide STRICT applies to every namespace except ${skip.join(', ')}, including pods that never had a sidecar`);
  }
  for (const w of overridingWorkloads) {
    const entries = Object.entries(w.matchLabels);
    if (entries.length === 1) exprs.push({ key: `k8s:${entries[0]![0]}`, operator: 'NotIn', values: [entries[0]![1]] });
    else narrowing.push(`workloads overriding this policy (${entries.map(([k, v]) => `${k}=${v}`).join(',')}) cannot be excluded by one label; they also deny plaintext`);
  }
  const endpointSelector = selector && Object.keys(selector).length
    ? { matchLabels: Object.fromEntries(Object.entries(selector).sort(([a], [b]) => a.localeCompare(b))) }
    : exprs.length ? { matchExpressions: exprs } : {};
  const name = mesh ? `istio-mtls-strict-${ns}-${pa.metadata.name}` : `istio-mtls-strict-${pa.metadata.name}`;
  gaps.push({ code: GAP.PA_STRICT, level: 'Info', object: ref, reason: `STRICT${strictPorts === 'any' ? '' : ` on ports ${strictPorts.map(([a, b]) => (a === b ? a : `${a}-${b}`)).join(',')}`}: plaintext peers (pods without sidecar, world) are denied by an ingressDeny rule`, target: TARGET.mutualAuth });
  const manifest: KubeObject = {
    apiVersion: CILIUM_API_VERSION,
    kind: mesh ? 'CiliumClusterwideNetworkPolicy' : 'CiliumNetworkPolicy',
    metadata: { name, ...(mesh ? {} : { namespace: ns }), labels: { ...MANAGED_BY }, annotations: { 'migrate.io/source': ref } },
    spec: {
      description: `Translated from PeerAuthentication ${ns}/${pa.metadata.name} (STRICT): plaintext peers are rejected`,
      endpointSelector,
      enableDefaultDeny: { ingress: false },
      ingressDeny: denyRules(strictPorts),
    },
  };
  return { manifest, gaps, narrowing, requirements };
}
