// Which peers an L7 rule of the plan applies to (reference/cilium-policy.md "Ports and L7"). Cilium scopes HTTP rules
// to the peers of their ingress rule, and an L4-only rule for a peer and port lifts every L7 restriction for that
// peer there (union). The probe keeps one rule set per (pod, port): exact when every peer allowed on the port gets
// the same rules, which is the common case and stays in the kernel. Otherwise the rules carry the peer identity
// they apply to (l7[].identity), and the probe decides those requests in userspace with the peer.
import type { L7Rule } from './types.js';

/** What one allow rule grants one pod on one port entry. */
export interface PortGrant {
  pod: string;
  /** 0: every port. */
  port: number;
  endPort?: number;
  protocol: string;
  /** Peer identities; 0: any peer. */
  peers: number[];
  /** The L4 rule's id (names the decision when its grant lifts the L7 rules of a peer). */
  ruleId: number;
  /** null: no HTTP rules, every request passes; else the HTTP rules (pod and identity are filled in here). */
  http: Omit<L7Rule, 'pod' | 'identity'>[] | null;
}

const EVERY_REQUEST = '*';

function covers(g: PortGrant, port: number): boolean {
  if (g.protocol !== 'TCP' && g.protocol !== 'ANY') return false;
  if (g.port === 0) return true;
  return port >= g.port && port <= (g.endPort && g.endPort > g.port ? g.endPort : g.port);
}

const ruleKey = (r: Omit<L7Rule, 'pod' | 'identity'>): string => JSON.stringify([r.ruleId, r.method, r.pathExact, r.pathPrefix, r.pathSuffix, r.pathRegex]);

/** The rules a peer gets on a port: the sorted keys of every covering grant's HTTP rules, or EVERY_REQUEST. */
function view(grants: PortGrant[], peer: number): string {
  const gs = grants.filter((g) => g.peers.includes(0) || (peer !== 0 && g.peers.includes(peer)));
  if (gs.some((g) => g.http === null)) return EVERY_REQUEST;
  return [...new Set(gs.flatMap((g) => g.http!.map(ruleKey)))].sort().join('\n');
}

/**
 * The probe's l7[] for the grants of the plan, in the order the grants name them. defaultAllow: pods whose policies
 * keep default allow. There a peer no grant names is not redirected to the L7 proxy in Cilium and may send anything,
 * while a peer-less rule set would hold it to the rules: such pods' rules always name their peers (the probe lets a
 * peer no rule names through there), unless an any-peer grant covers the port and so names every peer.
 */
export function l7RulesOf(grants: PortGrant[], defaultAllow: ReadonlySet<string> = new Set()): L7Rule[] {
  const out: L7Rule[] = [];
  const seen = new Set<string>();
  const push = (r: L7Rule) => {
    const k = `${r.pod}|${r.port}|${r.identity ?? 0}|${ruleKey(r)}`;
    if (!seen.has(k)) { seen.add(k); out.push(r); }
  };
  const ports = new Map<string, { pod: string; port: number }>();
  for (const g of grants) if (g.http?.length) for (const h of g.http) ports.set(`${g.pod}|${h.port}`, { pod: g.pod, port: h.port });
  for (const { pod, port } of ports.values()) {
    // a grant whose selector names no peer (a CIDR set whose excepts cover it) grants nothing
    const covering = grants.filter((g) => g.pod === pod && g.peers.length && covers(g, port));
    const specific = [...new Set(covering.flatMap((g) => g.peers).filter((p) => p !== 0))].sort((a, b) => a - b);
    const views = new Map<number, string>(specific.map((p) => [p, view(covering, p)]));
    // peers no rule names get what the any-peer grants give; without such grants they are denied at L4 (or, where
    // the pod keeps default allow, pass untouched)
    const anyPeer = covering.some((g) => g.peers.includes(0));
    if (anyPeer) views.set(0, view(covering, 0));
    const distinct = new Set(views.values());
    if (distinct.size === 1 && (anyPeer || !defaultAllow.has(pod) || distinct.has(EVERY_REQUEST))) {
      if (distinct.has(EVERY_REQUEST)) continue; // every allowed peer may send any request: no L7 set
      for (const g of covering) for (const h of g.http ?? []) if (h.port === port) push({ pod, ...h });
      continue;
    }
    for (const g of covering) {
      for (const h of g.http ?? []) {
        if (h.port !== port) continue;
        for (const peer of g.peers) push({ pod, ...h, ...(peer ? { identity: peer } : {}) });
      }
    }
    // a peer that an L4-only rule allows here may send any request: a rule with no method and no path says so
    for (const [peer, v] of views) {
      if (peer === 0 || v !== EVERY_REQUEST) continue;
      const lift = covering.find((g) => g.http === null && g.peers.includes(peer))!;
      push({ pod, port, identity: peer, ruleId: lift.ruleId });
    }
  }
  return out;
}
