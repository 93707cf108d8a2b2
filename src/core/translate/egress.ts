// Sidecar egress + ServiceEntry -> Cilium egress (issue 4, part 2). Only a Sidecar with outboundTrafficPolicy
// REGISTRY_ONLY restricts where a workload may connect; with ALLOW_ANY (Istio's default) there is no egress
// access control to translate. For REGISTRY_ONLY the workload may reach the services its egress hosts name and
// the ServiceEntry hosts visible to it: per Service a toEndpoints rule (its selector, its numeric target ports),
// per external host a toFQDNs rule (its ports), plus DNS to kube-dns through the DNS proxy that toFQDNs needs.
import type { KubeObject } from '../model/k8s.js';
import { objectRef } from '../model/k8s.js';
import type { EgressRule, EndpointSelector } from '../cilium/types.js';
import { CILIUM_API_VERSION, LABEL_NAMESPACE } from '../cilium/types.js';
import { MANAGED_BY } from './authz.js';
import { GAP, TARGET } from './gaps.js';
import type { Gap } from './types.js';

export interface EgressTranslation { manifest?: KubeObject; gaps: Gap[]; narrowing: string[]; fidelity: 'exact' | 'narrower' | 'gap' | 'wider' }

const DNS_RULE: EgressRule = {
  toEndpoints: [{ matchLabels: { [LABEL_NAMESPACE]: 'kube-system', 'k8s:k8s-app': 'kube-dns' } }],
  toPorts: [{ ports: [{ port: '53', protocol: 'UDP' }, { port: '53', protocol: 'TCP' }], rules: { dns: [{ matchPattern: '*' }] } } as never],
};

function targetPorts(svc: KubeObject): { ports: number[]; named: string[] } {
  const ports: number[] = []; const named: string[] = [];
  for (const p of (svc.spec?.ports ?? []) as { port: number; targetPort?: number | string; protocol?: string }[]) {
    if ((p.protocol ?? 'TCP') !== 'TCP') continue;
    const t = p.targetPort ?? p.port;
    if (typeof t === 'number' || /^\d+$/.test(String(t))) ports.push(Number(t)); else named.push(String(t));
  }
  return { ports: [...new Set(ports)].sort((a, b) => a - b), named };
}

/** `ns/dnsName` of a Sidecar egress host: which namespaces and which names. */
function splitHost(h: string, own: string): { ns: string | '*' | undefined; name: string } {
  const i = h.indexOf('/');
  const ns = i < 0 ? '*' : h.slice(0, i);
  const name = i < 0 ? h : h.slice(i + 1);
  return { ns: ns === '.' ? own : ns === '~' ? undefined : ns, name };
}

function hostMatches(pattern: string, host: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1));
  return pattern === host;
}

export function translateSidecar(sc: KubeObject, services: KubeObject[], serviceEntries: KubeObject[]): EgressTranslation {
  const ref = objectRef(sc);
  const own = sc.metadata.namespace ?? 'default';
  const mode = sc.spec?.outboundTrafficPolicy?.mode ?? 'ALLOW_ANY';
  const hosts: string[] = (sc.spec?.egress ?? []).flatMap((e: { hosts?: string[] }) => e.hosts ?? []);
  if (mode !== 'REGISTRY_ONLY') {
    return { fidelity: 'exact', narrowing: [], gaps: [{ code: GAP.SIDECAR, level: 'Info', object: ref, reason: `outbound ${mode}: the egress hosts (${hosts.join(', ') || 'default'}) only trim proxy configuration, unknown destinations pass through; no egress access control to translate (assumes the mesh default is not REGISTRY_ONLY)`, target: TARGET.egress }] };
  }
  const narrowing: string[] = [];
  const rules: EgressRule[] = [DNS_RULE];
  const svcRules = new Map<string, EgressRule>();
  const fqdnRules = new Map<string, EgressRule>();
  for (const h of hosts) {
    const { ns, name } = splitHost(h, own);
    if (ns === undefined) continue;
    for (const s of services) {
      const sns = s.metadata.namespace ?? 'default';
      if (ns !== '*' && ns !== sns) continue;
      const fq = `${s.metadata.name}.${sns}.svc.cluster.local`;
      if (!(name === '*' || hostMatches(name, fq) || name === s.metadata.name || name === `${s.metadata.name}.${sns}`)) continue;
      const sel = s.spec?.selector as Record<string, string> | undefined;
      if (!sel || Object.keys(sel).length === 0) { narrowing.push(`Service ${sns}/${s.metadata.name} has no selector (external endpoints): not reachable`); continue; }
      const { ports, named } = targetPorts(s);
      if (named.length) narrowing.push(`Service ${sns}/${s.metadata.name}: named target ports ${named.join(', ')} not resolvable offline: not reachable on those`);
      if (!ports.length) continue;
      const ep: EndpointSelector = { matchLabels: { [LABEL_NAMESPACE]: sns, ...Object.fromEntries(Object.entries(sel).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [`k8s:${k}`, v])) } };
      svcRules.set(`${sns}/${s.metadata.name}`, { toEndpoints: [ep], toPorts: [{ ports: ports.map((p) => ({ port: String(p), protocol: 'TCP' as const })) }] });
    }
    for (const se of serviceEntries) {
      const sns = se.metadata.namespace ?? 'default';
      if (ns !== '*' && ns !== sns) continue;
      if ((se.spec?.location ?? 'MESH_EXTERNAL') !== 'MESH_EXTERNAL') continue;
      const ports = ((se.spec?.ports ?? []) as { number: number }[]).map((p) => p.number).filter((p) => p > 0);
      for (const host of (se.spec?.hosts ?? []) as string[]) {
        if (!hostMatches(name, host)) continue;
        if (se.spec?.resolution === 'STATIC') { narrowing.push(`ServiceEntry ${sns}/${se.metadata.name}: STATIC resolution (fixed addresses) not translated: ${host} not reachable`); continue; }
        const fq = host.startsWith('*.') ? { matchPattern: host } : { matchName: host };
        fqdnRules.set(`${host}`, { toFQDNs: [fq], ...(ports.length ? { toPorts: [{ ports: [...new Set(ports)].sort((a, b) => a - b).map((p) => ({ port: String(p), protocol: 'TCP' as const })) }] } : {}) });
      }
    }
  }
  rules.push(...[...svcRules.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, r]) => r));
  rules.push(...[...fqdnRules.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, r]) => r));
  const selector = sc.spec?.workloadSelector?.labels as Record<string, string> | undefined;
  const manifest: KubeObject = {
    apiVersion: CILIUM_API_VERSION,
    kind: 'CiliumNetworkPolicy',
    metadata: { name: `istio-egress-${sc.metadata.name}`, namespace: own, labels: { ...MANAGED_BY }, annotations: { 'migrate.io/source': ref } },
    spec: {
      description: `Translated from Sidecar ${own}/${sc.metadata.name} (outbound REGISTRY_ONLY)`,
      endpointSelector: selector && Object.keys(selector).length ? { matchLabels: Object.fromEntries(Object.entries(selector).sort(([a], [b]) => a.localeCompare(b))) } : {},
      egress: rules,
    },
  };
  const gaps: Gap[] = [
    // Cilium sees connections after service translation: it cannot tell a Service VIP from a direct pod IP.
    { code: GAP.EGRESS_POD_IP, level: 'Error', object: ref, reason: 'egress rules admit direct pod-IP connections to the allowed Services\' pods, which Istio REGISTRY_ONLY sends to the BlackHole cluster (wider for that traffic; not differentially verified: the evaluators model ingress)', target: TARGET.egress },
    { code: GAP.SIDECAR, level: 'Warning', object: ref, reason: 'requires the Cilium DNS proxy (toFQDNs) and allows DNS to kube-dns', target: TARGET.toFqdns },
  ];
  return { manifest, gaps, narrowing, fidelity: 'wider' };
}
