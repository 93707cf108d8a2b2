// The Istio reference evaluator (reference/istio-authz.md): which AuthorizationPolicies apply to the
// destination sidecar, CUSTOM > DENY > ALLOW > default, empty forms, string matching, HTTP-only fields on TCP,
// the mTLS-off quirk and PeerAuthentication. Policies are compiled to closures once; a request only runs them.
import type { KubeObject } from '../model/k8s.js';
import type { AuthorizationPolicySpec, AuthzAction, Condition, Operation, Rule, Source } from '../model/istio.js';
import { DEFAULT_ROOT_NAMESPACE, isL4ConditionKey } from '../model/istio.js';
import { appliesToWorkload, isDryRun, targetRefsOf } from './applicability.js';
import { indexPeerAuthentication } from './peer-authn.js';
import type { PeerAuthnIndex } from './peer-authn.js';
import { compileAny, compilePath, principalNamespace, stripQuery } from './strings.js';
import type { StringMatcher } from './strings.js';
import type { Request, Verdict, Workload } from '../verify/request.js';
import { principalOf } from '../verify/request.js';
import { cidrContains, parseCidr, parseIp } from '../verify/ip.js';

/** What a compiled rule reads, computed once per request. */
interface Ctx {
  req: Request;
  /** Peer principal; '' when the connection is not mTLS. */
  principal: string;
  principalNs: string;
  srcIp: ReturnType<typeof parseIp>;
  path: string;
  host: string;
}

type Pred = (c: Ctx) => boolean;
const TRUE: Pred = () => true;
const FALSE: Pred = () => false;

function and(ps: Pred[]): Pred {
  const xs = ps.filter((p) => p !== TRUE);
  if (xs.some((p) => p === FALSE)) return FALSE;
  if (xs.length === 0) return TRUE;
  if (xs.length === 1) return xs[0]!;
  if (xs.length === 2) { const [a, b] = xs as [Pred, Pred]; return (c) => a(c) && b(c); }
  return (c) => { for (const p of xs) if (!p(c)) return false; return true; };
}

function or(ps: Pred[]): Pred {
  if (ps.some((p) => p === TRUE)) return TRUE;
  const xs = ps.filter((p) => p !== FALSE);
  if (xs.length === 0) return FALSE;
  if (xs.length === 1) return xs[0]!;
  return (c) => { for (const p of xs) if (p(c)) return true; return false; };
}

function cidrPred(values: string[], ip: (c: Ctx) => ReturnType<typeof parseIp>): Pred {
  const cidrs = values.map((v) => parseCidr(v)).filter((x) => x !== null);
  return (c) => { const a = ip(c); for (const x of cidrs) if (cidrContains(x, a)) return true; return false; };
}

/** A positive field (values ORed) and its `not` twin (matches when none match); absent fields are TRUE. */
function field(values: string[] | undefined, notValues: string[] | undefined, get: (c: Ctx) => string, compile: (vs: string[]) => StringMatcher): Pred {
  const ps: Pred[] = [];
  if (values !== undefined) { const m = compile(values); ps.push((c) => m(get(c))); }
  if (notValues !== undefined && notValues.length > 0) { const m = compile(notValues); ps.push((c) => !m(get(c))); }
  return and(ps);
}

function ipField(values: string[] | undefined, notValues: string[] | undefined, ip: (c: Ctx) => ReturnType<typeof parseIp>): Pred {
  const ps: Pred[] = [];
  if (values !== undefined) ps.push(cidrPred(values, ip));
  if (notValues !== undefined && notValues.length > 0) { const p = cidrPred(notValues, ip); ps.push((c) => !p(c)); }
  return and(ps);
}

const srcIp = (c: Ctx) => c.srcIp;
const any = (vs: string[]) => compileAny(vs);

/** `ns/sa` or bare `sa` (the policy's namespace) to the principal Istio compares against. */
function saPrincipal(v: string, policyNs: string): string {
  const i = v.indexOf('/');
  return i < 0 ? `cluster.local/ns/${policyNs}/sa/${v}` : `cluster.local/ns/${v.slice(0, i)}/sa/${v.slice(i + 1)}`;
}

function compileSource(s: Source, httpFields: boolean, policyNs: string): Pred {
  const exact = (vs: string[]) => { const set = new Set(vs); return (x: string) => set.has(x); };
  return and([
    field(s.principals, s.notPrincipals, (c) => c.principal, any),
    field(s.namespaces, s.notNamespaces, (c) => c.principalNs, any),
    field(s.serviceAccounts?.map((v) => saPrincipal(v, policyNs)), s.notServiceAccounts?.map((v) => saPrincipal(v, policyNs)), (c) => c.principal, exact),
    ipField(s.ipBlocks, s.notIpBlocks, srcIp),
    // No X-Forwarded-For / proxy protocol in the model: the original client is the direct peer.
    ipField(s.remoteIpBlocks, s.notRemoteIpBlocks, srcIp),
    // A JWT is never present in the modelled requests: request principals compare against ''.
    httpFields ? field(s.requestPrincipals, s.notRequestPrincipals, () => '', any) : TRUE,
  ]);
}

function compileOperation(o: Operation, httpFields: boolean): Pred {
  const portMatch = (vs: string[]) => { const set = new Set(vs); return (x: string) => set.has(x); };
  return and([
    field(o.ports, o.notPorts, (c) => String(c.req.port), portMatch),
    httpFields ? field(o.hosts, o.notHosts, (c) => c.host, (vs) => compileAny(vs, true)) : TRUE,
    httpFields ? field(o.methods, o.notMethods, (c) => c.req.method ?? '', any) : TRUE,
    httpFields ? field(o.paths, o.notPaths, (c) => c.path, (vs) => { const ms = vs.map(compilePath); return (x) => ms.some((m) => m(x)); }) : TRUE,
  ]);
}

function compileCondition(w: Condition, httpFields: boolean): Pred {
  const k = w.key;
  if (!isL4ConditionKey(k) && !httpFields) return TRUE;
  switch (k) {
    case 'source.ip':
    case 'remote.ip': return ipField(w.values, w.notValues, srcIp);
    case 'source.namespace': return field(w.values, w.notValues, (c) => c.principalNs, any);
    case 'source.principal': return field(w.values, w.notValues, (c) => c.principal, any);
    case 'destination.port': return field(w.values, w.notValues, (c) => String(c.req.port), any);
    // Destination IP and SNI are not part of the modelled request: compare against ''.
    case 'destination.ip': return field(w.values, w.notValues, () => '', any);
    case 'connection.sni': return field(w.values, w.notValues, () => '', any);
  }
  const h = /^request\.headers\[(.+)\]$/.exec(k);
  if (h) {
    const name = h[1]!.toLowerCase();
    const pos = w.values ? compileAny(w.values) : undefined;
    const neg = w.notValues && w.notValues.length ? compileAny(w.notValues) : undefined;
    // An absent header fails a positive match and passes a negative one (Envoy header matcher semantics).
    return (c) => {
      const v = c.req.headers?.[name];
      if (pos && (v === undefined || !pos(v))) return false;
      if (neg && v !== undefined && neg(v)) return false;
      return true;
    };
  }
  // request.auth.* and anything else: no JWT in the modelled request, the value is absent.
  return w.values ? FALSE : TRUE;
}

/** Does the rule use a field that only exists for HTTP? */
export function ruleHasHttpOnly(r: Rule): boolean {
  const src = (r.from ?? []).some((f) => f.source?.requestPrincipals !== undefined || f.source?.notRequestPrincipals !== undefined);
  const op = (r.to ?? []).some((t) => { const o = t.operation ?? {}; return ['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths'].some((k) => (o as Record<string, unknown>)[k] !== undefined); });
  const when = (r.when ?? []).some((w) => !isL4ConditionKey(w.key));
  return src || op || when;
}

function compileRule(r: Rule, action: AuthzAction, http: boolean, policyNs: string): Pred {
  // On TCP, ALLOW rules with HTTP-only fields never match; DENY/AUDIT/CUSTOM rules drop those fields.
  if (!http && action === 'ALLOW' && ruleHasHttpOnly(r)) return FALSE;
  const from = r.from && r.from.length ? or(r.from.map((f) => compileSource(f.source ?? {}, http, policyNs))) : TRUE;
  const to = r.to && r.to.length ? or(r.to.map((t) => compileOperation(t.operation ?? {}, http))) : TRUE;
  const when = and((r.when ?? []).map((w) => compileCondition(w, http)));
  return and([from, to, when]);
}

interface CompiledRule { id: string; http: Pred; tcp: Pred }
interface CompiledPolicy { obj: KubeObject; ref: string; action: AuthzAction; rules: CompiledRule[]; root: boolean }

export function rbacRuleId(policy: KubeObject, i: number): string {
  return `ns[${policy.metadata.namespace}]-policy[${policy.metadata.name}]-rule[${i}]`;
}

function compilePolicy(p: KubeObject, rootNamespace: string): CompiledPolicy {
  const spec = (p.spec ?? {}) as AuthorizationPolicySpec;
  const action = spec.action ?? 'ALLOW';
  const ns = p.metadata.namespace ?? '';
  const rules = (spec.rules ?? []).map((r, i) => ({ id: rbacRuleId(p, i), http: compileRule(r ?? {}, action, true, ns), tcp: compileRule(r ?? {}, action, false, ns) }));
  return { obj: p, ref: `AuthorizationPolicy/${ns}/${p.metadata.name}`, action, rules, root: ns === rootNamespace };
}

interface Applicable { custom: CompiledPolicy[]; deny: CompiledPolicy[]; allow: CompiledPolicy[] }

export interface IstioPolicySet {
  authorizationPolicies: KubeObject[];
  peerAuthentications: KubeObject[];
  rootNamespace?: string;
}

export interface IstioEvaluatorOptions {
  /**
   * Evaluate `targetRefs` policies as if they applied to the destination (a waypoint in front of it that
   * serves exactly this destination). Sidecars never apply them.
   */
  asWaypoint?: boolean;
}

export class IstioEvaluator {
  readonly rootNamespace: string;
  readonly peerAuthn: PeerAuthnIndex;
  private readonly policies: CompiledPolicy[];
  private readonly byWorkload = new Map<string, Applicable>();
  private readonly asWaypoint: boolean;

  constructor(set: IstioPolicySet, opts: IstioEvaluatorOptions = {}) {
    this.rootNamespace = set.rootNamespace ?? DEFAULT_ROOT_NAMESPACE;
    this.asWaypoint = opts.asWaypoint ?? false;
    this.peerAuthn = indexPeerAuthentication(set.peerAuthentications, this.rootNamespace);
    const sorted = [...set.authorizationPolicies].sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`));
    // Root-namespace policies first: their DENY rules are evaluated before namespace DENY rules.
    this.policies = sorted.map((p) => compilePolicy(p, this.rootNamespace)).sort((a, b) => Number(b.root) - Number(a.root));
  }

  private applicable(w: Workload): Applicable {
    let a = this.byWorkload.get(w.id);
    if (a) return a;
    a = { custom: [], deny: [], allow: [] };
    for (const p of this.policies) {
      if (isDryRun(p.obj)) continue;
      const applies = this.asWaypoint
        ? targetRefsOf(p.obj.spec).length > 0 ? p.obj.metadata.namespace === w.namespace : false
        : appliesToWorkload(p.obj, w, this.rootNamespace);
      if (!applies) continue;
      if (p.action === 'CUSTOM') a.custom.push(p);
      else if (p.action === 'DENY') a.deny.push(p);
      else if (p.action === 'ALLOW') a.allow.push(p);
    }
    this.byWorkload.set(w.id, a);
    return a;
  }

  evaluate(req: Request): Verdict {
    const mode = this.peerAuthn.modeFor(req.destination, req.port);
    if (mode === 'STRICT' && !req.mtls) return { decision: 'deny', reason: 'PeerAuthentication STRICT rejects plaintext', rules: [] };
    const mtls = req.mtls && mode !== 'DISABLE';
    const principal = principalOf(req.source, mtls);
    const http = req.protocol === 'HTTP';
    const c: Ctx = {
      req,
      principal,
      principalNs: principal ? principalNamespace(principal) : '',
      srcIp: parseIp(req.source.ip),
      path: http ? stripQuery(req.path ?? '') : '',
      host: http ? (req.host ?? '').toLowerCase() : '',
    };
    const a = this.applicable(req.destination);
    const first = (ps: CompiledPolicy[]): string | undefined => {
      for (const p of ps) for (const r of p.rules) if ((http ? r.http : r.tcp)(c)) return r.id;
      return undefined;
    };
    const custom = first(a.custom);
    if (custom) return { decision: 'custom', reason: 'CUSTOM policy matched: the external authorizer decides', rules: [custom] };
    const deny = first(a.deny);
    if (deny) return { decision: 'deny', reason: 'DENY policy matched', rules: [deny] };
    if (a.allow.length === 0) return { decision: 'allow', reason: 'no ALLOW policy applies', rules: [] };
    const allow = first(a.allow);
    if (allow) return { decision: 'allow', reason: 'ALLOW policy matched', rules: [allow] };
    return { decision: 'deny', reason: 'no ALLOW policy matched', rules: [] };
  }
}
