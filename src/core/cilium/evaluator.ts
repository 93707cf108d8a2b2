// The Cilium reference evaluator for ingress (reference/cilium-policy.md): default-deny per direction once a
// policy with an ingress section selects the endpoint (unless every such policy sets enableDefaultDeny false),
// allow rules form a union, deny rules win, peers by label selector (CNP peers default to the policy's
// namespace), CIDR sets with except only for non-cluster peers, L4 ports, and L7 HTTP rules as anchored
// regexes on method, path (with query string), host and headers. Compiled once into closures.
import type { KubeObject, Labels } from '../model/k8s.js';
import type { Decision, Request, Verdict, Workload } from '../verify/request.js';
import { cidrContains, parseCidr, parseIp } from '../verify/ip.js';
import { compileSelector, labelsOfPeer, labelsOfWorkload } from './labels.js';
import type { LabelPred } from './labels.js';
import type { CiliumRuleSpec, IngressRule, PortRule, PortRuleHTTP } from './types.js';

interface Ctx { req: Request; srcLabels: Labels | undefined; srcIp: ReturnType<typeof parseIp> }
type Pred = (c: Ctx) => boolean;

/** RE2 as Cilium hands it to Envoy, matched against the whole value. Only a leading `(?i)` needs translating. */
export function compileAnchored(re: string): RegExp {
  let flags = '';
  let body = re;
  if (body.startsWith('(?i)')) { flags = 'i'; body = body.slice(4); }
  return new RegExp(`^(?:${body})$`, flags);
}

function compilePeers(r: IngressRule, implicitNs: string | undefined): Pred {
  const preds: Pred[] = [];
  for (const s of r.fromEndpoints ?? []) {
    const m: LabelPred = compileSelector(s, implicitNs);
    preds.push((c) => c.srcLabels !== undefined && m(c.srcLabels));
  }
  const cidrs = [...(r.fromCIDR ?? []).map((cidr) => ({ cidr, except: [] as string[] })), ...(r.fromCIDRSet ?? []).map((x) => ({ cidr: x.cidr, except: x.except ?? [] }))];
  for (const x of cidrs) {
    const base = parseCidr(x.cidr);
    const ex = x.except.map((e) => parseCidr(e)).filter((e) => e !== null);
    // CIDR selectors never select cluster endpoints: pods are known by identity, not address.
    if (base) preds.push((c) => c.srcLabels === undefined && cidrContains(base, c.srcIp) && !ex.some((e) => cidrContains(e, c.srcIp)));
  }
  for (const e of r.fromEntities ?? []) {
    if (e === 'all') preds.push(() => true);
    else if (e === 'world') preds.push((c) => c.srcLabels === undefined);
    else if (e === 'cluster') preds.push((c) => c.srcLabels !== undefined);
    // host, remote-node, kube-apiserver, ...: no such peer in the modelled requests.
  }
  const hasPeerField = r.fromEndpoints !== undefined || r.fromCIDR !== undefined || r.fromCIDRSet !== undefined || r.fromEntities !== undefined;
  // A rule with no peer field but with toPorts allows from every peer; `{}` allows nothing.
  if (!hasPeerField) return r.toPorts && r.toPorts.length ? () => true : () => false;
  const auth = r.authentication?.mode;
  // Mutual authentication (SPIRE) succeeds for cluster endpoints only; test-always-fail never succeeds.
  const authOk: Pred = auth === 'required' ? (c) => c.srcLabels !== undefined : auth === 'test-always-fail' ? () => false : () => true;
  return (c) => { if (!authOk(c)) return false; for (const p of preds) if (p(c)) return true; return false; };
}

type L7 = (req: Request) => boolean;

function compileHttp(h: PortRuleHTTP): L7 {
  const m = h.method !== undefined ? compileAnchored(h.method) : undefined;
  const p = h.path !== undefined ? compileAnchored(h.path) : undefined;
  const host = h.host !== undefined ? compileAnchored(h.host) : undefined;
  const present = (h.headers ?? []).map((x) => x.toLowerCase());
  const exact = (h.headerMatches ?? []).map((x) => ({ name: x.name.toLowerCase(), value: x.value }));
  return (req) => {
    if (m && !m.test(req.method ?? '')) return false;
    if (p && !p.test(req.path ?? '')) return false;
    if (host && !host.test(req.host ?? '')) return false;
    for (const n of present) if (req.headers?.[n] === undefined) return false;
    for (const x of exact) { const v = req.headers?.[x.name]; if (v === undefined || (x.value !== undefined && v !== x.value)) return false; }
    return true;
  };
}

interface PortMatch { ports: ((port: number) => boolean); http: L7[] | undefined }

function compilePortRule(pr: PortRule): PortMatch {
  const ps = (pr.ports ?? []).map((pp) => {
    const proto = pp.protocol ?? 'ANY';
    const okProto = proto === 'TCP' || proto === 'ANY';
    const lo = /^\d+$/.test(pp.port) ? Number(pp.port) : NaN;
    const hi = pp.endPort && pp.endPort > lo ? pp.endPort : lo;
    // Port 0 means all ports. Named ports do not occur in translated policies: they never match here.
    return (port: number) => okProto && (lo === 0 || (port >= lo && port <= hi));
  });
  const http = pr.rules?.http;
  return {
    ports: ps.length === 0 ? () => true : (port) => ps.some((f) => f(port)),
    http: http && http.length > 0 ? http.map(compileHttp) : undefined,
  };
}

interface CompiledIngress { id: string; peer: Pred; ports: PortMatch[] | undefined }
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
    const sel = compileSelector(s.endpointSelector ?? {});
    const tag = specsOf(p).length > 1 ? `${ref}[${si}]` : ref;
    const comp = (rules: IngressRule[] | undefined, kind: string): CompiledIngress[] => (rules ?? []).map((r, i) => ({
      id: `${tag}#${kind}[${i}]`,
      peer: compilePeers(r, ns),
      ports: r.toPorts && r.toPorts.length ? r.toPorts.map(compilePortRule) : undefined,
    }));
    const hasIngress = (s.ingress !== undefined && s.ingress.length > 0) || (s.ingressDeny !== undefined && s.ingressDeny.length > 0);
    return {
      ref: tag,
      namespace: ns,
      selects: (w: Workload) => (ns === undefined || w.namespace === ns) && sel(labelsOfWorkload(w)),
      ingress: comp(s.ingress, 'ingress'),
      deny: comp(s.ingressDeny, 'ingressDeny'),
      defaultDeny: hasIngress && s.enableDefaultDeny?.ingress !== false,
    };
  });
}

interface Selecting { specs: CompiledSpec[]; defaultDeny: boolean }

export class CiliumEvaluator {
  private readonly specs: CompiledSpec[];
  private readonly byNamespace = new Map<string | undefined, CompiledSpec[]>();
  private readonly byWorkload = new Map<string, Selecting>();

  constructor(policies: KubeObject[]) {
    const sorted = [...policies].sort((a, b) => `${a.kind}/${a.metadata.namespace ?? ''}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.namespace ?? ''}/${b.metadata.name}`));
    this.specs = sorted.filter((p) => p.kind === 'CiliumNetworkPolicy' || p.kind === 'CiliumClusterwideNetworkPolicy').flatMap(compileSpecs);
    for (const s of this.specs) { const l = this.byNamespace.get(s.namespace) ?? []; l.push(s); this.byNamespace.set(s.namespace, l); }
  }

  private selecting(w: Workload): Selecting {
    let s = this.byWorkload.get(w.id);
    if (!s) {
      // Keep the global (kind/namespace/name) order: CCNPs sort before CNPs.
      const candidates = [...(this.byNamespace.get(undefined) ?? []), ...(this.byNamespace.get(w.namespace) ?? [])];
      const specs = candidates.filter((x) => x.selects(w));
      s = { specs, defaultDeny: specs.some((x) => x.defaultDeny) };
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
    for (const s of sel.specs) {
      for (const d of s.deny) {
        if (!d.peer(c)) continue;
        let hit = d.ports === undefined;
        if (!hit) for (const p of d.ports!) if (p.ports(port)) { hit = true; break; }
        if (hit) return explain ? { decision: 'deny', reason: 'deny rule matched', rules: [d.id] } : 'deny';
      }
    }
    if (!sel.defaultDeny) return explain ? { decision: 'allow', reason: 'no default-deny policy selects the endpoint', rules: [] } : 'allow';
    let l7Rules: string[] | undefined;
    let l7 = false;
    const http = req.protocol === 'HTTP';
    for (const s of sel.specs) {
      for (const r of s.ingress) {
        if (!r.peer(c)) continue;
        if (r.ports === undefined) return explain ? { decision: 'allow', reason: 'L3 rule matched', rules: [r.id] } : 'allow';
        for (const p of r.ports) {
          if (!p.ports(port)) continue;
          if (p.http === undefined) return explain ? { decision: 'allow', reason: 'L4 rule matched', rules: [r.id] } : 'allow';
          l7 = true;
          if (explain) (l7Rules ??= []).push(r.id);
          // Non-HTTP bytes on a port with HTTP rules fail to parse in the proxy.
          if (http) for (const h of p.http) if (h(req)) return explain ? { decision: 'allow', reason: 'L7 rule matched', rules: [r.id] } : 'allow';
        }
      }
    }
    if (!explain) return 'deny';
    if (l7) return { decision: 'deny', reason: http ? 'no HTTP rule matched (403)' : 'non-HTTP traffic on an L7 port', rules: l7Rules ?? [] };
    return { decision: 'deny', reason: 'default deny: no rule matched', rules: [] };
  }
}
