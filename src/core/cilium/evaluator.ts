// The Cilium reference evaluator for ingress (reference/cilium-policy.md): default-deny per direction once a
// policy with an ingress section selects the endpoint (unless every such policy sets enableDefaultDeny false),
// allow rules form a union, deny rules win, peers by label selector (CNP peers default to the policy's
// namespace), CIDR sets with except only for non-cluster peers, L4 ports, and L7 HTTP rules as anchored
// regexes on method, path (with query string), host and headers. A policy the agent refuses (admission.ts) is left
// out, as the agent leaves it out. Compiled once into data.
import type { KubeObject, Labels } from '../model/k8s.js';
import type { Decision, Request, Verdict, Workload } from '../verify/request.js';
import { cidrContains, parseCidr, parseIp } from '../verify/ip.js';
import { labelsOfPeer, labelsOfWorkload, matchSelector, selectorData } from './labels.js';
import { ciliumRejects, l4Proto } from './admission.js';
import type { SelectorData } from './labels.js';
import type { Cidr } from '../verify/ip.js';
import type { CiliumRuleSpec, IngressRule, PortRule, PortRuleHTTP } from './types.js';

interface Ctx { req: Request; srcLabels: Labels | undefined; srcIp: ReturnType<typeof parseIp> }

/** RE2 as Cilium hands it to Envoy, matched against the whole value. Only a leading `(?i)` needs translating. */
export function compileAnchored(re: string): RegExp {
  let flags = '';
  let body = re;
  if (body.startsWith('(?i)')) { flags = 'i'; body = body.slice(4); }
  return new RegExp(`^(?:${body})$`, flags);
}

// Compiled rules are plain data read by the shared functions below (not per-policy closures: V8 warms each
// closure instance separately, so thousands of policies' closures would run mostly cold).

const AUTH_NONE = 0; const AUTH_REQUIRED = 1; const AUTH_FAIL = 2;

interface PeerData {
  /** 0: `{}` allows nothing; 1: no peer field but toPorts = every peer; 2: the fields below. */
  mode: 0 | 1 | 2;
  endpoints: SelectorData[];
  cidrs: { base: Cidr; except: Cidr[] }[];
  all: boolean;
  world: boolean;
  cluster: boolean;
  auth: 0 | 1 | 2;
}

function peerData(r: IngressRule, implicitNs: string | undefined): PeerData {
  const hasPeerField = r.fromEndpoints !== undefined || r.fromCIDR !== undefined || r.fromCIDRSet !== undefined || r.fromEntities !== undefined;
  const cidrs = [...(r.fromCIDR ?? []).map((cidr) => ({ cidr, except: [] as string[] })), ...(r.fromCIDRSet ?? []).map((x) => ({ cidr: x.cidr, except: x.except ?? [] }))]
    .map((x) => ({ base: parseCidr(x.cidr), except: x.except.map((e) => parseCidr(e)).filter((e): e is Cidr => e !== null) }))
    .filter((x): x is { base: Cidr; except: Cidr[] } => x.base !== null);
  const ents = new Set(r.fromEntities ?? []);
  const auth = r.authentication?.mode;
  return {
    mode: hasPeerField ? 2 : r.toPorts && r.toPorts.length ? 1 : 0,
    endpoints: (r.fromEndpoints ?? []).map((s) => selectorData(s, implicitNs)),
    cidrs,
    all: ents.has('all'),
    world: ents.has('world'),
    // host, remote-node, kube-apiserver, ...: no such peer in the modelled requests.
    cluster: ents.has('cluster'),
    auth: auth === 'required' ? AUTH_REQUIRED : auth === 'test-always-fail' ? AUTH_FAIL : AUTH_NONE,
  };
}

function peerMatches(p: PeerData, c: Ctx): boolean {
  if (p.mode !== 2) return p.mode === 1;
  // Mutual authentication (SPIRE) succeeds for cluster endpoints only; test-always-fail never succeeds.
  if (p.auth === AUTH_FAIL || (p.auth === AUTH_REQUIRED && c.srcLabels === undefined)) return false;
  if (p.all) return true;
  const l = c.srcLabels;
  if (l !== undefined) {
    if (p.cluster) return true;
    for (const e of p.endpoints) if (matchSelector(e, l)) return true;
    return false;
  }
  // CIDR selectors never select cluster endpoints: pods are known by identity, not address.
  if (p.world) return true;
  for (const x of p.cidrs) {
    if (!cidrContains(x.base, c.srcIp)) continue;
    let excluded = false;
    for (const e of x.except) if (cidrContains(e, c.srcIp)) { excluded = true; break; }
    if (!excluded) return true;
  }
  return false;
}

interface HttpData { method: RegExp | null; path: RegExp | null; host: RegExp | null; present: string[]; exact: { name: string; value: string | null }[] }

function httpData(h: PortRuleHTTP): HttpData {
  return {
    method: h.method !== undefined ? compileAnchored(h.method) : null,
    path: h.path !== undefined ? compileAnchored(h.path) : null,
    host: h.host !== undefined ? compileAnchored(h.host) : null,
    present: (h.headers ?? []).map((x) => x.toLowerCase()),
    exact: (h.headerMatches ?? []).map((x) => ({ name: x.name.toLowerCase(), value: x.value ?? null })),
  };
}

function httpMatches(h: HttpData, req: Request): boolean {
  if (h.method !== null && !h.method.test(req.method ?? '')) return false;
  if (h.path !== null && !h.path.test(req.path ?? '')) return false;
  if (h.host !== null && !h.host.test(req.host ?? '')) return false;
  for (const n of h.present) if (req.headers?.[n] === undefined) return false;
  for (const x of h.exact) { const v = req.headers?.[x.name]; if (v === undefined || (x.value !== null && v !== x.value)) return false; }
  return true;
}

/** Ports as flat [lo, hi, lo, hi, ...] (lo 0 = every port), for TCP and for UDP. An entry that lists no ports
 * matches none: Cilium puts its filters on the listed ports only (a rule without toPorts covers every port). */
interface PortData { tcp: number[]; udp: number[]; http: HttpData[] | null }

function portData(pr: PortRule): PortData {
  const tcp: number[] = [];
  const udp: number[] = [];
  for (const pp of pr.ports ?? []) {
    const proto = l4Proto(pp);
    // SCTP is not modelled; named ports do not occur in translations.
    if (!/^\d+$/.test(pp.port)) continue;
    const lo = Number(pp.port);
    const hi = lo === 0 ? 65535 : pp.endPort && pp.endPort > lo ? pp.endPort : lo;
    if (proto === 'TCP' || proto === 'ANY') tcp.push(lo, hi);
    if (proto === 'UDP' || proto === 'ANY') udp.push(lo, hi);
  }
  const http = pr.rules?.http;
  // HTTP rules sit on TCP ports only (admission.ts refuses the rest), so a UDP filter never carries them
  return { tcp, udp, http: http && http.length > 0 ? http.map(httpData) : null };
}

function portMatches(p: PortData, port: number, udp: boolean): boolean {
  const r = udp ? p.udp : p.tcp;
  for (let i = 0; i < r.length; i += 2) if (port >= r[i]! && port <= r[i + 1]!) return true;
  return false;
}

interface CompiledIngress { id: string; peer: PeerData; ports: PortData[] | null }
interface CompiledSpec {
  ref: string;
  /** undefined for a CCNP (cluster-wide). */
  namespace: string | undefined;
  selects: (w: Workload) => boolean;
  ingress: CompiledIngress[];
  deny: CompiledIngress[];
  /** Has an ingress section and does not opt out of default deny. */
  defaultDeny: boolean;
}

function specsOf(p: KubeObject): CiliumRuleSpec[] {
  const out: CiliumRuleSpec[] = [];
  if (p.spec) out.push(p.spec as CiliumRuleSpec);
  if (Array.isArray(p['specs'])) out.push(...(p['specs'] as CiliumRuleSpec[]));
  return out;
}

function compileSpecs(p: KubeObject): CompiledSpec[] {
  const cluster = p.kind === 'CiliumClusterwideNetworkPolicy';
  const ns = cluster ? undefined : p.metadata.namespace ?? 'default';
  const ref = cluster ? `${p.kind}/${p.metadata.name}` : `${p.kind}/${ns}/${p.metadata.name}`;
  return specsOf(p).map((s, si) => {
    const sel = selectorData(s.endpointSelector ?? {});
    const tag = specsOf(p).length > 1 ? `${ref}[${si}]` : ref;
    const comp = (rules: IngressRule[] | undefined, kind: string): CompiledIngress[] => (rules ?? []).map((r, i) => ({
      id: `${tag}#${kind}[${i}]`,
      peer: peerData(r, ns),
      // no toPorts: every port (an L3 rule), unless the rule lists ICMP types: then ICMP only, no TCP or UDP port
      ports: r.toPorts && r.toPorts.length ? r.toPorts.map(portData) : r.icmps?.length ? [] : null,
    }));
    const hasIngress = (s.ingress !== undefined && s.ingress.length > 0) || (s.ingressDeny !== undefined && s.ingressDeny.length > 0);
    return {
      ref: tag,
      namespace: ns,
      selects: (w: Workload) => (ns === undefined || w.namespace === ns) && matchSelector(sel, labelsOfWorkload(w)),
      ingress: comp(s.ingress, 'ingress'),
      deny: comp(s.ingressDeny, 'ingressDeny'),
      defaultDeny: hasIngress && s.enableDefaultDeny?.ingress !== false,
    };
  });
}

/** Per destination: the deny and allow rules of every selecting policy, flattened once. */
interface Selecting { specs: CompiledSpec[]; deny: CompiledIngress[]; ingress: CompiledIngress[]; defaultDeny: boolean }

export class CiliumEvaluator {
  private readonly specs: CompiledSpec[];
  private readonly byNamespace = new Map<string | undefined, CompiledSpec[]>();
  private readonly byWorkload = new Map<string, Selecting>();

  constructor(policies: KubeObject[]) {
    const sorted = [...policies].sort((a, b) => `${a.kind}/${a.metadata.namespace ?? ''}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.namespace ?? ''}/${b.metadata.name}`));
    // a policy the agent refuses (ciliumRejects) is not in force: none of its rules, no default deny
    this.specs = sorted.filter((p) => (p.kind === 'CiliumNetworkPolicy' || p.kind === 'CiliumClusterwideNetworkPolicy') && ciliumRejects(p) === undefined).flatMap(compileSpecs);
    for (const s of this.specs) { const l = this.byNamespace.get(s.namespace) ?? []; l.push(s); this.byNamespace.set(s.namespace, l); }
  }

  private selecting(w: Workload): Selecting {
    let s = this.byWorkload.get(w.id);
    if (!s) {
      // Keep the global (kind/namespace/name) order: CCNPs sort before CNPs.
      const candidates = [...(this.byNamespace.get(undefined) ?? []), ...(this.byNamespace.get(w.namespace) ?? [])];
      const specs = candidates.filter((x) => x.selects(w));
      s = { specs, deny: specs.flatMap((x) => x.deny), ingress: specs.flatMap((x) => x.ingress), defaultDeny: specs.some((x) => x.defaultDeny) };
      this.byWorkload.set(w.id, s);
    }
    return s;
  }

  /** The decision only, without allocating a verdict: the differential's hot path. */
  decide(req: Request): Decision {
    return this.run(req, false) as Decision;
  }

  evaluate(req: Request): Verdict {
    return this.run(req, true) as Verdict;
  }

  private run(req: Request, explain: boolean): Verdict | Decision {
    const sel = this.selecting(req.destination);
    const c: Ctx = { req, srcLabels: req.source.kind === 'pod' ? labelsOfPeer(req.source) : undefined, srcIp: parseIp(req.source.ip) };
    const port = req.port;
    const udp = req.protocol === 'UDP';
    for (const d of sel.deny) {
      if (!peerMatches(d.peer, c)) continue;
      let hit = d.ports === null;
      if (!hit) for (const p of d.ports!) if (portMatches(p, port, udp)) { hit = true; break; }
      if (hit) return explain ? { decision: 'deny', reason: 'deny rule matched', rules: [d.id] } : 'deny';
    }
    let l7Rules: string[] | undefined;
    let l7 = false;
    const http = req.protocol === 'HTTP';
    {
      for (const r of sel.ingress) {
        if (!peerMatches(r.peer, c)) continue;
        if (r.ports === null) return explain ? { decision: 'allow', reason: 'L3 rule matched', rules: [r.id] } : 'allow';
        for (const p of r.ports) {
          if (!portMatches(p, port, udp)) continue;
          if (p.http === null) return explain ? { decision: 'allow', reason: 'L4 rule matched', rules: [r.id] } : 'allow';
          l7 = true;
          if (explain) (l7Rules ??= []).push(r.id);
          // Non-HTTP bytes on a port with HTTP rules fail to parse in the proxy.
          if (http) for (const h of p.http) if (httpMatches(h, req)) return explain ? { decision: 'allow', reason: 'L7 rule matched', rules: [r.id] } : 'allow';
        }
      }
    }
    // EnableDefaultDeny does not apply to L7 (Cilium, Documentation/security/policy/intro.rst): on an endpoint that
    // keeps default allow, a request an L7 rule covers still answers to the L7 rules; anything else passes.
    if (!sel.defaultDeny && !l7) return explain ? { decision: 'allow', reason: 'no default-deny policy selects the endpoint', rules: [] } : 'allow';
    if (!explain) return 'deny';
    if (l7) return { decision: 'deny', reason: http ? 'no HTTP rule matched (403)' : 'non-HTTP traffic on an L7 port', rules: l7Rules ?? [] };
    return { decision: 'deny', reason: 'default deny: no rule matched', rules: [] };
  }
}
