// The Istio reference evaluator (reference/istio-authz.md): which AuthorizationPolicies apply to the
// destination sidecar, CUSTOM > DENY > ALLOW > default, empty forms, string matching, HTTP-only fields on TCP,
// the mTLS-off quirk and PeerAuthentication. Policies are compiled once into data; a request only reads it.
import type { KubeObject } from '../model/k8s.js';
import type { AuthorizationPolicySpec, AuthzAction, Condition, Operation, Rule, Source } from '../model/istio.js';
import { DEFAULT_ROOT_NAMESPACE, isL4ConditionKey } from '../model/istio.js';
import { appliesToWorkload, isDryRun, targetRefsOf } from './applicability.js';
import { indexPeerAuthentication } from './peer-authn.js';
import type { PeerAuthnIndex } from './peer-authn.js';
import { compilePath, isPathTemplate, principalNamespace, stringForm, stripQuery } from './strings.js';
import type { Decision, Request, Verdict, Workload } from '../verify/request.js';
import { principalOf } from '../verify/request.js';
import { cidrContains, parseCidr, parseIp } from '../verify/ip.js';
import type { Cidr } from '../verify/ip.js';

/** What a compiled rule reads, computed once per request. */
interface Ctx {
  req: Request;
  /** Peer principal; '' when the connection is not mTLS. */
  principal: string;
  principalNs: string;
  srcIp: ReturnType<typeof parseIp>;
  port: string;
  path: string;
  host: string;
  method: string;
}

// Compiled policies are plain data read by the few shared functions below, not per-policy closures: V8 warms
// each closure instance separately, so 10,000 policies' worth of closures would run mostly cold.

/** Istio string match values, grouped by form. */
interface StrM { exact: Set<string>; prefixes: string[]; suffixes: string[]; presence: boolean; regexes: RegExp[]; ci: boolean }

const enum F { Principal, PrincipalNs, Port, Host, Method, Path, Header, Empty }

/** One shape for every check (monomorphic property access on the hot path); unused fields are null. */
interface Check { k: 0 | 1 | 2; f: F; header: string; pos: StrM | null; neg: StrM | null; ipPos: Cidr[] | null; ipNeg: Cidr[] | null }
const K_STR = 0; const K_IP = 1;
const mkCheck = (k: 0 | 1 | 2, f: F = F.Empty, header = '', pos: StrM | null = null, neg: StrM | null = null, ipPos: Cidr[] | null = null, ipNeg: Cidr[] | null = null): Check => ({ k, f, header, pos, neg, ipPos, ipNeg });

/** A conjunction of checks; a rule part is a disjunction of conjunctions (null = absent = matches). */
type Conj = Check[];
interface RuleData { from: Conj[] | null; to: Conj[] | null; when: Conj; never: boolean }

function strM(values: string[], ci = false, paths = false): StrM {
  const m: StrM = { exact: new Set(), prefixes: [], suffixes: [], presence: false, regexes: [], ci };
  for (const v0 of values) {
    const v = ci ? v0.toLowerCase() : v0;
    if (paths && isPathTemplate(v)) { const one = compilePath(v); m.regexes.push({ test: one } as unknown as RegExp); continue; }
    const f = stringForm(v);
    if (f.kind === 'presence') m.presence = true;
    else if (f.kind === 'prefix') m.prefixes.push(f.value);
    else if (f.kind === 'suffix') m.suffixes.push(f.value);
    else m.exact.add(f.value);
  }
  return m;
}

function matchStr(m: StrM, s0: string): boolean {
  const s = m.ci ? s0.toLowerCase() : s0;
  if (m.exact.has(s)) return true;
  if (m.presence && s.length > 0) return true;
  for (const p of m.prefixes) if (s.startsWith(p)) return true;
  for (const p of m.suffixes) if (s.endsWith(p)) return true;
  for (const r of m.regexes) if (r.test(s)) return true;
  return false;
}

function get(c: Ctx, f: F, header: string): string | undefined {
  switch (f) {
    case F.Principal: return c.principal;
    case F.PrincipalNs: return c.principalNs;
    case F.Port: return c.port;
    case F.Host: return c.host;
    case F.Method: return c.method;
    case F.Path: return c.path;
    case F.Header: return c.req.headers?.[header];
    default: return '';
  }
}

function inCidrs(cs: Cidr[], ip: ReturnType<typeof parseIp>): boolean {
  for (const x of cs) if (cidrContains(x, ip)) return true;
  return false;
}

function check(k: Check, c: Ctx): boolean {
  if (k.k === K_STR) {
    const v = get(c, k.f, k.header);
    // An absent header fails a positive match and passes a negative one (Envoy header matcher semantics).
    if (v === undefined) return k.pos === null;
    if (k.pos !== null && !matchStr(k.pos, v)) return false;
    if (k.neg !== null && matchStr(k.neg, v)) return false;
    return true;
  }
  if (k.k === K_IP) {
    if (k.ipPos !== null && !inCidrs(k.ipPos, c.srcIp)) return false;
    if (k.ipNeg !== null && inCidrs(k.ipNeg, c.srcIp)) return false;
    return true;
  }
  return false;
}

function conj(cs: Conj, c: Ctx): boolean {
  for (const k of cs) if (!check(k, c)) return false;
  return true;
}

function disj(ds: Conj[] | null, c: Ctx): boolean {
  if (ds === null) return true;
  for (const d of ds) if (conj(d, c)) return true;
  return false;
}

function ruleMatches(r: RuleData, c: Ctx): boolean {
  return !r.never && disj(r.from, c) && disj(r.to, c) && conj(r.when, c);
}

function strCheck(f: F, values: string[] | undefined, notValues: string[] | undefined, opts: { ci?: boolean; paths?: boolean; header?: string } = {}): Check | undefined {
  if (values === undefined && !(notValues && notValues.length)) return undefined;
  return mkCheck(K_STR, f, opts.header ?? '', values !== undefined ? strM(values, opts.ci, opts.paths) : null, notValues && notValues.length ? strM(notValues, opts.ci, opts.paths) : null);
}

function ipCheck(values: string[] | undefined, notValues: string[] | undefined): Check | undefined {
  if (values === undefined && !(notValues && notValues.length)) return undefined;
  const cidrs = (vs: string[]) => vs.map((v) => parseCidr(v)).filter((x): x is Cidr => x !== null);
  return mkCheck(K_IP, F.Empty, '', null, null, values !== undefined ? cidrs(values) : null, notValues && notValues.length ? cidrs(notValues) : null);
}

const present = <T>(xs: (T | undefined)[]): T[] => xs.filter((x): x is T => x !== undefined);

/** `ns/sa` or bare `sa` (the policy's namespace) to the principal Istio compares against. */
function saPrincipal(v: string, policyNs: string): string {
  const i = v.indexOf('/');
  return i < 0 ? `cluster.local/ns/${policyNs}/sa/${v}` : `cluster.local/ns/${v.slice(0, i)}/sa/${v.slice(i + 1)}`;
}

function compileSource(s: Source, httpFields: boolean, policyNs: string): Conj {
  // serviceAccounts are exact principals (no wildcards): escape a literal `*` by keeping it exact.
  const saVals = (vs: string[] | undefined) => vs?.map((v) => saPrincipal(v, policyNs));
  const sa = s.serviceAccounts !== undefined || s.notServiceAccounts?.length
    ? mkCheck(K_STR, F.Principal, '', s.serviceAccounts ? { ...strM([]), exact: new Set(saVals(s.serviceAccounts)) } : null, s.notServiceAccounts?.length ? { ...strM([]), exact: new Set(saVals(s.notServiceAccounts)) } : null)
    : undefined;
  return present([
    strCheck(F.Principal, s.principals, s.notPrincipals),
    strCheck(F.PrincipalNs, s.namespaces, s.notNamespaces),
    sa,
    ipCheck(s.ipBlocks, s.notIpBlocks),
    // No X-Forwarded-For / proxy protocol in the model: the original client is the direct peer.
    ipCheck(s.remoteIpBlocks, s.notRemoteIpBlocks),
    // A JWT is never present in the modelled requests: request principals compare against ''.
    httpFields ? strCheck(F.Empty, s.requestPrincipals, s.notRequestPrincipals) : undefined,
  ]);
}

function compileOperation(o: Operation, httpFields: boolean): Conj {
  return present([
    strCheck(F.Port, o.ports, o.notPorts),
    // c.host is lower-cased once per request; the values are lower-cased here.
    httpFields ? strCheck(F.Host, o.hosts?.map((h) => h.toLowerCase()), o.notHosts?.map((h) => h.toLowerCase())) : undefined,
    httpFields ? strCheck(F.Method, o.methods, o.notMethods) : undefined,
    httpFields ? strCheck(F.Path, o.paths, o.notPaths, { paths: true }) : undefined,
  ]);
}

function compileCondition(w: Condition, httpFields: boolean): Check | undefined {
  const k = w.key;
  if (!isL4ConditionKey(k) && !httpFields) return undefined;
  switch (k) {
    case 'source.ip':
    case 'remote.ip': return ipCheck(w.values, w.notValues);
    case 'source.namespace': return strCheck(F.PrincipalNs, w.values, w.notValues);
    case 'source.principal': return strCheck(F.Principal, w.values, w.notValues);
    case 'destination.port': return strCheck(F.Port, w.values, w.notValues);
    // Destination IP and SNI are not part of the modelled request: compare against ''.
    case 'destination.ip':
    case 'connection.sni': return strCheck(F.Empty, w.values, w.notValues);
  }
  const h = /^request\.headers\[(.+)\]$/.exec(k);
  if (h) return strCheck(F.Header, w.values, w.notValues, { header: h[1]!.toLowerCase() });
  // request.auth.* and anything else: no JWT in the modelled request, the value is absent.
  return w.values ? mkCheck(2) : undefined;
}

/** Does the rule use a field that only exists for HTTP? */
export function ruleHasHttpOnly(r: Rule): boolean {
  const src = (r.from ?? []).some((f) => f.source?.requestPrincipals !== undefined || f.source?.notRequestPrincipals !== undefined);
  const op = (r.to ?? []).some((t) => { const o = t.operation ?? {}; return ['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths'].some((k) => (o as Record<string, unknown>)[k] !== undefined); });
  const when = (r.when ?? []).some((w) => !isL4ConditionKey(w.key));
  return src || op || when;
}

function compileRule(r: Rule, action: AuthzAction, http: boolean, policyNs: string): RuleData {
  // On TCP, ALLOW rules with HTTP-only fields never match; DENY/AUDIT/CUSTOM rules drop those fields.
  if (!http && action === 'ALLOW' && ruleHasHttpOnly(r)) return { from: null, to: null, when: [], never: true };
  return {
    from: r.from && r.from.length ? r.from.map((f) => compileSource(f.source ?? {}, http, policyNs)) : null,
    to: r.to && r.to.length ? r.to.map((t) => compileOperation(t.operation ?? {}, http)) : null,
    when: present((r.when ?? []).map((w) => compileCondition(w, http))),
    never: false,
  };
}

interface CompiledRule { id: string; http: RuleData; tcp: RuleData }
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
  /** Policies by namespace: only the root namespace's and the workload's own can apply. */
  private readonly byNamespace = new Map<string, CompiledPolicy[]>();
  private readonly byWorkload = new Map<string, Applicable>();
  private readonly asWaypoint: boolean;

  constructor(set: IstioPolicySet, opts: IstioEvaluatorOptions = {}) {
    this.rootNamespace = set.rootNamespace ?? DEFAULT_ROOT_NAMESPACE;
    this.asWaypoint = opts.asWaypoint ?? false;
    this.peerAuthn = indexPeerAuthentication(set.peerAuthentications, this.rootNamespace);
    const sorted = [...set.authorizationPolicies].sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`));
    // Root-namespace policies first: their DENY rules are evaluated before namespace DENY rules.
    this.policies = sorted.map((p) => compilePolicy(p, this.rootNamespace)).sort((a, b) => Number(b.root) - Number(a.root));
    for (const p of this.policies) {
      const ns = p.obj.metadata.namespace ?? '';
      const l = this.byNamespace.get(ns) ?? [];
      l.push(p);
      this.byNamespace.set(ns, l);
    }
  }

  private applicable(w: Workload): Applicable {
    let a = this.byWorkload.get(w.id);
    if (a) return a;
    a = { custom: [], deny: [], allow: [] };
    const candidates = w.namespace === this.rootNamespace ? this.byNamespace.get(w.namespace) ?? [] : [...(this.byNamespace.get(this.rootNamespace) ?? []), ...(this.byNamespace.get(w.namespace) ?? [])];
    for (const p of candidates) {
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

  /** The decision only, without allocating a verdict: the differential's hot path. */
  decide(req: Request): Decision {
    return this.run(req, false) as Decision;
  }

  evaluate(req: Request): Verdict {
    return this.run(req, true) as Verdict;
  }

  private run(req: Request, explain: boolean): Verdict | Decision {
    // istio-iptables redirects TCP only: the sidecar never sees UDP, so no Istio policy applies to it
    if (req.protocol === 'UDP') return explain ? { decision: 'allow', reason: 'UDP: not intercepted by the sidecar', rules: [] } : 'allow';
    const mode = this.peerAuthn.modeFor(req.destination, req.port);
    if (mode === 'STRICT' && !req.mtls) return explain ? { decision: 'deny', reason: 'PeerAuthentication STRICT rejects plaintext', rules: [] } : 'deny';
    const mtls = req.mtls && mode !== 'DISABLE';
    const principal = principalOf(req.source, mtls);
    const http = req.protocol === 'HTTP';
    const c: Ctx = {
      req,
      principal,
      principalNs: principal ? principalNamespace(principal) : '',
      srcIp: parseIp(req.source.ip),
      port: portString(req.port),
      path: http ? stripQuery(req.path ?? '') : '',
      host: http ? (req.host ?? '').toLowerCase() : '',
      method: http ? req.method ?? '' : '',
    };
    const a = this.applicable(req.destination);
    const custom = first(a.custom, c, http);
    if (custom) return explain ? { decision: 'custom', reason: 'CUSTOM policy matched: the external authorizer decides', rules: [custom] } : 'custom';
    const deny = first(a.deny, c, http);
    if (deny) return explain ? { decision: 'deny', reason: 'DENY policy matched', rules: [deny] } : 'deny';
    if (a.allow.length === 0) return explain ? { decision: 'allow', reason: 'no ALLOW policy applies', rules: [] } : 'allow';
    const allow = first(a.allow, c, http);
    if (allow) return explain ? { decision: 'allow', reason: 'ALLOW policy matched', rules: [allow] } : 'allow';
    return explain ? { decision: 'deny', reason: 'no ALLOW policy matched', rules: [] } : 'deny';
  }
}

function first(ps: CompiledPolicy[], c: Ctx, http: boolean): string | undefined {
  for (const p of ps) for (const r of p.rules) if (ruleMatches(http ? r.http : r.tcp, c)) return r.id;
  return undefined;
}

const portStrings: string[] = [];
function portString(p: number): string {
  return portStrings[p] ??= String(p);
}
