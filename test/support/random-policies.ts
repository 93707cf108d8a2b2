// Random CiliumNetworkPolicy sets over a small universe, with every request of the universe, for differential tests of
// the shadow against the Cilium reference evaluator (test/unit/shadow-probe-differential.test.ts on a model of the
// probe, test/integration/probe-differential.test.ts on the real programs). Seeded (mulberry32: an LCG's low bits
// cycle too fast for `% 4`), so a failure reproduces.
import type { KubeObject } from '../../src/core/model/k8s.js';
import type { ProbePodInput } from '../../src/core/shadow/probe-config.js';
import type { Peer, Request } from '../../src/core/verify/request.js';

export interface PolicySet { index: number; policies: KubeObject[] }

export const UNIVERSE = (() => {
  const apps = ['a', 'b', 'c'];
  const pods: ProbePodInput[] = apps.map((a, i) => ({ name: a, namespace: 'ns', ip: `10.250.0.${i + 1}`, serviceAccount: a, labels: { app: a }, sidecar: i !== 2 }));
  const peers: Peer[] = [
    ...pods.map((p) => ({ kind: 'pod' as const, namespace: 'ns', serviceAccount: p.serviceAccount, labels: p.labels, ip: p.ip, inMesh: p.sidecar })),
    ...['192.0.2.1', '192.0.2.130', '198.51.100.5', '203.0.113.9'].map((ip) => ({ kind: 'external' as const, ip })),
  ];
  return { apps, pods, peers, ports: [80, 81, 8080], cidrs: ['192.0.2.0/24', '192.0.2.128/25', '0.0.0.0/0', '198.51.100.0/24'] };
})();

/** Every request of the universe to pod `dst` (a UDP flow, plain TCP, and three HTTP requests). */
export function* requestsTo(dst: ProbePodInput): Generator<Request> {
  for (const src of UNIVERSE.peers) for (const port of [...UNIVERSE.ports, 8100]) for (const h of ['UDP' as const, null, { method: 'GET', path: '/x' }, { method: 'POST', path: '/x/y' }, { method: 'GET', path: '/z' }]) {
    const destination = { id: dst.name, namespace: 'ns', serviceAccount: dst.serviceAccount, labels: dst.labels };
    if (h === 'UDP') yield { source: src, mtls: false, destination, port, protocol: 'UDP' };
    else yield { source: src, mtls: false, destination, port, protocol: h ? 'HTTP' : 'TCP', ...(h ?? {}) };
  }
}

/**
 * Peers by label, CIDR (overlapping, with excepts), entities; L4-only and L7 rules on shared ports; port ranges; deny
 * rules; L4 entries of every protocol, or none (any: Cilium's default); toPorts entries without ports (which allow
 * nothing); policies that keep default allow; `specs` lists. L7 rules mostly where Cilium accepts them (TCP ports, not
 * 0), sometimes where it refuses them (ANY or no protocol: the policy has no effect), in default-deny policies and
 * in ones that keep default allow (whose L7 rules still apply: Cilium's EnableDefaultDeny does not cover L7).
 */
export function* randomPolicySets(seed: number, count: number): Generator<PolicySet> {
  let s = seed | 0;
  const rnd = (n: number) => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) % n;
  };
  const pick = <T>(xs: T[]): T => xs[rnd(xs.length)]!;
  const some = <T>(xs: T[]): T[] => xs.filter(() => rnd(2) === 0);
  const { apps, ports, cidrs } = UNIVERSE;
  const http = [{ method: 'GET', path: '/x' }, { method: 'POST' }, { path: '/x/.*' }, { method: 'GET', path: '/z' }];
  const peerFields = (): Record<string, unknown> => {
    switch (rnd(6)) {
      case 0: return {};
      case 1: return { fromEndpoints: some(apps).map((a) => ({ matchLabels: { app: a } })) };
      case 2: return { fromCIDRSet: [{ cidr: pick(cidrs), ...(rnd(2) ? { except: [pick(cidrs)] } : {}) }] };
      case 3: return { fromEntities: [pick(['world', 'cluster', 'all'])] };
      case 4: return { fromCIDR: some(cidrs) };
      // two kinds of peer in one rule: the agent refuses the policy (admission.ts), now and then
      default: return rnd(8) ? { fromEndpoints: [{ matchLabels: { app: pick(apps) } }] } : { fromEndpoints: [{ matchLabels: { app: pick(apps) } }], fromCIDR: [pick(cidrs)] };
    }
  };
  const toPorts = (l7: boolean) => {
    // now and then L7 rules Cilium refuses (on ANY or no protocol: the whole policy is left out) or that have no port
    // to sit on (no ports: the entry allows nothing)
    if (l7 && rnd(2)) {
      const proto = rnd(16) === 0 ? pick([{ protocol: 'ANY' }, {}]) : { protocol: 'TCP' };
      return [{ ...(rnd(12) ? { ports: [pick(ports), ...some(ports)].map((p) => ({ port: String(p), ...proto })) } : {}), rules: { http: some(http) } }];
    }
    return [{ ports: some(ports).map((p) => (rnd(4) === 0 ? { port: String(p), endPort: p + 50, protocol: 'TCP' } : { port: String(p), ...(rnd(6) ? { protocol: pick(['TCP', 'ANY', 'UDP', 'SCTP']) } : {}) })) }];
  };
  // a rule without toPorts covers every port, unless it lists ICMP types (ICMP only)
  const rule = (l7: boolean) => ({ ...peerFields(), ...(rnd(4) ? { toPorts: toPorts(l7) } : rnd(4) ? {} : { icmps: [{ fields: [{ type: 8 }] }] }) });
  for (let index = 0; index < count; index++) {
    const policies: KubeObject[] = [];
    for (let k = 0, n = 1 + rnd(3); k < n; k++) {
      const keepsAllow = rnd(3) === 0;
      const spec = { endpointSelector: rnd(3) ? { matchLabels: { app: pick(apps) } } : {}, ...(keepsAllow ? { enableDefaultDeny: { ingress: false } } : {}),
        ...(rnd(4) ? { ingress: Array.from({ length: rnd(3) + 1 }, () => rule(true)) } : {}), ...(rnd(3) === 0 ? { ingressDeny: [rule(false)] } : {}) };
      policies.push({ apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: `p${k}`, namespace: 'ns' }, ...(rnd(5) ? { spec } : { specs: [spec] }) } as unknown as KubeObject);
    }
    yield { index, policies };
  }
}

/** The policies, for a failure message. */
export const specsOf = (set: PolicySet) => JSON.stringify(set.policies.map((p) => p.spec ?? (p as { specs?: unknown }).specs));
