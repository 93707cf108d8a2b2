// A model of how shadow-probe reads its config (shadow-probe/README.md "Verdicts"), written from the documentation,
// not from the C code, for unit tests that need the probe's verdict without a kernel: the peer's identity by the
// longest prefix (a pod's /32 first), policy entries of the peer and of any peer where deny wins over audit wins over
// allow (by protocol: an ANY entry is TCP and UDP), default deny once an endpoint has an entry unless the pod's
// defaultDeny says otherwise, then, for TCP, the L7 rules of the port that apply to the peer (path cut at '?', as the
// kernel keeps it). The real probe is checked against the same semantics by test_progs (kernel) and
// the lab tests.
import { cidrContains, parseCidr, parseIp } from '../../src/core/verify/ip.js';
import type { ProbeConfig } from '../../src/core/shadow/probe-config.js';

const WORLD = 2;

export interface ProbeModelRequest {
  pod: string;
  peerIp: string;
  port: number;
  /** null: plain TCP (no HTTP request parsed), or a UDP flow when `udp`. */
  http: { method: string; path: string } | null;
  udp?: boolean;
}

export class ProbeModel {
  private readonly prefixes: { cidr: NonNullable<ReturnType<typeof parseCidr>>; identity: number }[] = [];

  constructor(private readonly cfg: ProbeConfig) {
    const all = [
      ...cfg.pods.map((p) => ({ text: `${p.ip}/32`, identity: p.identity })),
      ...cfg.identities.map((i) => ({ text: 'cidr' in i ? i.cidr : `${i.ip}/32`, identity: i.identity })),
    ];
    for (const x of all) { const c = parseCidr(x.text); if (c && !c.v6) this.prefixes.push({ cidr: c, identity: x.identity }); }
    // longest first; a pod's own /32 before an identity entry of the same address (the loader keeps the pod's)
    this.prefixes.sort((a, b) => b.cidr.bits - a.cidr.bits);
  }

  identityOf(ip: string): number {
    const a = parseIp(ip);
    for (const p of this.prefixes) if (cidrContains(p.cidr, a)) return p.identity;
    return WORLD;
  }

  /** 'allow' | 'deny', or 'tcp-on-l7' for plain TCP on a port with L7 rules (the probe parses no HTTP there). */
  verdict(r: ProbeModelRequest): 'allow' | 'deny' | 'tcp-on-l7' {
    const peer = this.identityOf(r.peerIp);
    const entries = this.cfg.policy.filter((e) => (!e.pod || e.pod === r.pod) && e.direction === 'ingress');
    const proto = r.udp ? 'UDP' : 'TCP';
    const hit = entries.filter((e) => (e.identity === 0 || e.identity === peer) && (e.protocol === proto || e.protocol === 'ANY')
      && (e.port === 0 || (r.port >= e.port && r.port <= (e.endPort ?? e.port))));
    if (hit.some((e) => e.action === 'deny' || e.action === 'audit')) return 'deny';
    if (!hit.length) {
      const dd = this.cfg.pods.find((p) => p.name === r.pod)?.defaultDeny?.ingress;
      return (dd ?? entries.length > 0) ? 'deny' : 'allow';
    }
    // L7 rules are HTTP: the probe parses TCP only, and a UDP flow ends at L4
    const rules = r.udp ? [] : this.cfg.l7.filter((l) => (!l.pod || l.pod === r.pod) && l.port === r.port);
    if (!rules.length) return 'allow';
    if (!r.http) return 'tcp-on-l7';
    const path = r.http.path.split('?')[0]!;
    for (const l of rules) {
      if (l.identity && l.identity !== peer) continue;
      if (l.method && l.method !== '*' && l.method !== r.http.method) continue;
      if (l.pathExact !== undefined && path !== l.pathExact) continue;
      if (l.pathPrefix !== undefined && !path.startsWith(l.pathPrefix)) continue;
      if (l.pathSuffix !== undefined && !path.endsWith(l.pathSuffix)) continue;
      if (l.pathRegex !== undefined && !new RegExp(`^(${l.pathRegex})$`).test(path)) continue;
      return 'allow';
    }
    return 'deny';
  }
}
