// AuthorizationPolicy -> CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy (issue 4, part 2). ALLOW becomes
// ingress allow rules (approximated from below), DENY becomes ingressDeny rules (approximated from above) with
// enableDefaultDeny.ingress false so a DENY alone does not switch the endpoint to default deny. Constructs the
// eBPF plane cannot express route the policy to a waypoint (see classify.ts).
import type { KubeObject } from '../model/k8s.js';
import { objectRef } from '../model/k8s.js';
import type { AuthorizationPolicySpec, Condition, Operation, Rule, Source } from '../model/istio.js';
import type { EffectiveMode } from '../istio/peer-authn.js';
import { stringForm } from '../istio/strings.js';
import { ruleHasHttpOnly } from '../istio/evaluator.js';
import type { IngressDenyRule, IngressRule, PortRule, PortRuleHTTP } from '../cilium/types.js';
import { CILIUM_API_VERSION, LABEL_NAMESPACE, LABEL_SERVICE_ACCOUNT } from '../cilium/types.js';
import { overlapsPodRanges, parseCidr } from '../verify/ip.js';
import { ANY, NONE, WORLD, allPods, identity, intersect, meshPods, plainPods, toPeerFields, toPeerRules, union } from './peers.js';
import type { PeerSet, Term } from './peers.js';
import type { PortSet, Range } from './ports.js';
import { chunk40, complement, intersectPorts, isSingles, portsOf, toPortProtocols } from './ports.js';
import { hostRegex, methodRegex, pathRegex } from './http.js';

/** Under-approximate (ALLOW: allow less) or over-approximate (DENY: deny more). */
export type Approx = 'under' | 'over';

export interface RuleContext {
  approx: Approx;
  policyNs: string;
  /** Effective PeerAuthentication modes across the policy's target workloads and ports. */
  modes: EffectiveMode[];
  /** Known ports of the target workloads (for L7 rules without `ports`). */
  targetPorts: number[];
  /** Narrowing reasons, appended to. */
  narrowing: string[];
}

type Ident = Term[] | 'never' | 'inexpressible';

function principalTerms(v: string): Ident {
  const f = stringForm(v);
  if (f.kind === 'presence') return [meshPods()];
  if (f.kind === 'exact') {
    const m = /^([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(f.value);
    return m && m[1] === 'cluster.local' ? [identity(m[2], m[3])] : 'never';
  }
  if (f.kind === 'prefix') {
    if ('cluster.local/ns/'.startsWith(f.value)) return [meshPods()];
    const m = /^cluster\.local\/ns\/([^/]+)\/(sa\/)?$/.exec(f.value);
    return m ? [identity(m[1], undefined)] : 'inexpressible';
  }
  const sa = /^\/?sa\/([^/]+)$/.exec(f.value);
  if (sa) return [identity(undefined, sa[1])];
  const nsSa = /^(?:\/?ns)?\/([^/]+)\/sa\/([^/]+)$/.exec(f.value);
  return nsSa ? [identity(nsSa[1], nsSa[2])] : 'inexpressible';
}

function namespaceTerms(v: string): Ident {
  const f = stringForm(v);
  if (f.kind === 'presence') return [meshPods()];
  return f.kind === 'exact' ? [identity(f.value, undefined)] : 'inexpressible';
}

function saTerms(v: string, policyNs: string): Ident {
  const i = v.indexOf('/');
  return i < 0 ? [identity(policyNs, v)] : [identity(v.slice(0, i), v.slice(i + 1))];
}

/** Terms for "mesh pods whose principal does NOT match v". */
function notPrincipalTerms(v: string): Ident {
  const f = stringForm(v);
  if (f.kind === 'presence') return [];
  const pos = principalTerms(v);
  if (pos === 'never') return [meshPods()];
  if (pos === 'inexpressible') return 'inexpressible';
  return complementIdentity(pos[0]!);
}

function complementIdentity(t: Term): Term[] {
  if (t.kind !== 'endpoints') return [];
  const out: Term[] = [];
  const ns = t.labels[LABEL_NAMESPACE];
  const sa = t.labels[LABEL_SERVICE_ACCOUNT];
  if (ns !== undefined) out.push(meshPods({}, [{ key: LABEL_NAMESPACE, operator: 'NotIn', values: [ns] }]));
  if (sa !== undefined) out.push(meshPods({}, [{ key: LABEL_SERVICE_ACCOUNT, operator: 'NotIn', values: [sa] }]));
  return out; // no ns and no sa: the term was "any mesh pod", whose complement among mesh pods is empty
}

function notNamespaceTerms(v: string): Ident {
  const pos = namespaceTerms(v);
  if (pos === 'never' || pos === 'inexpressible') return pos;
  return complementIdentity(pos[0]!);
}

function notSaTerms(v: string, policyNs: string): Ident {
  const pos = saTerms(v, policyNs);
  return pos === 'never' || pos === 'inexpressible' ? pos : complementIdentity(pos[0]!);
}

function modesInfo(modes: EffectiveMode[]): { allDisable: boolean; anyDisable: boolean; plaintextAccepted: boolean } {
  return {
    allDisable: modes.length > 0 && modes.every((m) => m === 'DISABLE'),
    anyDisable: modes.includes('DISABLE'),
    plaintextAccepted: modes.some((m) => m !== 'STRICT'),
  };
}

/** A positive identity field (principals, namespaces, serviceAccounts, source.principal, source.namespace). */
function positiveIdentity(field: string, values: string[], termsOf: (v: string) => Ident, ctx: RuleContext): PeerSet {
  const mi = modesInfo(ctx.modes);
  // mTLS off: the peer identity is empty and positive matches never match.
  if (mi.allDisable) return NONE;
  if (mi.anyDisable && ctx.approx === 'under') {
    ctx.narrowing.push(`${field}: some target ports have mTLS DISABLE (identity never matches there); identity rule dropped`);
    return NONE;
  }
  const out: Term[] = [];
  for (const v of values) {
    const t = termsOf(v);
    if (t === 'never') continue;
    if (t === 'inexpressible') {
      if (ctx.approx === 'under') ctx.narrowing.push(`${field} value "${v}" has no label-selector form; dropped`);
      else { ctx.narrowing.push(`${field} value "${v}" has no label-selector form; widened to every mesh pod`); out.push(meshPods()); }
      continue;
    }
    out.push(...t);
  }
  return union(out);
}

/** A negative identity field: mesh pods matching none of the values, plus every plaintext peer. */
function negativeIdentity(field: string, values: string[], termsOf: (v: string) => Ident, ctx: RuleContext): PeerSet {
  const mi = modesInfo(ctx.modes);
  if (mi.allDisable) return ANY; // every peer is plaintext: the empty identity matches no value
  let mesh: PeerSet | undefined = [meshPods()];
  for (const v of values) {
    const t = termsOf(v);
    if (t === 'inexpressible') {
      if (ctx.approx === 'under') { ctx.narrowing.push(`${field} value "${v}" has no label-selector form; mesh callers dropped`); mesh = NONE; break; }
      ctx.narrowing.push(`${field} value "${v}" has no label-selector form; exclusion not applied`);
      continue;
    }
    if (t === 'never') continue;
    mesh = intersect(mesh, t);
    if (mesh === undefined) {
      if (ctx.approx === 'under') { ctx.narrowing.push(`${field}: too many exclusions to express; mesh callers dropped`); mesh = NONE; } else { ctx.narrowing.push(`${field}: too many exclusions to express; exclusion not applied`); mesh = [meshPods()]; }
      break;
    }
  }
  if (mi.anyDisable) {
    if (ctx.approx === 'over') return ANY;
    ctx.narrowing.push(`${field}: some target ports have mTLS DISABLE (every caller matches there); only the mesh exclusion is kept`);
  }
  return mi.plaintextAccepted ? union(mesh, [plainPods(), WORLD]) : mesh;
}

function validCidrs(values: string[]): string[] {
  return values.map((v) => parseCidr(v)).filter((c) => c !== null).map((c) => (c.text.includes('/') ? c.text : `${c.text}/${c.v6 ? 128 : 32}`));
}

function ipTerms(field: string, values: string[], ctx: RuleContext): PeerSet {
  const cidrs = validCidrs(values);
  const terms: Term[] = cidrs.map((c) => ({ kind: 'cidr', cidr: c, except: [] }));
  if (cidrs.some((c) => overlapsPodRanges(parseCidr(c)!))) {
    if (ctx.approx === 'under') ctx.narrowing.push(`${field}: pods inside ${cidrs.join(', ')} are not matched (Cilium CIDR rules select only non-cluster peers)`);
    else { ctx.narrowing.push(`${field}: ${cidrs.join(', ')} may hold pod IPs; every pod is included`); terms.push(allPods()); }
  }
  return union(terms);
}

function notIpTerms(field: string, values: string[], ctx: RuleContext): PeerSet {
  const cidrs = validCidrs(values).map((c) => parseCidr(c)!);
  const v4 = cidrs.filter((c) => !c.v6).map((c) => c.text);
  const v6 = cidrs.filter((c) => c.v6).map((c) => c.text);
  const terms: Term[] = [
    { kind: 'cidr', cidr: '0.0.0.0/0', except: v4.sort() },
    { kind: 'cidr', cidr: '::/0', except: v6.sort() },
  ];
  // A pod IP lies inside one of the excluded blocks only if a block overlaps the pod ranges.
  if (!cidrs.some(overlapsPodRanges)) terms.push(allPods());
  else if (ctx.approx === 'over') { terms.push(allPods()); ctx.narrowing.push(`${field}: pods cannot be excluded by IP; every pod is included`); } else ctx.narrowing.push(`${field}: pods are not matched (their IPs may fall inside the excluded blocks)`);
  // `except` must lie inside its CIDR: 0.0.0.0/0 and ::/0 always hold them.
  return union(terms.filter((t) => !(t.kind === 'cidr' && t.except.some((e) => e === t.cidr))));
}

function and(ctx: RuleContext, a: PeerSet, b: PeerSet): PeerSet {
  const r = intersect(a, b);
  if (r !== undefined) return r;
  if (ctx.approx === 'under') { ctx.narrowing.push('source too complex to express (term explosion); dropped'); return NONE; }
  ctx.narrowing.push('source too complex to express (term explosion); widened to every peer');
  return ANY;
}

export function translateSource(s: Source, ctx: RuleContext): PeerSet {
  let p: PeerSet = ANY;
  const ns = ctx.policyNs;
  if (s.principals !== undefined) p = and(ctx, p, positiveIdentity('principals', s.principals, principalTerms, ctx));
  if (s.namespaces !== undefined) p = and(ctx, p, positiveIdentity('namespaces', s.namespaces, namespaceTerms, ctx));
  if (s.serviceAccounts !== undefined) p = and(ctx, p, positiveIdentity('serviceAccounts', s.serviceAccounts, (v) => saTerms(v, ns), ctx));
  if (s.notPrincipals?.length) p = and(ctx, p, negativeIdentity('notPrincipals', s.notPrincipals, notPrincipalTerms, ctx));
  if (s.notNamespaces?.length) p = and(ctx, p, negativeIdentity('notNamespaces', s.notNamespaces, notNamespaceTerms, ctx));
  if (s.notServiceAccounts?.length) p = and(ctx, p, negativeIdentity('notServiceAccounts', s.notServiceAccounts, (v) => notSaTerms(v, ns), ctx));
  if (s.ipBlocks !== undefined) p = and(ctx, p, ipTerms('ipBlocks', s.ipBlocks, ctx));
  if (s.notIpBlocks?.length) p = and(ctx, p, notIpTerms('notIpBlocks', s.notIpBlocks, ctx));
  return p;
}

/** One operation as a port set plus (optionally) one HTTP rule. */
export interface Op { ports: PortSet; http?: PortRuleHTTP }

export function translateOperation(o: Operation, ctx: RuleContext): Op | undefined {
  let ports: PortSet = 'any';
  if (o.ports !== undefined) ports = portsOf(o.ports).set; // non-numeric values never equal a port number
  if (o.notPorts?.length) ports = intersectPorts(ports, complement(portsOf(o.notPorts).set));
  if (ports !== 'any' && ports.length === 0) return undefined;
  const http: PortRuleHTTP = {};
  if (o.methods !== undefined) { if (o.methods.length === 0) return undefined; http.method = methodRegex(o.methods); }
  if (o.paths !== undefined) {
    const pr = pathRegex(o.paths);
    for (const d of pr.dropped) ctx.narrowing.push(`paths value "${d}" never matches a query-stripped path or needs a waypoint; dropped`);
    if (pr.regex === undefined) return undefined;
    http.path = pr.regex;
  }
  if (o.hosts !== undefined) { if (o.hosts.length === 0) return undefined; http.host = hostRegex(o.hosts); }
  for (const k of ['notMethods', 'notPaths', 'notHosts'] as const) {
    if (o[k]?.length) {
      if (ctx.approx === 'under') { ctx.narrowing.push(`${k} has no regex form; operation dropped`); return undefined; }
      ctx.narrowing.push(`${k} has no regex form; exclusion not applied`);
    }
  }
  return Object.keys(http).length ? { ports, http } : { ports };
}

interface WhenParts { peers: PeerSet; ports: PortSet; headers: { name: string; value: string }[][] | undefined; drop: boolean }

function translateWhen(conds: Condition[], ctx: RuleContext): WhenParts {
  let peers: PeerSet = ANY;
  let ports: PortSet = 'any';
  let headers: { name: string; value: string }[][] | undefined;
  let drop = false;
  for (const c of conds) {
    const vals = c.values; const nots = c.notValues?.length ? c.notValues : undefined;
    switch (c.key) {
      case 'source.ip':
        if (vals !== undefined) peers = and(ctx, peers, ipTerms('when source.ip', vals, ctx));
        if (nots) peers = and(ctx, peers, notIpTerms('when source.ip notValues', nots, ctx));
        break;
      case 'source.namespace':
        if (vals !== undefined) peers = and(ctx, peers, positiveIdentity('when source.namespace', vals, namespaceTerms, ctx));
        if (nots) peers = and(ctx, peers, negativeIdentity('when source.namespace notValues', nots, notNamespaceTerms, ctx));
        break;
      case 'source.principal':
        if (vals !== undefined) peers = and(ctx, peers, positiveIdentity('when source.principal', vals, principalTerms, ctx));
        if (nots) peers = and(ctx, peers, negativeIdentity('when source.principal notValues', nots, notPrincipalTerms, ctx));
        break;
      case 'destination.port':
        if (vals !== undefined) ports = intersectPorts(ports, portsOf(vals).set);
        if (nots) ports = intersectPorts(ports, complement(portsOf(nots).set));
        break;
      default: {
        const h = /^request\.headers\[(.+)\]$/.exec(c.key);
        const exactVals = vals?.every((v) => stringForm(v).kind === 'exact');
        if (h && vals !== undefined && exactVals && !nots) {
          const alts = vals.map((v) => ({ name: h[1]!, value: v }));
          headers = (headers ?? [[]]).flatMap((combo) => alts.map((a) => [...combo, a]));
          break;
        }
        // destination.ip, connection.sni (and anything routed to a waypoint): no Cilium form.
        if (ctx.approx === 'under') { ctx.narrowing.push(`when ${c.key} has no Cilium form; rule dropped`); drop = true; } else ctx.narrowing.push(`when ${c.key} has no Cilium form; condition not applied`);
      }
    }
  }
  return { peers, ports, headers, drop };
}

/** The Cilium peers and toPorts of one Istio rule; undefined when it can match nothing. */
export function translateRule(r: Rule, ctx: RuleContext): { peers: PeerSet; toPorts: PortRule[] | undefined } | undefined {
  const w = translateWhen(r.when ?? [], ctx);
  if (w.drop) return undefined;
  const from = r.from && r.from.length ? union(...r.from.map((f) => translateSource(f.source ?? {}, ctx))) : ANY;
  const peers = and(ctx, from, w.peers);
  if (peers.length === 0) return undefined;
  const rawOps: Op[] = r.to && r.to.length ? r.to.map((t) => translateOperation(t.operation ?? {}, ctx)).filter((o) => o !== undefined) : [{ ports: 'any' }];
  if (rawOps.length === 0) return undefined;
  const ops: Op[] = [];
  // Istio: on TCP an ALLOW rule with any HTTP-only field never matches, so every operation of such a rule must
  // only admit HTTP (an unconstrained HTTP rule still rejects non-HTTP bytes).
  const httpOnlyRule = ctx.approx === 'under' && ruleHasHttpOnly(r);
  for (const o of rawOps) {
    const ports = intersectPorts(o.ports, w.ports);
    if (ports !== 'any' && ports.length === 0) continue;
    let https: PortRuleHTTP[] | undefined = o.http ? [o.http] : httpOnlyRule ? [{}] : undefined;
    if (w.headers) https = (https ?? [{}]).flatMap((h) => w.headers!.map((combo) => ({ ...h, headerMatches: combo })));
    if (https === undefined) { ops.push({ ports }); continue; }
    // L7 rules need concrete ports.
    let l7ports: Range[] | undefined = ports === 'any' ? (ctx.targetPorts.length ? portsOf(ctx.targetPorts.map(String)).set : undefined) : isSingles(ports) ? ports : undefined;
    if (l7ports && l7ports.reduce((n, [a, b]) => n + b - a + 1, 0) > 40) l7ports = undefined;
    if (!l7ports) { ctx.narrowing.push(ports === 'any' ? 'HTTP rule without ports and no known workload port; operation dropped' : 'HTTP rule on a port range; operation dropped'); continue; }
    if (ports === 'any') ctx.narrowing.push(`HTTP rule without ports: limited to the workload's container ports ${ctx.targetPorts.join(',')} (Cilium L7 rules need a port)`);
    for (const h of https) ops.push({ ports: l7ports, http: h });
  }
  if (ops.length === 0) return undefined;
  if (ops.some((o) => o.ports === 'any' && !o.http)) return { peers, toPorts: undefined };
  const toPorts: PortRule[] = [];
  // Group HTTP rules that share a port list into one toPorts entry.
  const byPorts = new Map<string, { ports: Range[]; http: PortRuleHTTP[] | undefined }>();
  for (const o of ops) {
    const key = JSON.stringify(o.ports) + (o.http ? ':l7' : ':l4');
    const e = byPorts.get(key) ?? { ports: o.ports as Range[], http: o.http ? [] : undefined };
    if (o.http) e.http!.push(o.http);
    byPorts.set(key, e);
  }
  for (const e of [...byPorts.values()]) {
    for (const part of chunk40(toPortProtocols(e.ports))) toPorts.push(e.http ? { ports: part, rules: { http: e.http } } : { ports: part });
  }
  return { peers, toPorts };
}

export interface AuthzCnpInput {
  policy: KubeObject;
  rootNamespace: string;
  modes: EffectiveMode[];
  targetPorts: number[];
}

export interface AuthzCnpOutput { manifest: KubeObject | undefined; narrowing: string[] }

export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'migrate' };

export function cnpName(policy: KubeObject): string {
  return `istio-${policy.metadata.name}`.slice(0, 253);
}

export function endpointSelectorFor(policy: KubeObject): Record<string, unknown> {
  const ml = (policy.spec as AuthorizationPolicySpec | undefined)?.selector?.matchLabels;
  return ml && Object.keys(ml).length ? { matchLabels: Object.fromEntries(Object.entries(ml).sort(([a], [b]) => a.localeCompare(b))) } : {};
}

/** ALLOW or DENY to one CNP (or CCNP for the root namespace). */
export function translateAuthzToCnp(inp: AuthzCnpInput): AuthzCnpOutput {
  const p = inp.policy;
  const spec = (p.spec ?? {}) as AuthorizationPolicySpec;
  const action = spec.action ?? 'ALLOW';
  const ns = p.metadata.namespace ?? 'default';
  const narrowing: string[] = [];
  const ctx: RuleContext = { approx: action === 'DENY' ? 'over' : 'under', policyNs: ns, modes: inp.modes, targetPorts: inp.targetPorts, narrowing };
  const mesh = ns === inp.rootNamespace;
  const strictAll = inp.modes.length > 0 && inp.modes.every((m) => m === 'STRICT');
  const rules: (IngressRule | IngressDenyRule)[] = [];
  for (const r of spec.rules ?? []) {
    const t = translateRule(r ?? {}, ctx);
    if (!t) continue;
    const fields = toPeerFields(t.peers);
    // PeerAuthentication STRICT: the source required a client certificate; Cilium's equivalent is per rule.
    const auth = action === 'ALLOW' && strictAll && fields.fromEndpoints && !fields.fromCIDRSet && !fields.fromEntities;
    for (const peer of toPeerRules(t.peers)) {
      const rule: IngressRule = { ...peer, ...(t.toPorts ? { toPorts: t.toPorts } : {}) };
      if (auth) rule.authentication = { mode: 'required' };
      rules.push(rule);
    }
  }
  const uniq = [...new Map(rules.map((r) => [JSON.stringify(r), r])).values()];
  const body: Record<string, unknown> = { endpointSelector: endpointSelectorFor(p) };
  if (action === 'DENY') {
    if (uniq.length === 0) return { manifest: undefined, narrowing };
    body.enableDefaultDeny = { ingress: false };
    body.ingressDeny = uniq;
  } else {
    // No rule (or none expressible): the workload denies everything. `ingress: [{}]` selects and allows nothing.
    body.ingress = uniq.length ? uniq : [{}];
  }
  const manifest: KubeObject = {
    apiVersion: CILIUM_API_VERSION,
    kind: mesh ? 'CiliumClusterwideNetworkPolicy' : 'CiliumNetworkPolicy',
    metadata: {
      name: mesh ? `istio-${ns}-${p.metadata.name}` : cnpName(p),
      ...(mesh ? {} : { namespace: ns }),
      labels: { ...MANAGED_BY },
      annotations: { 'migrate.io/source': objectRef({ kind: 'AuthorizationPolicy', metadata: p.metadata }) },
    },
    spec: { description: `Translated from AuthorizationPolicy ${ns}/${p.metadata.name} (${action})`, ...body },
  };
  return { manifest, narrowing: [...new Set(narrowing)].sort() };
}
