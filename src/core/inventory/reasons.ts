// Stable reason codes for workload classification. `waypoint` reasons need L7 processing the kernel cannot do;
// `blocked` reasons stop a cutover; `info` reasons are facts the translation must carry (L4, mTLS mode, ...).

export type ReasonImpact = 'waypoint' | 'blocked' | 'info';

export const REASONS = {
  L7_AUTHZ: { impact: 'waypoint', text: 'AuthorizationPolicy ALLOW/AUDIT with HTTP fields (methods, paths, hosts, request.* conditions)' },
  L7_DENY: { impact: 'waypoint', text: 'AuthorizationPolicy DENY with HTTP fields (kernel deny rules are L3/L4 only)' },
  JWT_AUTHZ: { impact: 'waypoint', text: 'AuthorizationPolicy on JWT identity (requestPrincipals, request.auth.*)' },
  REQUEST_AUTHENTICATION: { impact: 'waypoint', text: 'RequestAuthentication (JWT validation)' },
  CUSTOM_AUTHZ: { impact: 'waypoint', text: 'AuthorizationPolicy CUSTOM (external authorizer)' },
  VS_HTTP_FEATURES: { impact: 'waypoint', text: 'VirtualService HTTP features (retries, timeouts, splits, faults, mirrors, rewrites, matches)' },
  VS_TCP_SPLIT: { impact: 'waypoint', text: 'VirtualService weighted TCP routing' },
  DR_L7_TRAFFIC_POLICY: { impact: 'waypoint', text: 'DestinationRule L7 traffic policy (outlier detection, HTTP pool, consistent hash on HTTP)' },
  ENVOY_FILTER: { impact: 'waypoint', text: 'EnvoyFilter patches the sidecar (raw Envoy config): a blocker until reviewed' },
  WASM_PLUGIN: { impact: 'waypoint', text: 'WasmPlugin extends the sidecar' },
  NODES_BLOCKED: { impact: 'blocked', text: 'every node running this workload is outside the kernel matrix' },
  NODES_PARTLY_BLOCKED: { impact: 'info', text: 'some nodes running this workload are outside the kernel matrix' },
  NODES_CAVEATS: { impact: 'info', text: 'runs on nodes that are ready with caveats' },
  L4_AUTHZ: { impact: 'info', text: 'AuthorizationPolicy with L3/L4 fields only' },
  DENY_ALL: { impact: 'info', text: 'ALLOW policy with no rules: denies all traffic' },
  DRY_RUN_POLICY: { impact: 'info', text: 'dry-run AuthorizationPolicy (shadow rules, not enforced)' },
  MTLS_STRICT: { impact: 'info', text: 'PeerAuthentication STRICT' },
  MTLS_PERMISSIVE: { impact: 'info', text: 'PeerAuthentication PERMISSIVE (plaintext accepted)' },
  MTLS_DISABLE: { impact: 'info', text: 'PeerAuthentication DISABLE' },
  MTLS_PORT_LEVEL: { impact: 'info', text: 'PeerAuthentication with port-level mTLS exceptions' },
  SIDECAR_SCOPE: { impact: 'info', text: 'Sidecar resource (egress/ingress scoping)' },
  DR_SUBSETS: { impact: 'info', text: 'DestinationRule subsets (one Service per version after migration)' },
  TELEMETRY_CONFIG: { impact: 'info', text: 'Telemetry resource (access logs, metrics, tracing) to reproduce' },
  INJECTION_PENDING: { impact: 'info', text: 'injection is enabled but running pods have no sidecar (restart pending)' },
  SIDECAR_NOT_EXPECTED: { impact: 'info', text: 'pods have a sidecar but injection is not enabled for them now' },
  AMBIENT: { impact: 'info', text: 'pods are already in ambient mode' },
} as const satisfies Record<string, { impact: ReasonImpact; text: string }>;

export type ReasonCode = keyof typeof REASONS;

export interface ReasonDetail {
  code: ReasonCode;
  /** The object that causes it, `<kind>/<ns>/<name>`, if any. */
  source?: string;
  /** The field or fact, e.g. `rules[0].to[0].operation.paths`. */
  detail: string;
}
