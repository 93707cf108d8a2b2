// Traffic no sidecar handles: Istio's inbound redirect takes TCP only, a pod without a sidecar has none, and a
// sidecar leaves alone the inbound ports its pod excludes (traffic.sidecar.istio.io/excludeInboundPorts, or not in
// includeInboundPorts). Istio does not police that traffic, so it flows today; after cutover the eBPF plane's
// verdict decides it. No access log entry ever names it, so the Envoy-side diff cannot see it, and a deny there is
// an outage found only here. It is judged against "allowed" (the status quo): flows at L3/L4 from the probe's
// in-kernel edge aggregates (complete; the sampled flow records where no aggregate covers them), requests at L7
// from the wire leg's records. ICMP is not judged: Cilium passes an ICMP error about a tracked connection
// (CT_RELATED), while the probe evaluates each ICMP packet as a flow of its own.
import type { ProbeEdge, ProbeFlow, ProbeHttp, ProbeVerdict, ShadowPod } from './types.js';
import { intercepts } from '../istio/capture.js';
import type { Disagreement, ExampleRequest } from './result.js';

/** The sidecar's own ports: traffic to them is not application traffic (reference/envoy-telemetry.md), and they
 * are gone with the sidecar after cutover. */
export const SIDECAR_PORTS = new Set([15000, 15001, 15004, 15006, 15008, 15020, 15021, 15090]);

export type BypassReason = 'not-tcp' | 'no-sidecar' | 'not-intercepted';
export const BYPASS_REASON_TEXT: Record<BypassReason, string> = {
  'not-tcp': 'not TCP, which the sidecar redirect does not take',
  'no-sidecar': 'the pod has no sidecar',
  'not-intercepted': 'a port the sidecar does not intercept',
};

/** Why traffic to pod on port/proto (proto as the probe writes it: TCP, UDP, ICMP, OTHER) bypasses its sidecar;
 * null when the sidecar handles it, and for what is not judged (ICMP, the sidecar's own ports, other pods). */
export function bypassReason(pod: ShadowPod | undefined, port: number, proto: string): BypassReason | null {
  if (!pod || proto === 'ICMP') return null;
  if (proto !== 'TCP') return 'not-tcp';
  if (!pod.sidecar) return 'no-sidecar';
  if (SIDECAR_PORTS.has(port)) return null;
  return intercepts(pod.inbound, port) ? null : 'not-intercepted';
}

export interface BypassEdge {
  /** `source -> destination:port`, with `/udp` (or the protocol) when not TCP. */
  edge: string;
  source: string;
  destination: string;
  port: number;
  proto: string;
  reason: BypassReason;
  flows: number;
  /** Flows the eBPF plane's L3/L4 verdict denies (audit counts as deny, as in the diff). */
  flowsDenied: number;
  /** HTTP requests on flows it allows at L3/L4, and those its L7 rules deny. */
  requests: number;
  requestsDenied: number;
  /** Requests it allows only by rules with host or header conditions, which nobody checks here (no access log). */
  requestsUnchecked: number;
}

export interface BypassTotal { unit: 'flows' | 'requests'; reason: BypassReason; seen: number; denied: number }

export interface BypassResult {
  note: string;
  /** Where the flow counts come from: the kernel's edge aggregates (complete), or flow records only (sampled). */
  flowSource: 'edge-aggregate' | 'records';
  flows: number;
  flowsDenied: number;
  requests: number;
  requestsDenied: number;
  requestsUnchecked: number;
  edges: BypassEdge[];
}

/** What the judge needs of the joiner: names of pods, peers and rules, and the flow a request rode on. */
export interface BypassContext {
  pod(name: string): ShadowPod | undefined;
  peerName(identity: number): string;
  ruleName(id: number, layer: string, flags: string[] | undefined, pod: string): string;
  flowOf(server: string, client: string): ProbeFlow | undefined;
  /** Allowed only by rules whose host or header conditions the probe does not see. */
  unchecked(r: ProbeHttp): boolean;
}

interface Acc {
  e: BypassEdge;
  /** From flow records, and from edge aggregates (summed over the aggregates of this edge). */
  recFlows: number; recDenied: number; aggFlows: number; aggDenied: number;
  flowRule: string; flowExamples: ExampleRequest[];
  reqRule: string; reqExamples: ExampleRequest[];
}

const denies = (v: ProbeVerdict) => v === 'deny' || v === 'audit';
const portOf = (addr: string) => Number(addr.slice(addr.lastIndexOf(':') + 1));
const envoyRuleOf = (reason: BypassReason) => `(no sidecar on the path: ${BYPASS_REASON_TEXT[reason]})`;

export class BypassJudge {
  private readonly accs = new Map<string, Acc>();
  /** Per edge aggregate key: its last cumulative counts (the sums take the deltas). */
  private readonly aggs = new Map<string, { acc: Acc; ts: number; flows: number; denied: number }>();
  private aggSeen = false;
  private readonly serverReason = new Map<string, BypassReason | null>();

  constructor(private readonly ctx: BypassContext, private readonly examples: number) {}

  private acc(identity: number, destination: string, port: number, proto: string, reason: BypassReason): Acc {
    const source = this.ctx.peerName(identity);
    const k = `${source}|${destination}|${port}|${proto}`;
    let a = this.accs.get(k);
    if (!a) {
      const edge = `${source} -> ${destination}:${port}${proto === 'TCP' ? '' : `/${proto.toLowerCase()}`}`;
      a = {
        e: { edge, source, destination, port, proto, reason, flows: 0, flowsDenied: 0, requests: 0, requestsDenied: 0, requestsUnchecked: 0 },
        recFlows: 0, recDenied: 0, aggFlows: 0, aggDenied: 0, flowRule: '', flowExamples: [], reqRule: '', reqExamples: [],
      };
      this.accs.set(k, a);
    }
    return a;
  }

  /** An ingress flow record. */
  addFlow(r: ProbeFlow): void {
    const reason = bypassReason(this.ctx.pod(r.pod), r.dport, r.proto);
    if (!reason) return;
    const a = this.acc(r.remoteIdentity, r.pod, r.dport, r.proto, reason);
    a.recFlows++;
    if (!denies(r.verdict)) return;
    a.recDenied++;
    const rule = this.ctx.ruleName(r.rule, 'L3/L4', r.flags, r.pod);
    if (!a.flowRule) a.flowRule = rule;
    if (a.flowExamples.length < this.examples) {
      a.flowExamples.push({
        time: new Date(Math.round(r.ts / 1e6)).toISOString(), method: '-', path: '-', status: 0, client: `${r.src}:${r.sport}`,
        server: `${r.dst}:${r.dport}`, requestId: '-', envoyRule: envoyRuleOf(reason), ebpfRule: rule, where: r.where, layer: 'L3/L4',
      });
    }
  }

  /** An in-kernel edge aggregate (cumulative), ingress on the wire leg. */
  addEdge(r: ProbeEdge): void {
    if (r.dir !== 'ingress' || r.leg !== 'wire') return;
    const reason = bypassReason(this.ctx.pod(r.pod), r.port, r.proto);
    if (!reason) return;
    this.aggSeen = true;
    const k = `${r.pod}|${r.remoteIdentity}|${r.port}|${r.proto}`;
    const fv = r.flowVerdicts;
    const denied = fv ? fv.deny + fv.audit : 0;
    let s = this.aggs.get(k);
    if (!s) this.aggs.set(k, (s = { acc: this.acc(r.remoteIdentity, r.pod, r.port, r.proto, reason), ts: 0, flows: 0, denied: 0 }));
    if (r.ts < s.ts) return;
    // A count that fell is a new life of the edge (a restarted probe, or an edge its GC freed and the kernel made
    // again): it counts from zero, and the old life's counts are already in the sums.
    const fresh = r.flows < s.flows;
    s.acc.aggFlows += fresh ? r.flows : r.flows - s.flows;
    s.acc.aggDenied += fresh ? denied : denied - s.denied;
    s.ts = r.ts; s.flows = r.flows; s.denied = denied;
  }

  /** A wire-leg ingress HTTP record: true when it went to a pod or port no sidecar handles (then it is judged
   * here, and no access log entry is to be waited for). */
  takeRequest(r: ProbeHttp): boolean {
    // Per server address (pod IP and port): one lookup per record on the join's hot path.
    let reason = this.serverReason.get(r.server);
    if (reason === undefined) this.serverReason.set(r.server, (reason = bypassReason(this.ctx.pod(r.pod), portOf(r.server), 'TCP')));
    if (!reason) return false;
    const port = portOf(r.server);
    // A request on a denied connection would not happen after cutover: that flow is counted, not its requests.
    const flow = this.ctx.flowOf(r.server, r.client);
    if (flow && denies(flow.verdict)) return true;
    const a = this.acc(r.remoteIdentity, r.pod, port, 'TCP', reason);
    a.e.requests++;
    if (!denies(r.verdict)) {
      if (this.ctx.unchecked(r)) a.e.requestsUnchecked++;
      return true;
    }
    a.e.requestsDenied++;
    const rule = this.ctx.ruleName(r.rule, 'L7', r.flags, r.pod);
    if (!a.reqRule) a.reqRule = rule;
    if (a.reqExamples.length < this.examples) {
      a.reqExamples.push({
        time: new Date(Math.round((r.ts - r.latencyNs) / 1e6)).toISOString(), method: r.method, path: r.path, status: r.status,
        client: r.client, server: r.server, requestId: '-', envoyRule: envoyRuleOf(reason), ebpfRule: rule, where: r.where, layer: 'L7',
      });
    }
    return true;
  }

  /** Flows and requests denied so far (the live line). */
  denied(): number {
    let n = 0;
    for (const a of this.accs.values()) n += Math.max(a.aggDenied, a.recDenied) + a.e.requestsDenied;
    return n;
  }

  /** Cumulative counts so far by unit and reason (the live metrics); each only ever grows. */
  totals(): BypassTotal[] {
    const t = new Map<string, BypassTotal>();
    const add = (unit: BypassTotal['unit'], reason: BypassReason, seen: number, denied: number) => {
      const k = `${unit}|${reason}`;
      const x = t.get(k) ?? { unit, reason, seen: 0, denied: 0 };
      x.seen += seen; x.denied += denied;
      t.set(k, x);
    };
    for (const a of this.accs.values()) {
      add('flows', a.e.reason, Math.max(a.aggFlows, a.recFlows), Math.max(a.aggDenied, a.recDenied));
      add('requests', a.e.reason, a.e.requests, a.e.requestsDenied);
    }
    return [...t.values()];
  }

  result(): { bypass: BypassResult; disagreements: Disagreement[] } {
    const edges: BypassEdge[] = [];
    const disagreements: Disagreement[] = [];
    for (const a of this.accs.values()) {
      // Records are a sample of what the aggregates count, except flows newer than the last aggregate dump.
      const e = { ...a.e, flows: Math.max(a.aggFlows, a.recFlows), flowsDenied: Math.max(a.aggDenied, a.recDenied) };
      edges.push(e);
      const envoyRule = envoyRuleOf(e.reason);
      const base = { class: 'ebpf-would-deny' as const, edge: e.edge, envoyRule, expected: false, risk: 'outage' as const };
      if (e.flowsDenied) disagreements.push({ ...base, ebpfRule: a.flowRule || this.ctx.ruleName(0, 'L3/L4', undefined, e.destination), count: e.flowsDenied, examples: a.flowExamples });
      if (e.requestsDenied) disagreements.push({ ...base, ebpfRule: a.reqRule, count: e.requestsDenied, examples: a.reqExamples });
    }
    edges.sort((x, y) => (x.edge < y.edge ? -1 : x.edge > y.edge ? 1 : 0));
    const sum = (f: (e: BypassEdge) => number) => edges.reduce((s, e) => s + f(e), 0);
    return {
      bypass: {
        note: 'traffic no sidecar handled (not TCP; to pods without a sidecar; to inbound ports the sidecar does not intercept): Istio does not police it, so it flows today, and after cutover the eBPF plane\'s verdict decides it. ICMP is not judged.',
        flowSource: this.aggSeen ? 'edge-aggregate' : 'records',
        flows: sum((e) => e.flows), flowsDenied: sum((e) => e.flowsDenied), requests: sum((e) => e.requests), requestsDenied: sum((e) => e.requestsDenied),
        requestsUnchecked: sum((e) => e.requestsUnchecked),
        edges,
      },
      disagreements,
    };
  }
}
