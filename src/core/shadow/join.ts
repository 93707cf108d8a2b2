// The join: each inbound sidecar access log entry is matched with the probe's records of the same request.
//   wire leg: entry (DOWNSTREAM_REMOTE -> DOWNSTREAM_LOCAL) = probe http leg=wire (client -> server), and the
//             flow record of that connection (L3/L4 verdict, taken on eth0 before the REDIRECT).
//   app leg:  entry (UPSTREAM_LOCAL -> UPSTREAM_HOST) = probe http leg=app (127.0.0.6:port -> 127.0.0.1:port).
// A connection carries many requests (keep-alive), so within one key entries and records are paired in time
// order: the first unconsumed record whose request start (ts - latency) lies within the window of START_TIME
// and whose method and path agree. The join is incremental: `flush(watermark)` settles everything older than
// the watermark minus the window, so memory stays bounded by the window, not by the run.
import type { AccessLogEntry, KnownGap, L7Rule, ProbeFlow, ProbeHttp, ProbeLine, ProbeMetrics, ProbeEdge, RuleRef, ShadowPod, Verdict } from './types.js';
import type { DisagreementClass, Disagreement, ExampleRequest, Matrix, RuleResult } from './result.js';
import { emptyMatrix } from './result.js';
import { Samples } from './stats.js';
import { BypassJudge, bypassReason, SIDECAR_PORTS } from './bypass.js';
import { cidrContains, parseCidr, parseIp } from '../verify/ip.js';
import { checkConditions, compileConditions } from './http-conditions.js';
import type { CompiledConditions, SeenRequest } from './http-conditions.js';
import type { Cidr } from '../verify/ip.js';

export interface JoinOptions {
  /** Max distance between START_TIME and the probe's request start, ms. */
  windowMs: number;
  /** Examples kept per disagreement group. */
  examples: number;
}
export const DEFAULT_JOIN: JoinOptions = { windowMs: 1000, examples: 3 };

export { SIDECAR_PORTS };

/** Two-level map: the join keys are two strings already in hand (server, client), so nothing is concatenated per line. */
class Nested<V> {
  readonly outer = new Map<string, Map<string, V>>();
  get(a: string, b: string): V | undefined { return this.outer.get(a)?.get(b); }
  set(a: string, b: string, v: V): void {
    let m = this.outer.get(a);
    if (!m) this.outer.set(a, (m = new Map()));
    m.set(b, v);
  }
  *values(): IterableIterator<V> { for (const m of this.outer.values()) yield* m.values(); }
}

interface Group {
  entries: AccessLogEntry[];
  /** true while every adjacent pair of `entries` is in start order (checked as they arrive, not per flush). */
  entriesSorted: boolean;
  wire: ProbeHttp[];
  wireUsed: number;
  /** false when a record arrived out of start order (sorted lazily at the next flush). */
  wireSorted: boolean;
  edge: EdgeAcc | null;
  /** The flow of this connection as last looked up, valid while `flowVer` equals the joiner's flowsVer. */
  flow: ProbeFlow | undefined;
  flowVer: number;
  /** The app-leg group last used by this connection's entries (keep-alive reuses it), valid while appVer matches. */
  appPod: string;
  appClient: string;
  app: AppGroup | undefined;
  appVer: number;
}
function newGroup(): Group {
  return { entries: [], entriesSorted: true, wire: [], wireUsed: 0, wireSorted: true, edge: null, flow: undefined, flowVer: -1, appPod: '', appClient: '', app: undefined, appVer: -1 };
}
interface AppGroup {
  recs: ProbeHttp[];
  /** startOf(recs[i]), side by side: the time searches read this packed array, not the (cold) record objects. */
  starts: number[];
  used: Uint8Array | null;
  sorted: boolean;
  /** all before are consumed */
  lo: number;
}

/** Per-edge accumulators. */
export interface EdgeAcc {
  /** `source -> destination:port`, the key of `edges` (kept so disagreements do not rebuild it per request). */
  name: string;
  source: string;
  destination: string;
  port: number;
  matrix: Matrix;
  wire: Samples;
  app: Samples;
  overhead: Samples;
  envoy: Samples;
  envoyStatus: Record<string, number>;
  /** Entries Envoy's RBAC filter denied (the rest of the entries it allowed): compared with its rbac counters. */
  envoyDenied: number;
  envoyBytes: number;
  probeStatus: Record<string, number>;
  probeRequests: number;
}

export interface GroupAcc {
  d: Omit<Disagreement, 'examples' | 'count'> & { count: number; examples: ExampleRequest[] };
}

/**
 * Translation gaps that make a disagreement expected. A DENY the eBPF plane cannot express (L7 deny, CUSTOM,
 * negative L7, JWT, headers, remote IP) shows up as eBPF-would-allow; requirements it cannot check as
 * eBPF-would-deny. TR_NARROWED is deliberately absent: a narrowed translation that bites live traffic is a
 * finding to act on, not an expected difference.
 */
export const EXPLAINS_ALLOW = new Set(['TR_DENY_L7', 'TR_CUSTOM_EXTAUTHZ', 'TR_NEGATIVE_L7', 'TR_JWT', 'TR_HEADER_MATCH', 'TR_REMOTE_IP', 'TR_PATH_TEMPLATE', 'TR_REQUEST_AUTHN', 'TR_PA_DISABLE', 'TR_PA_PERMISSIVE', 'TR_WIDER']);
export const EXPLAINS_DENY = new Set(['TR_CUSTOM_EXTAUTHZ', 'TR_NEGATIVE_L7', 'TR_JWT', 'TR_HEADER_MATCH', 'TR_REMOTE_IP', 'TR_PATH_TEMPLATE', 'TR_REQUEST_AUTHN', 'TR_PA_STRICT']);

/** Why a would-allow is expected when the rule that allowed needs a header the access log does not carry. */
export const UNSEEN_HEADER_GAP = 'SHADOW_HEADER_NOT_LOGGED';

const CLASS_RISK: Record<DisagreementClass, Disagreement['risk']> = {
  'ebpf-would-deny': 'outage', 'ebpf-would-allow': 'security', 'unmatched-envoy-only': 'evidence', 'unmatched-probe-only': 'evidence',
};

const CLASS_NAMES = ['unparsed', '1xx', '2xx', '3xx', '4xx', '5xx'];
/** Constant strings (no template per request): they key hot object properties. */
export function statusClass(s: number): string {
  return s >= 100 && s < 600 ? CLASS_NAMES[(s / 100) | 0]! : 'unparsed';
}

/** Envoy's decision and the responsible policy id from the RBAC details (reference/envoy-telemetry.md). */
export function envoyVerdict(e: AccessLogEntry): { verdict: Verdict; rule: string } {
  const d = envoyDenial(e);
  return d ? { verdict: 'deny', rule: denialRule(d) } : { verdict: 'allow', rule: '(allowed)' };
}
/** The RBAC denial details of an entry, '' when Envoy allowed it (split from envoyVerdict: no object per entry). */
function envoyDenial(e: AccessLogEntry): string {
  return e.details.startsWith('rbac_access_denied') ? e.details : e.termination.startsWith('rbac_access_denied') ? e.termination : '';
}
function denialRule(d: string): string {
  const i = d.indexOf('[');
  return i >= 0 && d.endsWith(']') ? d.slice(i + 1, -1) : d;
}

/** `ns[foo]-policy[bar]-rule[0]` -> AuthorizationPolicy/foo/bar */
export function envoyPolicyObject(rule: string): string | undefined {
  const m = /^ns\[([^\]]+)\]-policy\[([^\]]+)\]/.exec(rule);
  return m ? `AuthorizationPolicy/${m[1]}/${m[2]}` : undefined;
}

/** Length of normPath(p), without slicing: the join compares paths by length and prefix, allocation-free. */
function normLen(p: string): number {
  const q = p.indexOf('?');
  const n = q >= 0 ? q : p.length;
  return n > 128 ? 128 : n;
}
/** normPath(raw) === rec, where n = normLen(raw): raw's first n characters hold no '?', so a prefix test suffices. */
function samePath(rec: string, raw: string, n: number): boolean {
  return rec.length === n && raw.startsWith(rec);
}

function inStartOrder(es: AccessLogEntry[]): boolean {
  for (let x = 1; x < es.length; x++) if (es[x - 1]!.startMs > es[x]!.startMs) return false;
  return true;
}

function normPath(p: string): string {
  const q = p.indexOf('?');
  const s = q >= 0 ? p.slice(0, q) : p;
  return s.length > 128 ? s.slice(0, 128) : s;
}

function portOf(addr: string): number {
  const i = addr.lastIndexOf(':');
  return i < 0 ? 0 : Number(addr.slice(i + 1));
}
function ipOf(addr: string): string {
  const i = addr.lastIndexOf(':');
  return i < 0 ? addr : addr.slice(0, i);
}

export interface JoinInputs {
  namespace: string;
  pods: ShadowPod[];
  rules: RuleRef[];
  l7: L7Rule[];
  gaps: KnownGap[];
  /** Pods selected by plan policies (a miss there is a default deny), with the selecting policies. */
  selectedBy?: Record<string, string[]>;
  /** The probe config's identities (CIDRs and addresses): a peer that is no shadowed pod is named by the longest. */
  identities?: ({ ip: string; identity: number } | { cidr: string; identity: number })[];
  /** The nodes' identities (their addresses are among `identities`). */
  nodes?: { name: string; identity: number }[];
}

/** Cilium's reserved:world, the identity of an address no entry names. */
const WORLD = 2;

export class ShadowJoiner {
  readonly opts: JoinOptions;
  private readonly podByIp = new Map<string, ShadowPod>();
  private readonly podByIdentity = new Map<number, ShadowPod>();
  private readonly podByName = new Map<string, ShadowPod>();
  /** Pods some of whose inbound traffic no sidecar handles (none, or ports it does not intercept). */
  private readonly bypassPods = new Set<string>();
  /** Traffic no sidecar handles, judged against today's "allowed" (bypass.ts). */
  readonly bypass: BypassJudge;
  private readonly ruleById = new Map<number, RuleRef>();
  private readonly ruleNames = new Map<number, string>();
  private readonly gapByObject = new Map<string, KnownGap[]>();
  private readonly l7ByPodPort = new Map<string, { rule: L7Rule; re?: RegExp }[]>();
  /** HTTP rules with conditions the probe does not see (host, headers), by rule id. */
  private readonly condById = new Map<number, CompiledConditions>();
  /** Longest prefix first. */
  private readonly cidrIds: { cidr: Cidr; identity: number }[] = [];
  /** Wire groups by (server, client) address: the pod IP makes the server unique to a pod. */
  private readonly groups = new Nested<Group>();
  /** App legs by (pod, client on loopback): 127.0.0.1 is in every pod. */
  private readonly apps = new Nested<AppGroup>();
  private readonly flows = new Nested<ProbeFlow>();
  /** Bumped whenever `flows` / `apps` change, so a group's cached lookups know when to look again. */
  private flowsVer = 0;
  private appsVer = 0;
  readonly edges = new Map<string, EdgeAcc>();
  readonly matrix: Matrix = emptyMatrix();
  readonly ruleMatrix = new Map<string, RuleResult>();
  readonly disagreements = new Map<string, GroupAcc>();
  readonly probeEdges = new Map<string, { last: ProbeEdge; carry: { requests: number; bytes: number; flows: number; connsClosed: number; status: Record<string, number> } }>();
  probeEdgeSeen = false;
  metrics: ProbeMetrics | null = null;
  /** Called for every joined latency sample (live histograms). */
  onLatency: ((leg: 'wire' | 'app' | 'overhead', ms: number) => void) | null = null;
  counts = { entries: 0, outbound: 0, flows: 0, http: 0, matched: 0, probeRequests: 0 };

  constructor(readonly inputs: JoinInputs, opts: Partial<JoinOptions> = {}) {
    this.opts = { ...DEFAULT_JOIN, ...opts };
    for (const p of inputs.pods) {
      this.podByIp.set(p.ip, p); this.podByIdentity.set(p.identity, p); this.podByName.set(p.name, p);
      if (!p.sidecar || p.inbound) this.bypassPods.add(p.name);
    }
    const peerNames = new Map<number, string>([[WORLD, 'world']]);
    for (const i of inputs.identities ?? []) if ('cidr' in i) peerNames.set(i.identity, `cidr:${i.cidr}`);
    for (const n of inputs.nodes ?? []) peerNames.set(n.identity, `node:${n.name}`);
    this.bypass = new BypassJudge({
      pod: (name) => this.podByName.get(name),
      peerName: (id) => this.podByIdentity.get(id)?.name ?? peerNames.get(id) ?? `identity:${id}`,
      ruleName: (id, layer, flags, pod) => this.ruleName(id, layer, 'deny', flags, pod),
      flowOf: (server, client) => this.flows.get(server, client),
      unchecked: (r) => {
        // allowed by a rule with host or header conditions, and by none without: no log entry shows them
        if (r.verdict !== 'allow' || !this.condById.has(r.rule)) return false;
        return !!this.l7Eval(r.pod, Number(r.server.slice(r.server.lastIndexOf(':') + 1)), r, r.remoteIdentity)?.unseen;
      },
    }, this.opts.examples);
    for (const r of inputs.rules) {
      this.ruleById.set(r.id, r);
      if (r.when) this.condById.set(r.id, compileConditions(r.when));
    }
    for (const g of inputs.gaps) { const l = this.gapByObject.get(g.object); if (l) l.push(g); else this.gapByObject.set(g.object, [g]); }
    for (const i of inputs.identities ?? []) {
      const cidr = parseCidr('cidr' in i ? i.cidr : i.ip.includes('/') ? i.ip : `${i.ip}/32`);
      if (cidr) this.cidrIds.push({ cidr, identity: i.identity });
    }
    this.cidrIds.sort((a, b) => b.cidr.bits - a.cidr.bits);
    for (const r of inputs.l7) {
      const k = `${r.pod ?? '*'}|${r.port}`;
      let l = this.l7ByPodPort.get(k);
      if (!l) this.l7ByPodPort.set(k, (l = []));
      l.push({ rule: r, ...(r.pathRegex !== undefined ? { re: new RegExp(`^(?:${r.pathRegex})$`) } : {}) });
    }
  }

  private sidecarPod(name: string): boolean {
    for (const p of this.inputs.pods) if (p.name === name) return p.sidecar;
    return false;
  }

  addEntry(e: AccessLogEntry): void {
    if (!e.upstreamCluster.startsWith('inbound|')) { this.counts.outbound++; return; }
    this.counts.entries++;
    let g = this.groups.get(e.downstreamLocal, e.downstreamRemote);
    if (!g) this.groups.set(e.downstreamLocal, e.downstreamRemote, (g = newGroup()));
    const n = g.entries.length;
    if (g.entriesSorted && n && g.entries[n - 1]!.startMs > e.startMs) g.entriesSorted = false;
    g.entries.push(e);
  }

  addProbe(r: ProbeLine): void {
    switch (r.type) {
      case 'flow':
        this.counts.flows++;
        if (r.dir === 'ingress') { this.flows.set(`${r.dst}:${r.dport}`, `${r.src}:${r.sport}`, r); this.flowsVer++; this.bypass.addFlow(r); }
        return;
      case 'http': {
        this.counts.http++;
        if (r.dir !== 'ingress') return;
        if (r.leg === 'wire') {
          // Sidecar ports are all 150xx: parse the port only for addresses that end like one.
          const sv = r.server;
          if (sv.charCodeAt(sv.length - 6) === 58 && sv.charCodeAt(sv.length - 5) === 49 && sv.charCodeAt(sv.length - 4) === 53 && SIDECAR_PORTS.has(portOf(sv))) return;
          this.counts.probeRequests++;
          // No access log entry will come for a request no sidecar handled: it is judged on its own.
          if (this.bypassPods.size && this.bypassPods.has(r.pod) && this.bypass.takeRequest(r)) return;
          let g = this.groups.get(r.server, r.client);
          if (!g) this.groups.set(r.server, r.client, (g = newGroup()));
          if (g.wireSorted && g.wire.length && ShadowJoiner.startOf(g.wire[g.wire.length - 1]!) > ShadowJoiner.startOf(r)) g.wireSorted = false;
          g.wire.push(r);
        } else {
          let a = this.apps.get(r.pod, r.client);
          if (!a) { this.apps.set(r.pod, r.client, (a = { recs: [], starts: [], used: null, sorted: true, lo: 0 })); this.appsVer++; }
          const st = ShadowJoiner.startOf(r);
          if (a.sorted && a.starts.length && a.starts[a.starts.length - 1]! > st) a.sorted = false;
          a.recs.push(r);
          a.starts.push(st);
        }
        return;
      }
      case 'edge': {
        this.probeEdgeSeen = true;
        this.bypass.addEdge(r);
        const k = `${r.pod}|${r.dir}|${r.leg}|${r.remoteIdentity}|${r.port}|${r.proto}`;
        const cur = this.probeEdges.get(k);
        if (!cur) { this.probeEdges.set(k, { last: r, carry: { requests: 0, bytes: 0, flows: 0, connsClosed: 0, status: {} } }); return; }
        if (r.ts < cur.last.ts) return;
        // Cumulative counters: a drop means the probe restarted (a resumed run); keep what the old one counted.
        if (r.requests < cur.last.requests) {
          cur.carry.requests += cur.last.requests;
          cur.carry.bytes += cur.last.bytesSent + cur.last.bytesReceived;
          cur.carry.flows += cur.last.flows;
          cur.carry.connsClosed += cur.last.connsClosed ?? 0;
          for (const [c, n] of Object.entries(cur.last.status)) cur.carry.status[c] = (cur.carry.status[c] ?? 0) + n;
        }
        cur.last = r;
        return;
      }
      case 'metrics':
        if (!this.metrics || r.ts >= this.metrics.ts) this.metrics = r;
        return;
      default:
    }
  }

  private podName(ip: string): string {
    const p = this.podByIp.get(ip);
    return p ? p.name : `ip:${ip}`;
  }

  private edgeAcc(source: string, destination: string, port: number): EdgeAcc {
    const k = `${source} -> ${destination}:${port}`;
    let a = this.edges.get(k);
    if (!a) {
      a = { name: k, source, destination, port, matrix: emptyMatrix(), wire: new Samples(), app: new Samples(), overhead: new Samples(), envoy: new Samples(), envoyStatus: {}, envoyDenied: 0, envoyBytes: 0, probeStatus: {}, probeRequests: 0 };
      this.edges.set(k, a);
    }
    return a;
  }

  /** Start of a probe request in ms since the epoch. */
  private static startOf(r: ProbeHttp): number {
    return (r.ts - r.latencyNs) / 1e6;
  }

  /** The app-leg group of an entry; the connection's last one is reused (a string compare, not two hashes). */
  private appGroup(e: AccessLogEntry, g: Group): AppGroup | undefined {
    if (g.appVer === this.appsVer && g.appPod === e.pod && g.appClient === e.upstreamLocal) return g.app;
    const a = this.apps.get(e.pod, e.upstreamLocal);
    g.appPod = e.pod; g.appClient = e.upstreamLocal; g.app = a; g.appVer = this.appsVer;
    return a;
  }

  private takeApp(e: AccessLogEntry, g: Group, pathLen: number): ProbeHttp | undefined {
    if (e.upstreamLocal === '-' || e.upstreamHost === '-') return undefined;
    const a = this.appGroup(e, g);
    if (!a) return undefined;
    const recs = a.recs;
    if (!a.sorted) {
      // Sorting reorders the slots, so consumed marks must move with their records.
      const used = a.used;
      const starts = a.starts;
      const idx = recs.map((_, i) => i).sort((x, y) => starts[x]! - starts[y]!);
      a.recs = idx.map((i) => recs[i]!);
      a.starts = idx.map((i) => starts[i]!);
      if (used) { const u = new Uint8Array(a.recs.length); idx.forEach((from, to) => { u[to] = from < used.length ? used[from]! : 0; }); a.used = u; }
      a.sorted = true;
      a.lo = 0;
      return this.takeApp(e, g, pathLen);
    }
    if (!a.used) a.used = new Uint8Array(recs.length);
    else if (a.used.length < recs.length) { const u = new Uint8Array(recs.length); u.set(a.used); a.used = u; }
    const w = this.opts.windowMs;
    const lo = e.startMs - w;
    // Binary search for the first record that started within the window, then the nearest match in time.
    while (a.lo < recs.length && a.used[a.lo]) a.lo++;
    let l = a.lo;
    // Entries mostly arrive in time order: a short forward walk; a binary search when far behind.
    const starts = a.starts;
    if (l < recs.length && starts[l]! < lo) {
      let h = recs.length;
      while (l < h) { const m = (l + h) >> 1; if (starts[m]! < lo) l = m + 1; else h = m; }
    }
    let best = -1;
    let bestD = Infinity;
    for (let i = l; i < recs.length; i++) {
      const st = starts[i]!;
      if (st > e.startMs + w) break;
      if (a.used[i]) continue;
      const r = recs[i]!;
      const d = Math.abs(st - e.startMs);
      if (d < bestD && r.method === e.method && samePath(r.path, e.path, pathLen) && r.server === e.upstreamHost) { best = i; bestD = d; }
      else if (best >= 0 && st > e.startMs) break;
    }
    if (best < 0) return undefined;
    a.used[best] = 1;
    return recs[best];
  }

  /** The identity the probe gives an address: the pod's, else the longest identity prefix, else world. */
  peerIdentity(ip: string): number {
    const pod = this.podByIp.get(ip);
    if (pod) return pod.identity;
    const a = parseIp(ip);
    for (const c of this.cidrIds) if (cidrContains(c.cidr, a)) return c.identity;
    return WORLD;
  }

  /** The plan's L7 verdict for the logged request e from peer (identity): rules without a peer apply to every peer.
   * A rule whose host or headers the log shows not to hold does not match; one whose headers the log does not carry
   * allows only where no other rule does, and says so (`unseen`). */
  private l7Eval(pod: string, port: number, e: SeenRequest, peer: number): { verdict: Verdict; rule: number; unseen?: string[] } | null {
    const rules = [...(this.l7ByPodPort.get(`${pod}|${port}`) ?? []), ...(this.l7ByPodPort.get(`*|${port}`) ?? [])];
    if (!rules.length) return null;
    // a pod no default-deny policy selects holds only the peers its rules name to them (Cilium redirects those alone)
    if (!this.inputs.selectedBy?.[pod] && !rules.some(({ rule }) => !rule.identity || rule.identity === peer)) return null;
    const p = normPath(e.path);
    let maybe: { verdict: Verdict; rule: number; unseen: string[] } | undefined;
    for (const { rule, re } of rules) {
      if (rule.identity && rule.identity !== peer) continue;
      if (rule.method && rule.method !== '*' && rule.method !== e.method) continue;
      if (rule.pathExact !== undefined && p !== rule.pathExact) continue;
      if (rule.pathPrefix !== undefined && !p.startsWith(rule.pathPrefix)) continue;
      if (rule.pathSuffix !== undefined && !p.endsWith(rule.pathSuffix)) continue;
      if (re && !re.test(p)) continue;
      const c = this.condById.get(rule.ruleId);
      const unseen = c ? checkConditions(c, e) : [];
      if (unseen === null) continue;
      if (!unseen.length) return { verdict: 'allow', rule: rule.ruleId };
      if (!maybe) maybe = { verdict: 'allow', rule: rule.ruleId, unseen };
    }
    return maybe ?? { verdict: 'deny', rule: 0 };
  }

  ruleName(id: number, layer: string, verdict: Verdict, flags?: string[], pod?: string): string {
    if (id === 0) {
      if (flags?.includes('nopolicy')) return '(no policy: allow)';
      const by = pod ? this.inputs.selectedBy?.[pod] : undefined;
      return verdict === 'deny' ? `(default deny ${layer}${by?.length ? `: no rule of ${by.join(', ')} matched` : ''})` : `(allow ${layer})`;
    }
    let n = this.ruleNames.get(id);
    if (n === undefined) {
      const r = this.ruleById.get(id);
      n = r ? `${r.policy} ${r.rule}` : `rule #${id}`;
      this.ruleNames.set(id, n);
    }
    return n;
  }

  private settle(e: AccessLogEntry, wire: ProbeHttp | undefined, g: Group, pathLen: number): void {
    // Every entry of a group shares pod, client IP and server port: the edge is looked up once per group.
    const edge = g.edge ?? (g.edge = this.edgeAcc(this.podName(ipOf(e.downstreamRemote)), e.pod, portOf(e.downstreamLocal)));
    const port = edge.port;
    const denial = envoyDenial(e);
    const envVerdict: Verdict = denial ? 'deny' : 'allow';
    const envRule = denial ? denialRule(denial) : '(allowed)';
    const sc = statusClass(e.status);
    edge.envoyStatus[sc] = (edge.envoyStatus[sc] ?? 0) + 1;
    if (denial) edge.envoyDenied++;
    edge.envoyBytes += e.bytesReceived + e.bytesSent;
    if (!Number.isNaN(e.durationMs)) edge.envoy.push(e.durationMs);
    // The group's key is this flow's key: look it up once per group until a flow record is added.
    if (g.flowVer !== this.flowsVer) { g.flow = this.flows.get(e.downstreamLocal, e.downstreamRemote); g.flowVer = this.flowsVer; }
    const flow = g.flow;
    const app = this.takeApp(e, g, pathLen);
    if (!flow && !wire && !app) {
      this.record(edge, envVerdict, null, envRule, '(no probe record)', 'envoy-only', e, undefined, '-', '-');
      return;
    }
    this.counts.matched++;
    // L3/L4 first (deny there ends it), then L7 from the wire record, the app leg, or the plan's L7 rules.
    let verdict: Verdict = 'allow';
    let ruleId = 0;
    let layer: ExampleRequest['layer'] = 'L3/L4';
    let where = 'kernel';
    let flags = flow?.flags;
    let unseen: string[] | undefined;
    if (flow && (flow.verdict === 'deny' || flow.verdict === 'audit')) {
      verdict = 'deny'; ruleId = flow.rule;
    } else {
      if (flow) ruleId = flow.rule;
      // A record the probe left undecided (verdict none, flag "peer": the port's rules differ by peer and its leg
      // does not know the peer) is decided here with the peer the access log names.
      const decided = (r: ProbeHttp | undefined) => !!r && r.where !== 'none' && r.verdict !== 'none';
      const l7 = decided(wire) ? wire : decided(app) ? app : undefined;
      if (l7) {
        verdict = l7.verdict === 'deny' || l7.verdict === 'audit' ? 'deny' : 'allow';
        ruleId = l7.rule; layer = 'L7'; where = l7.where; flags = l7.flags;
        // the probe matched a rule on method and path alone: its host and headers are checked here, on the log
        if (verdict === 'allow' && this.condById.has(ruleId)) {
          const ev = this.l7Eval(e.pod, port, e, this.peerIdentity(ipOf(e.downstreamRemote)));
          if (ev) { verdict = ev.verdict; ruleId = ev.rule; where = 'log'; unseen = ev.unseen; flags = [...(flags ?? []), 'when']; }
        }
      } else {
        const undecided = (wire && wire.where !== 'none') || (app && app.where !== 'none');
        const ev = this.l7Eval(e.pod, port, e, this.peerIdentity(ipOf(e.downstreamRemote)));
        if (ev && (!(wire || app) || undecided)) { verdict = ev.verdict; ruleId = ev.rule; layer = 'L7'; where = 'log'; flags = undecided ? ['peer'] : []; unseen = ev.unseen; }
      }
    }
    if (wire) edge.wire.push(wire.latencyNs / 1e6);
    if (app) edge.app.push(app.latencyNs / 1e6);
    if (wire && app) edge.overhead.push((wire.latencyNs - app.latencyNs) / 1e6);
    if (this.onLatency) {
      if (wire) this.onLatency('wire', wire.latencyNs / 1e6);
      if (app) this.onLatency('app', app.latencyNs / 1e6);
      if (wire && app) this.onLatency('overhead', (wire.latencyNs - app.latencyNs) / 1e6);
    }
    let ebpfRule = this.ruleName(ruleId, layer, verdict, flags, e.pod);
    const ref = this.ruleById.get(ruleId);
    let unseenGap: KnownGap | undefined;
    if (unseen?.length) {
      ebpfRule += ` (if its ${unseen.join(', ')} condition${unseen.length > 1 ? 's hold' : ' holds'})`;
      unseenGap = { code: UNSEEN_HEADER_GAP, object: ref?.source ?? ref?.policy ?? ebpfRule, reason: `the access log does not carry ${unseen.join(', ')}: allowed as if the rule's header conditions held` };
    }
    this.record(edge, envVerdict, verdict, envRule, ebpfRule, 'matched', e, ref?.source, where, layer, unseenGap);
  }

  private record(edge: EdgeAcc, envoy: Verdict, ebpf: Verdict | null, envoyRule: string, ebpfRule: string, kind: 'matched' | 'envoy-only', e: AccessLogEntry, ebpfSource: string | undefined, where: string, layer: ExampleRequest['layer'], unseenGap?: KnownGap): void {
    const cell: keyof Matrix = ebpf === null ? 'envoyOnly' : envoy === 'allow' ? (ebpf === 'allow' ? 'allowAllow' : 'allowDeny') : ebpf === 'allow' ? 'denyAllow' : 'denyDeny';
    this.matrix[cell]++;
    edge.matrix[cell]++;
    const envoyObj = this.policyOf(envoyRule);
    this.ruleCell('envoy', envoyRule, envoyObj, cell);
    if (kind === 'matched') this.ruleCell('ebpf', ebpfRule, ebpfSource, cell);
    const cls: DisagreementClass | null = cell === 'allowDeny' ? 'ebpf-would-deny' : cell === 'denyAllow' ? 'ebpf-would-allow' : cell === 'envoyOnly' ? 'unmatched-envoy-only' : null;
    if (!cls) return;
    const edgeName = edge.name;
    const explains = cls === 'ebpf-would-allow' ? EXPLAINS_ALLOW : EXPLAINS_DENY;
    const gap = [...(envoyObj ? this.gapByObject.get(envoyObj) ?? [] : []), ...(ebpfSource ? this.gapByObject.get(ebpfSource) ?? [] : [])].find((x) => explains.has(x.code))
      ?? (cls === 'ebpf-would-allow' ? unseenGap : undefined);
    this.addDisagreement(cls, edgeName, envoyRule, ebpfRule, gap, () => ({
      time: new Date(e.startMs).toISOString(), method: e.method, path: e.path, status: e.status, client: e.downstreamRemote,
      server: e.downstreamLocal, requestId: e.requestId, envoyRule, ebpfRule, where, layer,
    }));
  }

  private addDisagreement(cls: DisagreementClass, edge: string, envoyRule: string, ebpfRule: string, gap: KnownGap | undefined, ex: () => ExampleRequest): void {
    const k = `${cls}|${edge}|${envoyRule}|${ebpfRule}`;
    let g = this.disagreements.get(k);
    if (!g) {
      const expected = !!gap && cls !== 'unmatched-envoy-only' && cls !== 'unmatched-probe-only';
      g = { d: { class: cls, edge, envoyRule, ebpfRule, count: 0, expected, ...(expected && gap ? { gapCode: gap.code, gapObject: gap.object } : {}), risk: CLASS_RISK[cls], examples: [] } };
      this.disagreements.set(k, g);
    }
    g.d.count++;
    if (g.d.examples.length < this.opts.examples) g.d.examples.push(ex());
  }

  private readonly envoyRules = new Map<string, RuleResult>();
  private readonly ebpfRules = new Map<string, RuleResult>();
  /** Envoy rule -> its AuthorizationPolicy, '' for none (one lookup per entry, not has + get). */
  private readonly policyObjects = new Map<string, string>();

  private policyOf(envoyRule: string): string | undefined {
    let o = this.policyObjects.get(envoyRule);
    if (o === undefined) this.policyObjects.set(envoyRule, (o = envoyPolicyObject(envoyRule) ?? ''));
    return o || undefined;
  }

  private ruleCell(side: 'envoy' | 'ebpf', rule: string, source: string | undefined, cell: keyof Matrix): void {
    const m = side === 'envoy' ? this.envoyRules : this.ebpfRules;
    let r = m.get(rule);
    if (!r) {
      m.set(rule, (r = { side, rule, ...(source ? { source } : {}), matrix: emptyMatrix() }));
      this.ruleMatrix.set(`${side}|${rule}`, r);
    }
    r.matrix[cell]++;
  }

  private edgeOfRecord(r: ProbeHttp, g: Group | null): EdgeAcc {
    if (g?.edge) return g.edge;
    const edge = this.edgeAcc(this.podName(ipOf(r.client)), r.pod, portOf(r.server));
    if (g) g.edge = edge;
    return edge;
  }

  private probeOnly(r: ProbeHttp, g: Group | null = null): void {
    const edge = this.edgeOfRecord(r, g);
    edge.matrix.probeOnly++;
    this.matrix.probeOnly++;
    edge.wire.push(r.latencyNs / 1e6);
    const verdict: Verdict = r.verdict === 'deny' || r.verdict === 'audit' ? 'deny' : 'allow';
    const ebpfRule = this.ruleName(r.rule, r.where === 'none' ? 'L3/L4' : 'L7', verdict, r.flags, r.pod);
    this.addDisagreement('unmatched-probe-only', edge.name, '(no access log entry)', ebpfRule, undefined, () => ({
      time: new Date(Math.round(ShadowJoiner.startOf(r))).toISOString(), method: r.method, path: r.path, status: r.status, client: r.client,
      server: r.server, requestId: '-', envoyRule: '(no access log entry)', ebpfRule, where: r.where, layer: r.where === 'none' ? '-' : 'L7',
    }));
  }

  /** Probe-side status per edge (wire leg records), for parity when no in-kernel aggregate exists. */
  private countProbe(r: ProbeHttp, g: Group | null = null): void {
    const edge = this.edgeOfRecord(r, g);
    edge.probeRequests++;
    const sc = statusClass(r.status);
    edge.probeStatus[sc] = (edge.probeStatus[sc] ?? 0) + 1;
  }

  /**
   * Settles every entry older than `watermarkMs - window` and every probe record older than
   * `watermarkMs - 2 * window` (those left are probe-only). Infinity settles everything.
   */
  flush(watermarkMs: number): void {
    const w = this.opts.windowMs;
    const entryCut = watermarkMs - w;
    const recCut = watermarkMs - 2 * w;
    for (const [gk, inner] of this.groups.outer) for (const [k, g] of inner) {
      if (!g.wireSorted) {
        const rest = g.wire.slice(g.wireUsed).sort((a, b) => a.ts - a.latencyNs - (b.ts - b.latencyNs));
        g.wire = rest; g.wireUsed = 0; g.wireSorted = true;
      }
      // Entries arrive in time order almost always: sort (and re-check) only when an arrival broke the order.
      if (!g.entriesSorted) {
        if (!inStartOrder(g.entries)) g.entries.sort((a, b) => a.startMs - b.startMs);
        g.entriesSorted = inStartOrder(g.entries);
      }
      let ei = 0;
      while (ei < g.entries.length && g.entries[ei]!.startMs < entryCut) {
        const e = g.entries[ei++]!;
        const pathLen = normLen(e.path);
        let match: ProbeHttp | undefined;
        // Records that started too early for this entry (and all later ones) belong to no entry.
        while (g.wireUsed < g.wire.length && ShadowJoiner.startOf(g.wire[g.wireUsed]!) < e.startMs - w) {
          const r = g.wire[g.wireUsed++]!;
          this.countProbe(r, g); this.probeOnly(r, g);
        }
        for (let i = g.wireUsed; i < g.wire.length; i++) {
          const r = g.wire[i]!;
          if (ShadowJoiner.startOf(r) > e.startMs + w) break;
          if (r.method === e.method && samePath(r.path, e.path, pathLen)) {
            // Records skipped over were not this entry's; they are settled as probe-only.
            for (let s = g.wireUsed; s < i; s++) { const x = g.wire[s]!; this.countProbe(x, g); this.probeOnly(x, g); }
            g.wireUsed = i + 1;
            match = r;
            break;
          }
        }
        if (match) this.countProbe(match, g);
        this.settle(e, match, g, pathLen);
      }
      if (ei) g.entries.splice(0, ei);
      while (g.wireUsed < g.wire.length && ShadowJoiner.startOf(g.wire[g.wireUsed]!) < recCut && g.entries.length === 0) {
        const r = g.wire[g.wireUsed++]!;
        this.countProbe(r, g); this.probeOnly(r, g);
      }
      // The consumed prefix is dropped once it is half the array: amortised O(1) per record, where a splice at
      // every flush moved a connection's whole backlog of records each time.
      if (g.wireUsed && g.wireUsed * 2 >= g.wire.length) { g.wire.splice(0, g.wireUsed); g.wireUsed = 0; }
      if (!g.entries.length && !g.wire.length) { inner.delete(k); if (!inner.size) this.groups.outer.delete(gk); }
    }
    // App-leg records and flows older than the record cut can no longer be claimed.
    for (const [ak, inner] of this.apps.outer) for (const [k, a] of inner) {
      if (!a.sorted || !a.recs.length || a.starts[0]! >= recCut) continue;
      let l = 0; let h = a.recs.length;
      while (l < h) { const m = (l + h) >> 1; if (a.starts[m]! < recCut) l = m + 1; else h = m; }
      if (l >= a.recs.length) { inner.delete(k); if (!inner.size) this.apps.outer.delete(ak); this.appsVer++; continue; }
      // Drop the prefix in place (V8 left-trims a spliced prefix; a slice copied the whole rest every flush).
      a.recs.splice(0, l);
      a.starts.splice(0, l);
      a.used = a.used && a.used.length > l ? a.used.subarray(l) : null;
      a.lo = 0;
    }
  }

  /** Pending (unsettled) items, for tests and live counts. */
  pending(): number {
    let n = 0;
    for (const g of this.groups.values()) n += g.entries.length + g.wire.length - g.wireUsed;
    return n;
  }

  podOfIdentity(id: number): ShadowPod | undefined {
    return this.podByIdentity.get(id);
  }

  isSidecarPod(name: string): boolean { return this.sidecarPod(name); }

  /** Edges the probe saw as ingress flows (any request or not). */
  flowEdges(): { source: string; destination: string; port: number }[] {
    const seen = new Map<string, { source: string; destination: string; port: number }>();
    for (const f of this.flows.values()) {
      // A flow picked up mid-stream is a connection from before the run (e.g. a pooled upstream closing).
      if (f.flags?.includes('midstream')) continue;
      // Coverage compares with what sidecars see (TCP); traffic no sidecar handles is in the bypass section.
      if (f.proto !== 'TCP' || bypassReason(this.podByName.get(f.pod), f.dport, f.proto)) continue;
      const e = { source: this.podName(f.src), destination: f.pod, port: f.dport };
      seen.set(`${e.source}|${e.destination}|${e.port}`, e);
    }
    return [...seen.values()];
  }
}
