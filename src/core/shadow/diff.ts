// Assembles the ShadowResult from a settled ShadowJoiner: verdict matrices per edge and rule, disagreement
// groups, latency percentiles per leg, telemetry parity against the in-kernel edge aggregates, coverage.
import type { ShadowJoiner, EdgeAcc } from './join.js';
import { SIDECAR_PORTS } from './bypass.js';
import type { EdgeParity, EdgeResult, Matrix, ParityCheck, RbacParity, ShadowResult } from './result.js';
import { EXIT_SHADOW } from './result.js';
import { round3 } from './stats.js';
import type { ParseStats } from './envoy-text.js';
import type { IstioCounts, RbacByPort } from './prom-text.js';

export interface DiffOptions {
  namespace: string;
  mode: ShadowResult['mode'];
  plan?: string;
  resultsDir?: string;
  startedAtMs: number;
  endedAtMs: number;
  /** Relative and absolute tolerance of telemetry parity (requests and status classes). */
  tolerance: { relative: number; absolute: number };
  /** Stated per-request cost of the eBPF data plane, µs (projection after cutover). */
  ebpfCostUs: number;
  /** Unmatched share of Envoy requests above which the evidence counts as incomplete. */
  unmatchedTolerance: number;
  parse: { pod: string; stats: ParseStats }[];
  /** What the plan holds that the probe does not check (compilePlan's report). */
  notShadowed?: string[];
  /** istio_requests_total deltas over the run, by `source|destination` (absent: not scraped). */
  istio?: IstioCounts;
  /** Envoy RBAC counter deltas over the run, by pod (absent: not scraped). */
  rbac?: Map<string, RbacByPort>;
}

export const DEFAULT_TOLERANCE = { relative: 0.01, absolute: 2 };
/** ~8 packets per request at ~0.43 µs in place (reference/ebpf-hooks.md, tc with BPF_RB_NO_WAKEUP) plus L7 parsing. */
export const DEFAULT_EBPF_COST_US = 5;

export const LOST_COUNTERS = ['ringbuf_full', 'ratelimited', 'ct_full', 'inflight_evicted'] as const;

function check(envoy: number, probe: number, tol: DiffOptions['tolerance']): ParityCheck {
  return { envoy, probe, ok: Math.abs(envoy - probe) <= Math.max(tol.absolute, tol.relative * Math.max(envoy, probe)) };
}

function agreementOf(m: Matrix): number | null {
  const matched = m.allowAllow + m.allowDeny + m.denyAllow + m.denyDeny;
  return matched ? round3((m.allowAllow + m.denyDeny) / matched) : null;
}

interface EdgeAgg { requests: number; bytes: number; flows: number; connsClosed: number; closeCounted: boolean; status: Record<string, number> }

/** sock_ops adds a connection's bytes when it closes: with connections of the edge still open (keep-alive pools
 * outlive the run) the kernel's count is partial, so it is only compared once every connection it saw closed. */
function bytesParity(agg: EdgeAgg | null, envoyBytes: number, note: string): ParityCheck {
  if (!agg || agg.bytes === 0) return { envoy: envoyBytes, probe: agg?.bytes ?? 0, ok: true, note: 'no kernel byte counters for this edge (sock_ops counts at connection close)' };
  if (agg.closeCounted && agg.connsClosed < agg.flows) {
    return { envoy: envoyBytes, probe: agg.bytes, ok: true, note: `not compared: ${agg.flows - agg.connsClosed} of ${agg.flows} connections still open at the end (sock_ops counts bytes at close, so the kernel's count is partial)` };
  }
  return { envoy: envoyBytes, probe: agg.bytes, ok: agg.bytes >= envoyBytes, note };
}

function edgeParity(j: ShadowJoiner, a: EdgeAcc, tol: DiffOptions['tolerance'], istio?: IstioCounts): EdgeParity {
  const envoyReq = Object.values(a.envoyStatus).reduce((x, y) => x + y, 0);
  // The kernel's per-edge counters (wire leg, ingress, at the destination), summed over probe restarts.
  let agg: EdgeAgg | null = null;
  for (const { last, carry } of j.probeEdges.values()) {
    if (last.pod !== a.destination || last.dir !== 'ingress' || last.leg !== 'wire' || last.port !== a.port) continue;
    const src = j.podOfIdentity(last.remoteIdentity);
    if ((src ? src.name : `identity:${last.remoteIdentity}`) !== a.source && !(a.source.startsWith('ip:') && !src)) continue;
    agg ??= { requests: 0, bytes: 0, flows: 0, connsClosed: 0, closeCounted: true, status: {} };
    agg.requests += carry.requests + last.requests;
    agg.flows += carry.flows + last.flows;
    agg.connsClosed += carry.connsClosed + (last.connsClosed ?? 0);
    if (last.connsClosed === undefined) agg.closeCounted = false;
    agg.bytes += carry.bytes + last.bytesSent + last.bytesReceived;
    for (const [c, n] of Object.entries(last.status)) agg.status[c] = (agg.status[c] ?? 0) + n + (carry.status[c] ?? 0);
  }
  // TLS on the wire (sidecar mTLS): the kernel sees the edge's connections and bytes but parses no HTTP there,
  // so its wire-leg request counters stay 0 (it counted TLS, the `tls` counter). What it can count is the
  // plaintext app leg: the requests the sidecar forwarded, joined to this edge per request. The sidecar's local
  // replies (403, 503) never reach that hop, so they are compared with Envoy's forwarded requests only.
  if (agg && agg.requests === 0 && agg.flows > 0 && a.wire.n === 0 && (j.metrics?.counters.tls ?? 0) > 0) {
    const forwarded = a.matrix.allowAllow + a.matrix.allowDeny;
    const requests = { ...check(forwarded, a.app.n, tol), note: 'TLS on the wire: requests the sidecar forwarded (access log) vs the kernel\'s app-leg records on the plaintext hop; local replies never reach it' };
    const bytes = bytesParity(agg, a.envoyBytes, 'TLS record bytes on the wire vs Envoy\'s body bytes: parity means kernel >= Envoy');
    const im = istio?.get(`${a.source}|${a.destination}`);
    const istioMetrics = istio ? { ...check(im ? Object.values(im).reduce((x, y) => x + y, 0) : 0, envoyReq, tol), note: 'TLS on the wire, no kernel request count: istio_requests_total delta (reporter=destination) vs the access log' } : undefined;
    return { requests, status: {}, bytes, ...(istioMetrics ? { istioMetrics } : {}), probeSource: 'records', ok: requests.ok && bytes.ok && (istioMetrics?.ok ?? true) };
  }
  const probeReq = agg ? agg.requests : a.probeRequests;
  const probeStatus = agg ? agg.status : a.probeStatus;
  const status: Record<string, ParityCheck> = {};
  for (const c of [...new Set([...Object.keys(a.envoyStatus), ...Object.keys(probeStatus)])].sort()) {
    const e = a.envoyStatus[c] ?? 0;
    const p = probeStatus[c] ?? 0;
    if (e || p) status[c] = check(e, p, tol);
  }
  const requests = check(envoyReq, probeReq, tol);
  const bytes = bytesParity(agg, a.envoyBytes, 'Envoy counts body bytes, the kernel TCP payload (headers included): parity means kernel >= Envoy');
  // Workload names in the lab are the pod names; the sidecar's metric has no port, so it covers all ports.
  const im = istio?.get(`${a.source}|${a.destination}`);
  const istioMetrics = istio ? { ...check(im ? Object.values(im).reduce((x, y) => x + y, 0) : 0, probeReq, tol), note: 'istio_requests_total delta (reporter=destination) vs the kernel count' } : undefined;
  return { requests, status, bytes, ...(istioMetrics ? { istioMetrics } : {}), probeSource: agg ? 'edge-aggregate' : 'records', ok: requests.ok && Object.values(status).every((s) => s.ok) && bytes.ok && (istioMetrics?.ok ?? true) };
}

/** Per sidecar and inbound port with RBAC counters: the filter's decisions against the access log's. */
function rbacParity(j: ShadowJoiner, rbac: Map<string, RbacByPort>, tol: DiffOptions['tolerance']): RbacParity[] {
  const out: RbacParity[] = [];
  for (const [pod, ports] of [...rbac.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    for (const [port, c] of [...ports.entries()].sort(([a], [b]) => a - b)) {
      const log = { allowed: 0, denied: 0 };
      for (const a of j.edges.values()) {
        if (a.destination !== pod || a.port !== port) continue;
        const n = Object.values(a.envoyStatus).reduce((x, y) => x + y, 0);
        log.denied += a.envoyDenied;
        log.allowed += n - a.envoyDenied;
      }
      const dry = Object.values(c.dryRun).some((v) => v > 0);
      out.push({
        pod, port, metrics: { allowed: c.allowed, denied: c.denied }, log,
        ok: check(c.allowed, log.allowed, tol).ok && check(c.denied, log.denied, tol).ok,
        ...(dry ? { dryRun: { ...c.dryRun } } : {}),
      });
    }
  }
  return out;
}

export function buildShadowResult(j: ShadowJoiner, o: DiffOptions): ShadowResult {
  const costMs = o.ebpfCostUs / 1000;
  const edges: EdgeResult[] = [...j.edges.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, a]) => {
    return {
      edge: name, source: a.source, destination: a.destination, port: a.port, matrix: { ...a.matrix }, agreement: agreementOf(a.matrix),
      latency: { wire: a.wire.percentiles(), app: a.app.percentiles(), sidecarOverhead: a.overhead.percentiles(), envoy: a.envoy.percentiles(), projected: a.app.percentiles(costMs) },
      parity: edgeParity(j, a, o.tolerance, o.istio),
    };
  });
  const m = j.matrix;
  const bypass = j.bypass.result();
  const disagreements = [...[...j.disagreements.values()].map((g) => g.d), ...bypass.disagreements].sort((a, b) => b.count - a.count || (a.class + a.edge + a.envoyRule + a.ebpfRule < b.class + b.edge + b.envoyRule + b.ebpfRule ? -1 : 1));
  const expected = disagreements.filter((d) => d.expected && (d.class === 'ebpf-would-deny' || d.class === 'ebpf-would-allow')).reduce((s, d) => s + d.count, 0);
  const verdictDis = m.allowDeny + m.denyAllow;
  // A deny of traffic no sidecar handled is an outage nobody has seen yet: never expected.
  const bypassDenied = bypass.bypass.flowsDenied + bypass.bypass.requestsDenied;
  const unexpected = verdictDis - expected + bypassDenied;
  const matched = m.allowAllow + m.allowDeny + m.denyAllow + m.denyDeny;
  const envoyRequests = matched + m.envoyOnly;
  const unmatchedShare = envoyRequests ? (m.envoyOnly + m.probeOnly) / envoyRequests : 0;
  const outcome: ShadowResult['summary']['outcome'] = unexpected > 0 ? 'disagreements' : expected > 0 ? 'expected-disagreements-only' : unmatchedShare > o.unmatchedTolerance || envoyRequests === 0 ? 'incomplete-evidence' : 'agreement';
  const exitCode = { agreement: EXIT_SHADOW.agreement, disagreements: EXIT_SHADOW.disagreements, 'expected-disagreements-only': EXIT_SHADOW.expectedOnly, 'incomplete-evidence': EXIT_SHADOW.incomplete }[outcome];

  // Coverage: edges seen on one side only (probe side: flows into sidecar pods on application ports).
  const envoyEdges = new Set(edges.filter((e) => e.matrix.allowAllow + e.matrix.allowDeny + e.matrix.denyAllow + e.matrix.denyDeny + e.matrix.envoyOnly > 0).map((e) => e.edge));
  const probeEdges = new Set(edges.filter((e) => e.matrix.allowAllow + e.matrix.allowDeny + e.matrix.denyAllow + e.matrix.denyDeny + e.matrix.probeOnly > 0).map((e) => e.edge));
  for (const f of j.flowEdges()) if (!SIDECAR_PORTS.has(f.port) && j.isSidecarPod(f.destination)) probeEdges.add(`${f.source} -> ${f.destination}:${f.port}`);
  const all = [...new Set([...envoyEdges, ...probeEdges])].sort();
  const counters = j.metrics?.counters ?? {};
  // the kernel's losses, and the records the loader dropped when this tool read its stdout too slowly
  const lost = LOST_COUNTERS.reduce((s, c) => s + (counters[c] ?? 0), 0) + (j.metrics?.recordsDropped ?? 0);
  const checked = edges.filter((e) => e.parity.requests.envoy + e.parity.requests.probe > 0);
  const failures = o.parse.flatMap((p) => p.stats.failures.map((f) => ({ pod: p.pod, ...f })));
  return {
    namespace: o.namespace,
    mode: o.mode,
    ...(o.plan ? { plan: o.plan } : {}),
    ...(o.resultsDir ? { resultsDir: o.resultsDir } : {}),
    startedAt: new Date(o.startedAtMs).toISOString(),
    endedAt: new Date(o.endedAtMs).toISOString(),
    durationSeconds: round3((o.endedAtMs - o.startedAtMs) / 1000),
    summary: {
      envoyRequests, probeRequests: j.counts.probeRequests, matched, agree: m.allowAllow + m.denyDeny,
      ebpfWouldDeny: m.allowDeny, ebpfWouldAllow: m.denyAllow, unmatchedEnvoyOnly: m.envoyOnly, unmatchedProbeOnly: m.probeOnly, bypassWouldDeny: bypassDenied,
      expectedDisagreements: expected, unexpectedDisagreements: unexpected, agreement: agreementOf(m), outcome, exitCode,
    },
    matrix: { ...m },
    edges,
    rules: [...j.ruleMatrix.values()].sort((a, b) => (a.side + a.rule < b.side + b.rule ? -1 : 1)),
    disagreements,
    coverage: { both: all.filter((e) => envoyEdges.has(e) && probeEdges.has(e)), envoyOnly: all.filter((e) => !probeEdges.has(e)), probeOnly: all.filter((e) => !envoyEdges.has(e)) },
    bypass: bypass.bypass,
    telemetry: {
      tolerance: o.tolerance, edgesOk: checked.filter((e) => e.parity.ok).length, edgesChecked: checked.length,
      note: `request counts and status classes agree when |envoy - kernel| <= max(${o.tolerance.absolute}, ${o.tolerance.relative * 100}% of the larger); requests in flight at the start or end of the run account for the absolute slack`,
      ...(o.rbac ? { rbac: rbacParity(j, o.rbac, o.tolerance) } : {}),
    },
    latencyAssumptions: { ebpfCostUs: o.ebpfCostUs, note: 'projected = app leg + the stated eBPF per-request cost; sidecar overhead = wire leg - app leg per joined request' },
    probe: { counters: { ...counters }, lost, recordsOut: j.metrics?.recordsOut ?? 0, flows: j.counts.flows, http: j.counts.http },
    parse: { entries: o.parse.reduce((s, p) => s + p.stats.parsed, 0), failed: o.parse.reduce((s, p) => s + p.stats.failed, 0), failures },
    notShadowed: [...(o.notShadowed ?? [])],
    gaps: j.inputs.gaps.map((g) => ({ code: g.code, object: g.object, reason: g.reason })).sort((a, b) => (a.object + a.code < b.object + b.code ? -1 : 1)),
  };
}
