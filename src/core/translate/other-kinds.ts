// Istio kinds that are not authorization policy: each becomes gap records naming what to migrate it to
// (cilium-policy.md gap table). Nothing here is emitted as Cilium policy.
import type { KubeObject } from '../model/k8s.js';
import { objectRef } from '../model/k8s.js';
import { GAP, TARGET } from './gaps.js';
import type { Gap } from './types.js';

type HttpRoute = { route?: { destination?: { subset?: string } }[]; timeout?: string; retries?: unknown; mirror?: unknown; mirrors?: unknown; fault?: unknown; directResponse?: unknown; redirect?: unknown; rewrite?: unknown; corsPolicy?: unknown; headers?: unknown };

export function gapsForKind(o: KubeObject): Gap[] {
  const ref = objectRef(o);
  const g = (code: string, level: Gap['level'], reason: string, target: string): Gap => ({ code, level, object: ref, reason, target });
  switch (o.kind) {
    case 'VirtualService': {
      const out: Gap[] = [];
      const routes: HttpRoute[] = o.spec?.http ?? [];
      const feats = new Set<string>();
      for (const r of routes) {
        if ((r.route ?? []).length > 1) feats.add('traffic split');
        if (r.timeout) feats.add('timeout');
        if (r.retries) feats.add('retries');
        if (r.mirror || r.mirrors) feats.add('mirror');
        if (r.rewrite || r.redirect) feats.add('rewrite/redirect');
        if (r.headers) feats.add('header manipulation');
        if (r.corsPolicy) feats.add('CORS');
      }
      if (feats.size || routes.length) out.push(g(GAP.VS_ROUTING, 'Warning', `routing (${[...feats].sort().join(', ') || 'HTTP routes'}) is not policy; the eBPF plane does not route L7`, TARGET.httpRoute));
      if (routes.some((r) => r.fault || r.directResponse)) out.push(g(GAP.VS_FAULT, 'Warning', 'fault injection / direct response', TARGET.waypointVs));
      if (o.spec?.tcp || o.spec?.tls) out.push(g(GAP.VS_ROUTING, 'Info', 'TCP/TLS routes: plain Service routing applies without a mesh', TARGET.httpRoute));
      return out.length ? out : [g(GAP.VS_ROUTING, 'Info', 'VirtualService without HTTP routes', TARGET.httpRoute)];
    }
    case 'DestinationRule': {
      const out: Gap[] = [];
      if ((o.spec?.subsets ?? []).length) out.push(g(GAP.DR_SUBSETS, 'Warning', `subsets ${(o.spec.subsets as { name: string }[]).map((s) => s.name).join(', ')}`, TARGET.servicePerVersion));
      if (o.spec?.trafficPolicy) out.push(g(GAP.DR_TRAFFIC_POLICY, 'Warning', 'trafficPolicy (load balancing, connection pool, outlier detection, TLS origination)', TARGET.httpRoute));
      return out.length ? out : [g(GAP.DR_TRAFFIC_POLICY, 'Info', 'DestinationRule without subsets or traffic policy', TARGET.httpRoute)];
    }
    case 'EnvoyFilter':
      return [g(GAP.ENVOYFILTER, 'Error', 'raw Envoy configuration patch: no equivalent without a reviewed translation', TARGET.cec)];
    case 'RequestAuthentication':
      return [g(GAP.REQUEST_AUTHN, 'Warning', 'JWT validation needs an L7 proxy', TARGET.waypointAuthz)];
    case 'ServiceEntry':
      return [g(GAP.SERVICE_ENTRY, 'Info', `external hosts ${(o.spec?.hosts ?? []).join(', ')}: a registry entry, not access control by itself; it becomes egress toFQDNs rules of the REGISTRY_ONLY Sidecars that see it`, TARGET.toFqdns)];
    case 'WasmPlugin':
      return [g(GAP.WASM, 'Error', 'Wasm extension runs in Envoy', TARGET.cec)];
    case 'Gateway':
    case 'Telemetry':
    case 'ProxyConfig':
    case 'WorkloadEntry':
    case 'WorkloadGroup':
      return [g(GAP.UNSUPPORTED_KIND, 'Info', `${o.kind} is not policy and is not translated`, 'keep on the Istio control plane or a Gateway API equivalent')];
    default:
      return [];
  }
}
