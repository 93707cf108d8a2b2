// The Result of `migrate shadow` (schema/shadow-result.schema.json): where the eBPF plane would decide
// differently from the sidecars, what the sidecars cost in latency, and whether kernel telemetry matches theirs.
import type { Percentiles } from './stats.js';
import type { ParseStats } from './envoy-text.js';
import type { BypassResult } from './bypass.js';

export type DisagreementClass = 'ebpf-would-deny' | 'ebpf-would-allow' | 'unmatched-envoy-only' | 'unmatched-probe-only';

/** Counts of the verdict matrix: Envoy decision by eBPF decision. */
export interface Matrix {
  allowAllow: number;
  allowDeny: number;
  denyAllow: number;
  denyDeny: number;
  /** Envoy entries with no probe record. */
  envoyOnly: number;
  /** Probe requests with no Envoy entry. */
  probeOnly: number;
}

export interface ExampleRequest {
  time: string;
  method: string;
  path: string;
  status: number;
  client: string;
  server: string;
  requestId: string;
  envoyRule: string;
  ebpfRule: string;
  /** Where the eBPF verdict came from: kernel, user (probe's userspace regex), log (core evaluated the plan's L7 rules on the logged request: the probe never saw it in plaintext, left it to the peer, or matched a rule whose host or headers only the log shows), none. */
  where: string;
  layer: 'L3/L4' | 'L7' | '-';
}

export interface Disagreement {
  class: DisagreementClass;
  edge: string;
  envoyRule: string;
  ebpfRule: string;
  count: number;
  /** A known translation gap explains it (then it is expected, not a finding). */
  expected: boolean;
  gapCode?: string;
  gapObject?: string;
  risk: 'outage' | 'security' | 'evidence';
  examples: ExampleRequest[];
}

export interface LegLatency {
  /** Probe wire leg at the pod's eth0 (sidecar included), ms. */
  wire: Percentiles;
  /** Probe app leg on the loopback hop (app only), ms. */
  app: Percentiles;
  /** Per request wire - app, ms. */
  sidecarOverhead: Percentiles;
  /** Envoy's own DURATION, ms (1 ms resolution). */
  envoy: Percentiles;
  /** App leg plus the stated eBPF per-request cost: the latency after cutover, ms. */
  projected: Percentiles;
}

export interface ParityCheck {
  envoy: number;
  probe: number;
  ok: boolean;
  note?: string;
}

export interface EdgeParity {
  requests: ParityCheck;
  status: Record<string, ParityCheck>;
  bytes: ParityCheck;
  /** The sidecar's istio_requests_total delta over the run (reporter=destination) against the kernel's count. */
  istioMetrics?: ParityCheck;
  /** Where the probe numbers come from: in-kernel edge aggregates, or per-request records when no aggregate was seen. */
  probeSource: 'edge-aggregate' | 'records';
  ok: boolean;
}

/** One sidecar's RBAC filter counters over the run against the same decisions in its access log. */
export interface RbacParity {
  pod: string;
  port: number;
  /** Delta of Envoy's rbac.allowed / rbac.denied over the run (metrics: every request the filter decided). */
  metrics: { allowed: number; denied: number };
  /** The access-log entries of this pod and port, split by Envoy's RBAC verdict. */
  log: { allowed: number; denied: number };
  /** Both counts within the telemetry tolerance: the log shows every decision, so the matrix is complete. */
  ok: boolean;
  /** Istio dry-run (shadow rule) results over the run, `action:result` -> count; present when the sidecar has any. */
  dryRun?: Record<string, number>;
}

export interface EdgeResult {
  edge: string;
  source: string;
  destination: string;
  port: number;
  matrix: Matrix;
  agreement: number | null;
  latency: LegLatency;
  parity: EdgeParity;
}

export interface RuleResult {
  side: 'envoy' | 'ebpf';
  rule: string;
  source?: string;
  matrix: Matrix;
}

export interface ShadowResult {
  namespace: string;
  mode: 'local' | 'cluster' | 'replay';
  plan?: string;
  resultsDir?: string;
  startedAt: string;
  endedAt: string;
  durationSeconds: number;
  summary: {
    envoyRequests: number;
    probeRequests: number;
    matched: number;
    agree: number;
    ebpfWouldDeny: number;
    ebpfWouldAllow: number;
    unmatchedEnvoyOnly: number;
    unmatchedProbeOnly: number;
    /** Flows and requests no sidecar handled (Istio does not police them) that the eBPF plane would deny. */
    bypassWouldDeny: number;
    expectedDisagreements: number;
    unexpectedDisagreements: number;
    /** agree / matched */
    agreement: number | null;
    outcome: 'agreement' | 'disagreements' | 'expected-disagreements-only' | 'incomplete-evidence';
    exitCode: number;
  };
  matrix: Matrix;
  edges: EdgeResult[];
  rules: RuleResult[];
  disagreements: Disagreement[];
  coverage: { both: string[]; envoyOnly: string[]; probeOnly: string[] };
  /** Traffic no sidecar handled, judged against today's "allowed" (core/shadow/bypass.ts). */
  bypass: BypassResult;
  telemetry: {
    tolerance: { relative: number; absolute: number };
    edgesOk: number;
    edgesChecked: number;
    note: string;
    /** Envoy RBAC counters vs the access log, per sidecar and inbound port (absent: no metrics were scraped). */
    rbac?: RbacParity[];
  };
  latencyAssumptions: { ebpfCostUs: number; note: string };
  probe: { counters: Record<string, number>; lost: number; recordsOut: number; flows: number; http: number };
  parse: { entries: number; failed: number; failures: (ParseStats['failures'][number] & { pod: string })[] };
  /** What the plan holds that the probe does not check, and why (a named port, SCTP, a policy Cilium refuses...):
   * requests that depend on it are judged without it. Host and header conditions are listed with how the join checks
   * them instead. */
  notShadowed: string[];
  gaps: { code: string; object: string; reason: string }[];
}

export const EXIT_SHADOW = { agreement: 0, disagreements: 10, expectedOnly: 11, incomplete: 12 } as const;

export function emptyMatrix(): Matrix {
  return { allowAllow: 0, allowDeny: 0, denyAllow: 0, denyDeny: 0, envoyOnly: 0, probeOnly: 0 };
}
