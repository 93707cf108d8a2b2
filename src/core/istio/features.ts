// What each Istio resource asks of the data plane, decided by field semantics (not text search): which fields
// need HTTP (L7) processing, JWT, an external authorizer, or raw Envoy patches.
import type { KubeObject } from '../model/k8s.js';
import type { AuthorizationPolicySpec, Operation, Source } from '../model/istio.js';
import { HTTP_ONLY_OPERATION_FIELDS, HTTP_ONLY_SOURCE_FIELDS, isL4ConditionKey } from '../model/istio.js';
import type { ReasonCode } from '../inventory/reasons.js';
import { isDryRun } from './applicability.js';

export interface Feature {
  code: ReasonCode;
  detail: string;
}

function nonEmpty(v: unknown): boolean {
  return Array.isArray(v) ? v.length > 0 : v !== undefined && v !== null;
}

export function authorizationPolicyFeatures(ap: KubeObject): Feature[] {
  const spec = (ap.spec ?? {}) as AuthorizationPolicySpec;
  const action = spec.action ?? 'ALLOW';
  const out: Feature[] = [];
  if (isDryRun(ap)) out.push({ code: 'DRY_RUN_POLICY', detail: 'metadata.annotations[istio.io/dry-run]' });
  if (action === 'CUSTOM') out.push({ code: 'CUSTOM_AUTHZ', detail: `provider ${spec.provider?.name ?? '(none)'}` });
  const rules = spec.rules ?? [];
  if (rules.length === 0 && action === 'ALLOW') out.push({ code: 'DENY_ALL', detail: 'spec.rules empty' });
  const l7 = action === 'DENY' ? 'L7_DENY' : 'L7_AUTHZ';
  let sawL4 = false;
  rules.forEach((r, i) => {
    (r.from ?? []).forEach((f, j) => {
      for (const k of HTTP_ONLY_SOURCE_FIELDS) {
        if (nonEmpty(f.source?.[k as keyof Source])) out.push({ code: 'JWT_AUTHZ', detail: `rules[${i}].from[${j}].source.${k}` });
      }
      if (f.source && Object.keys(f.source).some((k) => !(HTTP_ONLY_SOURCE_FIELDS as readonly string[]).includes(k))) sawL4 = true;
    });
    (r.to ?? []).forEach((t, j) => {
      for (const k of HTTP_ONLY_OPERATION_FIELDS) {
        if (nonEmpty(t.operation?.[k as keyof Operation])) out.push({ code: l7, detail: `rules[${i}].to[${j}].operation.${k}` });
      }
      if (nonEmpty(t.operation?.ports) || nonEmpty(t.operation?.notPorts)) sawL4 = true;
    });
    (r.when ?? []).forEach((c, j) => {
      if (isL4ConditionKey(c.key)) { sawL4 = true; return; }
      out.push({ code: c.key.startsWith('request.auth.') ? 'JWT_AUTHZ' : l7, detail: `rules[${i}].when[${j}] key ${c.key}` });
    });
  });
  if (action !== 'CUSTOM' && (sawL4 || rules.length > 0) && !out.some((f) => f.code === l7 || f.code === 'JWT_AUTHZ')) {
    out.push({ code: 'L4_AUTHZ', detail: `${action} with L3/L4 fields only` });
  }
  return out;
}

export function peerAuthenticationFeatures(pa: KubeObject): Feature[] {
  const out: Feature[] = [];
  const mode = pa.spec?.mtls?.mode;
  if (mode === 'STRICT') out.push({ code: 'MTLS_STRICT', detail: 'spec.mtls.mode' });
  if (mode === 'PERMISSIVE') out.push({ code: 'MTLS_PERMISSIVE', detail: 'spec.mtls.mode' });
  if (mode === 'DISABLE') out.push({ code: 'MTLS_DISABLE', detail: 'spec.mtls.mode' });
  const ports = Object.keys(pa.spec?.portLevelMtls ?? {});
  if (ports.length) out.push({ code: 'MTLS_PORT_LEVEL', detail: `spec.portLevelMtls ports ${ports.sort().join(',')}` });
  return out;
}

const VS_HTTP_FIELDS = ['retries', 'timeout', 'fault', 'mirror', 'mirrors', 'mirrorPercentage', 'rewrite', 'redirect', 'directResponse', 'headers', 'corsPolicy', 'delegate'] as const;

/** VirtualService HTTP features; a route with one destination and nothing else is plain routing (L4-equivalent). */
export function virtualServiceFeatures(vs: KubeObject): Feature[] {
  const out: Feature[] = [];
  ((vs.spec?.http ?? []) as Record<string, unknown>[]).forEach((h, i) => {
    for (const f of VS_HTTP_FIELDS) if (nonEmpty(h[f])) out.push({ code: 'VS_HTTP_FEATURES', detail: `http[${i}].${f}` });
    const match = (h.match ?? []) as Record<string, unknown>[];
    match.forEach((m, j) => {
      for (const k of ['uri', 'method', 'authority', 'headers', 'queryParams', 'withoutHeaders']) {
        if (nonEmpty(m[k])) out.push({ code: 'VS_HTTP_FEATURES', detail: `http[${i}].match[${j}].${k}` });
      }
    });
    const routes = (h.route ?? []) as { weight?: number }[];
    if (routes.length > 1) out.push({ code: 'VS_HTTP_FEATURES', detail: `http[${i}].route (weighted split across ${routes.length} destinations)` });
  });
  ((vs.spec?.tcp ?? []) as { route?: unknown[] }[]).forEach((t, i) => {
    if ((t.route ?? []).length > 1) out.push({ code: 'VS_TCP_SPLIT', detail: `tcp[${i}].route (weighted split)` });
  });
  return out;
}

/** VirtualServices bound only to gateways do not touch sidecars. */
export function virtualServiceAppliesToMesh(vs: KubeObject): boolean {
  const gws = vs.spec?.gateways as string[] | undefined;
  return !gws || gws.length === 0 || gws.includes('mesh');
}

/** Destination hosts a VirtualService routes to (and its own hosts). */
export function virtualServiceHosts(vs: KubeObject): string[] {
  const hosts = new Set<string>((vs.spec?.hosts ?? []) as string[]);
  for (const section of ['http', 'tcp', 'tls'] as const) {
    for (const r of (vs.spec?.[section] ?? []) as { route?: { destination?: { host?: string } }[] }[]) {
      for (const d of r.route ?? []) if (d.destination?.host) hosts.add(d.destination.host);
    }
  }
  return [...hosts].sort();
}

export function destinationRuleFeatures(dr: KubeObject): Feature[] {
  const out: Feature[] = [];
  const check = (tp: Record<string, unknown> | undefined, path: string) => {
    if (!tp) return;
    if (nonEmpty(tp.outlierDetection)) out.push({ code: 'DR_L7_TRAFFIC_POLICY', detail: `${path}.outlierDetection` });
    const pool = tp.connectionPool as Record<string, unknown> | undefined;
    if (nonEmpty(pool?.http)) out.push({ code: 'DR_L7_TRAFFIC_POLICY', detail: `${path}.connectionPool.http` });
    const ch = (tp.loadBalancer as Record<string, Record<string, unknown>> | undefined)?.consistentHash;
    if (ch && (ch.httpHeaderName || ch.httpCookie || ch.httpQueryParameterName)) out.push({ code: 'DR_L7_TRAFFIC_POLICY', detail: `${path}.loadBalancer.consistentHash` });
  };
  check(dr.spec?.trafficPolicy, 'spec.trafficPolicy');
  ((dr.spec?.subsets ?? []) as { name?: string; trafficPolicy?: Record<string, unknown> }[]).forEach((s, i) => check(s.trafficPolicy, `spec.subsets[${i}].trafficPolicy`));
  if (nonEmpty(dr.spec?.subsets)) out.push({ code: 'DR_SUBSETS', detail: `spec.subsets (${(dr.spec.subsets as unknown[]).length})` });
  return out;
}

/** EnvoyFilters whose every patch targets GATEWAY do not touch sidecars. */
export function envoyFilterAppliesToSidecars(ef: KubeObject): boolean {
  const patches = (ef.spec?.configPatches ?? []) as { match?: { context?: string } }[];
  return patches.length === 0 || patches.some((p) => (p.match?.context ?? 'ANY') !== 'GATEWAY');
}

/** Features of kinds that apply through a workload selector. */
export function selectorKindFeatures(o: KubeObject): Feature[] {
  switch (o.kind) {
    case 'AuthorizationPolicy': return authorizationPolicyFeatures(o);
    case 'PeerAuthentication': return peerAuthenticationFeatures(o);
    case 'RequestAuthentication': return [{ code: 'REQUEST_AUTHENTICATION', detail: `jwtRules issuers ${((o.spec?.jwtRules ?? []) as { issuer?: string }[]).map((r) => r.issuer ?? '?').join(',') || '(none)'}` }];
    case 'EnvoyFilter': return envoyFilterAppliesToSidecars(o) ? [{ code: 'ENVOY_FILTER', detail: `${(o.spec?.configPatches ?? []).length} configPatches` }] : [];
    case 'WasmPlugin': return [{ code: 'WASM_PLUGIN', detail: `url ${o.spec?.url ?? '?'}` }];
    case 'Sidecar': return [{ code: 'SIDECAR_SCOPE', detail: nonEmpty(o.spec?.egress) ? 'spec.egress' : 'spec' }];
    case 'Telemetry': return [{ code: 'TELEMETRY_CONFIG', detail: ['accessLogging', 'metrics', 'tracing'].filter((k) => nonEmpty(o.spec?.[k])).join(',') || 'spec' }];
    default: return [];
  }
}

/** Kinds that select sidecar workloads by labels in their own (or the root) namespace. */
export const SELECTOR_KINDS = new Set(['AuthorizationPolicy', 'PeerAuthentication', 'RequestAuthentication', 'EnvoyFilter', 'WasmPlugin', 'Sidecar', 'Telemetry']);
/** Kinds that apply to the workloads behind the Services their hosts name. */
export const HOST_KINDS = new Set(['VirtualService', 'DestinationRule']);
