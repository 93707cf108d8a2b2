// Which Istio policies apply to a sidecar workload (reference/istio-authz.md, "Which policies apply").
import type { KubeObject, Labels } from '../model/k8s.js';
import type { PolicyTargetReference, WorkloadSelector } from '../model/istio.js';
import { DRY_RUN_ANNOTATION } from '../model/istio.js';

/** The facts about a workload that decide applicability. */
export interface WorkloadKey {
  namespace: string;
  labels: Labels;
}

/** True when every matchLabels pair is present in labels. An empty or missing matchLabels matches all. */
export function selectorMatches(selector: WorkloadSelector | undefined, labels: Labels): boolean {
  const want = selector?.matchLabels ?? {};
  for (const [k, v] of Object.entries(want)) if (labels[k] !== v) return false;
  return true;
}

/**
 * The workload selector of any Istio kind: `selector.matchLabels` (AuthorizationPolicy, PeerAuthentication,
 * RequestAuthentication, Telemetry, WasmPlugin) or `workloadSelector.labels` (Sidecar, EnvoyFilter).
 */
export function selectorOf(policy: KubeObject): WorkloadSelector | undefined {
  const spec = policy.spec;
  if (spec?.selector) return spec.selector;
  if (spec?.workloadSelector) return { matchLabels: spec.workloadSelector.labels ?? {} };
  return undefined;
}

export function targetRefsOf(spec: { targetRef?: PolicyTargetReference; targetRefs?: PolicyTargetReference[] } | undefined): PolicyTargetReference[] {
  if (!spec) return [];
  return [...(spec.targetRef ? [spec.targetRef] : []), ...(spec.targetRefs ?? [])];
}

export type Scope = 'workload' | 'namespace' | 'mesh' | 'targetRefs';

/** How a policy is scoped: by targetRefs (waypoints/gateways), mesh-wide (root ns), namespace or workload. */
export function policyScope(policy: KubeObject, rootNamespace: string): Scope {
  if (targetRefsOf(policy.spec).length > 0) return 'targetRefs';
  if (selectorOf(policy)) return 'workload';
  return policy.metadata.namespace === rootNamespace ? 'mesh' : 'namespace';
}

/**
 * Does `policy` (AuthorizationPolicy, PeerAuthentication, RequestAuthentication, Sidecar, Telemetry, EnvoyFilter,
 * WasmPlugin: anything with an Istio WorkloadSelector) apply to the sidecar of workload `w`?
 * targetRefs policies apply to gateways and waypoints, never to sidecars.
 */
export function appliesToWorkload(policy: KubeObject, w: WorkloadKey, rootNamespace: string): boolean {
  if (targetRefsOf(policy.spec).length > 0) return false;
  const ns = policy.metadata.namespace;
  if (ns !== rootNamespace && ns !== w.namespace) return false;
  return selectorMatches(selectorOf(policy), w.labels);
}

/** `istio.io/dry-run: "true"` policies are evaluated as shadow rules only and never enforce. */
export function isDryRun(policy: KubeObject): boolean {
  return policy.metadata.annotations?.[DRY_RUN_ANNOTATION] === 'true';
}
