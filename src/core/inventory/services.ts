// Services, their ports, and the protocol Istio would assume for each port (appProtocol first, then the
// `<protocol>[-<suffix>]` port-name convention, else auto-detection).
import type { KubeObject, Labels } from '../model/k8s.js';

const NAMED_PROTOCOLS = ['http', 'http2', 'https', 'grpc', 'grpc-web', 'tcp', 'tls', 'udp', 'mongo', 'mysql', 'redis'] as const;
const L7_PROTOCOLS = new Set(['http', 'http2', 'grpc', 'grpc-web']);

export interface ServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
  protocol: string;
  /** The application protocol Istio uses for this port, and how it was decided. */
  appProtocol: string;
  appProtocolSource: 'appProtocol' | 'port-name' | 'auto-detect';
}

export interface ServiceSummary {
  namespace: string;
  name: string;
  selector: Labels;
  ports: ServicePort[];
}

export function portAppProtocol(p: { name?: string; appProtocol?: string; protocol?: string }): Pick<ServicePort, 'appProtocol' | 'appProtocolSource'> {
  if (p.protocol === 'UDP') return { appProtocol: 'udp', appProtocolSource: 'port-name' };
  if (p.appProtocol) {
    // Kubernetes-style values such as kubernetes.io/h2c map onto Istio's names.
    const v = p.appProtocol.toLowerCase();
    const mapped = v === 'kubernetes.io/h2c' ? 'http2' : v === 'kubernetes.io/ws' || v === 'kubernetes.io/wss' ? 'http' : v;
    return { appProtocol: mapped, appProtocolSource: 'appProtocol' };
  }
  const name = (p.name ?? '').toLowerCase();
  for (const proto of [...NAMED_PROTOCOLS].sort((a, b) => b.length - a.length)) {
    if (name === proto || name.startsWith(`${proto}-`)) return { appProtocol: proto, appProtocolSource: 'port-name' };
  }
  return { appProtocol: 'auto', appProtocolSource: 'auto-detect' };
}

export function isL7Protocol(appProtocol: string): boolean {
  return L7_PROTOCOLS.has(appProtocol);
}

export function summarizeService(o: KubeObject): ServiceSummary {
  const ports = ((o.spec?.ports ?? []) as { name?: string; port: number; targetPort?: number | string; protocol?: string; appProtocol?: string }[]).map((p) => ({
    ...(p.name ? { name: p.name } : {}),
    port: p.port,
    ...(p.targetPort !== undefined ? { targetPort: p.targetPort } : {}),
    protocol: p.protocol ?? 'TCP',
    ...portAppProtocol(p),
  }));
  return { namespace: o.metadata.namespace ?? 'default', name: o.metadata.name, selector: o.spec?.selector ?? {}, ports };
}

/** A Service selects a workload when its non-empty selector is a subset of the workload's labels. */
export function serviceSelects(s: ServiceSummary, namespace: string, labels: Labels): boolean {
  const sel = Object.entries(s.selector);
  return s.namespace === namespace && sel.length > 0 && sel.every(([k, v]) => labels[k] === v);
}

/**
 * Resolves a VirtualService/DestinationRule host, written relative to `fromNamespace`, to Services:
 * `reviews`, `reviews.ns`, `reviews.ns.svc`, `reviews.ns.svc.<domain>`, and `*.ns.svc.<domain>` wildcards.
 */
export function resolveHost(host: string, fromNamespace: string, services: ServiceSummary[], domain = 'cluster.local'): ServiceSummary[] {
  const h = host.toLowerCase();
  if (h === '*') return services.slice();
  const parts = h.split('.');
  if (parts[0] === '*') {
    const suffix = h.slice(1);
    return services.filter((s) => `${s.name}.${s.namespace}.svc.${domain}`.endsWith(suffix));
  }
  const name = parts[0]!;
  let ns = fromNamespace;
  if (parts.length >= 2) ns = parts[1]!;
  if (parts.length > 2 && !(parts[2] === 'svc' && (parts.length === 3 || parts.slice(3).join('.') === domain))) return []; // external host
  return services.filter((s) => s.name === name && s.namespace === ns);
}
