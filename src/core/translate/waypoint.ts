// Waypoint manifests for policies the eBPF plane cannot enforce: one istio-waypoint Gateway per namespace that
// needs one, and the source policy re-scoped with targetRefs. Every emitted AuthorizationPolicy targets either a
// Service whose selector picks the policy's workloads or the namespace waypoint the plan creates, never a
// waypoint outside the plan.
import type { KubeObject } from '../model/k8s.js';
import type { AuthorizationPolicySpec } from '../model/istio.js';
import { selectorMatches } from '../istio/applicability.js';
import { MANAGED_BY } from './authz.js';

export const WAYPOINT_NAME = 'waypoint';

export function waypointGateway(namespace: string): KubeObject {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name: WAYPOINT_NAME, namespace, labels: { ...MANAGED_BY, 'istio.io/waypoint-for': 'service' } },
    spec: { gatewayClassName: 'istio-waypoint', listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] },
  };
}

/** Services (in the policy's namespace) whose selector picks every label set the policy selects. */
export function servicesFor(policy: KubeObject, services: KubeObject[], workloadLabels: Record<string, string>[]): string[] {
  const ns = policy.metadata.namespace;
  const sel = (policy.spec as AuthorizationPolicySpec | undefined)?.selector;
  if (!sel?.matchLabels || Object.keys(sel.matchLabels).length === 0) return [];
  const targets = workloadLabels.filter((l) => selectorMatches(sel, l));
  if (targets.length === 0) return [];
  return services
    .filter((s) => s.metadata.namespace === ns && s.spec?.selector && Object.keys(s.spec.selector).length > 0)
    .filter((s) => targets.some((l) => selectorMatches({ matchLabels: s.spec.selector }, l)))
    .map((s) => s.metadata.name)
    .sort();
}

/** The source policy with `selector` replaced by targetRefs (Services, or the namespace waypoint Gateway). */
export function waypointPolicy(policy: KubeObject, serviceNames: string[]): KubeObject {
  const { selector: _selector, ...rest } = (policy.spec ?? {}) as AuthorizationPolicySpec;
  const targetRefs = serviceNames.length
    ? serviceNames.map((name) => ({ group: '', kind: 'Service', name }))
    : [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: WAYPOINT_NAME }];
  return {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: {
      name: `waypoint-${policy.metadata.name}`,
      namespace: policy.metadata.namespace,
      labels: { ...MANAGED_BY },
      annotations: { 'migrate.io/source': `AuthorizationPolicy/${policy.metadata.namespace}/${policy.metadata.name}` },
    },
    spec: { ...rest, targetRefs },
  };
}
