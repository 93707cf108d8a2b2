// Inputs of the shadow diff: the sidecars' access log entries and shadow-probe's JSON-line records, as plain
// data (the core never reads files). Field names of probe records follow the loader's JSON output
// (shadow-probe/README.md "Output"); addresses stay "ip:port" strings because they are join keys.
import type { InboundCapture } from '../istio/capture.js';

export type Verdict = 'allow' | 'deny';
export type ProbeVerdict = 'none' | 'allow' | 'deny' | 'audit';
export type Where = 'none' | 'kernel' | 'user' | 'log';

/** One sidecar access log entry (Envoy TEXT or JSON format), normalised. */
export interface AccessLogEntry {
  /** Pod whose sidecar wrote the entry. */
  pod: string;
  /** START_TIME in ms since the epoch (NaN when unparsable). */
  startMs: number;
  method: string;
  path: string;
  protocol: string;
  status: number;
  flags: string;
  details: string;
  termination: string;
  bytesReceived: number;
  bytesSent: number;
  durationMs: number;
  /** X-ENVOY-UPSTREAM-SERVICE-TIME; NaN for '-'. */
  upstreamMs: number;
  requestId: string;
  authority: string;
  /** USER-AGENT ('-' or absent: none sent). */
  userAgent?: string;
  upstreamHost: string;
  upstreamCluster: string;
  upstreamLocal: string;
  downstreamLocal: string;
  downstreamRemote: string;
  sni: string;
  route: string;
}

export interface ProbeFlow {
  type: 'flow'; ts: number; pod: string; dir: 'ingress' | 'egress'; src: string; sport: number; dst: string;
  dport: number; proto: string; verdict: ProbeVerdict; where: Where; rule: number; remoteIdentity: number;
  flags?: string[];
}
export interface ProbeHttp {
  type: 'http'; ts: number; pod: string; leg: 'wire' | 'app'; dir: 'ingress' | 'egress'; client: string;
  server: string; method: string; path: string; status: number; latencyNs: number; verdict: ProbeVerdict;
  where: Where; rule: number; remoteIdentity: number; flags?: string[];
}
export interface ProbeConn {
  type: 'conn'; ts: number; pod: string; event: string; local: string; remote: string; srttUs: number;
  retrans: number; bytesAcked: number; bytesReceived: number; durationNs: number;
}
export interface ProbeEdge {
  type: 'edge'; ts: number; pod: string; dir: 'ingress' | 'egress'; leg: 'wire' | 'app'; remoteIdentity: number;
  port: number; proto: string; flows: number; requests: number;
  /** Flows by their L3/L4 verdict, requests by their kernel L7 verdict (none: no L7 rules, or decided in userspace). */
  flowVerdicts?: Record<ProbeVerdict, number>; l7Verdicts?: Record<ProbeVerdict, number>;
  status: Record<string, number>; bytesSent: number; bytesReceived: number; latencySumNs: number;
  /** Connections of the edge sock_ops saw close (its byte counters count at close); absent in older recordings. */
  connsClosed?: number;
}
export interface ProbeMetrics {
  type: 'metrics'; ts: number; counters: Record<string, number>; ctEntries?: number; ctEvicted?: number;
  userL7Evaluated?: number; recordsOut?: number;
  /** Records the probe dropped because its stdout reader (this tool) fell behind; absent in older recordings. */
  recordsDropped?: number;
}
export type ProbeLine = ProbeFlow | ProbeHttp | ProbeConn | ProbeEdge | ProbeMetrics;

/** A pod of the shadowed namespace (or a peer of it): name, IP, probe identity. */
export interface ShadowPod {
  name: string;
  namespace: string;
  ip: string;
  identity: number;
  sidecar: boolean;
  /** The inbound ports a sidecar intercepts (Istio's traffic.sidecar.istio.io/includeInboundPorts and
   * excludeInboundPorts); absent: every port. Traffic to another port bypasses the sidecar. */
  inbound?: InboundCapture;
}

/** Ports a sidecar's inbound redirect takes: `include` ('*' for all) minus `exclude`. */
export type { InboundCapture };

/** What a probe rule id stands for: the plan resource and the rule inside it. */
export interface RuleRef {
  id: number;
  /** e.g. CiliumNetworkPolicy/bookinfo/istio-details-viewer */
  policy: string;
  /** e.g. ingress[0].toPorts[0].rules.http[1] */
  rule: string;
  source?: string;
  /** An HTTP rule's conditions beyond method and path (host, headers). The probe parses the request line only, so it
   * matches such a rule on method and path alone; the join checks the rest on the access log entry. */
  when?: HttpConditions;
}

/** Cilium HTTP rule fields the probe does not see: `host` (RE2, whole value), `headers` (present), `headerMatches`
 * (exact value; no value: present). */
export interface HttpConditions {
  host?: string;
  headers?: string[];
  headerMatches?: { name: string; value?: string }[];
}

/** An L7 allow rule of the plan as the probe runs it; the core re-evaluates it on log entries it cannot see. */
export interface L7Rule {
  pod?: string; port: number; method?: string; pathExact?: string; pathPrefix?: string; pathSuffix?: string;
  pathRegex?: string; ruleId: number;
  /** The peer it applies to (Cilium scopes HTTP rules to their ingress rule's peers); absent: any peer. */
  identity?: number;
}

/** A translation gap the plan knows it cannot express in the eBPF plane (TranslateResult gaps). */
export interface KnownGap {
  code: string;
  /** Istio object, e.g. AuthorizationPolicy/bookinfo/deny-admin */
  object: string;
  reason: string;
}
