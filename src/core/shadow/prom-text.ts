// The sidecars' own request counter, istio_requests_total (reporter="destination"), from Prometheus text
// (:15020/stats/prometheus); the run scrapes it at start and end and the diff compares the delta per edge.

/** `source|destination` -> status class -> count, for reporter="destination". */
export type IstioCounts = Map<string, Record<string, number>>;

const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseIstioRequests(text: string): IstioCounts {
  const out: IstioCounts = new Map();
  for (const line of text.split('\n')) {
    if (!line.startsWith('istio_requests_total{')) continue;
    const close = line.lastIndexOf('}');
    const value = Number(line.slice(close + 1).trim().split(' ')[0]);
    if (close < 0 || !Number.isFinite(value)) continue;
    const labels: Record<string, string> = {};
    for (const m of line.slice(21, close).matchAll(LABEL)) labels[m[1]!] = m[2]!;
    if (labels.reporter !== 'destination') continue;
    const k = `${labels.source_workload ?? 'unknown'}|${labels.destination_workload ?? 'unknown'}`;
    const code = Number(labels.response_code);
    const cls = code >= 100 && code < 600 ? `${Math.floor(code / 100)}xx` : 'unparsed';
    const r = out.get(k) ?? {};
    r[cls] = (r[cls] ?? 0) + value;
    out.set(k, r);
  }
  return out;
}

/** end - start per key and class; a counter that went down (sidecar restart) counts from 0. */
export function istioDelta(start: IstioCounts, end: IstioCounts): IstioCounts {
  const out: IstioCounts = new Map();
  for (const [k, e] of end) {
    const s = start.get(k) ?? {};
    const d: Record<string, number> = {};
    for (const [c, v] of Object.entries(e)) d[c] = v >= (s[c] ?? 0) ? v - (s[c] ?? 0) : v;
    out.set(k, d);
  }
  return out;
}

/**
 * Envoy RBAC filter counters of one sidecar, per inbound port: the enforced decisions
 * (`http.<hcm prefix>.rbac.allowed|denied`) and Istio dry-run (shadow rule) results, which count every
 * request the filter saw even when access logs are sampled, filtered or off.
 */
export interface RbacCounts {
  allowed: number;
  denied: number;
  /** Istio `istio.io/dry-run` policies, by action (allow|deny) and shadow result (allowed|denied). */
  dryRun: Record<string, number>;
}

/** port -> counters, for the inbound HCMs (`inbound_0.0.0.0_<port>`; outbound HCMs carry no AuthorizationPolicy). */
export type RbacByPort = Map<number, RbacCounts>;

// Three spellings of the same counter: Istio's stats tags (reference/envoy-telemetry.md)
//   envoy_http_inbound_0_0_0_0_9080_rbac{authz_enforce_result="allowed"}
//   envoy_http_inbound_0_0_0_0_9080_rbac{authz_dry_run_action="deny",authz_dry_run_result="denied"}
// Envoy's default tags (envoy_http_conn_manager_prefix) and no tags at all:
//   envoy_http_rbac_allowed{envoy_http_conn_manager_prefix="inbound_0.0.0.0_9080"}
//   envoy_http_inbound_0_0_0_0_9080_rbac_allowed / ..._rbac_istio_dry_run_deny_shadow_denied
const INBOUND = /^inbound_0[._]0[._]0[._]0_(\d+)$/;
const RAW = /^envoy_http_(inbound_0_0_0_0_\d+)_rbac(?:_(allowed|denied)|_istio_dry_run_(allow|deny)_shadow_(allowed|denied))?$/;
const DEFAULT_TAGGED = /^envoy_http_rbac_(?:(allowed|denied)|istio_dry_run_(allow|deny)_shadow_(allowed|denied))$/;

export function parseRbacStats(text: string): RbacByPort {
  const out: RbacByPort = new Map();
  for (const line of text.split('\n')) {
    if (!line.startsWith('envoy_http_')) continue;
    const brace = line.indexOf('{');
    const close = brace < 0 ? -1 : line.lastIndexOf('}');
    const name = brace < 0 ? line.slice(0, line.indexOf(' ')) : line.slice(0, brace);
    const value = Number(line.slice(close < 0 ? name.length : close + 1).trim().split(' ')[0]);
    if (!Number.isFinite(value)) continue;
    const labels: Record<string, string> = {};
    if (close > brace) for (const m of line.slice(brace + 1, close).matchAll(LABEL)) labels[m[1]!] = m[2]!;
    let prefix: string | undefined, enforce: string | undefined, action: string | undefined, result: string | undefined;
    const raw = RAW.exec(name);
    const tagged = raw ? null : DEFAULT_TAGGED.exec(name);
    if (raw) {
      prefix = raw[1];
      enforce = raw[2] ?? labels.authz_enforce_result;
      action = raw[3] ?? labels.authz_dry_run_action;
      result = raw[4] ?? labels.authz_dry_run_result;
    } else if (tagged) {
      prefix = labels.envoy_http_conn_manager_prefix;
      [enforce, action, result] = [tagged[1], tagged[2], tagged[3]];
    } else continue;
    const port = Number(INBOUND.exec(prefix ?? '')?.[1]);
    if (!port) continue;
    const r = out.get(port) ?? { allowed: 0, denied: 0, dryRun: {} };
    if (action && result) r.dryRun[`${action}:${result}`] = (r.dryRun[`${action}:${result}`] ?? 0) + value;
    else if (enforce === 'allowed') r.allowed += value;
    else if (enforce === 'denied') r.denied += value;
    else continue;
    out.set(port, r);
  }
  return out;
}

/** end - start per port; a counter that went down (sidecar restart) counts from 0, like istioDelta. */
export function rbacDelta(start: RbacByPort, end: RbacByPort): RbacByPort {
  const d = (e: number, s: number | undefined) => (e >= (s ?? 0) ? e - (s ?? 0) : e);
  const out: RbacByPort = new Map();
  for (const [port, e] of end) {
    const s = start.get(port);
    const dryRun: Record<string, number> = {};
    for (const [k, v] of Object.entries(e.dryRun)) dryRun[k] = d(v, s?.dryRun[k]);
    out.set(port, { allowed: d(e.allowed, s?.allowed), denied: d(e.denied, s?.denied), dryRun });
  }
  return out;
}
